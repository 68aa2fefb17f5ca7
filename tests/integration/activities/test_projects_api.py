"""Publishing projects with posts, reading them and changing their status, through the REST
API on SQLite and PostgreSQL: rules across records, scope and history."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway import store
from gateway.store.models import Change, Post, Project
from tests import factories
from tests.integration.activities import helpers
from tests.integration.activities.helpers import PROJECTS, problem, rules


def _count(app, model) -> int:
    with store.session_scope(app) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_team_publishes_a_project_with_its_posts(store_app, http, team, team_no):
    record = helpers.project_record(posts=[
        {"name": "助老陪伴", "headcount": 10, "starts_at": "2024-04-01T08:00:00",
         "ends_at": "2024-06-30T18:00:00"},
        {"post_no": "1", "name": "健康宣传", "headcount": 3},
        {"name": "代购", "headcount": 2},
    ])
    answer = http.post(PROJECTS, json=record, headers=team)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    # The store numbers the project itself; the source's number is kept beside it.
    assert body["project_no"].startswith("P110105") and body["project_no"] != factories.PROJECT_NO
    assert body["source_project_no"] == factories.PROJECT_NO
    assert body["source_system"] == "team-client" and body["source_id"] == "proj-2024-001"
    assert body["team_no"] == team_no and body["status"] == "3" and body["area"] == "110105"
    # Posts: a given number is kept, the others get the smallest free "1", "2", …
    assert [(p["post_no"], p["headcount"], p["admitted"]) for p in body["posts"]] == [
        ("2", 10, 0), ("1", 3, 0), ("3", 2, 0)]
    assert body["posts"][0]["starts_at"] == "2024-04-01T08:00:00+08:00"
    assert body["checkin_points"][0]["radius_m"] == 200
    assert body["guarantees"] == ["01", "05"]
    # The team sees its contact, the mobile masked; the public sees only what is public.
    assert body["contact"]["mobile"] == "139****2222" and body["contact"]["name"] == "张伟"

    with store.session_scope(store_app) as session:
        project = session.execute(select(Project)).scalar_one()
        assert (project.province, project.city, project.county) == ("11", "1101", "110105")
        assert "13911112222" not in str(project.data)
        change = session.execute(select(Change).where(Change.entity == "project")).scalar_one()
        assert change.action == "publish" and change.actor == "team-client"
        assert change.changes["contact_mobile"]["new"] == "139****2222"

    got = http.get(f"{PROJECTS}/{body['project_no']}", headers=team).get_json()
    assert got == body


def test_public_readers_see_only_the_public_contact(store_app, http, team, guangdong):
    body = helpers.publish(http, team)
    seen = http.get(f"{PROJECTS}/{body['project_no']}", headers=guangdong)
    assert seen.status_code == 200  # recruitment is public information
    contact = seen.get_json()["contact"]
    assert contact == {"name": "张伟", "landline": "010-65001234", "name_public": True,
                       "mobile_public": False, "landline_public": True}


def test_an_invalid_record_is_refused_with_pointers_and_nothing_is_written(store_app, http, team):
    record = helpers.project_record(ends_on="2024-03-01", service_category="9999",
                                    posts=[{"name": "助老", "headcount": 0}])
    body = problem(http.post(PROJECTS, json=record, headers=team), 422, "invalid-record")
    found = rules(body)
    assert ("/ends_on", "project.end_after_start") in found
    assert ("/service_category", "code.unknown") in found
    assert ("/posts/0/headcount", "schema.minimum") in found
    assert _count(store_app, Project) == 0 and _count(store_app, Change) == 0


def test_rules_across_records_are_reported_together(store_app, http, team):
    record = helpers.project_record(posts=[
        {"post_no": "A", "name": "一", "headcount": 1, "starts_at": "2024-03-31T08:00:00"},
        {"post_no": "A", "name": "二", "headcount": 1, "ends_at": "2024-07-01T08:00:00"},
        # Ending at midnight after the last day is still inside.
        {"name": "三", "headcount": 1, "starts_at": "2024-06-30T20:00:00", "ends_at": "2024-07-01T00:00:00"},
    ])
    body = problem(http.post(PROJECTS, json=record, headers=team), 422)
    assert rules(body) == {("/posts/0/starts_at", "project.post_within_dates"),
                           ("/posts/1/ends_at", "project.post_within_dates"),
                           ("/posts/1/post_no", "project.post_no_unique")}
    assert _count(store_app, Project) == 0 and _count(store_app, Post) == 0


def test_the_team_must_exist_and_be_approved(store_app, http, caller):
    headers = caller(store_app, "admin", perms=helpers.TEAM_PERMS)
    body = problem(http.post(PROJECTS, json=helpers.project_record("T9999"), headers=headers), 422)
    assert rules(body) == {("/team_no", "project.team_exists")}

    pending = helpers.make_team(store_app, "T1101050002", status="2")
    body = problem(http.post(PROJECTS, json=helpers.project_record(pending), headers=headers), 422)
    assert rules(body) == {("/team_no", "project.team_approved")}
    assert _count(store_app, Project) == 0


def test_a_team_outside_the_callers_scope_is_forbidden(store_app, http, team_no, guangdong, caller):
    problem(http.post(PROJECTS, json=helpers.project_record(team_no), headers=guangdong), 403,
            "out-of-scope")
    other_team = caller(store_app, "other-team", region="11", perms=helpers.TEAM_PERMS,
                        teams=("T1101050099",))
    problem(http.post(PROJECTS, json=helpers.project_record(team_no), headers=other_team), 403)
    reader = caller(store_app, "reader", perms={"project": ["read"]})
    problem(http.post(PROJECTS, json=helpers.project_record(team_no), headers=reader), 403)
    assert _count(store_app, Project) == 0


def test_password_scope_needs_a_password_that_is_stored_hashed(store_app, http, team):
    body = problem(http.post(PROJECTS, json=helpers.project_record(recruit_scope="3"), headers=team), 422)
    assert rules(body) == {("/recruit_password", "project.recruit_password")}
    record = helpers.project_record(recruit_scope="1") | {"recruit_password": "secret-1"}
    body = problem(http.post(PROJECTS, json=record, headers=team), 422)
    assert rules(body) == {("/recruit_password", "project.recruit_password")}

    record = helpers.project_record(recruit_scope="3") | {"recruit_password": "secret-1"}
    view = helpers.publish(http, team, record)
    assert "recruit_password" not in view
    with store.session_scope(store_app) as session:
        project = session.execute(select(Project)).scalar_one()
        assert project.recruit_password_hash and "secret-1" not in project.recruit_password_hash


def test_unauthenticated_and_malformed_requests(store_app, http, team):
    problem(http.post(PROJECTS, json=helpers.project_record()), 401)
    problem(http.post(PROJECTS, data=b"{not json", headers={**team, "Content-Type": "application/json"}), 400)


def test_status_changes_keep_history_and_need_the_team(store_app, http, team, guangdong):
    body = helpers.publish(http, team)
    url = f"{PROJECTS}/{body['project_no']}/status"
    answer = http.post(url, json={"status": "4", "note": "招满"}, headers=team)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["status"] == "4"
    problem(http.post(url, json={"status": "99"}, headers=team), 422)
    problem(http.post(url, json={"status": "3"}, headers=guangdong), 403)
    problem(http.post(f"{PROJECTS}/P000/status", json={"status": "3"}, headers=team), 404)
    with store.session_scope(store_app) as session:
        change = session.execute(select(Change).where(Change.action == "status")).scalar_one()
        assert change.changes == {"status": {"old": "3", "new": "4"}} and change.note == "招满"


def test_not_public_projects_are_hidden_from_other_regions(store_app, http, team, guangdong):
    body = helpers.publish(http, team, recruit_scope="4")
    problem(http.get(f"{PROJECTS}/{body['project_no']}", headers=guangdong), 404)
    assert http.get(f"{PROJECTS}/{body['project_no']}", headers=team).status_code == 200
    assert http.get(PROJECTS, headers=guangdong).get_json()["total"] == 0
    assert http.get(PROJECTS, headers=team).get_json()["total"] == 1


def test_openapi_documents_the_activities_endpoints(http):
    paths = http.get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/v1/projects", "/api/v1/projects/{project_no}", "/api/v1/projects/{project_no}/status",
                 "/api/v1/projects/{project_no}/posts/{post_no}/enrollments",
                 "/api/v1/projects/{project_no}/invitations", "/api/v1/projects/{project_no}/enrollments",
                 "/api/v1/volunteers/{volunteer_no}/enrollments", "/api/v1/enrollments/{enrollment_no}",
                 *(f"/api/v1/enrollments/{{enrollment_no}}/{action}"
                   for action in ("approve", "reject", "accept", "decline", "withdraw"))):
        assert path in paths, path
    assert "requestBody" in paths["/api/v1/projects"]["post"]
    query = {p["name"] for p in paths["/api/v1/projects"]["get"]["parameters"]}
    assert {"region", "service_category", "from", "to", "status", "q", "page", "per_page", "sort"} <= query
