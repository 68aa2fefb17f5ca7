"""A recruitment password hashed by werkzeug (before argon2id) verifies and is rehashed on use."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from gateway import store
from gateway.store.models import Project
from tests.integration.activities import helpers


def test_a_werkzeug_recruitment_password_verifies_and_becomes_argon2id(store_app, http, team,
                                                                        beijing_app):
    record = helpers.project_record(recruit_scope="3")
    record["recruit_password"] = "chaoyang-2024"
    project = helpers.publish(http, team, record)
    with store.session_scope(store_app) as session:
        row = session.execute(select(Project).where(
            Project.project_no == project["project_no"])).scalar_one()
        assert row.recruit_password_hash.startswith("$argon2id$")      # new hashes: argon2id
        row.recruit_password_hash = generate_password_hash("old-werkzeug-1")
    url = helpers.enrol_url(project)
    first, second = helpers.make_volunteer(store_app), helpers.make_volunteer(store_app)
    wrong = http.post(url, json={"volunteer_no": first, "password": "chaoyang-2024"},
                      headers=beijing_app)
    assert helpers.rules(helpers.problem(wrong, 422)) == {("/password", "enrollment.password")}
    answer = http.post(url, json={"volunteer_no": first, "password": "old-werkzeug-1"},
                       headers=beijing_app)
    assert answer.status_code == 201, answer.get_json()
    with store.session_scope(store_app) as session:
        stored = session.execute(select(Project.recruit_password_hash).where(
            Project.project_no == project["project_no"])).scalar_one()
    assert stored.startswith("$argon2id$")
    again = http.post(url, json={"volunteer_no": second, "password": "old-werkzeug-1"},
                      headers=beijing_app)
    assert again.status_code == 201, again.get_json()
