"""Projects changed through the services' API: PATCH /api/v1/projects/{project_no} (issue 12
item 12). A merge patch over the standard record, validated again as a whole; the rules
across records in the activities service (the exchange's project update calls the same
ones); the team's scope; a history row naming the caller; a bad patch is problem+json with a
pointer and a rule id and changes nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway import store
from gateway.store.models import Change
from tests.integration.activities import helpers
from tests.integration.activities.helpers import PROJECTS, problem, rules

MERGE = "application/merge-patch+json"


def _changes(app) -> list[Change]:
    with store.session_scope(app) as session:
        rows = session.execute(select(Change).where(Change.entity == "project").order_by(Change.id))
        return [row for row in rows.scalars()]


def _patch(http, number, body, headers, content_type=MERGE):
    import json

    return http.patch(f"{PROJECTS}/{number}", data=json.dumps(body, ensure_ascii=False),
                      content_type=content_type, headers=headers)


def test_a_merge_patch_changes_fields_and_posts_with_a_history_row(store_app, http, team):
    project = helpers.publish(http, team)
    number = project["project_no"]
    answer = _patch(http, number, {
        "name": "建外街道敬老助老志愿服务", "description": None,
        "contact": {"landline": "010-65009999"},
        "posts": [{"post_no": "1", "headcount": 12},
                  {"name": "健康宣传", "headcount": 3, "starts_at": "2024-05-01T09:00:00+08:00"}]},
        team)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["name"] == "建外街道敬老助老志愿服务" and "description" not in body
    assert body["contact"]["landline"] == "010-65009999" and body["contact"]["name"] == "张伟"
    assert body["contact"]["mobile"] == "139****2222"  # kept (merge), still masked for the team
    posts = {p["post_no"]: p for p in body["posts"]}
    assert posts["1"]["headcount"] == 12 and posts["1"]["name"] == project["posts"][0]["name"]
    assert posts["1"]["starts_at"] == project["posts"][0]["starts_at"]  # not sent: kept
    assert posts["2"]["name"] == "健康宣传" and posts["2"]["admitted"] == 0
    assert http.get(f"{PROJECTS}/{number}", headers=team).get_json() == body
    publish, update = _changes(store_app)
    assert (publish.action, update.action, update.actor) == ("publish", "update", "team-client")
    assert update.changes["name"] == {"old": project["name"], "new": "建外街道敬老助老志愿服务"}
    assert "13911112222" not in repr(update.changes)  # the contact mobile only masked
    # The same values again: nothing written.
    again = _patch(http, number, {"name": "建外街道敬老助老志愿服务"}, team, "application/json")
    assert again.status_code == 200 and len(_changes(store_app)) == 2


BAD = [
    ({"name": ""}, 422, ("/name", None)),
    ({"starts_on": None}, 422, ("/starts_on", None)),
    ({"service_category": "9999"}, 422, ("/service_category", None)),
    ({"posts": [{"post_no": "1", "headcount": 0}]}, 422, ("/posts/0/headcount", None)),
    ({"posts": [{"post_no": "1", "starts_at": "2025-01-01T08:00:00",
                 "ends_at": "2025-01-01T18:00:00"}]}, 422,
     ("/posts/0/starts_at", "project.post_within_dates")),
    ({"ends_on": "2024-05-31"}, 422, ("/ends_on", "project.post_within_dates")),
    ({"posts": [{"post_no": "7", "name": "甲", "headcount": 1},
                {"post_no": "7", "name": "乙", "headcount": 1}]}, 422,
     ("/posts/1/post_no", "project.post_no_unique")),
    ({"posts": [{"post_no": "8", "headcount": 2}]}, 422, ("/posts/0/name", None)),  # a new post is whole
    ({"recruit_scope": "3"}, 422, ("/recruit_password", "project.recruit_password")),
    ({"recruit_scope": "3", "recruit_password": "abc"}, 422,
     ("/recruit_password", "project.recruit_password")),
    ({"recruit_password": "abcd1234"}, 422, ("/recruit_password", "project.recruit_password")),
    ({"status": "7"}, 422, ("/status", "project.status_by_action")),
    ({"project_no": "P110105999999"}, 422, ("/project_no", "project.number_assigned")),
    ({"team_no": "T440106000001"}, 422, ("/team_no", "project.team_fixed")),
    ({"unknown_field": 1}, 422, ("/unknown_field", None)),
    ([{"name": "x"}], 422, ("", "schema.type")),
]


@pytest.mark.parametrize(("patch", "status", "expected"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_a_bad_patch_is_a_problem_with_a_pointer_and_changes_nothing(store_app, http, team,
                                                                      patch, status, expected):
    project = helpers.publish(http, team)
    number = project["project_no"]
    answer = _patch(http, number, patch, team)
    body = problem(answer, status)
    pointer, rule = expected
    found = rules(body)
    assert pointer in {p for p, _ in found}, found
    if rule is not None:
        assert (pointer, rule) in found, found
    assert http.get(f"{PROJECTS}/{number}", headers=team).get_json() == project
    assert [c.action for c in _changes(store_app)] == ["publish"]


def test_a_headcount_below_the_places_taken_is_refused(store_app, http, team, beijing_app):
    project = helpers.publish(http, team)
    number = project["project_no"]
    for _ in range(2):
        applied = http.post(helpers.enrol_url(project), headers=beijing_app,
                            json={"volunteer_no": helpers.make_volunteer(store_app)})
        assert applied.status_code == 201, applied.get_data(as_text=True)
        approved = http.post(f"/api/v1/enrollments/{applied.get_json()['enrollment_no']}/approve",
                             json={}, headers=team)
        assert approved.status_code == 200, approved.get_data(as_text=True)
    body = problem(_patch(http, number, {"posts": [{"post_no": "1", "headcount": 1}]}, team), 422)
    assert rules(body) == {("/posts/0/headcount", "project.headcount_below_admitted")}
    assert http.get(f"{PROJECTS}/{number}", headers=team).get_json()["posts"][0]["headcount"] == 10
    assert _patch(http, number, {"posts": [{"post_no": "1", "headcount": 2}]}, team).status_code == 200


def test_a_recruit_password_is_set_and_changed_by_patch_and_never_shown(store_app, http, team,
                                                                         beijing_app):
    project = helpers.publish(http, team)
    number = project["project_no"]
    answer = _patch(http, number, {"recruit_scope": "3", "recruit_password": "old-secret"}, team)
    assert answer.status_code == 200 and answer.get_json()["recruit_scope"] == "3"
    assert "old-secret" not in answer.get_data(as_text=True)
    answer = _patch(http, number, {"recruit_password": "new-secret"}, team)
    assert answer.status_code == 200
    wrong = http.post(helpers.enrol_url(project), headers=beijing_app,
                      json={"volunteer_no": helpers.make_volunteer(store_app), "password": "old-secret"})
    assert problem(wrong, 422)["errors"][0]["rule"] == "enrollment.password"
    right = http.post(helpers.enrol_url(project), headers=beijing_app,
                      json={"volunteer_no": helpers.make_volunteer(store_app), "password": "new-secret"})
    assert right.status_code == 201 and right.get_json()["status"] == "5"
    updates = [c for c in _changes(store_app) if c.action == "update"]
    assert [u.changes.get("recruit_password", {}).get("new") for u in updates] == ["changed", "changed"]
    assert not any("secret" in repr(u.changes) for u in updates)
    # Back to open recruitment: the password goes with the scope.
    assert _patch(http, number, {"recruit_scope": "1"}, team).status_code == 200
    assert _patch(http, number, {"recruit_scope": "3"}, team).status_code == 422


def test_patch_keeps_to_the_teams_scope(store_app, http, team, guangdong, caller):
    project = helpers.publish(http, team)
    number = project["project_no"]
    other_team = helpers.make_team(store_app)
    other = caller(store_app, "other-team", region="11", perms=helpers.TEAM_PERMS, teams=(other_team,))
    reader = caller(store_app, "reader", region="11", perms={"project": ["read"]})
    for headers, status in ((guangdong, 403), (other, 403), (reader, 403)):
        problem(_patch(http, number, {"name": "别人的项目"}, headers), status)
    problem(_patch(http, number, {"area": "440106"}, team), 403)  # out of the team's region
    problem(_patch(http, "P110105999999", {"name": "无此项目"}, team), 404)
    assert http.get(f"{PROJECTS}/{number}", headers=team).get_json() == project
    assert [c.action for c in _changes(store_app)] == ["publish"]


def test_patch_is_in_the_openapi_document(app):
    spec = app.test_client().get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/projects/{project_no}"]["patch"]
    assert "application/merge-patch+json" in operation["requestBody"]["content"]
    assert {"200", "403", "404", "422"} <= set(operation["responses"])
