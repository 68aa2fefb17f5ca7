"""Enrolment through the REST API on SQLite and PostgreSQL: every recruitment scope,
invitations, team decisions, withdrawal, places in a post, listings, history and scope."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway import store
from gateway.services.activities import admitted_enrollment
from gateway.store.models import Change, Enrollment, Post, Project, Volunteer
from tests.integration.activities import helpers
from tests.integration.activities.helpers import PROJECTS, enrol_url, problem, rules

ENROLLMENTS = "/api/v1/enrollments"


@pytest.fixture
def volunteer(store_app):
    return helpers.make_volunteer(store_app)


def _project(http, team, **overrides) -> dict:
    record = helpers.project_record(**overrides)
    password = record.pop("password", None)
    if password:
        record["recruit_password"] = password
    return helpers.publish(http, team, record)


def _apply(http, headers, project, volunteer_no, **body):
    return http.post(enrol_url(project), json={"volunteer_no": volunteer_no, **body}, headers=headers)


def _admitted(http, headers, project) -> int:
    view = http.get(f"{PROJECTS}/{project['project_no']}", headers=headers).get_json()
    return view["posts"][0]["admitted"]


def _act(http, headers, enrollment_no, action, **body):
    return http.post(f"{ENROLLMENTS}/{enrollment_no}/{action}", json=body, headers=headers)


def _enrollment_count(app) -> int:
    with store.session_scope(app) as session:
        return session.execute(select(func.count()).select_from(Enrollment)).scalar_one()


def test_open_recruitment_waits_for_the_team(store_app, http, team, beijing_app, volunteer):
    project = _project(http, team)
    answer = _apply(http, beijing_app, project, volunteer)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    enrollment = answer.get_json()
    assert enrollment["status"] == "1" and enrollment["invited"] is False
    assert enrollment["enrollment_no"].startswith("E110105")
    assert enrollment["volunteer_no"] == volunteer and enrollment["post_no"] == "1"
    assert "decided_at" not in enrollment
    assert _admitted(http, team, project) == 0

    # The team decides; approving takes a place, approving again is a conflict.
    problem(_act(http, beijing_app, enrollment["enrollment_no"], "approve", note="x" * 501), 422)
    approved = _act(http, team, enrollment["enrollment_no"], "approve", note="欢迎")
    assert approved.status_code == 200, approved.get_data(as_text=True)
    assert approved.get_json()["status"] == "2" and approved.get_json()["decided_by"] == "team-client"
    assert _admitted(http, team, project) == 1
    body = problem(_act(http, team, enrollment["enrollment_no"], "approve"), 409, "conflict")
    assert rules(body) == {("/status", "enrollment.status")}
    assert _admitted(http, team, project) == 1

    with store.session_scope(store_app) as session:
        actions = session.execute(select(Change.action, Change.changes).where(
            Change.entity == "enrollment").order_by(Change.id)).all()
        assert [a for a, _ in actions] == ["apply", "approve"]
        assert actions[1][1] == {"status": {"old": "1", "new": "2"}}
        vol_id = session.execute(select(Volunteer.id).where(Volunteer.volunteer_no == volunteer)).scalar_one()
        project_id = session.execute(select(Project.id)).scalar_one()
        held = admitted_enrollment(session, vol_id, project_id)
        assert held is not None and held.enrollment_no == enrollment["enrollment_no"]


def test_rejecting_and_applying_twice(store_app, http, team, beijing_app, volunteer):
    project = _project(http, team)
    enrollment = _apply(http, beijing_app, project, volunteer).get_json()
    body = problem(_apply(http, beijing_app, project, volunteer), 409)
    assert rules(body) == {("/volunteer_no", "enrollment.duplicate")}
    assert body["enrollment_no"] == enrollment["enrollment_no"]
    # A decision needs no body at all.
    rejected = http.post(f"{ENROLLMENTS}/{enrollment['enrollment_no']}/reject", headers=team)
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "7"
    problem(_act(http, team, enrollment["enrollment_no"], "approve"), 409)
    problem(_apply(http, beijing_app, project, volunteer), 409)  # once per post
    assert _admitted(http, team, project) == 0 and _enrollment_count(store_app) == 1


def test_team_only_recruitment_admits_members_at_once(store_app, http, team, team_no, beijing_app):
    member, outsider = helpers.make_volunteer(store_app), helpers.make_volunteer(store_app)
    helpers.make_member(store_app, team_no, member)
    project = _project(http, team, recruit_scope="2")
    body = problem(_apply(http, beijing_app, project, outsider), 422)
    assert rules(body) == {("/volunteer_no", "enrollment.team_only")}
    answer = _apply(http, beijing_app, project, member)
    assert answer.status_code == 201 and answer.get_json()["status"] == "6"
    assert answer.get_json()["decided_at"]
    assert _admitted(http, team, project) == 1 and _enrollment_count(store_app) == 1


def test_password_recruitment_admits_with_the_right_password(store_app, http, team, beijing_app, volunteer):
    project = _project(http, team, recruit_scope="3", password="chaoyang-2024")
    for body in ({}, {"password": "wrong-one"}):
        found = rules(problem(_apply(http, beijing_app, project, volunteer, **body), 422))
        assert found == {("/password", "enrollment.password")}
    answer = _apply(http, beijing_app, project, volunteer, password="chaoyang-2024")
    assert answer.status_code == 201 and answer.get_json()["status"] == "5"
    assert _admitted(http, team, project) == 1


def test_closed_and_backfill_projects_take_no_applications(store_app, http, team, beijing_app, volunteer):
    closed = _project(http, team, recruit_scope="4")
    assert rules(problem(_apply(http, beijing_app, closed, volunteer), 409)) == {("", "enrollment.closed")}
    backfill = _project(http, team, recruit_scope="5", status="12")
    assert rules(problem(_apply(http, beijing_app, backfill, volunteer), 409)) == {
        ("", "enrollment.backfill_only")}
    assert _enrollment_count(store_app) == 0


def test_only_recruiting_projects_take_applications(store_app, http, team, beijing_app, volunteer):
    project = _project(http, team, status="4")
    assert rules(problem(_apply(http, beijing_app, project, volunteer), 409)) == {
        ("", "enrollment.not_recruiting")}
    problem(http.post(f"{PROJECTS}/{project['project_no']}/posts/9/enrollments",
                      json={"volunteer_no": volunteer}, headers=beijing_app), 409)
    open_ = _project(http, team)
    problem(http.post(f"{PROJECTS}/{open_['project_no']}/posts/9/enrollments",
                      json={"volunteer_no": volunteer}, headers=beijing_app), 404)
    problem(_apply(http, beijing_app, open_, "V1101052404999999"), 404)
    problem(http.post(enrol_url(open_), json={}, headers=beijing_app), 422)


def test_invitations_accepted_and_declined(store_app, http, team, beijing_app):
    first, second = helpers.make_volunteer(store_app), helpers.make_volunteer(store_app)
    project = _project(http, team, recruit_scope="4")  # not public: the team invites
    url = f"{PROJECTS}/{project['project_no']}/invitations"
    invited = [http.post(url, json={"volunteer_no": v, "post_no": "1"}, headers=team) for v in (first, second)]
    assert [a.status_code for a in invited] == [201, 201], invited[0].get_data(as_text=True)
    first_no, second_no = (a.get_json()["enrollment_no"] for a in invited)
    assert invited[0].get_json()["status"] == "4" and invited[0].get_json()["invited"] is True
    problem(http.post(url, json={"volunteer_no": first, "post_no": "1"}, headers=team), 409)

    # A team's own client cannot answer for the volunteer.
    problem(_act(http, team, first_no, "accept"), 403, "out-of-scope")
    accepted = _act(http, beijing_app, first_no, "accept")
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "3"
    declined = _act(http, beijing_app, second_no, "decline")
    assert declined.status_code == 200 and declined.get_json()["status"] == "7"
    problem(_act(http, beijing_app, second_no, "accept"), 409)
    assert _admitted(http, team, project) == 1

    # The team may also call an open invitation back.
    third = helpers.make_volunteer(store_app)
    third_no = http.post(url, json={"volunteer_no": third, "post_no": "1"}, headers=team).get_json()["enrollment_no"]
    assert _act(http, team, third_no, "reject").get_json()["status"] == "7"


def test_withdrawing_frees_a_place(store_app, http, team, beijing_app):
    first, second = helpers.make_volunteer(store_app), helpers.make_volunteer(store_app)
    project = _project(http, team, recruit_scope="3", password="pass-1234", headcount=1)
    held = _apply(http, beijing_app, project, first, password="pass-1234").get_json()
    body = problem(_apply(http, beijing_app, project, second, password="pass-1234"), 409)
    assert rules(body) == {("/post_no", "enrollment.post_full")}
    assert _enrollment_count(store_app) == 1  # nothing written for the refused one

    problem(_act(http, team, held["enrollment_no"], "withdraw"), 403)  # the volunteer withdraws
    left = _act(http, beijing_app, held["enrollment_no"], "withdraw", note="临时有事")
    assert left.status_code == 200 and left.get_json()["status"] == "8"
    assert _admitted(http, team, project) == 0
    problem(_act(http, beijing_app, held["enrollment_no"], "withdraw"), 409)
    assert _apply(http, beijing_app, project, second, password="pass-1234").status_code == 201
    assert _admitted(http, team, project) == 1


def test_approving_into_a_full_post_is_refused(store_app, http, team, beijing_app):
    first, second = helpers.make_volunteer(store_app), helpers.make_volunteer(store_app)
    project = _project(http, team, headcount=1)
    numbers = [_apply(http, beijing_app, project, v).get_json()["enrollment_no"] for v in (first, second)]
    assert _act(http, team, numbers[0], "approve").status_code == 200
    body = problem(_act(http, team, numbers[1], "approve"), 409)
    assert rules(body) == {("/post_no", "enrollment.post_full")}
    seen = http.get(f"{ENROLLMENTS}/{numbers[1]}", headers=team).get_json()
    assert seen["status"] == "1"  # the refused approval changed nothing
    # A pending applicant withdrawing frees nothing.
    assert _act(http, beijing_app, numbers[1], "withdraw").get_json()["status"] == "8"
    assert _admitted(http, team, project) == 1


def test_listings_for_the_team_and_the_volunteer(store_app, http, team, beijing_app, guangdong):
    first, second = helpers.make_volunteer(store_app, name="李雷"), helpers.make_volunteer(store_app)
    project = _project(http, team)
    numbers = [_apply(http, beijing_app, project, v).get_json()["enrollment_no"] for v in (first, second)]
    _act(http, team, numbers[0], "approve")

    url = f"{PROJECTS}/{project['project_no']}/enrollments"
    body = http.get(url, headers=team).get_json()
    assert body["total"] == 2 and [e["enrollment_no"] for e in body["items"]] == numbers
    assert body["items"][0]["volunteer_name"] == "李雷"
    assert [e["status"] for e in http.get(f"{url}?status=2", headers=team).get_json()["items"]] == ["2"]
    assert http.get(f"{url}?status=1,2&post_no=1", headers=team).get_json()["total"] == 2
    assert http.get(f"{url}?post_no=9", headers=team).get_json()["total"] == 0
    problem(http.get(url, headers=guangdong), 403)

    mine = http.get(f"/api/v1/volunteers/{first}/enrollments", headers=beijing_app).get_json()
    assert mine["total"] == 1 and mine["items"][0]["status"] == "2"
    assert mine["items"][0]["project_no"] == project["project_no"]
    problem(http.get(f"/api/v1/volunteers/{first}/enrollments", headers=guangdong), 404)
    problem(http.get(f"{ENROLLMENTS}/{numbers[0]}", headers=guangdong), 404)


def test_another_province_cannot_enrol_or_decide(store_app, http, team, beijing_app, guangdong, volunteer):
    project = _project(http, team)
    problem(_apply(http, guangdong, project, volunteer), 404)
    assert _enrollment_count(store_app) == 0
    enrollment = _apply(http, beijing_app, project, volunteer).get_json()
    for action in ("approve", "reject", "withdraw"):
        problem(_act(http, guangdong, enrollment["enrollment_no"], action), 404)
    problem(http.post(f"{PROJECTS}/{project['project_no']}/invitations",
                      json={"volunteer_no": volunteer, "post_no": "1"}, headers=guangdong), 403)
    # Its own volunteers may apply to a Beijing project (recruitment is public).
    canton = helpers.make_volunteer(store_app, area="440305")
    assert _apply(http, guangdong, project, canton).status_code == 201
    with store.session_scope(store_app) as session:
        assert session.execute(select(Post.admitted)).scalar_one() == 0
