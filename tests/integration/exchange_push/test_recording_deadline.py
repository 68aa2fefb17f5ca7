"""办法 (2020) Art. 11: “志愿服务组织应当在志愿服务活动结束后10个工作日内” record the service.

Working days are China's official ones, holidays and 调休 days included (the chinesecalendar
package); the expectations below are read off the State Council's 2026 holiday notice, not
computed with the package: 国庆节 10月1日至7日放假，9月20日（周日）、10月10日（周六）上班.

* ended Wed 30 Sep, recorded Tue 20 Oct: the 10th working day (8, 9, 10 Sat, 12–16, 19, 20)
  — in time, though 14 weekdays have passed;
* ended Fri 9 Oct, recorded Fri 23 Oct: the 11th (10 Sat, 12–16, 19–23) — late, though only
  10 weekdays have passed.

RECORDING_DEADLINE = report (default): the late record is kept, marked
(``late_working_days``) and the push's answer says so; refuse: it is rejected
(``service_record.recorded_late``) and nothing is written. Signed pushes to a real gateway,
SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.store.models import ServiceRecord
from tests import factories
from tests.conftest import make_caller
from tests.integration.exchange_push import helpers as h


@pytest.fixture
def links(store_app, server, city, seeder):
    team_no = seeder.approved_team()
    project = factories.project(team_no=team_no, source_id="proj-dl", starts_on="2026-01-01",
                                ends_on="2026-11-30", recruit_scope="5")
    project["posts"] = [dict(post, starts_at="2026-01-01T08:00:00", ends_at="2026-11-30T18:00:00")
                        for post in project["posts"]]
    out = h.push(server, city, h.envelope([h.item("project", project),
                                           h.item("volunteer", h.volunteer(96))])).json()["results"]
    assert [r["status"] for r in out] == ["created", "created"], [r.get("errors") for r in out]
    return {"team_no": team_no, "project_no": out[0]["key"], "volunteer_no": out[1]["key"]}


def _record(links, number, day, recorded_at):
    return factories.service_record(
        record_no=number, volunteer_no=links["volunteer_no"], project_no=links["project_no"],
        team_no=links["team_no"], started_at=f"{day}T09:00:00", ended_at=f"{day}T12:00:00",
        hours=3, recorded_at=recorded_at, source_updated_at=f"{recorded_at}T18:00:00")


IN_TIME = ("R-IN-TIME", "2026-09-30", "2026-10-20")
LATE = ("R-LATE", "2026-10-09", "2026-10-23")


def test_late_records_are_reported_by_default(store_app, server, city, links):
    answer = h.push(server, city, h.envelope([h.item("service_record", _record(links, *IN_TIME)),
                                              h.item("service_record", _record(links, *LATE))]))
    in_time, late = answer.json()["results"]
    assert (in_time["status"], late["status"]) == ("created", "created"), answer.json()
    assert in_time.get("note") is None
    assert "11 working days" in late["note"] and "Art. 11" in late["note"]
    marks = dict(h.rows(store_app, select(ServiceRecord.source_id, ServiceRecord.late_working_days)))
    assert marks == {"R-IN-TIME": None, "R-LATE": 11}
    # the record's view and the statistics say so too
    headers = make_caller(store_app, "stats", region="11",
                          perms={"statistics": ["read"], "service_record": ["read"]})
    client = store_app.test_client()
    view = client.get(f"/api/v1/service-records/{late['key']}", headers=headers).get_json()
    assert view["late_working_days"] == 11
    overview = client.get("/api/v1/statistics/overview", headers=headers).get_json()
    assert overview["hours"]["records"] == 2 and overview["hours"]["late_records"] == 1
    county = client.get("/api/v1/statistics/overview?region=440106", headers=make_caller(
        store_app, "stats-gd", region="44", perms={"statistics": ["read"]})).get_json()
    assert county["hours"]["late_records"] == 0


def test_late_records_are_refused_under_the_refuse_policy(store_app, server, city, links):
    store_app.config["RECORDING_DEADLINE"] = "refuse"
    try:
        answer = h.push(server, city, h.envelope([
            h.item("service_record", _record(links, *IN_TIME)),
            h.item("service_record", _record(links, *LATE))]))
    finally:
        store_app.config["RECORDING_DEADLINE"] = "report"
    in_time, late = answer.json()["results"]
    assert in_time["status"] == "created"
    assert late["status"] == "rejected"
    assert [(e["pointer"], e["rule"]) for e in late["errors"]] == [
        ("/data/recorded_at", "service_record.recorded_late")]
    assert [sid for (sid,) in h.rows(store_app, select(ServiceRecord.source_id))] == ["R-IN-TIME"]


def _moved(links, day, stamp):
    """The IN_TIME record as its sender corrects it: the service was on ``day``."""
    return dict(_record(links, *IN_TIME), started_at=f"{day}T09:00:00", ended_at=f"{day}T12:00:00",
                source_updated_at=stamp)


def test_a_pushed_correction_is_measured_against_the_first_recording(store_app, server, city, links):
    """A push that corrects a stored record (correct_hours) is measured too: the corrected
    end against the day the service was first recorded (2026-10-20), not the push's date."""
    (first,) = h.push(server, city, h.envelope([h.item("service_record", _record(links, *IN_TIME))])
                      ).json()["results"]
    same_day = dict(_record(links, *IN_TIME), hours=2, source_updated_at="2026-11-01T18:00:00")
    (fixed,) = h.push(server, city, h.envelope([h.item("service_record", same_day)])).json()["results"]
    assert fixed["status"] == "updated" and fixed.get("note") is None, fixed
    (moved,) = h.push(server, city, h.envelope([h.item(
        "service_record", _moved(links, "2026-09-29", "2026-11-02T18:00:00"))])).json()["results"]
    assert moved["status"] == "updated" and "11 working days" in moved["note"], moved
    marks = dict(h.rows(store_app, select(ServiceRecord.record_no, ServiceRecord.late_working_days)
                        .where(ServiceRecord.status == "2")))
    assert marks == {moved["key"]: 11}


def test_a_pushed_correction_that_makes_a_record_late_is_refused_under_refuse(
        store_app, server, city, links):
    (first,) = h.push(server, city, h.envelope([h.item("service_record", _record(links, *IN_TIME))])
                      ).json()["results"]
    store_app.config["RECORDING_DEADLINE"] = "refuse"
    try:
        (moved,) = h.push(server, city, h.envelope([h.item(
            "service_record", _moved(links, "2026-09-29", "2026-11-02T18:00:00"))])).json()["results"]
    finally:
        store_app.config["RECORDING_DEADLINE"] = "report"
    assert moved["status"] == "rejected"
    assert [(e["pointer"], e["rule"]) for e in moved["errors"]] == [
        ("/data/ended_at", "service_record.recorded_late")]
    assert h.rows(store_app, select(ServiceRecord.record_no, ServiceRecord.status)) == [
        (first["key"], "2")]
