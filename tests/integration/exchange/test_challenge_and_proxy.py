"""A 401 says how to sign (WWW-Authenticate, Accept-Signature); the OpenAPI document declares
the signature scheme; PROXY_FIX makes the signed target URI and the rate limiter follow a
trusted proxy's X-Forwarded-* fields — and only when it is set."""

from __future__ import annotations

import http_sf
import orjson
import pytest
from openapi_spec_validator import validate

from gateway import create_app
from tests.integration.exchange import helpers

FEED = "/api/v1/exchange/changes"
PUSH = "/api/v1/exchange/batches"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "gw.example.org"}


def _accept_signature(answer) -> tuple[list[str], dict]:
    (label, (members, params)), = http_sf.parse(answer.headers["Accept-Signature"].encode(),
                                                tltype="dictionary").items()
    assert label == "sig1"
    return [value for value, _ in members], params


def test_an_unsigned_push_is_told_what_to_sign(store_app):
    answer = store_app.test_client().post(PUSH, data=b'{"records": []}', headers={
        "Content-Type": "application/json", "Idempotency-Key": "k-1"})
    assert answer.status_code == 401
    assert answer.get_json()["type"] == "/problems/signature-missing"
    assert answer.headers["WWW-Authenticate"].startswith('Signature realm="gateway"')
    components, params = _accept_signature(answer)
    assert components == ["@method", "@target-uri", "client-id", "content-digest"]
    assert set(params) == {"created", "expires", "nonce", "keyid"}


@pytest.mark.parametrize("headers", [{"Content-Type": "application/json"},       # no key
                                     {"Content-Type": "text/plain"},             # nor JSON
                                     {}])
def test_a_push_without_any_credentials_gets_the_challenge_first(store_app, headers):
    """docs/protocol.md: an unsigned push is a 401 challenge, whatever else is wrong with it."""
    answer = store_app.test_client().post(PUSH, data=b'{"records": []}', headers=headers)
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert answer.get_json()["type"] == "/problems/signature-missing"
    assert answer.headers["WWW-Authenticate"].startswith('Signature realm="gateway"')


def test_a_bad_signature_on_a_read_is_told_what_to_sign(store_app, city):
    req = helpers.sign(helpers.prepared("GET", "http://localhost" + FEED), city, nonce=None,
                       components=("@method", "@target-uri", "client-id"), digest=False)
    answer = store_app.test_client().get(FEED, headers=dict(req.headers))
    assert answer.status_code == 401
    assert answer.get_json()["type"] == "/problems/signature-parameters"
    assert "Signature" in answer.headers["WWW-Authenticate"]
    components, _ = _accept_signature(answer)
    assert components == ["@method", "@target-uri", "client-id"]  # no body, no digest needed


def test_the_openapi_document_declares_the_signature_scheme(store_app):
    doc = store_app.test_client().get("/api/openapi.json").get_json()
    validate(doc)
    scheme = doc["components"]["securitySchemes"]["httpSignature"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Signature")
    assert "RFC 9421" in scheme["description"]
    for path, method in ((PUSH, "post"), (FEED, "get")):
        assert doc["paths"][path][method]["security"] == [{"httpSignature": []},
                                                           {"bearerAuth": []}]


@pytest.fixture
def proxied(store_app):
    """The same store served by an app that trusts one proxy (PROXY_FIX = 1)."""
    app = create_app({"TESTING": True, "DATABASE_URL": store_app.config["DATABASE_URL"],
                      "KEYS_DIR": store_app.config["KEYS_DIR"], "DEV_TOKENS": True,
                      "PROXY_FIX": 1})
    yield app
    app.extensions["store.engine"].dispose()


def _signed_headers(keys, url: str) -> dict[str, str]:
    return dict(helpers.sign(helpers.prepared("GET", url), keys).headers)


def test_the_signed_target_uri_follows_the_proxy_only_when_trusted(store_app, proxied, city):
    public = "https://gw.example.org" + FEED     # what the client addressed, through the proxy
    direct = "http://localhost" + FEED           # what the gateway itself is called

    behind = proxied.test_client().get(FEED, headers={**_signed_headers(city, public), **FORWARDED})
    assert behind.status_code == 200, behind.get_json()
    untrusted = store_app.test_client().get(FEED, headers={**_signed_headers(city, public),
                                                           **FORWARDED})
    assert untrusted.status_code == 401
    assert untrusted.get_json()["type"] == "/problems/signature-invalid"

    # Without PROXY_FIX anyone's X-Forwarded-* is ignored; with it, it is what counts.
    ignored = store_app.test_client().get(FEED, headers={**_signed_headers(city, direct),
                                                         **FORWARDED})
    assert ignored.status_code == 200, ignored.get_json()
    followed = proxied.test_client().get(FEED, headers={**_signed_headers(city, direct),
                                                        **FORWARDED})
    assert followed.status_code == 401


def _verify(app, forwarded_for: str):
    return app.test_client().get("/verify/ZYZM-110105-2024-000001?code=AAAAAAAA", headers={
        "Accept": "application/json", "X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": "10.0.0.2"})  # the proxy


def test_the_rate_limiter_counts_the_forwarded_client_only_when_trusted(store_app, proxied):
    for app in (store_app, proxied):
        app.config["VERIFY_RATE_LIMIT"] = "2 per minute"
    # trusted proxy: each client behind it has its own budget
    assert [_verify(proxied, "203.0.113.1").status_code for _ in range(2)] == [200, 200]
    assert _verify(proxied, "203.0.113.2").status_code == 200
    limited = _verify(proxied, "203.0.113.1")
    assert limited.status_code == 429
    assert orjson.loads(limited.data)["type"] == "/problems/too-many-requests"
    # no PROXY_FIX: every request counts for the proxy's own address, whatever it forwards
    assert [_verify(store_app, f"203.0.113.{n}").status_code for n in (1, 2, 3)] == [200, 200, 429]
