"""The runner: selection, feature gating, prerequisites, outcomes, progress lines, exit status.

The tests here run a small registry of their own (built directly, so the real registry is
untouched) through the real runner and the real command line, against a real HTTP server
on 127.0.0.1 for the reachability check.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conformance_tests.config import load_config
from conformance_tests.outcomes import Fail, Omit, Outcome, Skip
from conformance_tests import registry as reg_mod
from conformance_tests.registry import Registry, Requirement
from conformance_tests.results import exit_status
from conformance_tests.runner import Selection, SelectionError, Unreachable, run, select


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _config(tmp_path: Path, base_url: str, features: str = "", roles='["data"]') -> Path:
    (tmp_path / "exports").mkdir(exist_ok=True)
    (tmp_path / "exports" / "a.ndjson").write_text("{}\n")
    path = tmp_path / "suite.toml"
    path.write_text(f"""
[system]
name = "Runner test"
base_url = "{base_url}"
roles = {roles}
[data]
files = ["exports/*.ndjson"]
validator_url = "{base_url}"
[features]
{features}
[report]
dir = "report"
""")
    return path


REQS = {"DAT-TEST-01": Requirement("DAT-TEST-01", "A thing is done.", "docs/rules.md"),
        "DAT-TEST-02": Requirement("DAT-TEST-02", "Another thing.", "schemas/v1")}


def _case(test_id, func, *, features=(), depends_on=(), reqs=("DAT-TEST-01",)):
    role, group = test_id.split(".")[:2]
    return reg_mod.TestCase(test_id, f"title of {test_id}", role, f"{role}.{group}", reqs, features,
                    func, depends_on)


def _pass(ctx):
    ctx.note("looked at", {"mobile": "13812345678"})


def _fail(ctx):
    raise Fail("the thing was not done", expected=201, observed=500)


def _error(ctx):
    raise KeyError("boom")


def _skip(ctx):
    raise Skip("nothing to check here")


def _omit(ctx):
    raise Omit("push")


def _registry() -> Registry:
    tests = [
        _case("data.alpha.passes", _pass),
        _case("data.alpha.fails", _fail, reqs=("DAT-TEST-01", "DAT-TEST-02")),
        _case("data.alpha.errs", _error),
        _case("data.beta.skips", _skip),
        _case("data.beta.omits_itself", _omit),
        _case("data.beta.gated", _pass, features=("push",)),
        _case("data.beta.gated_unknown", _pass, features=("feed",)),
        _case("data.gamma.after_pass", _pass, depends_on=("data.alpha.passes",)),
        _case("data.gamma.after_fail", _pass, depends_on=("data.alpha.fails",)),
    ]
    return Registry(REQS, {t.id: t for t in sorted(tests, key=lambda t: t.id)})


def test_every_outcome_and_the_progress_lines(tmp_path, http_server):
    config = load_config(_config(tmp_path, http_server, "push = false"))
    lines: list[str] = []
    result = run(config, _registry(), out=lines.append)
    outcomes = {t.id: t.outcome for t in result.tests}
    assert outcomes == {
        "data.alpha.passes": Outcome.PASS, "data.alpha.fails": Outcome.FAIL,
        "data.alpha.errs": Outcome.ERROR, "data.beta.skips": Outcome.SKIP,
        "data.beta.omits_itself": Outcome.OMIT, "data.beta.gated": Outcome.OMIT,
        "data.beta.gated_unknown": Outcome.PASS,          # null (unknown) runs
        "data.gamma.after_pass": Outcome.PASS, "data.gamma.after_fail": Outcome.SKIP}
    by_id = {t.id: t for t in result.tests}
    assert "prerequisite data.alpha.fails did not pass (fail)" in by_id["data.gamma.after_fail"].message
    assert by_id["data.alpha.errs"].message.startswith("KeyError: 'boom'")
    assert by_id["data.beta.gated"].message == "feature 'push' declared not implemented"
    assert len(lines) == 9 and lines[0].startswith("[1/9] data.alpha.errs … error")
    assert any(line.startswith("[") and "data.alpha.passes … pass" in line for line in lines)
    data = result.to_dict()
    assert data["summary"] == {"fail": 1, "error": 1, "pass": 3, "skip": 2, "omit": 2, "total": 9}
    fails = next(t for t in data["tests"] if t["id"] == "data.alpha.fails")
    assert [r["id"] for r in fails["requirements"]] == ["DAT-TEST-01", "DAT-TEST-02"]
    assert fails["requirements"][0]["text"] == "A thing is done."
    assert (fails["expected"], fails["observed"]) == (201, 500)
    note = next(t for t in data["tests"] if t["id"] == "data.alpha.passes")["evidence"][0]
    assert note == {"kind": "note", "label": "looked at", "value": {"mobile": "138****5678"}}
    assert exit_status(data) == 1


def test_selection_one_test_brings_its_prerequisites(tmp_path, http_server):
    config = load_config(_config(tmp_path, http_server))
    reg = _registry()
    assert [t.id for t in select(reg, config, Selection(test_id="data.gamma.after_pass"))] == [
        "data.alpha.passes", "data.gamma.after_pass"]
    assert {t.id for t in select(reg, config, Selection(group="data.beta"))} == {
        "data.beta.skips", "data.beta.omits_itself", "data.beta.gated", "data.beta.gated_unknown"}
    with pytest.raises(SelectionError, match="no test 'data.nope'"):
        select(reg, config, Selection(test_id="data.nope"))
    with pytest.raises(SelectionError, match="no test in group"):
        select(reg, config, Selection(group="data.nope"))
    with pytest.raises(SelectionError, match="role 'server' is not in system.roles"):
        select(reg, config, Selection(roles=("server",)))


def test_last_failed_reads_the_previous_results(tmp_path, http_server):
    config = load_config(_config(tmp_path, http_server))
    reg = _registry()
    with pytest.raises(SelectionError, match="no previous results.json"):
        select(reg, config, Selection(last_failed=True), tmp_path / "report" / "results.json")
    from conformance_tests.reporters import write_reports
    write_reports(run(config, reg, out=lambda line: None).to_dict(), config.report.dir)
    again = select(reg, config, Selection(last_failed=True), config.report.dir / "results.json")
    assert {t.id for t in again} == {"data.alpha.fails", "data.alpha.errs"}


def test_all_pass_exit_zero_with_skips_and_omits(tmp_path, http_server):
    config = load_config(_config(tmp_path, http_server, "push = false"))
    reg = _registry()
    keep = {k: v for k, v in reg.tests.items() if k in
            ("data.alpha.passes", "data.beta.skips", "data.beta.gated")}
    data = run(config, Registry(REQS, keep), out=lambda line: None).to_dict()
    assert {t["id"]: t["outcome"] for t in data["tests"]} == {
        "data.alpha.passes": "pass", "data.beta.skips": "skip", "data.beta.gated": "omit"}
    assert exit_status(data) == 0


def test_unreachable_system_is_refused_before_any_test(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]          # closed again: nothing listens there
    config = load_config(_config(tmp_path, f"http://127.0.0.1:{port}"))
    ran: list[str] = []
    with pytest.raises(Unreachable, match="data.validator_url"):
        run(config, _registry(), out=ran.append)
    assert ran == []


def test_the_command_line_exit_statuses(tmp_path, http_server, capsys):
    from conformance_tests import cli
    bad = tmp_path / "bad.toml"
    bad.write_text('[system]\nname = "x"\nroles = ["server"]\nbase_url = "http://127.0.0.1:1"\n'
                   '[server]\nprivate_key = "missing.pem"\n')
    assert cli.main(["run", "--config", str(bad)]) == 2
    assert "server.private_key: file not found (missing.pem)" in capsys.readouterr().err
    path = _config(tmp_path, http_server)
    assert cli.main(["run", "--config", str(path), "--test", "data.nope.x"]) == 2
    report = json.loads((tmp_path / "report" / "results.json").read_text()) \
        if (tmp_path / "report" / "results.json").exists() else None
    assert report is None
