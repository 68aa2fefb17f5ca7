"""A dissolved team's records pass to a successor unit named by its management department,
with the history kept: the dissolved team acts no more (team.not_active names the successor),
the successor certifies what it recorded, the records and their history stay as they were.
REST API, SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway import store
from gateway.store.models import Change, ServiceRecord, Team
from tests.conftest import make_caller
from tests.integration.certificates.helpers import ISSUE_PERMS, add_team, issue_body, seed

DEPARTMENT = {"team": ["read", "review"]}
SUCCESSOR = "T110105000777"


def _world(app):
    world = seed(app)
    with store.session_scope(app) as session:
        add_team(session, app, SUCCESSOR, "北京市朝阳区志愿服务联合会", "110105")
        add_team(session, app, "T110105000778", "朝阳区某待审队伍", "110105", status="2")
    return world


def _dissolve(client, headers, team_no, successor, note="上级部门决定撤销"):
    return client.post(f"/api/v1/teams/{team_no}/dissolve",
                       json={"successor_team_no": successor, "note": note}, headers=headers)


def _rules(answer):
    assert answer.mimetype == "application/problem+json", answer.get_data(as_text=True)
    return [(e["pointer"], e["rule"]) for e in answer.get_json()["errors"]]


def test_the_successor_certifies_the_dissolved_teams_records(store_app):
    world = _world(store_app)
    client = store_app.test_client()
    department = make_caller(store_app, "chaoyang-mca", region="110105", perms=DEPARTMENT)
    answer = _dissolve(client, department, world.team_a, SUCCESSOR)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["successor_team_no"] == SUCCESSOR and answer.get_json()["dissolved_at"]

    issuer = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    # the dissolved team issues no more, and the problem says who took over
    refused = client.post("/api/v1/certificates", json=issue_body(world), headers=issuer)
    assert refused.status_code == 409 and _rules(refused) == [("/team_no", "team.not_active")]
    assert refused.get_json()["successor_team_no"] == SUCCESSOR
    # the successor certifies the 8.50 h team A recorded; the lines still name team A
    issued = client.post("/api/v1/certificates", json=issue_body(world, team_no=SUCCESSOR),
                         headers=issuer)
    assert issued.status_code == 201, issued.get_json()
    content = issued.get_json()["signed"]["content"]
    assert content["service"]["total_hours"] == "8.50"
    assert content["issuer"]["team_no"] == SUCCESSOR
    assert {item["team_name"] for item in content["service"]["items"]} == {
        "北京市朝阳区建外街道社区志愿服务中心"}
    # records untouched, history kept on both teams
    with store.session_scope(store_app) as session:
        team_a = session.execute(select(Team).where(Team.team_no == world.team_a)).scalar_one()
        assert session.execute(select(func.count()).select_from(ServiceRecord).where(
            ServiceRecord.team_id == team_a.id)).scalar_one() == 5
        actions = {(c.entity_no, c.action) for c in session.execute(
            select(Change).where(Change.entity == "team")).scalars()}
    assert {(world.team_a, "dissolve"), (SUCCESSOR, "succeed")} <= actions


def test_what_a_dissolution_needs(store_app):
    world = _world(store_app)
    client = store_app.test_client()
    department = make_caller(store_app, "chaoyang-mca", region="110105", perms=DEPARTMENT)
    for successor, rule in (("T999999000001", "team.successor_unknown"),
                            (world.team_b, "team.successor_unknown"),        # another region
                            (world.team_a, "team.successor_self"),
                            ("T110105000778", "team.successor_not_active")):  # under review
        answer = _dissolve(client, department, world.team_a, successor)
        assert answer.status_code == 422, (successor, answer.get_json())
        assert _rules(answer) == [("/successor_team_no", rule)]
    writer = make_caller(store_app, "team-client", region="11", perms={"team": ["read", "write"]})
    assert _dissolve(client, writer, world.team_a, SUCCESSOR).status_code == 403
    with store.session_scope(store_app) as session:
        assert session.execute(select(Team.dissolved_at).where(
            Team.team_no == world.team_a)).scalar_one() is None
    assert _dissolve(client, department, world.team_a, SUCCESSOR).status_code == 200
    again = _dissolve(client, department, world.team_a, SUCCESSOR)
    assert again.status_code == 409 and _rules(again) == [("/successor_team_no", "team.dissolved")]
    # a dissolved team cannot be a successor
    other = _dissolve(client, department, SUCCESSOR, world.team_a)
    assert other.status_code == 422 and _rules(other) == [
        ("/successor_team_no", "team.successor_not_active")]
