"""The client's retry policy and batching, with a scripted transport instead of a server.

What a real gateway cannot be made to do on demand (answer 503, 429 with Retry-After, or be
unreachable) is scripted here with a requests transport adapter; everything the client sends
is still signed for real and checked with the gateway's own verifier rules where it matters
(fresh nonce per attempt). The end-to-end behaviour against a real server is in
test_client_push_pull.py.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import http_sf
import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from gateway.exchange import keys as client_keys
from gateway.exchange.client import (GatewayClient, GatewayProblem, InputError, PushError,
                                     TransportError, idempotency_key_for)

BASE = "http://gateway.test"


class Scripted(BaseAdapter):
    """Answers each request with the next scripted step: (status, body, headers) or an exception."""

    def __init__(self, steps: list[Any] | Callable[[requests.PreparedRequest], Any]):
        super().__init__()
        self.steps = steps
        self.sent: list[requests.PreparedRequest] = []
        self.bodies: list[bytes] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        body = request.body
        if hasattr(body, "read"):
            body.seek(0)
            body = body.read()
        self.bodies.append(body if isinstance(body, bytes) else (body or b""))
        step = self.steps(request) if callable(self.steps) else self.steps.pop(0)
        if callable(step):
            step = step(request)
        if isinstance(step, Exception):
            raise step
        status, payload, headers = step
        response = requests.Response()
        response.status_code = status
        response._content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        response.headers = CaseInsensitiveDict(headers or {"Content-Type": "application/json"})
        response.request, response.url, response.reason = request, request.url, "scripted"
        return response

    def close(self):
        pass


def ok_push(request: requests.PreparedRequest) -> tuple[int, dict, dict]:
    """A well-formed push answer: every record created."""
    body = json.loads(request.body)
    results = [{"index": i, "entity": r["entity"], "op": r["op"], "status": "created",
                "key": f"V{i}", "source_id": r["data"].get("source_id"), "errors": []}
               for i, r in enumerate(body["records"])]
    summary = {"total": len(results), "created": len(results), "updated": 0, "unchanged": 0,
               "deleted": 0, "rejected": 0}
    return 200, {"batch_id": body["batch_id"], "idempotency_key": request.headers["Idempotency-Key"],
                 "received_at": "2024-05-01T10:00:00+08:00", "summary": summary,
                 "results": results}, {"Content-Type": "application/json"}


def problem(status: int, slug: str, **headers: str) -> tuple[int, dict, dict]:
    return status, {"type": f"/problems/{slug}", "title": slug, "status": status}, {
        "Content-Type": "application/problem+json", **headers}


@pytest.fixture
def make_client():
    pair = client_keys.generate_key_pair("ed25519")

    def make(steps, **options) -> tuple[GatewayClient, Scripted, list[float]]:
        adapter = Scripted(steps)
        session = requests.Session()
        session.mount(BASE, adapter)
        waits: list[float] = []
        options.setdefault("backoff", 0.01)
        client = GatewayClient(BASE, "city-01", pair.key_id, pair.private_pem, session=session,
                               sleep=waits.append, **options)
        return client, adapter, waits

    return make


def nonce(request: requests.PreparedRequest) -> str:
    (_members, params), = http_sf.parse(request.headers["Signature-Input"].encode(),
                                        tltype="dictionary").values()
    return params["nonce"]


def records(n: int) -> list[dict]:
    return [{"source_id": f"s{i}", "name": "张三"} for i in range(n)]


def test_5xx_then_success_is_retried_with_the_same_key_and_a_fresh_signature(make_client):
    client, adapter, waits = make_client([problem(503, "unavailable"), problem(502, "bad-gateway"),
                                          ok_push])
    result = client.push(records(3), entity="volunteer")
    assert result.summary["created"] == 3 and result.all_accepted
    assert len(adapter.sent) == 3 and len(waits) == 2
    keys = {r.headers["Idempotency-Key"] for r in adapter.sent}
    assert len(keys) == 1, "every attempt carries the same Idempotency-Key"
    assert len({nonce(r) for r in adapter.sent}) == 3, "every attempt is signed anew"
    assert len(set(adapter.bodies)) == 1
    assert keys == {idempotency_key_for(__import__("hashlib").sha256(adapter.bodies[0]).digest())}


def test_429_waits_as_long_as_retry_after_says(make_client):
    client, adapter, waits = make_client([problem(429, "too-many-requests", **{"Retry-After": "7"}),
                                          ok_push], max_backoff=60)
    client.push(records(1), entity="volunteer")
    assert len(waits) == 1 and 7 <= waits[0] <= 7.1


def test_retry_after_is_capped_by_max_backoff(make_client):
    client, _adapter, waits = make_client([problem(429, "slow-down", **{"Retry-After": "3600"}),
                                           ok_push], max_backoff=5)
    client.push(records(1), entity="volunteer")
    assert waits == [5]


def test_backoff_grows_exponentially_with_jitter_and_is_bounded(make_client):
    client, adapter, waits = make_client(lambda _req: problem(503, "unavailable"), retries=4,
                                         backoff=1, max_backoff=100)
    with pytest.raises(PushError) as caught:
        client.push(records(1), entity="volunteer")
    assert isinstance(caught.value.cause, GatewayProblem) and caught.value.cause.status == 503
    assert len(adapter.sent) == 4 and len(waits) == 3, "bounded: 4 attempts in all"
    assert all(0 <= w <= 2 ** n for n, w in enumerate(waits)), waits


def test_connection_errors_are_retried_then_reported_as_transport_errors(make_client):
    client, adapter, waits = make_client(lambda _req: requests.ConnectionError("refused"), retries=3)
    with pytest.raises(PushError) as caught:
        client.push(records(2), entity="volunteer")
    assert isinstance(caught.value.cause, TransportError)
    assert len(adapter.sent) == 3
    with pytest.raises(TransportError):
        list(client.pull())


def test_idempotency_in_progress_is_retried_but_a_reused_key_is_not(make_client):
    client, adapter, _ = make_client([problem(409, "idempotency-in-progress"), ok_push])
    assert client.push(records(1), entity="volunteer").summary["created"] == 1
    client, adapter, _ = make_client([problem(409, "idempotency-key-reused")])
    with pytest.raises(PushError) as caught:
        client.push(records(1), entity="volunteer", idempotency_key="job-1")
    assert caught.value.cause.type == "/problems/idempotency-key-reused"
    assert len(adapter.sent) == 1


def test_a_batch_still_in_progress_is_waited_for_without_using_up_retries(make_client):
    busy = problem(409, "idempotency-in-progress", **{"Retry-After": "5"})
    client, adapter, waits = make_client([requests.ReadTimeout("read timed out")] + [busy] * 8
                                         + [ok_push], retries=2)
    assert client.push(records(2), entity="volunteer").summary["created"] == 2
    assert len(adapter.sent) == 10 and all(w >= 5 for w in waits[1:])
    assert len({r.headers["Idempotency-Key"] for r in adapter.sent}) == 1

    impatient, adapter, _ = make_client(lambda _req: busy, in_progress_wait=0)
    with pytest.raises(PushError) as caught:
        impatient.push(records(1), entity="volunteer")
    assert caught.value.cause.status == 409 and len(adapter.sent) == 1


def test_client_errors_are_not_retried(make_client):
    client, adapter, _ = make_client([problem(401, "signature-unknown-key")])
    with pytest.raises(PushError) as caught:
        client.push(records(1), entity="volunteer")
    assert caught.value.cause.status == 401 and len(adapter.sent) == 1


def test_batches_and_their_names(make_client):
    client, adapter, _ = make_client(ok_push)
    result = client.push(records(7), entity="volunteer", batch_size=3)
    assert [b.records for b in result.batches] == [3, 3, 1]
    assert [r["index"] for r in result.results] == list(range(7))
    sent = [json.loads(b) for b in adapter.bodies]
    assert all(b["sender"] == "city-01" and b["schema_version"] == "1" for b in sent)
    assert "generated_at" not in sent[0], "no timestamp: the same content gives the same body"

    again, adapter2, _ = make_client(ok_push)
    again.push(records(7), entity="volunteer", batch_size=3)
    assert adapter2.bodies == adapter.bodies, "deterministic bodies, hence keys"

    named, adapter3, _ = make_client(ok_push)
    named.push({"batch_id": "job-7", "generated_at": "2024-05-01T18:00:00+08:00",
                "records": [{"entity": "team", "op": "upsert", "data": {"n": 1}},
                            {"entity": "team", "op": "delete", "data": {"n": 2}}]},
               batch_size=1, idempotency_key="run-42")
    assert [json.loads(b)["batch_id"] for b in adapter3.bodies] == ["job-7.1", "job-7.2"]
    assert [r.headers["Idempotency-Key"] for r in adapter3.sent] == ["run-42.1", "run-42.2"]
    assert json.loads(adapter3.bodies[1])["records"] == [{"entity": "team", "op": "delete",
                                                          "data": {"n": 2}}]
    single, adapter4, _ = make_client(ok_push)
    single.push({"batch_id": "job-8", "records": [{"entity": "team", "data": {}}]})
    assert json.loads(adapter4.bodies[0])["batch_id"] == "job-8"
    assert json.loads(adapter4.bodies[0])["records"][0]["op"] == "upsert"


def test_bad_input_is_refused_before_sending(make_client):
    client, adapter, _ = make_client(ok_push)
    with pytest.raises(InputError):
        client.push(records(1))  # bare records without entity
    with pytest.raises(InputError):
        client.push({"sender": "someone-else", "records": [{"entity": "team", "data": {}}]})
    with pytest.raises(InputError):
        client.push(records(1), entity="volunteer", idempotency_key="has space")
    assert adapter.sent == []


def ndjson_answer(request: requests.PreparedRequest) -> tuple[int, bytes, dict]:
    body = request.body
    body.seek(0)
    lines = body.read().splitlines()
    header, items = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    out = [json.dumps({"index": i, "entity": it["entity"], "op": it["op"],
                       "status": "rejected" if it["data"].get("bad") else "created",
                       "key": None, "source_id": it["data"].get("source_id"), "errors": []})
           for i, it in enumerate(items)]
    rejected = sum(1 for it in items if it["data"].get("bad"))
    out.append(json.dumps({"summary": {"total": len(items), "created": len(items) - rejected,
                                       "updated": 0, "unchanged": 0, "deleted": 0,
                                       "rejected": rejected},
                           "batch_id": header["batch_id"],
                           "idempotency_key": request.headers["Idempotency-Key"]}))
    return 200, ("\n".join(out) + "\n").encode(), {"Content-Type": "application/x-ndjson"}


def test_ndjson_chunks_are_streamed_with_their_digest_and_a_header_line(make_client, tmp_path):
    path = tmp_path / "records.ndjson"
    lines = [json.dumps({"batch_id": "nightly", "schema_version": "1"})]
    lines += [json.dumps({"source_id": f"s{i}", "bad": i == 41}, ensure_ascii=False)
              for i in range(100)]
    lines.insert(20, "")  # blank lines are skipped
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    client, adapter, _ = make_client(ndjson_answer)
    result = client.push_ndjson(path, entity="volunteer", chunk_bytes=1000)
    assert result.summary["total"] == 100 and result.summary["rejected"] == 1
    assert len(result.batches) > 3
    (rejected,) = result.rejected
    assert rejected["index"] == 41 and rejected["line"] == 44  # header + blank line before it
    assert [b.batch_id for b in result.batches][:2] == ["nightly.1", "nightly.2"]
    for request, body in zip(adapter.sent, adapter.bodies):
        assert request.headers["Content-Type"] == "application/x-ndjson"
        assert len(body) <= 1000 + 200  # a chunk plus its header line
        assert int(request.headers["Content-Length"]) == len(body)
        head = json.loads(body.splitlines()[0])
        assert head["sender"] == "city-01" and head["batch_id"].startswith("nightly.")
        import base64
        import hashlib

        digest = hashlib.sha256(body).digest()
        assert request.headers["Content-Digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
        assert request.headers["Idempotency-Key"] == idempotency_key_for(digest)
        assert '"content-digest"' in request.headers["Signature-Input"]

    again, adapter2, _ = make_client(ndjson_answer)
    only_rejected = again.push_ndjson(path, entity="volunteer", chunk_bytes=1000, keep="rejected")
    assert [r["index"] for r in only_rejected.results] == [41]
    assert [r.headers["Idempotency-Key"] for r in adapter2.sent] == \
        [r.headers["Idempotency-Key"] for r in adapter.sent]


def test_ndjson_retry_rewinds_the_spooled_body(make_client, tmp_path):
    path = tmp_path / "items.ndjson"
    path.write_text("".join(json.dumps({"entity": "team", "op": "upsert", "data": {"n": i}}) + "\n"
                            for i in range(10)), encoding="utf-8")
    steps = [requests.ConnectionError("reset")]
    client, adapter, _ = make_client(lambda req: steps.pop(0) if steps else ndjson_answer(req))
    result = client.push_ndjson(path)
    assert result.summary["created"] == 10 and len(result.batches) == 1
    assert result.batches[0].batch_id.startswith("b-")
    assert adapter.bodies[0] == adapter.bodies[1]


def test_ndjson_input_errors_name_the_line(make_client, tmp_path):
    client, _adapter, _ = make_client(ndjson_answer)
    path = tmp_path / "broken.ndjson"
    path.write_text('{"source_id": "a"}\n{"source_id": \n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        client.push_ndjson(path, entity="volunteer")
    with pytest.raises(InputError, match="line 1"):
        client.push_ndjson(path)  # bare records, no entity


def test_pull_follows_has_more_and_refuses_a_cursor_that_does_not_move(make_client):
    pages = {None: {"changes": [{"cursor": "c1", "key": "a"}, {"cursor": "c2", "key": "b"}],
                    "next_cursor": "c2", "has_more": True},
             "c2": {"changes": [{"cursor": "c3", "key": "c"}], "next_cursor": "c3",
                    "has_more": False}}

    def feed(request):
        since = requests.utils.urlparse(request.url).query
        cursor = dict(p.split("=") for p in since.split("&")).get("since")
        assert "Content-Digest" not in request.headers or request.body in (None, b"")
        return 200, pages[cursor], {"Content-Type": "application/json"}

    client, adapter, _ = make_client(feed)
    assert [c["key"] for c in client.pull(limit=2)] == ["a", "b", "c"]
    assert client.last_cursor == "c3"
    assert all(r.method == "GET" for r in adapter.sent)

    stuck, _, _ = make_client(lambda _r: (200, {"changes": [], "next_cursor": "x", "has_more": True},
                                          {"Content-Type": "application/json"}))
    with pytest.raises(Exception, match="did not move"):
        list(stuck.pull(since="x"))


def test_ndjson_memory_stays_flat_whatever_the_file_size(make_client, tmp_path):
    """A 16 MiB file in 1 MiB batches: the client never holds more than about a batch."""
    import tracemalloc

    path = tmp_path / "big.ndjson"
    line = json.dumps({"source_id": "s", "name": "张三", "address": "北京市朝阳区" * 40},
                      ensure_ascii=False).encode() + b"\n"
    with path.open("wb") as fh:
        for _ in range(16 * 1024 * 1024 // len(line)):
            fh.write(line)

    class Draining(Scripted):
        """Reads each streamed body in blocks, as the socket would, and answers a summary."""

        def send(self, request, **kwargs):
            body, size = request.body, 0
            body.seek(0)
            while block := body.read(65536):
                size += len(block)
            assert size == int(request.headers["Content-Length"]) <= 1024 * 1024 + 512
            response = requests.Response()
            response.status_code = 200
            response._content = b'{"summary": {"total": 1, "created": 1}, "batch_id": "b"}\n'
            response.headers = CaseInsensitiveDict({"Content-Type": "application/x-ndjson"})
            response.request, response.url = request, request.url
            self.sent.append(None)
            return response

    client, _adapter, _ = make_client(None)
    adapter = Draining([])
    client.session.mount(BASE, adapter)
    tracemalloc.start()
    try:
        result = client.push_ndjson(path, entity="volunteer", chunk_bytes=1024 * 1024,
                                    keep="rejected")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(adapter.sent) >= 16 and len(result.batches) == len(adapter.sent)
    assert peak < 6 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 16 MiB file"


def test_a_failed_ndjson_push_reports_what_was_done_and_leaves_no_file_open(make_client, tmp_path):
    import gc
    import warnings

    path = tmp_path / "items.ndjson"
    path.write_text("".join(json.dumps({"source_id": f"s{i}"}) + "\n" for i in range(30)),
                    encoding="utf-8")

    def push_until_refused() -> tuple[str, int, str]:
        client, _adapter, _ = make_client([ndjson_answer, problem(401, "signature-revoked-key")])
        try:
            client.push_ndjson(path, entity="volunteer", batch_size=10)
        except PushError as exc:
            return exc.cause.type, exc.partial.summary["created"], exc.batch_id
        raise AssertionError("no PushError")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        refused, created, batch_id = push_until_refused()
        gc.collect()  # the frames are gone: an unclosed temporary file would warn now
    assert refused == "/problems/signature-revoked-key" and created == 10
    assert batch_id.startswith("b-")  # no header line: batches are named by their content
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
