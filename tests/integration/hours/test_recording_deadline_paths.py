"""办法 (2020) Art. 11 — “志愿服务组织应当在志愿服务活动结束后10个工作日内” record the service —
measured for every way hours become effective, not only a team's own entry: an approved
application (recorded on the day the team approves it) and a correction (the corrected end
against the day the service was first recorded). The same rule id
(``service_record.recorded_late``), the same working-day calendar
(gateway.standard.workdays), the same policy (RECORDING_DEADLINE: report by default,
refuse). Real HTTP (Flask test client), SQLite and PostgreSQL.

Dates of the 2026 notice (国庆节 10月1日至7日放假，9月20日（周日）、10月10日（周六）上班), as
in tests/integration/exchange_push/test_recording_deadline.py: a service ended Tue 29 Sep and
recorded Tue 20 Oct is on the 11th working day (30 Sep, 8, 9, 10 Sat, 12–16, 19, 20): late;
ended Wed 30 Sep, recorded the 20th: the 10th, in time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.standard import workdays
from tests.integration.hours import helpers

URL = "/api/v1/service-records"


@pytest.fixture
def project_no(store_app, world):
    """A project of the world's team running from 2026-01-01 to a month from now."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return helpers.add_project(store_app, world, starts_on=date(2026, 1, 1),
                               ends_on=today + timedelta(days=30))


@pytest.fixture
def refuse(store_app):
    store_app.config["RECORDING_DEADLINE"] = "refuse"
    yield
    store_app.config["RECORDING_DEADLINE"] = "report"


def _today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _rules(answer):
    return [(e["pointer"], e["rule"]) for e in answer.get_json().get("errors", [])]


def _apply(http, world, project_no, headers, day):
    answer = http.post(f"{URL}/applications", headers=headers, json=helpers.application(
        world, project_no=project_no, day=day, start="09:00", end="12:00"))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()["record_no"]


def _enter(http, world, project_no, headers, day, recorded_at):
    answer = http.post(URL, headers=headers, json=helpers.record(
        world, project_no=project_no, day=day, start="09:00", end="12:00", recorded_at=recorded_at))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def _correct(http, record_no, headers, day, end="11:00", hours=2):
    return http.post(f"{URL}/{record_no}/corrections", headers=headers, json={
        "started_at": f"{day}T09:00:00", "ended_at": f"{day}T{end}:00", "hours": hours,
        "reason": "志愿者反映实际结束时间有误"})


# -- an approved application -----------------------------------------------------------------

def test_an_application_approved_late_is_marked_and_one_approved_in_time_is_not(
        store_app, http, world, team, volunteer_app, project_no, caller):
    late_day = "2026-10-09"
    expected = workdays.working_days_between(date(2026, 10, 9), _today()).count
    assert expected > 10  # the test runs after 2026-10-23
    late = _apply(http, world, project_no, volunteer_app, late_day)
    yesterday = (_today() - timedelta(days=1)).isoformat()
    timely = _apply(http, world, project_no, volunteer_app, yesterday)

    answer = http.post(f"{URL}/{late}/approve", json={}, headers=team)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["late_working_days"] == expected
    assert answer.get_json()["recorded_at"] == _today().isoformat()
    answer = http.post(f"{URL}/{timely}/approve", json={}, headers=team)
    assert answer.status_code == 200 and answer.get_json()["late_working_days"] is None
    stats = caller(store_app, "stats", region="11", perms={"statistics": ["read"]})
    overview = http.get("/api/v1/statistics/overview", headers=stats).get_json()
    assert overview["hours"]["late_records"] == 1


def test_under_refuse_a_late_application_cannot_be_approved(
        store_app, http, world, team, volunteer_app, project_no, refuse):
    late = _apply(http, world, project_no, volunteer_app, "2026-10-09")
    before = helpers.counts(store_app)
    answer = http.post(f"{URL}/{late}/approve", json={}, headers=team)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.content_type == "application/problem+json"
    assert _rules(answer) == [("/recorded_at", "service_record.recorded_late")]
    assert helpers.stored(store_app, late).status == "0"  # still an application
    assert helpers.counts(store_app) == before
    # it can still be rejected
    assert http.post(f"{URL}/{late}/reject", json={}, headers=team).status_code == 200

    timely = _apply(http, world, project_no, volunteer_app, (_today() - timedelta(days=1)).isoformat())
    assert http.post(f"{URL}/{timely}/approve", json={}, headers=team).status_code == 200


# -- a correction ------------------------------------------------------------------------------

def test_a_correction_is_measured_against_the_first_recording_not_its_own_date(
        store_app, http, world, team, project_no):
    # recorded on the 10th working day: in time; corrected today (weeks later), still in time
    original = _enter(http, world, project_no, team, "2026-09-30", "2026-10-20")
    assert original["late_working_days"] is None
    answer = _correct(http, original["record_no"], team, "2026-09-30")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    corrected = answer.get_json()
    assert corrected["late_working_days"] is None
    # corrected again to a day before: the service was then recorded on the 11th working day
    answer = _correct(http, corrected["record_no"], team, "2026-09-29")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json()["late_working_days"] == 11


def test_under_refuse_a_correction_that_makes_a_record_late_is_refused(
        store_app, http, world, team, project_no, refuse):
    original = _enter(http, world, project_no, team, "2026-09-30", "2026-10-20")
    before = helpers.counts(store_app)
    answer = _correct(http, original["record_no"], team, "2026-09-29")
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert _rules(answer) == [("/ended_at", "service_record.recorded_late")]
    assert helpers.counts(store_app) == before
    assert helpers.stored(store_app, original["record_no"]).status == "2"
    # the same record corrected on its own day is not late
    assert _correct(http, original["record_no"], team, "2026-09-30").status_code == 201


def test_under_refuse_a_record_already_late_can_still_be_corrected_but_not_made_later(
        store_app, http, world, team, project_no):
    # entered late under report (11th working day), then the policy becomes refuse
    late = _enter(http, world, project_no, team, "2026-09-29", "2026-10-20")
    assert late["late_working_days"] == 11
    store_app.config["RECORDING_DEADLINE"] = "refuse"
    try:
        answer = _correct(http, late["record_no"], team, "2026-09-29")  # hours only (Art. 13)
        assert answer.status_code == 201, answer.get_data(as_text=True)
        assert answer.get_json()["late_working_days"] == 11
        later = _correct(http, answer.get_json()["record_no"], team, "2026-09-28")
        assert later.status_code == 422
        assert _rules(later) == [("/ended_at", "service_record.recorded_late")]
    finally:
        store_app.config["RECORDING_DEADLINE"] = "report"
