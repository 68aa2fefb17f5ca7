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


# -- one truth for names, keys and order (issue 12, item 7) -----------------------------------

def _algorithm_rows() -> list[dict[str, str]]:
    text = DOC.read_text("utf-8").split("<!-- table: algorithms -->", 1)[1]
    import itertools

    lines = list(itertools.takewhile(lambda line: line.startswith("|"), text.strip().splitlines()))[2:]
    rows = []
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        kty, crv, jwk_alg = (part.strip(" `") for part in cells[2].split("/"))
        rows.append({"alg": cells[0].strip("`"), "kty": kty, "crv": crv, "jwk_alg": jwk_alg,
                     "library": cells[3].strip("`").removeprefix("algorithms.")})
    return rows


def test_the_algorithm_names_are_the_same_in_the_doc_the_cli_and_the_verifier(tmp_path):
    from click.testing import CliRunner
    from http_message_signatures import algorithms

    from gateway.cli.keys_client_cmd import keys as keys_group
    from gateway.exchange import keys as client_keys
    from gateway.exchange.signatures import ALGORITHM_CLASSES as VERIFIER
    from gateway.store.models.exchange import KEY_ALGORITHMS

    rows = _algorithm_rows()
    names = [row["alg"] for row in rows]
    assert set(names) == set(KEY_ALGORITHMS) == set(VERIFIER), (names, KEY_ALGORITHMS, VERIFIER)
    for row in rows:
        assert VERIFIER[row["alg"]] is getattr(algorithms, row["library"])
        # `vgw keys generate --alg NAME` takes the documented name and makes a key of it
        out = tmp_path / row["alg"]
        done = CliRunner().invoke(keys_group, ["generate", "--alg", row["alg"], "--out", str(out)])
        assert done.exit_code == 0, done.output
        assert f"private key ({row['alg']})" in done.output
        (public,) = out.glob("*.public.pem")
        assert client_keys.algorithm_of(client_keys.load_public_key(public.read_bytes())) == row["alg"]
    # the documented older spelling still works
    done = CliRunner().invoke(keys_group, ["generate", "--alg", "ecdsa-p256", "--out", str(tmp_path / "old")])
    assert done.exit_code == 0 and "private key (ecdsa-p256-sha256)" in done.output


def test_the_jwk_alg_maps_to_the_signature_alg_as_the_table_says():
    from joserfc.jwk import ECKey, OKPKey

    from gateway.exchange import keys as client_keys

    by_jwk = {(r["kty"], r["crv"], r["jwk_alg"]): r["alg"] for r in _algorithm_rows()}
    for pair in (client_keys.generate_key_pair("ed25519"), client_keys.generate_key_pair("ecdsa-p256-sha256")):
        key_class = OKPKey if pair.algorithm == "ed25519" else ECKey
        jwk = key_class.import_key(pair.public_pem).as_dict()
        jwk["alg"] = "EdDSA" if jwk["kty"] == "OKP" else "ES256"  # as RFC 8037 / RFC 7518 name them
        pem = client_keys.pem_from_jwk(jwk)
        assert by_jwk[(jwk["kty"], jwk["crv"], jwk["alg"])] == pair.algorithm == client_keys.algorithm_of(
            client_keys.load_public_key(pem))


def test_the_gateways_jwk_set_and_its_signed_answers_follow_the_table(server, city):
    """A JWK of the gateway's set names the JOSE alg; answers it signs name the RFC 9421 one."""
    import requests

    by_jwk = {(r["kty"], r["crv"], r["jwk_alg"]): r["alg"] for r in _algorithm_rows()}
    jwks = requests.get(server.url + "/.well-known/jwks.json", timeout=30).json()
    answer = requests.get(server.url + "/api/v1/exchange/changes", auth=city.auth(), timeout=30)
    assert answer.status_code == 200, answer.text
    params = answer.headers["Signature-Input"]
    kid = re.search(r'keyid="([^"]+)"', params).group(1)
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    assert f'alg="{by_jwk[(jwk["kty"], jwk["crv"], jwk["alg"])]}"' in params


def test_the_idempotency_key_is_described_once_and_as_the_code_checks_it():
    from gateway.api.exchange import IDEMPOTENCY_KEY
    from gateway.exchange.client import idempotency_key_for

    text = DOC.read_text("utf-8")
    section = text.split("### Idempotency and retries", 1)[1].split("\n### ", 1)[0]
    punctuation = re.search(r"the punctuation `` (.*?) ``", section, re.S).group(1)
    alphabet = set(punctuation) | {chr(c) for c in range(128) if chr(c).isalnum()}
    accepted = {chr(c) for c in range(128) if IDEMPOTENCY_KEY.match(chr(c))}
    assert accepted == alphabet, sorted(accepted ^ alphabet)
    assert IDEMPOTENCY_KEY.match("a" * 128) and not IDEMPOTENCY_KEY.match("a" * 129)
    assert "1 to 128 *visible* ASCII characters" in section
    body, example_key = re.search(r"for the body `(\{.*?\})` of §2 it is\n`(sha256-[\w-]+)`", section).groups()
    import hashlib

    assert idempotency_key_for(hashlib.sha256(body.encode()).digest()) == example_key
    # elsewhere the page links to that section instead of describing the key again
    elsewhere = text.replace(section, "")
    assert not re.search(r"(printable|visible) ASCII characters (naming|$)", elsewhere, re.M)
    assert "hexdigest" not in text and "-r \"$BODY_FILE\" | cut" not in text
    assert elsewhere.count("(#idempotency-and-retries)") >= 3


def test_the_covered_components_are_written_in_one_order():
    from types import SimpleNamespace

    from gateway.exchange.signatures import accept_signature

    text = DOC.read_text("utf-8")
    challenge = accept_signature(SimpleNamespace(content_length=19, headers={}))
    order = re.findall(r'"([^"]+)"', challenge.split("(", 1)[1].split(")", 1)[0])
    assert order == ["@method", "@target-uri", "client-id", "content-digest"]
    lists = re.findall(r'\((\\?"@method\\?"[^)]*)\)', text)
    assert len(lists) >= 6
    for members in lists:
        written = re.findall(r'\\?"([@a-z-]+)\\?"', members)
        assert written == [c for c in order if c in written], members
    bullets = re.findall(r'^   - `"([@a-z-]+)"` — ', text, re.M)
    assert bullets == order
    # and the lines of each signature base (the doc's and the examples') in that order
    for base in re.findall(r"((?:^ *printf '\"[@a-z-]+\": .*\n)+)", text, re.M):
        written = [c for c in re.findall(r"printf '\"([@a-z-]+)\":", base) if c != "@signature-params"]
        assert written == [c for c in order if c in written], base


def test_the_page_says_what_it_covers_and_names_the_lease_setting():
    from gateway.settings import SETTINGS

    text = DOC.read_text("utf-8")
    assert "as those parts land" not in text
    (lease,) = [s for s in SETTINGS if s.name == "IDEMPOTENCY_LEASE_SECONDS"]
    assert f"`IDEMPOTENCY_LEASE_SECONDS` ({lease.default} s by default" in text
    assert "120 seconds" not in text
