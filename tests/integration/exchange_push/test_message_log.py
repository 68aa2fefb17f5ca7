"""The message log: every pushed batch kept with its signature evidence; `vgw log show`
re-verifies it from the log alone; retention drops old bodies and keeps the evidence."""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from flask import Response
from sqlalchemy import select, update

from gateway import store
from gateway.exchange import message_log
from gateway.exchange.signatures import sign_response
from gateway.store.models import BlobChunk, IdempotencyKey, MessageLog, Volunteer, utcnow
from tests.integration.exchange import helpers as exchange_helpers
from tests.integration.exchange_push import helpers as h


@pytest.fixture
def pushed(store_app, server, city):
    """One signed batch pushed by city-01 (batch id log-1): its body and answer."""
    body = orjson.dumps(h.envelope([h.item("volunteer", h.volunteer(i)) for i in range(3)]
                                   + [h.item("volunteer", h.volunteer(9, mobile="1"))],
                                   batch_id="log-1"))
    answer = h.push(server, city, body, content_type="application/json", key="log-key-1")
    assert answer.status_code == 200
    return body, answer


def _entry(app, batch_id="log-1") -> MessageLog:
    with store.session_scope(app) as session:
        return session.execute(select(MessageLog).where(MessageLog.batch_id == batch_id)
                               .order_by(MessageLog.id)).scalars().first()


def _show(app, batch_id="log-1"):
    return app.test_cli_runner().invoke(args=["log", "show", batch_id])


def test_a_pushed_batch_is_logged_with_its_evidence(store_app, city, pushed):
    body, answer = pushed
    entry = _entry(store_app)
    assert (entry.direction, entry.client_id, entry.status, entry.http_status) == ("in", "city-01", "done", 200)
    assert entry.method == "POST" and entry.target_uri.endswith("/api/v1/exchange/batches")
    assert entry.key_id == city.key_id and entry.key_algorithm == "ed25519"
    assert entry.public_key_pem == city.public_pem.decode()
    assert entry.idempotency_key == "log-key-1" and entry.nonce
    assert f'keyid="{city.key_id}"' in entry.signature_input
    assert f'nonce="{entry.nonce}"' in entry.signature_input
    assert entry.signature and entry.content_digest.startswith("sha-256=:")
    assert entry.signed_headers["client-id"] == "city-01"
    assert entry.signed_headers["content-digest"] == entry.content_digest
    assert entry.body_sha256 == hashlib.sha256(body).hexdigest() and entry.body_bytes == len(body)
    assert entry.summary == answer.json()["summary"] == {
        "total": 4, "created": 3, "updated": 0, "unchanged": 0, "deleted": 0, "rejected": 1}
    with store.session_scope(store_app) as session:
        assert b"".join(message_log.read_blob(session, entry.body_blob)) == body


def test_log_show_verifies_the_stored_signature(store_app, pushed):
    result = _show(store_app)
    assert result.exit_code == 0, result.output
    assert "verification:    VERIFIED" in result.output
    assert "client:          city-01" in result.output and "log-1" in result.output
    assert _show(store_app, "no-such-batch").exit_code == 1


def test_the_evidence_outlives_the_keys_revocation(store_app, city, pushed):
    exchange_helpers.revoke(store_app, city.key_id)
    result = _show(store_app)
    assert result.exit_code == 0 and "VERIFIED" in result.output


def test_a_tampered_body_fails_verification(store_app, pushed):
    body, _ = pushed
    entry = _entry(store_app)
    tampered = body.replace("王淑兰".encode(), "王淑芬".encode())
    with store.session_scope(store_app) as session:
        session.execute(update(BlobChunk).where(BlobChunk.blob_key == entry.body_blob)
                        .values(data=zlib.compress(tampered)))
    result = _show(store_app)
    assert result.exit_code == 1
    assert "verification:    FAILED" in result.output
    assert "stored body does not match the signed Content-Digest" in result.output


def test_a_tampered_signature_or_request_fails_verification(store_app, pushed):
    entry = _entry(store_app)
    with store.session_scope(store_app) as session:
        session.execute(update(MessageLog).where(MessageLog.id == entry.id)
                        .values(target_uri=entry.target_uri + "?x=1"))
    result = _show(store_app)
    assert result.exit_code == 1 and "signature does not verify" in result.output


