"""A local system pulls the feed from a real gateway on 127.0.0.1, signing every request for
real (GatewayAuth, Ed25519) and verifying every answer with nothing but the gateway's JWK set."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from gateway import store
from gateway.exchange import message_log
from gateway.exchange.client_auth import InvalidSignature, verify_response
from gateway.store.models import MessageLog
from tests.integration.exchange import helpers as live
from tests.integration.exchange_feed import helpers as h


def test_a_local_system_pulls_every_change_with_signed_requests_and_verified_answers(
        store_app, http, admin, server):
    beijing = h.build_world(http, admin, h.BJ)
    h.build_world(http, admin, h.GD)  # outside the client's region (11)
    city = live.register_client(store_app, "city-01")
    jwks = requests.get(server.url + "/.well-known/jwks.json", timeout=30).json()
    h.settle(store_app)

    changes, cursor, pages = [], None, 0
    with requests.Session() as session:
        while True:
            params = {"limit": 3, **({"since": cursor} if cursor else {})}
            answer = session.get(server.url + h.FEED, params=params, auth=city.auth(), timeout=30)
            assert answer.status_code == 200, answer.text
            verified = verify_response(answer, jwks)
            assert verified.body == answer.content
            body = answer.json()
            changes.extend(body["changes"])
            cursor, pages = body["next_cursor"], pages + 1
            if not body["has_more"]:
                break
    assert pages == 3  # 7 changes in Beijing, 3 a page
    assert {c["key"] for c in changes} == {beijing.volunteer_no, beijing.team_no, beijing.project_no,
                                           beijing.record_no, beijing.certificate_no}
    assert [h.change_id(c) for c in changes] == h.table_ids(store_app)[:7]  # Beijing's came first

    # A page altered on the way does not verify.
    answer = requests.get(server.url + h.FEED, params={"limit": 1}, auth=city.auth(), timeout=30)
    answer._content = answer.content.replace(b'"upsert"', b'"delete"')
    with pytest.raises(InvalidSignature):
        verify_response(answer, jwks)
    # Unsigned, the feed answers nothing.
    unsigned = requests.get(server.url + h.FEED, timeout=30)
    assert unsigned.status_code == 401
    assert unsigned.json()["type"] == "/problems/signature-missing"

    # Every page that left is in the message log, its signature verifiable again from there.
    with store.session_scope(store_app) as session:
        entries = session.execute(select(MessageLog).where(MessageLog.direction == "out",
                                                           MessageLog.client_id == "city-01")
                                  ).scalars().all()
        assert len(entries) == pages + 1
        assert all(message_log.verify_entry(session, entry).verified for entry in entries)
        assert {entry.key_id for entry in entries} <= {k["kid"] for k in jwks["keys"]}
