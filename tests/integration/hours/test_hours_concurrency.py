"""Two overlapping entries for one volunteer at the same moment: exactly one is created
(the volunteer's row is locked before the overlap check, on PostgreSQL and SQLite)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from gateway import store
from gateway.store.models import ServiceRecord
from tests.integration.hours import helpers

URL = "/api/v1/service-records"


def test_concurrent_overlapping_entries_create_exactly_one(store_app, world, team):
    records = [helpers.record(world, start="09:00", end="12:00"),
               helpers.record(world, start="11:00", end="13:00")]
    barrier = threading.Barrier(2)
    answers: list = [None, None]

    def enter(i: int) -> None:
        client = store_app.test_client()  # its own app context per request, in this thread
        barrier.wait()
        answers[i] = client.post(URL, json=records[i], headers=team)

    threads = [threading.Thread(target=enter, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 422], [a.get_data(as_text=True) for a in answers]
    refused = next(a for a in answers if a.status_code == 422).get_json()
    assert [e["rule"] for e in refused["errors"]] == ["service_record.no_overlap"]
    created = next(a for a in answers if a.status_code == 201).get_json()

    with store.session_scope(store_app) as session:
        assert session.scalar(select(func.count()).select_from(ServiceRecord)
                              .where(ServiceRecord.status == "2")) == 1
    row = helpers.volunteer_row(store_app, world.volunteer_no)
    assert f"{row.total_hours:.2f}" == created["hours"]
    stats, expected = helpers.aggregates_match(store_app)
    assert stats == expected
