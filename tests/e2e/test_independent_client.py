"""Interoperability: a client built only from docs/protocol.md talks to a real gateway.

The client (tests/e2e/independent_client.py) imports nothing of the gateway — checked
below — and uses requests-http-signature for signing and verifying, cryptography to turn
the JWK set's keys into public keys. The gateway is the whole app on 127.0.0.1, over
SQLite and PostgreSQL; this harness only starts it and registers the client's public key,
as an operator would.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import requests
from http_message_signatures import InvalidSignature

from tests.e2e.independent_client import IndependentClient, Refused
from tests.integration.exchange import helpers
from tests.integration.exchange_client.support import (count_volunteers, other_jwks, volunteers,
                                                         wait_for_feed)

CLIENT_SOURCE = Path(__file__).with_name("independent_client.py")


def test_the_independent_client_uses_nothing_of_the_gateway():
    tree = ast.parse(CLIENT_SOURCE.read_text("utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "base64", "datetime", "hashlib", "json", "typing",
                        "requests", "requests_http_signature", "cryptography"}, imported


@pytest.fixture
def keys(store_app):
    """The operator registers the client and its public key; the integrator keeps the private one."""
    return helpers.register_client(store_app, "independent-01")


@pytest.fixture
def integrator(server, keys) -> IndependentClient:
    return IndependentClient(server.url, keys.client_id, keys.key_id, keys.private_pem)


def items(records):
    return [{"entity": "volunteer", "op": "upsert", "data": r} for r in records]


def test_push_then_pull_every_page_with_verified_answers(integrator, keys, store_app):
    jwks = integrator.fetch_jwks()
    assert jwks["keys"] and all(k["kty"] == "OKP" and "d" not in k for k in jwks["keys"])

    records = list(volunteers(5, prefix="ind"))
    records[4]["mobile"] = "23800138000"
    answer = integrator.push("independent-batch-1", items(records))
    assert answer["batch_id"] == "independent-batch-1"
    assert answer["summary"]["created"] == 4 and answer["summary"]["rejected"] == 1
    assert [r["index"] for r in answer["results"]] == [0, 1, 2, 3, 4]
    assert answer["results"][4]["status"] == "rejected"
    assert any(e["pointer"] == "/data/mobile" for e in answer["results"][4]["errors"])
    numbers = [r["key"] for r in answer["results"][:4]]
    wait_for_feed(integrator.base_url, keys, 4)  # PostgreSQL: see its docstring

    pages, cursor = integrator.pull_all(entity="volunteer", limit=3)
    assert [len(p) for p in pages] == [3, 1]
    changes = [c for p in pages for c in p]
    assert [c["key"] for c in changes] == numbers
    assert cursor == changes[-1]["cursor"]
    assert all(c["data"]["volunteer_no"] == c["key"] for c in changes)

    # Resume from the saved cursor: only what is new.
    more = integrator.push("independent-batch-2", items(volunteers(2, start=5, prefix="ind")))
    wait_for_feed(integrator.base_url, keys, 2, since=cursor)
    pages, cursor2 = integrator.pull_all(since=cursor, entity="volunteer", limit=3)
    assert [c["key"] for p in pages for c in p] == [r["key"] for r in more["results"]]
    assert cursor2 != cursor
    assert count_volunteers(store_app) == 6


def test_ndjson_push_from_the_document(integrator, store_app):
    results = integrator.push_ndjson("independent-ndjson-1", items(volunteers(3, prefix="nd")))
    *rows, last = results
    assert [r["status"] for r in rows] == ["created"] * 3
    assert last["summary"]["created"] == 3 and last["batch_id"] == "independent-ndjson-1"
    assert count_volunteers(store_app) == 3


def test_a_resent_batch_gets_the_stored_answer_byte_for_byte(integrator, store_app):
    envelope = {"schema_version": "1", "sender": integrator.client_id, "batch_id": "again-1",
                "records": items(volunteers(2, prefix="ag"))}
    body = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
    first = integrator.post_batch(body, "application/json")
    second = integrator.post_batch(body, "application/json")  # signed anew, same key and body
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    integrator.verified(second)
    assert count_volunteers(store_app) == 2

    other = json.dumps({**envelope, "batch_id": "again-2"}).encode("utf-8")
    reused = integrator.post_batch(other, "application/json",
                                   key=first.request.headers["Idempotency-Key"])
    assert reused.status_code == 409
    assert reused.json()["type"] == "/problems/idempotency-key-reused"


def test_answers_that_do_not_verify_are_refused(integrator, keys):
    integrator.push("tamper-1", items(volunteers(1, prefix="tm")))
    wait_for_feed(integrator.base_url, keys, 1)
    kid = integrator.fetch_jwks()["keys"][-1]["kid"]

    answer = integrator.http.get(f"{integrator.base_url}/api/v1/exchange/changes",
                                 auth=integrator.auth, timeout=30)
    answer._content = answer.content.replace(b'"upsert"', b'"delete"')
    with pytest.raises(InvalidSignature):
        integrator.verified(answer)

    from tests.e2e.independent_client import GatewayKeys

    integrator.gateway_keys = GatewayKeys(other_jwks(kid))  # another key under the gateway's kid
    with pytest.raises(InvalidSignature):
        integrator.changes_page()


def test_unsigned_or_wrongly_signed_requests_are_refused(integrator):
    plain = requests.get(f"{integrator.base_url}/api/v1/exchange/changes", timeout=30)
    assert plain.status_code == 401
    assert plain.json()["type"] == "/problems/signature-missing"

    integrator.auth.client_id = "somebody-else"
    with pytest.raises(Refused) as refused:
        integrator.changes_page()
    assert refused.value.status == 401
    assert refused.value.problem["type"] == "/problems/signature-client-mismatch"
