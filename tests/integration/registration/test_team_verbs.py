"""Teams updated and withdrawn through the services' API; inactive teams stop acting; the
USCC unique in the database; each business rule id raised in one module (issue 12 item 12,
issue 13 item 1). SQLite and PostgreSQL."""

from __future__ import annotations

import pathlib
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import store
from gateway.services import hours as hours_service
from gateway.services.errors import Conflict
from gateway.store.models import Certificate, Change, Team
from tests import factories
from tests.integration.certificates import helpers as certificate_helpers
from tests.integration.hours import helpers as hours_helpers
from tests.integration.registration.helpers import ALL_PERMS, TIANHE, make_caller, team_record, uscc

URL = "/api/v1/teams"
ROOT = pathlib.Path(__file__).resolve().parents[3]


def _team(client, headers, record):
    answer = client.post(URL, json=record, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _rules(answer):
    return [(e["pointer"], e["rule"]) for e in answer.get_json()["errors"]]


def test_a_team_is_changed_by_merge_patch_with_history(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "bj", region="11", perms=ALL_PERMS)
    team = _team(client, headers, team_record(1))
    answer = client.patch(f"{URL}/{team['team_no']}", json={"name": "新名字志愿服务队", "address": None},
                          headers=headers)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["name"] == "新名字志愿服务队" and "address" not in body and body["status"] == "2"
    assert client.get(f"{URL}/{team['team_no']}", headers=headers).get_json()["name"] == "新名字志愿服务队"
    with store.session_scope(store_app) as session:
        change = session.execute(select(Change).where(Change.action == "update")).scalar_one()
        assert change.changes["name"]["new"] == "新名字志愿服务队"


def test_a_bad_patch_is_a_problem_with_pointer_and_changes_nothing(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "bj", region="11", perms=ALL_PERMS)
    first = _team(client, headers, factories.team())
    second = _team(client, headers, factories.team(uscc=uscc(77), name="另一个名字", source_id="t-2"))
    url = f"{URL}/{second['team_no']}"
    answer = client.patch(url, json={"uscc": first["uscc"]}, headers=headers)
    assert answer.status_code == 409 and _rules(answer) == [("/uscc", "team.duplicate_uscc")]
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    answer = client.patch(url, json={"parent_team_no": "T999"}, headers=headers)
    assert answer.status_code == 422 and _rules(answer) == [("/parent_team_no", "team.parent_exists")]
    answer = client.patch(url, json={"status": "1"}, headers=headers)
    assert answer.status_code == 422 and _rules(answer) == [("/status", "team.status_by_review")]
    answer = client.patch(url, json={"join_policy": "4"}, headers=headers)
    assert answer.status_code == 422 and _rules(answer) == [("/join_password", "team.join_password_required")]
    answer = client.patch(url, json={"name": ""}, headers=headers)
    assert answer.status_code == 422 and _rules(answer)[0][0] == "/name"
    assert client.get(url, headers=headers).get_json() == second


def test_patch_and_withdraw_keep_to_the_callers_region(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "bj", region="11", perms=ALL_PERMS)
    team = _team(client, headers, team_record(1))
    gd = make_caller(store_app, "gd", region="44", perms=ALL_PERMS)
    assert client.patch(f"{URL}/{team['team_no']}", json={"name": "别人的队"}, headers=gd).status_code == 403
    assert client.post(f"{URL}/{team['team_no']}/withdraw", json={}, headers=gd).status_code == 403
    answer = client.patch(f"{URL}/{team['team_no']}", json={"area": TIANHE}, headers=headers)
    assert answer.status_code == 403
    assert client.get(f"{URL}/{team['team_no']}", headers=headers).get_json() == team


def test_a_withdrawn_team_is_status_4_with_a_tombstone(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "bj", region="11", perms=ALL_PERMS)
    team = _team(client, headers, team_record(1))
    answer = client.post(f"{URL}/{team['team_no']}/withdraw", json={"note": "注销"}, headers=headers)
    assert answer.status_code == 200 and answer.get_json()["status"] == "4"
    again = client.post(f"{URL}/{team['team_no']}/withdraw", json={}, headers=headers)
    assert again.status_code == 200
    with store.session_scope(store_app) as session:
        actions = session.execute(select(Change.action).where(Change.entity == "team")).scalars().all()
        assert actions == ["create", "delete"]


@pytest.mark.parametrize("status", ["3", "4", "5"])
def test_an_inactive_team_records_no_hours(store_app, status):
    world = hours_helpers.seed(store_app)
    with hours_helpers.service_ctx(store_app) as ctx:
        team = ctx.session.execute(select(Team).where(Team.team_no == world.team_no)).scalar_one()
        team.status = status
    with hours_helpers.service_ctx(store_app) as ctx:
        with pytest.raises(Conflict) as caught:
            hours_service.record_hours(ctx, hours_helpers.record(world))
        assert [i.rule for i in caught.value.issues] == ["team.not_active"]
    with hours_helpers.service_ctx(store_app) as ctx:
        team = ctx.session.execute(select(Team).where(Team.team_no == world.team_no)).scalar_one()
        team.status = "1"
    with hours_helpers.service_ctx(store_app) as ctx:
        assert hours_service.record_hours(ctx, hours_helpers.record(world)).status == "2"


@pytest.mark.parametrize("status", ["3", "4", "5"])
def test_an_inactive_team_issues_no_certificates(store_app, status):
    """Suspended (3), withdrawn (4, through POST /teams/{no}/withdraw) or locked (5): the
    issue is 409 team.not_active at /team_no and no certificate is written; active again, the
    same request issues one."""
    world = certificate_helpers.seed(store_app)
    client = store_app.test_client()
    issuer = make_caller(store_app, "chaoyang", region="11", perms=certificate_helpers.ISSUE_PERMS)
    body = certificate_helpers.issue_body(world)
    if status == "4":
        manager = make_caller(store_app, "bj", region="11", perms=ALL_PERMS)
        answer = client.post(f"{URL}/{world.team_a}/withdraw", json={}, headers=manager)
        assert answer.status_code == 200 and answer.get_json()["status"] == "4"
    else:
        _set_team_status(store_app, world.team_a, status)
    answer = client.post("/api/v1/certificates", json=body, headers=issuer)
    assert answer.status_code == 409, answer.get_json()
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert _rules(answer) == [("/team_no", "team.not_active")]
    assert answer.get_json()["team_status"] == status
    with store.session_scope(store_app) as session:
        assert session.execute(select(func.count()).select_from(Certificate)).scalar_one() == 0
    _set_team_status(store_app, world.team_a, "1")
    answer = client.post("/api/v1/certificates", json=body, headers=issuer)
    assert answer.status_code == 201, answer.get_json()


def _set_team_status(app, team_no, status):
    with store.session_scope(app) as session:
        session.execute(select(Team).where(Team.team_no == team_no)).scalar_one().status = status


def test_the_database_refuses_a_concurrent_duplicate_uscc(store_app):
    """Two writers both pass the look-up (nothing there yet); the unique index stops the second."""
    engine = store_app.extensions["store.engine"]
    code = uscc(5)

    def row(n):
        return Team(team_no=f"T11010599000{n}", name=f"并发队{n}", team_type="2", uscc=code,
                    status="2", data={}, province="11", city="1101", county="110105")

    with Session(engine) as one, Session(engine) as two:
        for s in (one, two):
            assert s.execute(select(Team).where(Team.uscc == code)).first() is None
        one.add(row(1))
        one.commit()
        two.add(row(2))
        with pytest.raises(IntegrityError):
            two.commit()
    with Session(engine) as s:
        s.add_all([Team(team_no=f"T11010599010{n}", name=f"无码队{n}", team_type="1", uscc=None,
                        status="2", data={}, province="11", city="1101", county="110105")
                   for n in (1, 2)])
        s.commit()  # teams without a code are not constrained


RULES = ("team.duplicate_uscc", "team.parent_exists", "team.join_password_required",
         "project.post_no_unique", "project.recruit_password", "enrollment.duplicate",
         "enrollment.post_full")


@pytest.mark.parametrize("rule", RULES)
def test_each_business_rule_is_raised_in_one_module(rule):
    sources = [p for d in ("gateway", "adapters", "sync_jobs") for p in (ROOT / d).rglob("*.py")]
    raising = [p.relative_to(ROOT).as_posix() for p in sources
               if re.search(rf"[\"']{re.escape(rule)}[\"']", p.read_text(encoding="utf-8"))]
    assert len(raising) == 1, raising
    assert raising[0].startswith("gateway/services/"), raising
