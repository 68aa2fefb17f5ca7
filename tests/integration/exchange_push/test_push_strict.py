"""A push body is read strictly (issue 11, finding 8): repeated keys and deep nesting refuse
the whole body with 400 problem+json before any record is applied, large or small."""

from __future__ import annotations

import orjson
import pytest

from gateway.store.models import Volunteer
from tests.integration.exchange_push import helpers as h


def _envelope_bytes(records_json: bytes, extra: bytes = b"") -> bytes:
    header = orjson.dumps(h.envelope([]))[:-1].replace(b',"records":[]', b"")
    return header + extra + b',"records":' + records_json + b"}"


def _problem(answer, status: int, slug: str) -> dict:
    assert answer.status_code == status, (answer.status_code, answer.text[:500])
    assert answer.headers["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == f"/problems/{slug}", body
    return body


def test_two_records_arrays_are_refused_and_nothing_is_applied(store_app, server, city):
    first = orjson.dumps([h.item("volunteer", h.volunteer(1))])
    second = orjson.dumps([h.item("volunteer", h.volunteer(2))])
    body = _envelope_bytes(first) [:-1] + b',"records":' + second + b"}"
    problem = _problem(h.push(server, city, body, content_type="application/json"), 400, "duplicate-key")
    assert problem["errors"][0]["pointer"] == "/records"
    assert h.count(store_app, Volunteer) == 0


@pytest.mark.parametrize("big", [False, True], ids=["parsed at once", "streamed"])
def test_a_repeated_key_inside_a_record_refuses_the_body(store_app, server, city, big):
    records = [h.item("volunteer", h.volunteer(i)) for i in range(300 if big else 2)]
    data = orjson.dumps(records)
    # the last record's data names "name" twice
    data = data[:-3] + b',"name":"again"' + data[-3:]
    body = _envelope_bytes(data, (b',"note":[' + b",".join([b'"' + b"x" * 50_000 + b'"'] * 100) + b"]"
                                            if big else b',"note":""'))
    # (big: 5 MB in values under MAX_VALUE_BYTES, so the body is streamed, not parsed at once)
    problem = _problem(h.push(server, city, body, content_type="application/json"), 400, "duplicate-key")
    assert problem["errors"][0]["pointer"] == f"/records/{len(records) - 1}/data/name"
    assert h.count(store_app, Volunteer) == 0


def test_a_ten_thousand_deep_push_is_400_too_deep(store_app, server, city):
    deep = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    body = _envelope_bytes(b"[]", b',"extension":' + deep)
    _problem(h.push(server, city, body, content_type="application/json"), 400, "too-deep")
    _problem(h.push(server, city, b"[" * 10_000 + b"]" * 10_000, content_type="application/json"),
             400, "too-deep")
    _problem(h.push(server, city, deep + b"\n", content_type="application/x-ndjson"), 400, "too-deep")


@pytest.mark.parametrize("depth", [300, 1000])
def test_a_record_deeper_than_orjson_writes_is_rejected_too_deep_not_500(store_app, server, city, depth):
    """Deeper than orjson serialises (255) but not than it parses (1024): the repeated-key
    count must not fall over on it (it answered 500 once); the record is refused, too deep."""
    deep = b'{"a":' * depth + b"1" + b"}" * depth
    records = b'[{"entity":"volunteer","op":"upsert","source_id":"x","data":' + deep + b"}]"
    answer = h.push(server, city, _envelope_bytes(records), content_type="application/json")
    assert answer.status_code == 200, (answer.status_code, answer.text[:300])
    result = answer.json()["results"][0]
    assert result["status"] == "rejected" and result["errors"][0]["rule"] == "input.too-deep"
    assert h.count(store_app, Volunteer) == 0


def test_a_repeated_key_in_an_ndjson_record_line_rejects_that_record(store_app, server, city):
    good = orjson.dumps(h.item("volunteer", h.volunteer(1)))
    bad = good[:-2] + b',"name":"again"' + good[-2:]
    body = h.ndjson([]) + good + b"\n" + bad + b"\n"
    answer = h.push(server, city, body)
    assert answer.status_code == 200, answer.text
    results = [line for line in h.ndjson_lines(answer) if "status" in line and "index" in line]
    assert [r["status"] for r in results] == ["created", "rejected"]
    assert results[1]["errors"][0]["rule"] == "input.duplicate-key"
    assert h.count(store_app, Volunteer) == 1
