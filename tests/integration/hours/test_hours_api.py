"""Service hours through the REST API: team entry, rules across records, applications,
deletion, listings, totals and scope (on SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.hours import helpers

URL = "/api/v1/service-records"


def _problem(answer, status, slug=None):
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    if slug:
        assert body["type"] == f"/problems/{slug}"
    return body


def _rules(body):
    return {(e["pointer"], e["rule"]) for e in body.get("errors", [])}


def test_team_records_effective_hours(store_app, http, world, team):
    answer = http.post(URL, json=helpers.record(world), headers=team)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["record_no"].startswith("H110105")
    assert body["status"] == "2" and body["status_label"] == "已生效"
    assert body["source"] == "1"
    assert body["hours"] == "3.50"
    assert body["started_at"] == "2024-05-01T09:00:00+08:00"
    assert body["local_date"] == "2024-05-01"
    assert body["volunteer_no"] == world.volunteer_no and body["team_no"] == world.team_no
    assert body["source_system"] == "team-client"
    assert [h["action"] for h in body["history"]] == ["create"]
    assert body["history"][0]["actor"] == "team-client"

    totals = http.get(f"/api/v1/volunteers/{world.volunteer_no}/hours", headers=team).get_json()
    assert totals["total_hours"] == "3.50"
    assert totals["star_level"] is None and totals["star_label"] is None
    assert totals["effective_records"] == 1
    assert totals["by_project"] == [{"project_no": world.project_no, "project_name": "社区助老志愿服务",
                                     "team_no": world.team_no, "hours": "3.50", "records": 1}]
    assert totals["records"]["total"] == 1
    assert totals["records"]["items"][0]["record_no"] == body["record_no"]


def test_a_senders_own_number_is_kept_as_source_id(http, world, team):
    body = http.post(URL, json=helpers.record(world, record_no="R2024050100001"), headers=team).get_json()
    assert body["record_no"].startswith("H") and body["source_id"] == "R2024050100001"


def test_source_given_by_the_record_is_kept(http, world, team):
    body = http.post(URL, json=helpers.record(world, source="4"), headers=team).get_json()
    assert body["source"] == "4" and body["status"] == "2"


def test_hours_beyond_the_duration_are_refused_and_nothing_written(store_app, http, world, team):
    # The default policy (SERVICE_HOURS_POLICY = within_duration): 4 h for 09:00-12:30 is too much.
    before = helpers.counts(store_app)
    body = _problem(http.post(URL, json=helpers.record(world, hours=4), headers=team), 422, "invalid-record")
    assert ("/hours", "service_record.hours_within_duration") in _rules(body)
    assert helpers.counts(store_app) == before


def test_hours_below_the_duration_are_recorded_by_default(http, world, team):
    # 办法 Art. 7: the organisation decides the time actually given (a break left out).
    body = http.post(URL, json=helpers.record(world, hours=3), headers=team).get_json()
    assert body["hours"] == "3.00" and body["status"] == "2"


def test_service_outside_the_project_dates_is_refused(store_app, http, world, team):
    before = helpers.counts(store_app)
    body = _problem(http.post(URL, json=helpers.record(world, day="2024-07-01"), headers=team), 422)
    assert _rules(body) == {("/started_at", "service_record.within_project")}
    assert "2024-04-01" in body["errors"][0]["message_zh"]
    body = _problem(http.post(URL, json=helpers.record(world, day="2024-03-31"), headers=team), 422)
    assert _rules(body) == {("/started_at", "service_record.within_project")}
    assert helpers.counts(store_app) == before


def test_service_until_midnight_of_the_last_day_is_inside(http, world, team):
    answer = http.post(URL, json=helpers.record(world, day="2024-06-30", start="20:00", end="24:00"),
                       headers=team)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json()["local_date"] == "2024-06-30"


def test_a_volunteer_not_admitted_to_the_project_is_refused(store_app, http, world, team):
    outsider = helpers.add_volunteer(store_app, world, enrolled=False)
    body = _problem(http.post(URL, json=helpers.record(world, volunteer_no=outsider), headers=team), 422)
    assert _rules(body) == {("/volunteer_no", "service_record.enrolled")}


def test_a_pending_enrolment_does_not_admit(store_app, http, world, team):
    pending = helpers.add_volunteer(store_app, world, enrolled=False)
    from gateway import store
    from sqlalchemy import select
    from gateway.store.models import Project, Volunteer

    with store_app.app_context(), store.session_scope(store_app) as session:
        volunteer = session.execute(select(Volunteer).where(Volunteer.volunteer_no == pending)).scalar_one()
        project = session.execute(select(Project).where(Project.project_no == world.project_no)).scalar_one()
        helpers.enroll(session, volunteer, project, status="1")
    body = _problem(http.post(URL, json=helpers.record(world, volunteer_no=pending), headers=team), 422)
    assert ("/volunteer_no", "service_record.enrolled") in _rules(body)


def test_a_back_filling_project_records_without_enrolment(store_app, http, caller):
    world = helpers.seed(store_app, recruit_scope="5", enrolled=False)
    headers = caller(store_app, "backfill-team", region="11", perms=helpers.HOURS_PERMS,
                     teams=(world.team_no,))
    answer = http.post(URL, json=helpers.record(world), headers=headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)


def test_team_no_must_be_the_projects_team(store_app, http, world, team):
    body = _problem(http.post(URL, json=helpers.record(world, team_no="T9999"), headers=team), 422)
    assert _rules(body) == {("/team_no", "service_record.team_matches")}


def test_team_no_may_be_left_out(http, world, team):
    from tests import factories

    answer = http.post(URL, json=helpers.record(world, team_no=factories.OMIT), headers=team)
    assert answer.status_code == 201
    assert answer.get_json()["team_no"] == world.team_no


def test_unknown_volunteer_or_project(http, world, team):
    body = _problem(http.post(URL, json=helpers.record(world, project_no="P-NONE"), headers=team), 422)
    assert _rules(body) == {("/project_no", "service_record.project_known")}
    body = _problem(http.post(URL, json=helpers.record(world, volunteer_no="V11010524040000000"),
                              headers=team), 422)
    assert _rules(body) == {("/volunteer_no", "service_record.volunteer_known")}


def test_the_status_is_assigned_by_the_store(store_app, http, world, team):
    body = _problem(http.post(URL, json=helpers.record(world, status="0"), headers=team), 422)
    assert _rules(body) == {("/status", "service_record.status_assigned")}
    assert http.post(URL, json=helpers.record(world, status="2"), headers=team).status_code == 201


def test_an_open_checkin_blocks_entry(store_app, http, world, team):
    other_project = helpers.add_project(store_app, world)
    helpers.open_checkin(store_app, world, other_project)
    body = _problem(http.post(URL, json=helpers.record(world), headers=team), 422)
    assert _rules(body) == {("/volunteer_no", "service_record.open_checkin")}


def test_every_rule_across_records_is_reported_at_once(store_app, http, world, team):
    helpers.open_checkin(store_app, world)
    outsider_project = helpers.add_project(store_app, world, enroll_volunteer=False)
    body = _problem(http.post(URL, json=helpers.record(world, project_no=outsider_project,
                                                       day="2024-07-02"), headers=team), 422)
    assert {rule for _, rule in _rules(body)} == {
        "service_record.enrolled", "service_record.within_project", "service_record.open_checkin"}


def test_invalid_input_writes_nothing(store_app, http, world, team):
    before = helpers.counts(store_app)
    _problem(http.post(URL, data="[1, 2]", content_type="application/json", headers=team), 400)
    _problem(http.post(URL, data="{", content_type="application/json", headers=team), 400)
    _problem(http.post(URL, data="", content_type="application/json", headers=team), 400)
    body = _problem(http.post(URL, json=helpers.record(world, total_hours=5000), headers=team), 422)
    assert ("/total_hours", "schema.additionalProperties") in _rules(body)
    body = _problem(http.post(URL, json=helpers.record(world, ended_at="2099-05-01T12:30:00", hours=4.0),
                              headers=team), 422)
    assert {rule for _, rule in _rules(body)} >= {"service_record.not_future"}
    assert helpers.counts(store_app) == before


def test_stored_totals_are_recomputed_never_trusted(store_app, http, team, caller):
    # A volunteer row carrying totals from elsewhere (as if an input had been trusted):
    world = helpers.seed(store_app, total_hours=Decimal("999.00"), star_level=5)
    headers = caller(store_app, "team-2", region="11", perms=helpers.HOURS_PERMS, teams=(world.team_no,))
    assert http.post(URL, json=helpers.record(world), headers=headers).status_code == 201
    totals = http.get(f"/api/v1/volunteers/{world.volunteer_no}/hours", headers=headers).get_json()
    assert totals["total_hours"] == "3.50" and totals["star_level"] is None
    row = helpers.volunteer_row(store_app, world.volunteer_no)
    assert row.total_hours == Decimal("3.50") and row.star_level == 0


def test_without_credentials_401(http, world):
    _problem(http.post(URL, json=helpers.record(world)), 401)
    _problem(http.get(URL), 401)


# -- applications ------------------------------------------------------------------------------

def _apply(http, world, headers, **kw):
    answer = http.post(f"{URL}/applications", json=helpers.application(world, **kw), headers=headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def test_application_then_approval_makes_it_effective(store_app, http, world, team, volunteer_app):
    answer = http.post(f"{URL}/applications", json=helpers.application(world), headers=volunteer_app)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    applied = answer.get_json()
    assert applied["status"] == "0" and applied["source"] == "2" and applied["applied_at"]
    totals = http.get(f"/api/v1/volunteers/{world.volunteer_no}/hours", headers=team).get_json()
    assert totals["total_hours"] == "0.00" and totals["effective_records"] == 0
    assert helpers.aggregates_match(store_app)[0] == {}

    answer = http.post(f"{URL}/{applied['record_no']}/approve", json={"note": "核实无误"}, headers=team)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    approved = answer.get_json()
    assert approved["status"] == "2" and approved["decided_by"] == "team-client"
    assert approved["recorded_at"]
    assert [h["action"] for h in approved["history"]] == ["apply", "approve"]
    assert approved["history"][1]["note"] == "核实无误"
    assert approved["history"][1]["changes"] == {"status": {"old": "0", "new": "2"}}
    totals = http.get(f"/api/v1/volunteers/{world.volunteer_no}/hours", headers=team).get_json()
    assert totals["total_hours"] == "3.50" and totals["effective_records"] == 1
    stats, expected = helpers.aggregates_match(store_app)
    assert stats == expected and stats

    _problem(http.post(f"{URL}/{applied['record_no']}/approve", json={}, headers=team), 409, "conflict")


def test_application_source_other_than_personal_is_refused(http, world, volunteer_app):
    body = _problem(http.post(f"{URL}/applications", json=helpers.record(world, source="1"),
                              headers=volunteer_app), 422)
    assert _rules(body) == {("/source", "service_record.source_assigned")}


def test_approval_checks_overlap_at_approval_time(store_app, http, world, team, volunteer_app):
    applied = _apply(http, world, volunteer_app)
    entered = http.post(URL, json=helpers.record(world, start="10:00", end="11:00"), headers=team)
    assert entered.status_code == 201
    body = _problem(http.post(f"{URL}/{applied['record_no']}/approve", json={}, headers=team), 422)
    assert _rules(body) == {("/started_at", "service_record.no_overlap")}
    assert entered.get_json()["record_no"] in body["errors"][0]["message_en"]
    assert helpers.stored(store_app, applied["record_no"]).status == "0"


def test_rejecting_an_application(store_app, http, world, team, volunteer_app):
    applied = _apply(http, world, volunteer_app)
    answer = http.post(f"{URL}/{applied['record_no']}/reject", json={"note": "当天未到岗"}, headers=team)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "4" and body["status_label"] == "已拒绝"
    assert body["history"][-1]["action"] == "reject" and body["history"][-1]["note"] == "当天未到岗"
    _problem(http.post(f"{URL}/{applied['record_no']}/approve", json={}, headers=team), 409)
    totals = http.get(f"/api/v1/volunteers/{world.volunteer_no}/hours", headers=team).get_json()
    assert totals["total_hours"] == "0.00"


def test_deciding_needs_the_review_permission(store_app, http, world, volunteer_app, caller):
    writer = caller(store_app, "writer-only", region="11", perms={"service_record": ["read", "write"]},
                    teams=(world.team_no,))
    applied = _apply(http, world, volunteer_app)
    _problem(http.post(f"{URL}/{applied['record_no']}/approve", json={}, headers=writer), 403, "out-of-scope")
    _problem(http.post(f"{URL}/{applied['record_no']}/reject", json={}, headers=writer), 403, "out-of-scope")


# -- deletion, disputes ------------------------------------------------------------------------

def test_deleting_an_effective_record(store_app, http, world, team):
    created = http.post(URL, json=helpers.record(world), headers=team).get_json()
    _problem(http.delete(f"{URL}/{created['record_no']}", json={}, headers=team), 422)
    answer = http.delete(f"{URL}/{created['record_no']}", json={"reason": "重复录入"}, headers=team)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["status"] == "3"
    assert body["history"][-1]["action"] == "delete" and body["history"][-1]["note"] == "重复录入"
    totals = http.get(f"/api/v1/volunteers/{world.volunteer_no}/hours", headers=team).get_json()
    assert totals["total_hours"] == "0.00" and totals["effective_records"] == 0
    stats, expected = helpers.aggregates_match(store_app)
    assert stats == expected == {}
    _problem(http.delete(f"{URL}/{created['record_no']}", json={"reason": "x"}, headers=team), 409)
    # The deleted record is kept and still listed by status.
    listed = http.get(f"{URL}?status=3", headers=team).get_json()
    assert [r["record_no"] for r in listed["items"]] == [created["record_no"]]


def test_a_volunteer_reports_an_error(store_app, http, world, team, volunteer_app):
    created = http.post(URL, json=helpers.record(world), headers=team).get_json()
    _problem(http.post(f"{URL}/{created['record_no']}/disputes", json={}, headers=volunteer_app), 422)
    answer = http.post(f"{URL}/{created['record_no']}/disputes", json={"reason": "实际到 12:00 结束"},
                       headers=volunteer_app)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["status"] == "2"
    assert body["history"][-1]["action"] == "dispute"
    assert body["history"][-1]["actor"] == "volunteer-app"
    assert body["history"][-1]["note"] == "实际到 12:00 结束"


# -- reading -----------------------------------------------------------------------------------

def test_listing_with_filters_and_pages(store_app, http, world, team):
    second = helpers.add_volunteer(store_app, world)
    made = []
    for day in ("2024-05-01", "2024-05-02", "2024-05-03"):
        made.append(http.post(URL, json=helpers.record(world, day=day), headers=team).get_json()["record_no"])
    made.append(http.post(URL, json=helpers.record(world, volunteer_no=second), headers=team)
                .get_json()["record_no"])
    http.delete(f"{URL}/{made[0]}", json={"reason": "重复"}, headers=team)

    page = http.get(f"{URL}?per_page=2", headers=team).get_json()
    assert page["total"] == 4 and len(page["items"]) == 2 and page["page"] == 1
    assert page["items"][0]["record_no"] == made[2]  # newest service first
    page2 = http.get(f"{URL}?per_page=2&page=2", headers=team).get_json()
    assert {r["record_no"] for r in page["items"] + page2["items"]} == set(made)

    by_volunteer = http.get(f"{URL}?volunteer_no={second}", headers=team).get_json()
    assert [r["record_no"] for r in by_volunteer["items"]] == [made[3]]
    effective = http.get(f"{URL}?status=2&team_no={world.team_no}", headers=team).get_json()
    assert effective["total"] == 3
    window = http.get(f"{URL}?from=2024-05-02&to=2024-05-02", headers=team).get_json()
    assert [r["record_no"] for r in window["items"]] == [made[1]]
    _problem(http.get(f"{URL}?status=9", headers=team), 422)
    _problem(http.get(f"{URL}?from=yesterday", headers=team), 422)

    totals = http.get(f"/api/v1/volunteers/{world.volunteer_no}/hours?status=3", headers=team).get_json()
    assert totals["total_hours"] == "7.00" and totals["effective_records"] == 2
    assert [r["record_no"] for r in totals["records"]["items"]] == [made[0]]


def test_one_record_in_detail(http, world, team):
    created = http.post(URL, json=helpers.record(world), headers=team).get_json()
    body = http.get(f"{URL}/{created['record_no']}", headers=team).get_json()
    assert body["record_no"] == created["record_no"]
    assert body["corrects"] is None and body["superseded_by"] is None
    assert body["history"][0]["changes"]["hours"] == {"old": None, "new": "3.50"}
    _problem(http.get(f"{URL}/H000", headers=team), 404)


# -- scope -------------------------------------------------------------------------------------

def test_a_client_of_another_province_can_neither_read_nor_write(store_app, http, world, team, caller):
    created = http.post(URL, json=helpers.record(world), headers=team).get_json()
    guangdong = caller(store_app, "gd-client", region="44", perms=helpers.HOURS_PERMS)
    before = helpers.counts(store_app)
    _problem(http.post(URL, json=helpers.record(world, day="2024-05-02"), headers=guangdong),
             403, "out-of-scope")
    # Another region's volunteer reads as unknown (issue 11, finding 3).
    _problem(http.post(f"{URL}/applications", json=helpers.application(world, day="2024-05-02"),
                       headers=guangdong), 422)
    _problem(http.get(f"{URL}/{created['record_no']}", headers=guangdong), 404)
    _problem(http.get(f"/api/v1/volunteers/{world.volunteer_no}/hours", headers=guangdong), 404)
    assert http.get(URL, headers=guangdong).get_json()["total"] == 0
    _problem(http.delete(f"{URL}/{created['record_no']}", json={"reason": "x"}, headers=guangdong), 404)
    _problem(http.post(f"{URL}/{created['record_no']}/corrections",
                       json={"started_at": "2024-05-01T09:00:00", "ended_at": "2024-05-01T10:00:00",
                             "hours": 1, "reason": "x"}, headers=guangdong), 404)
    assert helpers.counts(store_app) == before


def test_a_client_of_another_team_cannot_act_for_this_one(store_app, http, world, team, caller):
    created = http.post(URL, json=helpers.record(world), headers=team).get_json()
    other = caller(store_app, "other-team", region="11", perms=helpers.HOURS_PERMS, teams=("T-OTHER",))
    _problem(http.post(URL, json=helpers.record(world, day="2024-05-02"), headers=other), 403, "out-of-scope")
    _problem(http.get(f"{URL}/{created['record_no']}", headers=other), 404)
    assert http.get(URL, headers=other).get_json()["total"] == 0
    # A regional client (no team list) sees the record but cannot act for the team without it.
    region = caller(store_app, "district", region="110105", perms={"service_record": ["read"]})
    assert http.get(f"{URL}/{created['record_no']}", headers=region).status_code == 200
    _problem(http.delete(f"{URL}/{created['record_no']}", json={"reason": "x"}, headers=region), 403)


def test_write_needs_the_write_permission(store_app, http, world, caller):
    reader = caller(store_app, "reader", region="11", perms={"service_record": ["read"]})
    _problem(http.post(URL, json=helpers.record(world), headers=reader), 403)
    nobody = caller(store_app, "nobody", region="11", perms={})
    _problem(http.get(URL, headers=nobody), 403)


def test_openapi_documents_the_hours_endpoints(http):
    doc = http.get("/api/openapi.json").get_json()
    paths = doc["paths"]
    for path in ("/api/v1/service-records", "/api/v1/service-records/applications",
                 "/api/v1/service-records/{record_no}", "/api/v1/service-records/{record_no}/approve",
                 "/api/v1/service-records/{record_no}/reject",
                 "/api/v1/service-records/{record_no}/corrections",
                 "/api/v1/service-records/{record_no}/disputes", "/api/v1/volunteers/{volunteer_no}/hours"):
        assert path in paths, path
    assert "requestBody" in paths["/api/v1/service-records"]["post"]
