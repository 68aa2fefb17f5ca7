"""Withdrawing a project through the services' API (issue 12 item 12), SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from gateway import store
from gateway.store.models import Change
from tests.integration.activities import helpers
from tests.integration.activities.helpers import PROJECTS


def test_a_project_is_cancelled_for_its_team_once_with_a_tombstone(store_app, http, team, guangdong):
    answer = http.post(PROJECTS, json=helpers.project_record(), headers=team)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    number = answer.get_json()["project_no"]
    outside = http.post(f"{PROJECTS}/{number}/cancel", json={}, headers=guangdong)
    assert outside.status_code == 403
    assert outside.headers["Content-Type"].startswith("application/problem+json")
    bad = http.post(f"{PROJECTS}/{number}/cancel", json={"note": "x" * 501}, headers=team)
    assert bad.status_code == 422
    answer = http.post(f"{PROJECTS}/{number}/cancel", json={"note": "取消"}, headers=team)
    assert answer.status_code == 200 and answer.get_json()["status"] == "9"
    assert http.post(f"{PROJECTS}/{number}/cancel", json={}, headers=team).get_json()["status"] == "9"
    with store.session_scope(store_app) as session:
        actions = session.execute(select(Change.action).where(Change.entity == "project")
                                  .order_by(Change.id)).scalars().all()
        assert actions == ["publish", "delete"]
