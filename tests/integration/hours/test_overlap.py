"""No two effective records of one volunteer overlap, whichever system they came from
(half-open intervals: one ending at 12:00 and one starting at 12:00 do not overlap)."""

from __future__ import annotations

import pytest

from gateway.services import hours
from tests.integration.hours import helpers

URL = "/api/v1/service-records"


def _from_other_system(app, world, **kw):
    """An effective record pushed by another local system, entered through the service."""
    with helpers.service_ctx(app, "exchange") as ctx:
        row = hours.record_hours(ctx, helpers.record(world, source_id="other-123", **kw),
                                 source_system="other-system")
        return row.record_no


def test_overlap_with_a_record_from_another_source_is_refused(store_app, http, world, team):
    other = _from_other_system(store_app, world)  # 09:00–12:30
    assert helpers.stored(store_app, other).source_system == "other-system"
    before = helpers.counts(store_app)
    answer = http.post(URL, json=helpers.record(world, start="11:00", end="14:00"), headers=team)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    errors = answer.get_json()["errors"]
    assert [(e["pointer"], e["rule"]) for e in errors] == [("/started_at", "service_record.no_overlap")]
    # The message names the other record, and nothing personal.
    assert other in errors[0]["message_zh"] and other in errors[0]["message_en"]
    assert world.volunteer_no not in errors[0]["message_en"] and "王淑兰" not in errors[0]["message_zh"]
    assert helpers.counts(store_app) == before


@pytest.mark.parametrize("start,end", [("12:30", "14:00"), ("07:00", "09:00")])
def test_adjacent_intervals_do_not_overlap(store_app, http, world, team, start, end):
    _from_other_system(store_app, world)  # 09:00–12:30
    answer = http.post(URL, json=helpers.record(world, start=start, end=end), headers=team)
    assert answer.status_code == 201, answer.get_data(as_text=True)


@pytest.mark.parametrize("start,end", [("09:00", "12:30"), ("10:00", "11:00"), ("08:00", "13:00"),
                                       ("08:59", "09:01"), ("12:29", "13:00")])
def test_any_shared_moment_overlaps(store_app, http, world, team, start, end):
    _from_other_system(store_app, world)  # 09:00–12:30
    answer = http.post(URL, json=helpers.record(world, start=start, end=end), headers=team)
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["rule"] == "service_record.no_overlap"


def test_overlap_across_projects_and_time_zones(store_app, http, world, team):
    second = helpers.add_project(store_app, world)
    _from_other_system(store_app, world)  # 09:00–12:30 +08:00 = 01:00–04:30 UTC
    # In another project, written in UTC: 04:00Z–05:00Z is 12:00–13:00 in Beijing.
    record = helpers.record(world, project_no=second, started_at="2024-05-01T04:00:00Z",
                            ended_at="2024-05-01T05:00:00Z", hours=1)
    answer = http.post(URL, json=record, headers=team)
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["rule"] == "service_record.no_overlap"


def test_only_effective_records_count(store_app, http, world, team, volunteer_app):
    # A pending application and a deleted record at the same time do not block an entry.
    applied = http.post(f"{URL}/applications", json=helpers.application(world), headers=volunteer_app)
    assert applied.status_code == 201
    deleted = _from_other_system(store_app, world, day="2024-05-02")
    assert http.delete(f"{URL}/{deleted}", json={"reason": "重复"}, headers=team).status_code == 200
    assert http.post(URL, json=helpers.record(world), headers=team).status_code == 201
    assert http.post(URL, json=helpers.record(world, day="2024-05-02"), headers=team).status_code == 201


def test_other_volunteers_do_not_conflict(store_app, http, world, team):
    _from_other_system(store_app, world)
    second = helpers.add_volunteer(store_app, world)
    assert http.post(URL, json=helpers.record(world, volunteer_no=second), headers=team).status_code == 201