def test_replays_and_refusals_are_logged_too(store_app, server, city, pushed):
    body, _ = pushed
    assert h.push(server, city, body, content_type="application/json", key="log-key-1").status_code == 200
    h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(5))], batch_id="log-1",
                                     sender="not-me"))
    with store.session_scope(store_app) as session:
        rows = session.execute(select(MessageLog.status, MessageLog.http_status)
                               .where(MessageLog.batch_id == "log-1").order_by(MessageLog.id)).all()
    assert [tuple(r) for r in rows] == [("done", 200), ("replayed", 200), ("rejected", 403)]
    result = _show(store_app)
    assert result.output.count("VERIFIED") == 3 and result.exit_code == 0


def test_a_push_with_a_development_token_is_logged_as_unsigned(store_app, server, caller):
    headers = caller(store_app, "city-01", region="11", perms={"*": ["read", "write"]})
    body = orjson.dumps(h.envelope([h.item("volunteer", h.volunteer(6))], batch_id="dev-1"))
    import requests

    answer = requests.post(server.url + h.URL, data=body, timeout=60, headers={
        **headers, "Content-Type": "application/json", "Idempotency-Key": "dev-key"})
    assert answer.status_code == 200, answer.text
    result = _show(store_app, "dev-1")
    assert result.exit_code == 1 and "not signed" in result.output


def test_log_list_shows_the_latest_messages(store_app, pushed):
    result = store_app.test_cli_runner().invoke(args=["log", "list"])
    assert result.exit_code == 0
    assert "log-1" in result.output and "city-01" in result.output and "done" in result.output


def test_purge_drops_old_bodies_and_keeps_the_evidence(store_app, server, city, pushed):
    body, _ = pushed
    old = _entry(store_app)
    recent = h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(8))], batch_id="log-2"))
    assert recent.status_code == 200
    long_ago = utcnow() - dt.timedelta(days=store_app.config["MESSAGE_LOG_RETENTION_DAYS"] + 1)
    with store.session_scope(store_app) as session:
        session.execute(update(MessageLog).where(MessageLog.id == old.id).values(received_at=long_ago))
        session.execute(update(IdempotencyKey).where(IdempotencyKey.key == "log-key-1")
                        .values(created_at=long_ago))

    result = store_app.test_cli_runner().invoke(args=["log", "purge"])
    assert result.exit_code == 0, result.output
    assert "purged 1 message bodies and 1 stored push answers older than 90 days" in result.output

    purged, kept = _entry(store_app), _entry(store_app, "log-2")
    assert purged.body_blob is None and purged.body_purged_at is not None
    assert kept.body_blob is not None
    # the evidence summary stays
    assert (purged.body_sha256, purged.body_bytes) == (hashlib.sha256(body).hexdigest(), len(body))
    assert purged.signature == old.signature and purged.signature_input == old.signature_input
    assert purged.public_key_pem == old.public_key_pem and purged.key_id == old.key_id
    assert purged.summary == old.summary and purged.status == "done"
    assert h.count(store_app, BlobChunk, BlobChunk.blob_key == old.body_blob) == 0
    # the signature still verifies; only the body can no longer be checked
    shown = _show(store_app)
    assert shown.exit_code == 0 and "VERIFIED" in shown.output and "body purged" in shown.output
    # the idempotency key went with its stored answer: the same push is now processed anew
    again = h.push(server, city, body, content_type="application/json", key="log-key-1")
    assert again.json()["summary"]["unchanged"] == 3
    assert h.count(store_app, Volunteer) == 4


def test_an_outbound_message_is_verified_with_the_gateways_key(store_app):
    """What the change feed logs (record_outbound) verifies the same way."""
    with store_app.test_request_context("/api/v1/exchange/changes"):
        response = sign_response(Response(b'{"changes": []}', content_type="application/json"))
        key = store_app.extensions["signing.keyring"].active
        pem = key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        with store.session_scope(store_app) as session:
            entry = message_log.record_outbound(
                session, client_id="city-01", method="GET", target_uri="http://x/api/v1/exchange/changes",
                http_status=200, content_type=response.content_type, body=response.get_data(),
                response_headers=response.headers, batch_id="feed-1", key_id=key.kid,
                public_key_pem=pem, summary={"changes": 0})
            check = message_log.verify_entry(session, entry)
            assert check.verified, check.problems
            entry.http_status = 500  # not what was signed
            assert not message_log.verify_entry(session, entry).verified
