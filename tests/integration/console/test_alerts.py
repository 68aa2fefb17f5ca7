"""Alert rules evaluated as the scheduler does; deliveries to a real webhook receiver (the body
signed with the gateway's key) and to a real (tiny) SMTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socketserver
import threading
from contextlib import contextmanager

from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from gateway.signing import verify_with_jwks
from gateway.store.models import Alert
from sync_jobs.scheduler import evaluate_alerts
from tests.integration.console.helpers import audit_rows, logged_in, post
from tests.integration.console.test_operations import _sheet_source


@contextmanager
def webhook_receiver():
    received: list[tuple[bytes, dict]] = []

    @Request.application
    def app(request):
        received.append((request.get_data(), dict(request.headers)))
        return Response("ok")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}/hook", received
    finally:
        server.shutdown()


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) to take one message."""

    def handle(self):
        self.wfile.write(b"220 test ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 test\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    data += self.rfile.readline()
                self.server.messages.append(data)
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@contextmanager
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _alerts(app):
    with app.extensions["store.sessionmaker"]() as session:
        return [(a.kind, a.subject, a.state) for a in session.execute(select(Alert).order_by(Alert.id)).scalars()]


def test_a_stale_source_fires_once_to_a_signed_webhook_and_email(store_app, tmp_path):
    _sheet_source(store_app, tmp_path / "drop", name="quiet-sheet", region="11")  # never ran
    operator = logged_in(store_app, "ops", "operator")
    with webhook_receiver() as (url, received), smtp_server() as smtp:
        store_app.config.update(ALERT_SMTP_HOST="127.0.0.1", ALERT_SMTP_PORT=smtp.server_address[1],
                                ALERT_SMTP_STARTTLS=False)
        answer = post(operator, "/console/alerts/rules", {"name": "stale 0s", "kind": "stale", "threshold": "0",
                                                          "webhook": url, "email": "ops@example.org"})
        assert answer.status_code == 302
        evaluate_alerts(store_app)
        evaluate_alerts(store_app)                         # still stale: no second delivery
        assert _alerts(store_app) == [("stale", "quiet-sheet", "firing")]
        assert len(received) == 1 and len(smtp.messages) == 1
    body, headers = received[0]
    payload = json.loads(body)
    assert payload["subject"] == "quiet-sheet" and payload["kind"] == "stale"
    signature = base64.urlsafe_b64decode(headers["X-Gateway-Signature"] + "==")
    jwks = store_app.extensions["signing.keyring"].jwks()
    assert verify_with_jwks(jwks, headers["X-Gateway-Key-Id"], body, signature)
    assert not verify_with_jwks(jwks, headers["X-Gateway-Key-Id"], body + b" ", signature)
    assert b"quiet-sheet" in smtp.messages[0]
    page = operator.get("/console/alerts").data.decode()
    assert "quiet-sheet" in page and "webhook: sent 200" in page
    (alert_id,) = [a for a in _alert_ids(store_app)]
    post(operator, f"/console/alerts/{alert_id}/ack", page="/console/alerts")
    assert _alerts(store_app) == [("stale", "quiet-sheet", "acknowledged")]
    assert ("scheduler", "alert.deliver") in [(a, b) for a, b, *_ in audit_rows(store_app)]


def _alert_ids(app):
    with app.extensions["store.sessionmaker"]() as session:
        return list(session.execute(select(Alert.id)).scalars())


def test_alerts_resolve_and_silenced_rules_deliver_nothing(store_app, tmp_path):
    from tests.integration.sync_jobs.helpers import run

    from gateway import store
    from gateway.services.clients import create_client
    from gateway.exchange import keys as client_keys

    _sheet_source(store_app, tmp_path / "drop", name="sheet", region="11")
    with store.session_scope(store_app) as session:
        client = create_client(session, "portal", "portal", region_prefix="11")
        key_id = client_keys.add_key(session, client, client_keys.generate_key_pair().public_pem).key_id
    operator = logged_in(store_app, "ops", "operator")
    with webhook_receiver() as (url, received):
        post(operator, "/console/alerts/rules", {"name": "stale 1h", "kind": "stale", "threshold": "3600",
                                                 "webhook": url})
        post(operator, "/console/alerts/rules", {"name": "failing", "kind": "failure_streak",
                                                 "threshold": "1", "webhook": url})
        post(operator, "/console/alerts/rules", {"name": "unused key", "kind": "key_unused",
                                                 "threshold": "0", "webhook": url})
        rule_ids = _rule_ids(store_app)
        post(operator, f"/console/alerts/rules/{rule_ids['unused key']}/silence", {"minutes": "60"},
             "/console/alerts")
        evaluate_alerts(store_app)
        # nothing stale yet, no failures; the unused key fires, but its rule is silenced
        assert _alerts(store_app) == [("key_unused", key_id, "firing")]
        run(store_app, "sheet")
        evaluate_alerts(store_app)
        assert received == []
        post(operator, f"/console/alerts/rules/{rule_ids['unused key']}/disable", page="/console/alerts")
        evaluate_alerts(store_app)
        assert _alerts(store_app) == [("key_unused", key_id, "firing")]  # disabled: left as it was
    refused = post(logged_in(store_app, "look"), "/console/alerts/rules",
                   {"name": "x", "kind": "lag", "threshold": "1"})
    assert refused.status_code == 403


def _rule_ids(app):
    from gateway.store.models import AlertRule

    with app.extensions["store.sessionmaker"]() as session:
        return {r.name: r.id for r in session.execute(select(AlertRule)).scalars()}
