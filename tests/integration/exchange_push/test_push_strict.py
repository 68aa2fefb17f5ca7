"""A push body is read strictly (issue 11, finding 8): repeated keys and deep nesting refuse
the whole body with 400 problem+json before any record is applied, large or small."""

from __future__ import annotations

import orjson
import pytest

from gateway.exchange import push
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


def _nested(depth: int) -> dict:
    """A value ``depth`` objects deep (the outermost counts one)."""
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def _at_and_over(kind: str, config) -> tuple[dict, dict, str]:
    """Two volunteer items: one exactly at the limit ``kind``, one just over it; its rule."""
    if kind == "depth":  # an item is one level, its data two: nesting below data makes up the rest
        depth = config["MAX_JSON_DEPTH"]
        return ({"extension": _nested(depth - 2)}, {"extension": _nested(depth - 1)},
                "input.too-deep")
    if kind == "members":
        keys = config["MAX_OBJECT_KEYS"]
        return ({"extension": {f"k{i}": 1 for i in range(keys)}},
                {"extension": {f"k{i}": 1 for i in range(keys + 1)}}, "input.too-many-keys")
    # quotes are escaped in the text, so the raw-byte check (runs between two quotes) does
    # not see the length: the parsed string does
    size = config["MAX_VALUE_BYTES"]
    return {"name": '"' * size}, {"name": '"' * (size + 1)}, "input.value-too-long"


@pytest.mark.parametrize("big", [False, True], ids=["parsed at once", "streamed"])
@pytest.mark.parametrize("kind", ["depth", "members", "string"])
def test_each_record_of_an_envelope_is_held_to_the_limits_alone(store_app, server, city, big, kind):
    """Within a JSON envelope only the record that breaks a limit is refused, with its rule,
    whether the body is parsed at once or streamed; a record exactly at the limit is not
    refused for it."""
    at, over, rule = _at_and_over(kind, store_app.config)
    records = [h.item("volunteer", h.volunteer(1)), h.item("volunteer", h.volunteer(2, **at)),
               h.item("volunteer", h.volunteer(3, **over)), h.item("volunteer", h.volunteer(4))]
    # big: 5 MB of records refused by the schema (an unknown member) follow, so the body is
    # streamed (over push._PARSE_WHOLE_BYTES) rather than parsed at once
    filler = [h.item("volunteer", h.volunteer(7 + i, remark="x" * 50_000))
              for i in range(100 if big else 0)]
    body = _envelope_bytes(orjson.dumps(records + filler))
    assert (len(body) > push._PARSE_WHOLE_BYTES) is big
    answer = h.push(server, city, body, content_type="application/json")
    assert answer.status_code == 200, (answer.status_code, answer.text[:500])
    results = answer.json()["results"]
    assert all(r["status"] == "rejected" and not any(e["rule"].startswith("input.") for e in r["errors"])
               for r in results[len(records):])
    rules = [[e["rule"] for e in r["errors"]] for r in results[:len(records)]]
    assert rules[0] == rules[3] == []
    assert rule not in rules[1]  # at the limit (the schema may refuse it, not the limit)
    assert rules[2] == [rule]
    assert h.count(store_app, Volunteer) == 2 + (rules[1] == [])
