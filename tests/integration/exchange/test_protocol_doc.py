"""docs/protocol.md stays true: its examples run as written against a real gateway.

The curl + openssl example is run by bash (OpenSSL 3 signs Ed25519 raw input with
``pkeyutl -rawin``), the requests-http-signature example by a separate Python process; both
must be accepted by the real verifier. Every problem type the verifier can answer is in the
document's table.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.exchange.signatures import PROBLEMS
from tests.integration.exchange.helpers import WHOAMI

DOC = Path(__file__).parents[3] / "docs" / "protocol.md"


def example(name: str) -> str:
    """The fenced code block right after ``<!-- example: name -->`` in docs/protocol.md."""
    pattern = rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)\n```"
    match = re.search(pattern, DOC.read_text("utf-8"), re.S)
    assert match, f"no example {name!r} in {DOC}"
    return match.group(1)


@pytest.fixture
def integrator_env(server, city, tmp_path):
    """What an integrator has: a URL, a client id, a key id and the private key file."""
    key_file = tmp_path / "client.private.pem"
    key_file.write_bytes(city.private_pem)
    body_file = tmp_path / "body.json"
    body_file.write_text('{"records": [{"name": "张三"}], "note": "from curl"}', encoding="utf-8")
    return {**os.environ, "URL": server.url + WHOAMI, "CLIENT_ID": city.client_id,
            "KEY_ID": city.key_id, "KEY_FILE": str(key_file), "BODY_FILE": str(body_file)}


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl") and shutil.which("bash")),
                    reason="needs bash, curl and openssl")
def test_curl_openssl_example_runs_as_written(integrator_env):
    script = example("curl-openssl")
    for _ in range(2):  # and again: a fresh nonce each run, so no replay
        run = subprocess.run(["bash", "-c", script], env=integrator_env, capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        answer = json.loads(run.stdout)
        assert answer == {"client_id": "city-01",
                          "body_bytes": Path(integrator_env["BODY_FILE"]).stat().st_size}


def test_curl_example_tampered_is_refused(integrator_env):
    """The same script with the body changed after digesting it: the gateway notices."""
    script = example("curl-openssl").replace('--data-binary "@$BODY_FILE"',
                                             "--data-binary '{\"records\": []}'")
    run = subprocess.run(["bash", "-c", script], env=integrator_env, capture_output=True,
                         text=True, timeout=60)
    assert json.loads(run.stdout)["type"] == "/problems/digest-mismatch"


def test_python_requests_example_runs_as_written(integrator_env, tmp_path):
    path = tmp_path / "example.py"
    path.write_text(example("python-requests"), encoding="utf-8")
    run = subprocess.run([sys.executable, str(path)], env=integrator_env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    status, _, body = run.stdout.strip().partition(" ")
    assert status == "200"
    assert json.loads(body)["client_id"] == "city-01"


def test_every_problem_type_is_documented():
    text = DOC.read_text("utf-8")
    documented = set(re.findall(r"^\| `/problems/([a-z-]+)` \|", text, re.M))
    assert documented == set(PROBLEMS)


def test_the_documented_signature_base_is_the_librarys():
    """Sign the base shown in §2 byte for byte; the library must verify it with the fields shown."""
    import datetime as dt
    from types import SimpleNamespace

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from http_message_signatures import HTTPMessageVerifier, MappingKeyResolver, algorithms
    from http_message_signatures.structures import CaseInsensitiveDict

    section = DOC.read_text("utf-8").split("### The signature base", 1)[1]
    base, fields = re.findall(r"```\n(.*?)\n```", section, re.S)[:2]
    headers = CaseInsensitiveDict(line.split(": ", 1) for line in fields.splitlines())
    url = re.search(r'^"@target-uri": (.*)$', base, re.M).group(1)
    key = Ed25519PrivateKey.generate()
    signature = key.sign(base.encode("ascii"))
    headers["Signature"] = "sig1=:" + base64.b64encode(signature).decode() + ":"
    body = b'{"hello":"gateway"}'

    resolver = MappingKeyResolver(public_keys={"my-key-1": key.public_key()}, private_keys={})
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=resolver)
    verifier.max_clock_skew = dt.timedelta(days=365 * 100)  # the example's times are in the past
    (result,) = verifier.verify(SimpleNamespace(method="POST", url=url, headers=headers),
                                max_age=None, body=body)
    assert result.parameters["keyid"] == "my-key-1"
    assert result.covered_components['"client-id"'] == "city-system-01"
