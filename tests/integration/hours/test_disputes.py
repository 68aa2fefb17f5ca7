"""Disputes (异议), 办法 (2020) Art. 13: the volunteer's side objects to a service record; the
recording team verifies and answers — corrected (after correcting or deleting the record,
which keeps the original) or upheld — once, by a deadline. REST API, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from gateway import store
from gateway.standard import workdays
from gateway.store.models import Dispute
from tests.integration.hours import helpers

URL = "/api/v1/service-records"


def _record(http, world, team):
    answer = http.post(URL, json=helpers.record(world), headers=team)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()["record_no"]


def _raise(http, record_no, headers, reason="实际 11:00 结束"):
    answer = http.post(f"{URL}/{record_no}/disputes", json={"reason": reason}, headers=headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()["disputes"][-1]


def _answer(http, dispute_no, headers, **body):
    return http.post(f"/api/v1/disputes/{dispute_no}/answer", json=body, headers=headers)


def _rules(answer):
    assert answer.mimetype == "application/problem+json", answer.get_data(as_text=True)
    return [(e["pointer"], e["rule"]) for e in answer.get_json()["errors"]]


def test_a_dispute_is_open_with_a_deadline_in_working_days(store_app, http, world, team,
                                                           volunteer_app):
    record_no = _record(http, world, team)
    dispute = _raise(http, record_no, volunteer_app)
    assert dispute["status"] == "open" and dispute["overdue"] is False
    assert dispute["record_no"] == record_no and dispute["raised_by"] == "volunteer-app"
    raised = date.fromisoformat(dispute["raised_at"][:10])
    due = date.fromisoformat(dispute["due_on"])
    assert workdays.working_days_between(raised, due).count == 10
    assert workdays.is_working_day(due)[0]
    # both sides read it; the record's history says it was disputed
    for headers in (team, volunteer_app):
        assert http.get(f"/api/v1/disputes/{dispute['dispute_no']}", headers=headers).get_json() \
            == dispute
    detail = http.get(f"{URL}/{record_no}", headers=team).get_json()
    assert detail["history"][-1]["action"] == "dispute" and detail["disputes"] == [dispute]


def test_upheld_once_with_an_answer(store_app, http, world, team, volunteer_app):
    dispute = _raise(http, _record(http, world, team), volunteer_app)
    number = dispute["dispute_no"]
    bad = _answer(http, number, team, outcome="maybe", answer="  ")
    assert bad.status_code == 422
    assert _rules(bad) == [("/outcome", "dispute.outcome"), ("/answer", "dispute.answer_required")]
    done = _answer(http, number, team, outcome="upheld", answer="签到签退记录核实无误")
    assert done.status_code == 200, done.get_data(as_text=True)
    body = done.get_json()
    assert (body["status"], body["answer"], body["answered_by"]) == (
        "upheld", "签到签退记录核实无误", "team-client")
    again = _answer(http, number, team, outcome="upheld", answer="再次答复")
    assert again.status_code == 409 and _rules(again) == [("/outcome", "dispute.answered")]


def test_corrected_only_after_the_record_is_corrected(store_app, http, world, team, volunteer_app):
    record_no = _record(http, world, team)
    number = _raise(http, record_no, volunteer_app)["dispute_no"]
    early = _answer(http, number, team, outcome="corrected", answer="已更正")
    assert early.status_code == 422 and _rules(early) == [("/outcome", "dispute.not_corrected")]
    fixed = http.post(f"{URL}/{record_no}/corrections", headers=team, json={
        "started_at": "2024-05-01T09:00:00", "ended_at": "2024-05-01T11:00:00", "hours": 2,
        "reason": "志愿者反映实际 11:00 结束"})
    assert fixed.status_code == 201, fixed.get_data(as_text=True)
    done = _answer(http, number, team, outcome="corrected", answer="已按签退时间更正")
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["corrected_by"] == fixed.get_json()["record_no"]
    # the original is kept (status 3), its dispute answered
    original = http.get(f"{URL}/{record_no}", headers=team).get_json()
    assert original["status"] == "3" and original["disputes"][0]["status"] == "corrected"


def test_outside_the_scope_and_overdue(store_app, http, world, team, volunteer_app, caller):
    number = _raise(http, _record(http, world, team), volunteer_app)["dispute_no"]
    elsewhere = caller(store_app, "guangzhou", region="44",
                       perms={"service_record": ["read", "write"]})
    assert http.get(f"/api/v1/disputes/{number}", headers=elsewhere).status_code == 404
    assert _answer(http, number, elsewhere, outcome="upheld", answer="x").status_code == 404
    with store.session_scope(store_app) as session:
        session.execute(select(Dispute)).scalar_one().due_on = date(2024, 1, 2)
    view = http.get(f"/api/v1/disputes/{number}", headers=team).get_json()
    assert view["status"] == "open" and view["overdue"] is True
