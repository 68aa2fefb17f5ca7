"""Signed requests against a real gateway on 127.0.0.1, on SQLite and PostgreSQL.

Every refusal of docs/protocol.md §2 is sent for real, signed with real keys, and answered by
the real verifier; the accepted cases go through the product's client (GatewayAuth).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json

import pytest
import requests
from sqlalchemy import func, select

from gateway import create_app, store
from gateway.exchange.client_auth import GatewayResponseVerifier, InvalidSignature, verify_response
from gateway.store.models import RequestNonce
from tests.integration.exchange import helpers
from tests.integration.exchange.helpers import FEED, RECORDS, WHOAMI, problem_type, send, sign

def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# -- accepted ----------------------------------------------------------------------------------

def test_signed_post_and_get_are_accepted(server, city):
    answer = requests.post(server.url + WHOAMI, json={"records": [1, 2, 3]}, auth=city.auth(),
                           timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"client_id": "city-01", "body_bytes": len(answer.request.body)}
    answer = requests.get(server.url + WHOAMI + "?since=abc%20def&page=2", auth=city.auth(),
                          timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["client_id"] == "city-01"


def test_ecdsa_p256_keys_are_accepted(store_app, server):
    keys = helpers.register_client(store_app, "county-02", algorithm="ecdsa-p256-sha256")
    assert keys.algorithm == "ecdsa-p256-sha256"
    answer = requests.put(server.url + WHOAMI, data=b"x" * 1000, auth=keys.auth(), timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"client_id": "county-02", "body_bytes": 1000}


def test_a_hand_signed_request_with_exactly_the_required_parts_is_accepted(server, city):
    req = sign(helpers.prepared("POST", server.url + WHOAMI, json={"a": 1}), city)
    assert "date" not in req.headers.get("Signature-Input", "")
    assert send(req).status_code == 200


def test_development_tokens_still_work_beside_signatures(store_app, server, caller):
    headers = caller(store_app, "dev-client")
    answer = requests.get(server.url + WHOAMI, headers=headers, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["client_id"] == "dev-client"


# -- refused -----------------------------------------------------------------------------------

def test_unsigned_request_is_refused(server, city):
    assert problem_type(requests.post(server.url + WHOAMI, json={}, timeout=30)) == \
        "/problems/signature-missing"


@pytest.mark.parametrize("strip", [("Signature", "Signature-Input"), ("Signature",),
                                   ("Signature-Input",)])
def test_stripped_signature_fields_are_refused(server, city, strip):
    req = requests.Request("POST", server.url + WHOAMI, json={"a": 1}, auth=city.auth()).prepare()
    for name in strip:
        del req.headers[name]
    assert problem_type(send(req)) == "/problems/signature-missing"


def test_unknown_key_is_refused(store_app, server, city):
    stranger = helpers.ClientKeys(city.client_id, "nobody-knows-me", "ed25519",
                                  *_fresh_pem_pair())
    answer = requests.post(server.url + WHOAMI, json={}, auth=stranger.auth(), timeout=30)
    assert problem_type(answer) == "/problems/signature-unknown-key"
    assert answer.json()["keyid"] == "nobody-knows-me"


def test_revoked_key_is_refused(store_app, server, city):
    helpers.revoke(store_app, city.key_id)
    answer = requests.post(server.url + WHOAMI, json={}, auth=city.auth(), timeout=30)
    assert problem_type(answer) == "/problems/signature-revoked-key"


def test_disabled_client_is_refused(store_app, server, city):
    runner = store_app.test_cli_runner()
    assert runner.invoke(args=["clients", "disable", city.client_id]).exit_code == 0
    answer = requests.post(server.url + WHOAMI, json={}, auth=city.auth(), timeout=30)
    assert problem_type(answer) == "/problems/client-disabled"


def test_signature_by_another_key_under_a_registered_key_id_is_invalid(server, city):
    impostor = helpers.ClientKeys(city.client_id, city.key_id, "ed25519", *_fresh_pem_pair())
    answer = requests.post(server.url + WHOAMI, json={}, auth=impostor.auth(), timeout=30)
    assert problem_type(answer) == "/problems/signature-invalid"


def test_request_altered_after_signing_is_invalid(server, city):
    req = requests.Request("POST", server.url + WHOAMI, json={}, auth=city.auth()).prepare()
    req.prepare_url(server.url + WHOAMI + "?page=2", None)  # the signed target URI changed
    assert problem_type(send(req)) == "/problems/signature-invalid"


def test_body_tampered_after_signing_is_refused(server, city):
    req = requests.Request("POST", server.url + WHOAMI, json={"hours": "2.00"},
                           auth=city.auth()).prepare()
    req.body = b'{"hours": "9.00"}'  # same length, different bytes
    assert problem_type(send(req)) == "/problems/digest-mismatch"


def test_body_without_content_digest_is_refused(server, city):
    req = sign(helpers.prepared("POST", server.url + WHOAMI, data=b'{"a":1}'), city,
               components=("@method", "@target-uri", "client-id"), digest=False)
    assert problem_type(send(req)) == "/problems/digest-mismatch"


def test_content_digest_left_out_of_the_covered_components_is_refused(server, city):
    req = sign(helpers.prepared("POST", server.url + WHOAMI, json={"a": 1}), city,
               components=("@method", "@target-uri", "client-id"))
    assert "Content-Digest" in req.headers
    answer = send(req)
    assert problem_type(answer) == "/problems/signature-components"
    assert answer.json()["missing"] == ["content-digest"]


@pytest.mark.parametrize("left_out", ["@method", "@target-uri", "client-id"])
def test_every_required_component_must_be_covered(server, city, left_out):
    components = [c for c in ("@method", "@target-uri", "client-id", "content-digest") if c != left_out]
    req = sign(helpers.prepared("POST", server.url + WHOAMI, json={}), city, components=components)
    answer = send(req)
    assert problem_type(answer) == "/problems/signature-components"
    assert answer.json()["missing"] == [left_out]


def test_signature_created_ten_minutes_ago_is_expired(server, city):
    req = sign(helpers.prepared("POST", server.url + WHOAMI, json={}), city,
               created=now() - dt.timedelta(minutes=10), expires_in=3600)
    answer = send(req)
    assert problem_type(answer) == "/problems/signature-expired"
    assert answer.json()["window_seconds"] == 300


def test_signature_past_its_expires_is_expired(server, city):
    req = sign(helpers.prepared("POST", server.url + WHOAMI, json={}), city,
               created=now() - dt.timedelta(seconds=100), expires_in=40)
    assert problem_type(send(req)) == "/problems/signature-expired"


def test_signature_from_the_future_is_not_yet_valid(server, city):
    req = sign(helpers.prepared("POST", server.url + WHOAMI, json={}), city,
               created=now() + dt.timedelta(minutes=2))
    assert problem_type(send(req)) == "/problems/signature-not-yet-valid"


def test_clock_skew_within_the_allowance_is_accepted(server, city):
    req = sign(helpers.prepared("POST", server.url + WHOAMI, json={}), city,
               created=now() + dt.timedelta(seconds=20))
    assert send(req).status_code == 200


def test_the_window_is_configurable(store_app, server, city):
    store_app.config["SIGNATURE_WINDOW_SECONDS"] = 60
    store_app.config["SIGNATURE_CLOCK_SKEW_SECONDS"] = 5
    req = sign(helpers.prepared("POST", server.url + WHOAMI, json={}), city,
               created=now() - dt.timedelta(seconds=90))
    answer = send(req)
    assert problem_type(answer) == "/problems/signature-expired"
    assert (answer.json()["window_seconds"], answer.json()["clock_skew_seconds"]) == (60, 5)
    req = sign(helpers.prepared("POST", server.url + WHOAMI, json={}), city,
               created=now() - dt.timedelta(seconds=50))
    assert send(req).status_code == 200


@pytest.mark.parametrize("change, missing", [
    ({"nonce": None}, "nonce"),
    ({"expires_in": None}, "expires"),
    ({"include_alg": False}, "alg"),
])
def test_required_signature_parameters(server, city, change, missing):
    req = sign(helpers.prepared("POST", server.url + WHOAMI, json={}), city, **change)
    answer = send(req)
    assert problem_type(answer) == "/problems/signature-parameters"
    assert answer.json()["missing"] == [missing]


def test_client_id_must_be_the_keys_client(store_app, server, city):
    helpers.register_client(store_app, "other-02")
    answer = requests.post(server.url + WHOAMI, json={}, auth=city.auth(client_id="other-02"),
                           timeout=30)
    assert problem_type(answer) == "/problems/signature-client-mismatch"


def test_replayed_request_is_refused(store_app, server, city):
    req = requests.Request("POST", server.url + WHOAMI, json={"a": 1}, auth=city.auth()).prepare()
    assert send(req).status_code == 200
    assert problem_type(send(req)) == "/problems/signature-replayed"
    with store.session_scope(store_app) as session:
        assert session.scalar(select(func.count()).select_from(RequestNonce)) == 1


def test_replay_to_another_worker_is_refused(store_app, server, city):
    """A second app (another worker process) on the same store knows the first one's nonces."""
    other_app = create_app({"TESTING": True, "DEV_TOKENS": True,
                            "DATABASE_URL": store_app.config["DATABASE_URL"],
                            "KEYS_DIR": store_app.config["KEYS_DIR"]})
    other_app.register_blueprint(helpers.blueprint_for_tests())
    other = helpers.LiveServer(other_app)
    try:
        req = requests.Request("POST", server.url + WHOAMI, json={"a": 1}, auth=city.auth()).prepare()
        assert send(req).status_code == 200
        # The same bytes, Host included (it is signed), delivered to the other worker's socket.
        status, problem = _send_raw(other.port, req, host=server.url.split("://")[1])
        assert (status, problem["type"]) == (401, "/problems/signature-replayed")
        fresh = requests.Request("POST", server.url + WHOAMI, json={"a": 1}, auth=city.auth()).prepare()
        status, body = _send_raw(other.port, fresh, host=server.url.split("://")[1])
        assert (status, body["client_id"]) == (200, "city-01")
    finally:
        other.stop()
        other_app.extensions["store.engine"].dispose()


