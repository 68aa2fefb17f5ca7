"""conformance_tests.signing: RFC 9421 / 9530 / 7638 with the libraries, right and wrong on purpose.

Round trips for both algorithms of the protocol, each deliberate defect of ``sign_request``
caught by ``verify_request`` (the suite's own check of a system's requests, client role), and
answers verified against Ed25519 and P-256 JWK sets.
"""

from __future__ import annotations

import time

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conformance_tests import signing

URL = "http://127.0.0.1:18150/api/v1/exchange/batches?x=1"
KEYS = {"ed25519": Ed25519PrivateKey.generate, "ecdsa-p256-sha256": lambda: ec.generate_private_key(ec.SECP256R1())}


def test_thumbprint_is_rfc_7638_as_rfc_8037_shows_it():
    # RFC 8037 appendix A.2 / A.3: the Ed25519 key and its thumbprint
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert signing.thumbprint(signing.jwk_public_key(jwk)) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_a_private_jwk_is_refused():
    key = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError, match="private"):
        signing.jwk_public_key({**signing.public_jwk(key), "d": "AAAA"})


def signed(algorithm, **overrides):
    key = KEYS[algorithm]()
    kid = signing.thumbprint(key)
    req = requests.Request("POST", URL, data=b'{"a":1}', headers={"Content-Type": "application/json"}).prepare()
    signing.sign_request(req, client_id="city-01", key_id=overrides.pop("keyid", kid),
                         key=overrides.pop("key", key), **overrides)
    keys = signing.KeySet.from_jwks({"keys": [signing.public_jwk(key, kid)]})
    return req, keys


def check(req, keys):
    return signing.verify_request(req.method, req.url, req.headers, req.body, keys, client_id="city-01")


@pytest.mark.parametrize("alg", sorted(KEYS))
def test_a_correct_signature_verifies_with_everything_docs_protocol_asks(alg):
    req, keys = signed(alg)
    report = check(req, keys)
    assert report.problems == []
    assert report.algorithm == alg and report.parameters["alg"] == alg
    assert report.components == ['"@method"', '"@target-uri"', '"client-id"', '"content-digest"']
    assert set(report.parameters) == {"created", "expires", "nonce", "keyid", "alg"}
    assert req.headers["Content-Digest"] == signing.content_digest(b'{"a":1}')


@pytest.mark.parametrize("overrides, problem", [
    ({"created": int(time.time()) - 3600, "expires": int(time.time()) - 3300}, "expired"),
    ({"created": int(time.time()) + 3600}, "future"),
    ({"components": ("@method", "@target-uri", "content-digest")}, '"client-id" not covered'),
    ({"client_id_header": "other-01"}, "Client-Id"),
    ({"omit_parameters": ("nonce",)}, "nonce missing"),
    ({"alg": "ecdsa-p256-sha256"}, "not the key's algorithm"),
    ({"nonce": "short"}, "8-128"),
    ({"tamper": "digest"}, "does not match the body"),
])
def test_each_deliberate_defect_is_seen(overrides, problem):
    req, keys = signed("ed25519", **overrides)
    report = check(req, keys)
    assert any(problem in p for p in report.problems), report.problems


def test_a_tampered_signature_or_unknown_key_does_not_verify():
    req, keys = signed("ed25519", tamper="signature")
    with pytest.raises(signing.InvalidSignature):
        check(req, keys)
    req, keys = signed("ed25519", key=Ed25519PrivateKey.generate(), keyid="nobody")
    with pytest.raises(signing.InvalidSignature, match="not a key registered"):
        check(req, keys)


class Answer:
    """What verify_response needs of a requests.Response."""

    def __init__(self, status, headers, content):
        self.status_code, self.headers, self.content = status, requests.structures.CaseInsensitiveDict(headers), content


@pytest.mark.parametrize("alg", sorted(KEYS))
def test_signed_answers_verify_against_the_jwk_set_and_tampering_does_not(alg):
    key = KEYS[alg]()
    body = b'{"changes": [], "next_cursor": "c", "has_more": false}'
    headers = {"Content-Type": "application/json",
               **signing.sign_response_headers(200, "application/json", body, key=key, key_id="gw-1")}
    keys = signing.KeySet.from_jwks({"keys": [signing.public_jwk(key, "gw-1")]})
    params = signing.verify_response(Answer(200, headers, body), keys)
    assert params["keyid"] == "gw-1"
    assert params["components"] == ['"@status"', '"content-digest"', '"content-type"']
    with pytest.raises(signing.InvalidSignature):
        signing.verify_response(Answer(200, headers, body.replace(b"false", b"true ")), keys)
    with pytest.raises(signing.InvalidSignature):
        signing.verify_response(Answer(201, headers, body), keys)
    other = signing.KeySet.from_jwks({"keys": [signing.public_jwk(KEYS[alg](), "gw-1")]})
    with pytest.raises(signing.InvalidSignature):
        signing.verify_response(Answer(200, headers, body), other)
