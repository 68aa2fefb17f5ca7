"""Conformance statements: written on an all-pass run, verified offline, tampering detected,
never written (and an old one removed) for a run with failures."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conformance_tests import cli
from conformance_tests import registry as reg_mod
from conformance_tests.config import ConfigError, load_config
from conformance_tests.outcomes import Fail
from conformance_tests.registry import Registry, Requirement
from conformance_tests.reporters import write_reports
from conformance_tests.runner import Selection, run
from conformance_tests.statement import maybe_write_statement, public_jwks


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def base_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _key(path: Path) -> Path:
    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


def _setup(tmp_path: Path, base_url: str, signing: bool = True):
    (tmp_path / "a.ndjson").write_text("{}\n")
    key = _key(tmp_path / "operator.pem")
    cfg = tmp_path / "suite.toml"
    cfg.write_text(f"""
[system]
name = "Statement test system"
roles = ["data"]
[data]
files = ["*.ndjson"]
validator_url = "{base_url}"
[features]
push = false
[statement]
signing_key = "{'operator.pem' if signing else ''}"
[report]
dir = "report"
""")
    jwks = tmp_path / "operator.jwks.json"
    jwks.write_text(json.dumps(public_jwks(key)))
    return load_config(cfg), jwks


def _registry(failing: bool) -> Registry:
    reqs = {"DAT-T-01": Requirement("DAT-T-01", "Records are fine.", "docs/rules.md"),
            "DAT-T-02": Requirement("DAT-T-02", "Pushes are fine.", "docs/protocol.md")}

    def ok(ctx):
        pass

    def bad(ctx):
        raise Fail("not fine", expected=1, observed=2)

    tests = [reg_mod.TestCase("data.t.one", "one", "data", "data.t", ("DAT-T-01",), (),
                              bad if failing else ok),
             reg_mod.TestCase("data.t.two", "two", "data", "data.t", ("DAT-T-02",), ("push",), ok)]
    return Registry(reqs, {t.id: t for t in tests})


def _run(config, registry, selection=None):
    results = run(config, registry, selection or Selection(), out=lambda line: None).to_dict()
    paths = write_reports(results, config.report.dir)
    return maybe_write_statement(config, registry, results, paths["json"]), paths


def test_an_all_pass_run_gets_a_statement_that_verifies(tmp_path, base_url, capsys):
    config, jwks = _setup(tmp_path, base_url)
    written, paths = _run(config, _registry(failing=False))
    assert written == (config.report.dir / "statement.json", config.report.dir / "statement.html")
    doc = json.loads(written[0].read_text())
    st = doc["statement"]
    assert st["system"]["name"] == "Statement test system"
    assert st["features"]["push"] is False
    assert {r["id"]: r["result"] for r in st["requirements"]} == {"DAT-T-01": "pass",
                                                                  "DAT-T-02": "omit"}
    import hashlib
    assert st["results_sha256"] == hashlib.sha256(paths["json"].read_bytes()).hexdigest()
    assert cli.main(["verify", str(written[0]), "--jwks", str(jwks),
                     "--results", str(paths["json"])]) == 0
    assert "valid: Statement test system" in capsys.readouterr().out
    assert "Statement of conformance" in written[1].read_text()


def test_a_tampered_statement_or_results_file_does_not_verify(tmp_path, base_url, capsys):
    config, jwks = _setup(tmp_path, base_url)
    written, paths = _run(config, _registry(failing=False))
    statement = written[0]
    good = statement.read_text()
    doc = json.loads(good)
    doc["statement"]["system"]["name"] = "Another system"
    statement.write_text(json.dumps(doc))
    assert cli.main(["verify", str(statement), "--jwks", str(jwks)]) == 1
    assert "changed after it was signed" in capsys.readouterr().out
    doc = json.loads(good)
    sig = doc["signature"]
    doc["signature"] = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    statement.write_text(json.dumps(doc))
    assert cli.main(["verify", str(statement), "--jwks", str(jwks)]) == 1
    statement.write_text(good)
    other = tmp_path / "other.jwks.json"
    other.write_text(json.dumps(public_jwks(_key(tmp_path / "other.pem"))))
    assert cli.main(["verify", str(statement), "--jwks", str(other)]) == 1
    results = json.loads(paths["json"].read_text())
    results["summary"]["fail"] = 0
    results["tests"][0]["message"] = "edited"
    paths["json"].write_text(json.dumps(results))
    assert cli.main(["verify", str(statement), "--jwks", str(jwks), "--results", str(paths["json"])]) == 1
    assert "is not the results file the statement names" in capsys.readouterr().out
    assert cli.main(["verify", str(statement), "--jwks", str(jwks)]) == 0


def test_no_statement_for_a_failing_or_narrowed_run_and_an_old_one_is_removed(tmp_path, base_url, capsys):
    config, _ = _setup(tmp_path, base_url)
    written, _ = _run(config, _registry(failing=False))
    assert written[0].exists()
    again, paths = _run(config, _registry(failing=True))
    assert again is None
    assert not (config.report.dir / "statement.json").exists()
    assert not (config.report.dir / "statement.html").exists()
    assert "no conformance statement: 1 test(s) failed" in capsys.readouterr().out
    narrowed, _ = _run(config, _registry(failing=False), Selection(test_id="data.t.one"))
    assert narrowed is None
    (tmp_path / "u").mkdir()
    unsigned, _ = _setup(tmp_path / "u", base_url, signing=False)
    assert _run(unsigned, _registry(failing=False))[0] is None


def test_a_signing_key_that_is_not_ed25519_is_refused(tmp_path, base_url):
    from cryptography.hazmat.primitives.asymmetric import ec
    config, _ = _setup(tmp_path, base_url)
    (tmp_path / "operator.pem").write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(ConfigError, match="statement.signing_key: operator.pem is not an unencrypted Ed25519"):
        load_config(tmp_path / "suite.toml")