def test_body_over_the_size_limit_is_refused_before_verification(store_app, server, city):
    store_app.config["MAX_CONTENT_LENGTH"] = 1024
    answer = requests.post(server.url + WHOAMI, data=b"x" * 4096, auth=city.auth(), timeout=30)
    assert answer.status_code == 413
    assert answer.json()["type"] == "/problems/body-too-large"


# -- key rotation ------------------------------------------------------------------------------

def test_rotation_two_active_keys_then_the_revoked_one_fails_at_once(store_app, server, city):
    new = helpers.add_key(store_app, city.client_id)
    for keys in (city, new, city):
        answer = requests.post(server.url + WHOAMI, json={}, auth=keys.auth(), timeout=30)
        assert answer.status_code == 200, answer.text
    helpers.revoke(store_app, city.key_id)
    answer = requests.post(server.url + WHOAMI, json={}, auth=city.auth(), timeout=30)
    assert problem_type(answer) == "/problems/signature-revoked-key"
    assert requests.post(server.url + WHOAMI, json={}, auth=new.auth(), timeout=30).status_code == 200


# -- signed responses --------------------------------------------------------------------------

def test_signed_response_verifies_with_nothing_but_the_jwks(server):
    answer = requests.get(server.url + RECORDS, timeout=30)
    assert answer.status_code == 200
    jwks = requests.get(server.url + "/.well-known/jwks.json", timeout=30).json()
    result = verify_response(answer, jwks)
    assert result.parameters["keyid"] == server.app.extensions["signing.keyring"].active.kid
    assert result.body == answer.content
    assert set(result.covered_components) >= {'"@status"', '"content-digest"', '"content-type"'}
    assert GatewayResponseVerifier(server.url).verify(answer).label == "gw"


