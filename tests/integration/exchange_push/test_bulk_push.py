"""The push around the bulk path: JSON envelopes parsed at once read as when streamed, and
concurrent pushes of the same people through a real server end with one row per person."""

from __future__ import annotations

import io
import threading

import orjson
import pytest
from sqlalchemy import func, select

from gateway import jsonio
from gateway.exchange import push
from gateway.store.models import Volunteer, VolunteerCount, VolunteerSource
from tests.integration.exchange import helpers as exchange_helpers
from tests.integration.exchange_push import helpers as h

_RECORDS = [h.item("volunteer", h.volunteer(i)) for i in range(3)]
ENVELOPES = {
    "usual": {"schema_version": "1", "sender": "city-01", "batch_id": "b-1", "records": _RECORDS},
    "header last": {"records": _RECORDS, "sender": "city-01", "batch_id": "b-2",
                    "schema_version": "1", "generated_at": "2024-05-01T18:00:00+08:00"},
    "no records": {"schema_version": "1", "sender": "city-01", "batch_id": "b-3"},
    "records not a list": {"schema_version": "1", "sender": "city-01", "records": {"a": 1}},
    "containers in the header": {"schema_version": ["1"], "sender": {"id": "x"}, "records": []},
    "odd items": {"records": [1, "two", None, {"entity": "team"}, [{"a": [[[]]]}],
                              {"data": {"x": [[[[[[[[[[[[1]]]]]]]]]]]]}}]},
}


def _read(body: bytes, whole: bool, max_depth: int = 8):
    """(header, record count, items) as push reads the body: parsed at once or streamed."""
    stream = io.BytesIO(body)
    parsed = push._whole_json(stream, len(body), max_depth) if whole else None
    assert (parsed is not None) == whole
    header, count = (push._whole_json_header(parsed.document) if whole
                     else push._json_header(stream, max_depth, 1000))
    items = [(item.index, item.value, item.error and item.error.rule)
             for item in push._items(stream, push.JSON, jsonio.Limits(max_depth=max_depth), 0, parsed)]
    return header, count, items


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_a_small_json_envelope_reads_as_when_streamed(name):
    body = orjson.dumps(ENVELOPES[name])
    assert _read(body, whole=True) == _read(body, whole=False)


@pytest.mark.parametrize("body", [
    b'{"records": [1, 2', b'[{"records": []}]', b'"text"',
    b'{"records": [], "records": [{"entity": "team"}]}',          # named twice
    b'{"rec\\u006frds": [1], "records": [2]}',                      # or spelt with escapes
    b'{"records": [], "note": "\\u4e2d"}',                          # any escape: streamed
])
def test_bodies_parsing_at_once_might_misread_are_streamed(body):
    assert push._whole_json(io.BytesIO(body), len(body), 32) is None


def test_a_large_envelope_is_streamed():
    body = orjson.dumps({"records": [{"x": "y" * 1000}] * (push._PARSE_WHOLE_BYTES // 1000)})
    assert len(body) > push._PARSE_WHOLE_BYTES
    assert push._whole_json(io.BytesIO(body), len(body), 32) is None


def test_concurrent_pushes_of_the_same_people_leave_one_row_each(store_app, server, city):
    """Two systems push overlapping people at the same moment. On PostgreSQL both may find
    the overlap new; the later set then waits for the earlier one and is refused by the
    unique index, and goes record by record: every record answered, one row per person,
    aggregates exact."""
    county = exchange_helpers.register_client(store_app, "county-02")
    batches = {"city-01": (city, range(0, 40)), "county-02": (county, range(20, 60))}
    answers: dict[str, object] = {}
    start = threading.Barrier(len(batches))

    def send(sender: str) -> None:
        keys, people = batches[sender]
        body = h.envelope([h.item("volunteer", h.volunteer(i)) for i in people], sender=sender)
        start.wait(timeout=30)
        answers[sender] = h.push(server, keys, body)

    threads = [threading.Thread(target=send, args=(sender,)) for sender in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    statuses = {}
    for sender, answer in answers.items():
        assert answer.status_code == 200, answer.text
        statuses[sender] = [r["status"] for r in answer.json()["results"]]
    assert len(statuses) == 2
    for sender, seen in statuses.items():
        assert set(seen) <= {"created", "unchanged"}, (sender, seen)
    # the overlap (20 people) was created by exactly one of the two
    created = sum(s.count("created") for s in statuses.values())
    assert created == 60
    assert h.count(store_app, Volunteer) == 60
    assert h.count(store_app, VolunteerSource) == 80    # the overlap is known to both
    (counted,), = h.rows(store_app, select(func.sum(VolunteerCount.count)))
    assert counted == 60
