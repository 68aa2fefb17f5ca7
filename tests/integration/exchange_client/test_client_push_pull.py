"""gateway.exchange.client against a real gateway on 127.0.0.1 (SQLite and PostgreSQL).

Every request is signed for real (GatewayAuth), every answer's gateway signature is checked
against the JWK set fetched over HTTP, and what the store holds afterwards is counted.
"""

from __future__ import annotations

import json

import orjson
import pytest
import requests

from gateway.exchange.client import (GatewayClient, GatewayProblem, PushError,
                                     ResponseSignatureError, TransportError)
from tests import factories
from tests.integration.exchange import helpers
from tests.integration.exchange_client.support import (count_volunteers, other_jwks, volunteers,
                                                         wait_for_feed)


def client_for(server, city, **options) -> GatewayClient:
    options.setdefault("gateway_jwks", "fetch")
    return GatewayClient(server.url, city.client_id, city.key_id, city.private_pem, **options)


class DropOnceSession(requests.Session):
    """A session that loses the first POST's answer: the gateway has processed it, the client
    sees a dropped connection (as when a proxy or the network cuts in at the worst moment)."""

    def __init__(self):
        super().__init__()
        self.posts: list[requests.PreparedRequest] = []
        self.dropped = 0

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        if request.method == "POST":
            self.posts.append(request)
            if not self.dropped:
                self.dropped += 1
                response.close()
                raise requests.ConnectionError("connection reset after the request was sent")
        return response


def test_push_json_records_in_batches(server, city, store_app):
    client = client_for(server, city)
    records = list(volunteers(23))
    result = client.push(records, entity="volunteer", batch_size=10)

    assert [b.records for b in result.batches] == [10, 10, 3]
    assert result.summary == {"total": 23, "created": 23, "updated": 0, "unchanged": 0,
                              "deleted": 0, "rejected": 0}
    assert result.all_accepted
    assert [r["index"] for r in result.results] == list(range(23))
    assert [r["source_id"] for r in result.results] == [r["source_id"] for r in records]
    assert all(r["status"] == "created" and r["key"].startswith("V110105") for r in result.results)
    assert len({r["key"] for r in result.results}) == 23
    assert len({b.idempotency_key for b in result.batches}) == 3
    assert count_volunteers(store_app) == 23


def test_push_reports_each_rejected_record_and_stores_the_others(server, city, store_app):
    records = list(volunteers(4))
    records[2]["mobile"] = "23800138000"  # not a mainland mobile number
    result = client_for(server, city).push(records, entity="volunteer")

    assert result.summary["created"] == 3 and result.summary["rejected"] == 1
    assert not result.all_accepted
    (rejected,) = result.rejected
    assert rejected["index"] == 2 and rejected["source_id"] == records[2]["source_id"]
    assert any(e["pointer"] == "/data/mobile" for e in rejected["errors"]), rejected
    assert all(e["rule"] and e["message_en"] and e["message_zh"] for e in rejected["errors"])
    assert count_volunteers(store_app) == 3


def test_push_an_envelope_as_given(server, city, store_app):
    envelope = factories.batch(sender=city.client_id, batch_id="city-20240501-1",
                               records=[{"entity": "volunteer", "op": "upsert", "data": v}
                                        for v in volunteers(2)])
    result = client_for(server, city).push(envelope)
    assert [b.batch_id for b in result.batches] == ["city-20240501-1"]
    assert result.summary["created"] == 2


def test_the_same_push_again_gets_the_stored_answer(server, city, store_app):
    records = list(volunteers(6))
    first = client_for(server, city).push(records, entity="volunteer", batch_size=4)
    again = client_for(server, city).push(records, entity="volunteer", batch_size=4)

    assert [b.idempotency_key for b in again.batches] == [b.idempotency_key for b in first.batches]
    assert again.results == first.results, "the stored answers, not a second processing"
    assert again.summary["created"] == 6
    assert count_volunteers(store_app) == 6

    # A new key makes the gateway process the same content again: nothing new is created.
    fresh = client_for(server, city).push(records, entity="volunteer", batch_size=4,
                                          idempotency_key="reprocess-1")
    assert fresh.summary["created"] == 0 and fresh.summary["rejected"] == 0
    assert count_volunteers(store_app) == 6