def test_altered_signed_response_fails_verification(server):
    jwks = requests.get(server.url + "/.well-known/jwks.json", timeout=30).json()
    answer = requests.get(server.url + RECORDS, timeout=30)
    answer._content = answer.content.replace("张三".encode(), "李四".encode())
    with pytest.raises(InvalidSignature):
        verify_response(answer, jwks)
    answer = requests.get(server.url + RECORDS, timeout=30)
    answer.status_code = 203
    with pytest.raises(InvalidSignature):
        verify_response(answer, jwks)
    with pytest.raises(InvalidSignature):
        verify_response(requests.get(server.url + RECORDS, timeout=30), {"keys": []})


def test_blueprint_signing_signs_answers_and_refusals(server, city):
    jwks = requests.get(server.url + "/.well-known/jwks.json", timeout=30).json()
    answer = requests.get(server.url + FEED, auth=city.auth(), timeout=30)
    assert answer.status_code == 200
    assert verify_response(answer, jwks).body == answer.content
    assert answer.json()["client_id"] == "city-01"
    refused = requests.get(server.url + FEED, timeout=30)
    assert problem_type(refused) == "/problems/signature-missing"
    assert verify_response(refused, jwks).covered_components['"@status"'] == "401"


# -- helpers -----------------------------------------------------------------------------------

def _fresh_pem_pair() -> tuple[bytes, bytes]:
    from gateway.exchange.keys import generate_key_pair

    pair = generate_key_pair("ed25519")
    return pair.private_pem, pair.public_pem


def _send_raw(port: int, req: requests.PreparedRequest, *, host: str) -> tuple[int, dict]:
    """Send ``req`` byte for byte to 127.0.0.1:``port`` with the given Host field."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(req.method, req.path_url, body=req.body,
                           headers={**req.headers, "Host": host})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()