def test_a_retry_after_a_dropped_connection_leaves_exactly_one_copy(server, city, store_app):
    session = DropOnceSession()
    client = client_for(server, city, session=session, backoff=0.05)
    records = list(volunteers(5))
    result = client.push(records, entity="volunteer")

    assert session.dropped == 1 and len(session.posts) == 2
    first, retry = session.posts
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"]
    assert first.body == retry.body
    assert first.headers["Signature"] != retry.headers["Signature"], "signed anew (fresh nonce)"
    # The retry got the stored answer of the first attempt: "created", not "unchanged".
    assert result.summary["created"] == 5
    assert all(r["status"] == "created" for r in result.results)
    assert count_volunteers(store_app) == 5


def test_an_ndjson_retry_after_a_dropped_connection_leaves_exactly_one_copy(server, city, store_app,
                                                                           tmp_path):
    path = tmp_path / "volunteers.ndjson"
    path.write_bytes(b"".join(orjson.dumps(v) + b"\n" for v in volunteers(40)))
    session = DropOnceSession()
    client = client_for(server, city, session=session, backoff=0.05)
    result = client.push_ndjson(path, entity="volunteer")

    assert session.dropped == 1 and len(session.posts) == 2
    assert len({p.headers["Idempotency-Key"] for p in session.posts}) == 1
    assert result.summary["created"] == 40
    assert count_volunteers(store_app) == 40


def test_push_an_ndjson_file_of_thousands_of_records(server, city, store_app, tmp_path):
    path = tmp_path / "volunteers.ndjson"
    bad_line = 1234
    with path.open("wb") as fh:
        fh.write(orjson.dumps({"schema_version": "1", "sender": city.client_id,
                               "batch_id": "nightly-2024-05-01"}) + b"\n")
        for n, record in enumerate(volunteers(2000)):
            if n + 2 == bad_line:
                record["gender"] = "7"  # not a code of GB/T 2261.1
            fh.write(orjson.dumps(record) + b"\n")

    client = client_for(server, city)
    result = client.push_ndjson(path, entity="volunteer", chunk_bytes=512 * 1024)

    assert len(result.batches) >= 3
    assert [b.batch_id for b in result.batches][:2] == ["nightly-2024-05-01.1",
                                                        "nightly-2024-05-01.2"]
    assert result.summary["total"] == 2000
    assert result.summary["created"] == 1999 and result.summary["rejected"] == 1
    (rejected,) = result.rejected
    assert rejected["line"] == bad_line and rejected["index"] == bad_line - 2
    assert any(e["pointer"] == "/data/gender" for e in rejected["errors"])
    assert count_volunteers(store_app) == 1999


def test_pull_pages_until_exhausted_then_resumes_from_the_cursor(server, city, store_app):
    client = client_for(server, city)
    pushed = client.push(list(volunteers(12)), entity="volunteer")
    keys = [r["key"] for r in pushed.results]
    wait_for_feed(server.url, city, 12)

    pages = list(client.pull_pages(entity="volunteer", limit=5))
    assert [len(p.changes) for p in pages] == [5, 5, 2]
    assert [p.has_more for p in pages] == [True, True, False]
    changes = [c for p in pages for c in p.changes]
    assert [c["key"] for c in changes] == keys, "oldest first, each once"
    assert all(c["entity"] == "volunteer" and c["op"] == "upsert" for c in changes)
    assert len({c["cursor"] for c in changes}) == 12
    assert client.last_cursor == pages[-1].next_cursor == changes[-1]["cursor"]
    # Personal data is masked for this client (pii_access masked).
    assert all("*" in c["data"]["id_number"] and "*" in c["data"]["mobile"] for c in changes)

    cursor = client.last_cursor
    assert list(client.pull(since=cursor, entity="volunteer")) == []
    assert client.last_cursor == cursor

    more = client.push(list(volunteers(3, start=12)), entity="volunteer")
    wait_for_feed(server.url, city, 3, since=cursor)
    resumed = list(client.pull(since=cursor, entity="volunteer", limit=2))
    assert [c["key"] for c in resumed] == [r["key"] for r in more.results]
    assert client.last_cursor == resumed[-1]["cursor"]


def test_stopping_in_the_middle_resumes_without_skipping(server, city):
    client = client_for(server, city)
    keys = [r["key"] for r in client.push(list(volunteers(6)), entity="volunteer").results]
    wait_for_feed(server.url, city, 6)
    seen = []
    for change in client.pull(entity="volunteer", limit=4):
        seen.append(change["key"])
        if len(seen) == 3:
            break  # stop after handling the third change
    # last_cursor follows the changes the loop has finished with (the first two: the third's
    # loop body did not ask for more), so the third comes again: at least once, never skipped.
    rest = [c["key"] for c in client.pull(since=client.last_cursor, entity="volunteer")]
    assert seen == keys[:3] and rest == keys[2:]


def test_jwks_is_the_gateways_public_key_set(server, city):
    jwks = client_for(server, city).jwks()
    assert jwks["keys"] and all("d" not in k and k["kty"] == "OKP" for k in jwks["keys"])
    # Verifying against a JWK set given out of band (the strongest choice) works too.
    pinned = client_for(server, city, gateway_jwks=jwks)
    assert pinned.push(list(volunteers(1)), entity="volunteer").all_accepted
    wait_for_feed(server.url, city, 1)
    assert [c["op"] for c in pinned.pull(entity="volunteer")] == ["upsert"]


@pytest.mark.parametrize("same_kid", [True, False], ids=["other-key-same-kid", "unknown-kid"])
def test_signature_verification_fails_loudly_with_another_jwks(server, city, same_kid):
    kid = client_for(server, city).jwks()["keys"][-1]["kid"]
    client = client_for(server, city, gateway_jwks=other_jwks(kid if same_kid else "someone-else"))
    with pytest.raises(ResponseSignatureError, match="does not verify"):
        list(client.pull())
    with pytest.raises(PushError) as caught:
        client.push(list(volunteers(1)), entity="volunteer")
    assert isinstance(caught.value.cause, ResponseSignatureError)


def test_a_refused_signature_is_a_problem_not_a_retry(server, city, store_app):
    helpers.revoke(store_app, city.key_id)
    client = client_for(server, city)
    with pytest.raises(PushError) as caught:
        client.push(list(volunteers(1)), entity="volunteer")
    problem = caught.value.cause
    assert isinstance(problem, GatewayProblem)
    assert problem.status == 401 and problem.type == "/problems/signature-revoked-key"
    with pytest.raises(GatewayProblem, match="signature-revoked-key"):
        list(client.pull())
    assert count_volunteers(store_app) == 0


def test_an_unreachable_gateway_is_a_transport_error(server, city):
    url = server.url
    server.stop()
    client = GatewayClient(url, city.client_id, city.key_id, city.private_pem, retries=2,
                           backoff=0.01, timeout=2)
    with pytest.raises(PushError) as caught:
        client.push(list(volunteers(1)), entity="volunteer")
    assert isinstance(caught.value.cause, TransportError)
    with pytest.raises(TransportError):
        list(client.pull())
    server.stop = lambda: None  # already stopped; the fixture's stop() must not fail


def test_the_push_answer_is_the_one_the_gateway_signed(server, city):
    """The results come from the verified bytes: a proxy that alters the body is caught."""

    class Tampering(requests.Session):
        def send(self, request, **kwargs):
            response = super().send(request, **kwargs)
            if request.method == "POST" and response.status_code == 200:
                body = json.loads(response.content)
                body["summary"]["rejected"] = 0
                response._content = json.dumps(body).encode()
            return response

    client = client_for(server, city, session=Tampering())
    with pytest.raises(PushError) as caught:
        client.push(list(volunteers(1)), entity="volunteer")
    assert isinstance(caught.value.cause, ResponseSignatureError)
