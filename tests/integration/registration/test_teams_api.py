"""Team registration and review through /api/v1/teams, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from gateway import store
from gateway.store.models import Change, Team
from tests import factories
from tests.integration.registration.helpers import (ALL_PERMS, CHAOYANG, HAIDIAN, TIANHE, count,
                                                    make_caller, team_record, uscc)

URL = "/api/v1/teams"


def _register(client, headers, record, status=201):
    answer = client.post(URL, json=record, headers=headers)
    assert answer.status_code == status, answer.get_json()
    return answer.get_json()


def _review(client, headers, team_no, decision, note=None):
    body = {"decision": decision} if note is None else {"decision": decision, "note": note}
    return client.post(f"{URL}/{team_no}/review", json=body, headers=headers)


def test_a_new_team_waits_for_review_whatever_its_status_says(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "bj", region="11", perms={"team": ["read", "write"]})
    answer = client.post(URL, json=factories.team(status="1"), headers=headers)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "2"
    assert body["team_no"] == "T110105000001" and body["team_no"] != factories.TEAM_NO
    assert body["source_team_no"] == factories.TEAM_NO
    assert answer.headers["Location"] == f"{URL}/T110105000001"
    assert body["contact_mobile"] == "139****2222"
    assert "13911112222" not in answer.get_data(as_text=True)
    assert body["uscc"] == factories.TEAM_USCC and body["area"] == CHAOYANG
    assert body["review"] == {"reviewed_by": None, "reviewed_at": None, "note": None}
    assert client.get(answer.headers["Location"], headers=headers).get_json() == body
    full = make_caller(store_app, "bj-full", region="11", perms={"team": ["read"]}, pii="full")
    assert client.get(answer.headers["Location"], headers=full).get_json()["contact_mobile"] == "13911112222"
    with store.session_scope(store_app) as session:
        team = session.execute(select(Team)).scalar_one()
        assert team.contact_mobile_enc != "13911112222" and (team.province, team.county) == ("11", "110105")
        change = session.execute(select(Change)).scalar_one()
        assert change.action == "create" and change.changes["contact_mobile"]["new"] == "139****2222"
        assert change.changes["status"]["new"] == "2"


def test_a_second_team_with_the_same_uscc_is_refused(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "bj", region="11", perms=ALL_PERMS)
    first = _register(client, headers, factories.team())
    answer = client.post(URL, json=factories.team(name="另一个名字"), headers=headers)
    assert answer.status_code == 409
    problem = answer.get_json()
    assert problem["existing_team_no"] == first["team_no"]
    assert [(e["pointer"], e["rule"]) for e in problem["errors"]] == [("/uscc", "team.duplicate_uscc")]
    _register(client, headers, factories.team(uscc=uscc(77)))
    assert count(store_app, "teams") == 2


def test_the_parent_team_must_exist(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "bj", region="11", perms=ALL_PERMS)
    answer = client.post(URL, json=team_record(1, parent_team_no="T999"), headers=headers)
    assert answer.status_code == 422
    assert [(e["pointer"], e["rule"]) for e in answer.get_json()["errors"]] == [
        ("/parent_team_no", "team.parent_exists")]
    parent = _register(client, headers, team_record(2))
    child = _register(client, headers, team_record(3, parent_team_no=parent["team_no"], area=HAIDIAN))
    assert child["parent_team_no"] == parent["team_no"] and child["team_no"].startswith("T110108")


def test_join_policy_4_needs_a_password_kept_hashed(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "bj", region="11", perms=ALL_PERMS)
    answer = client.post(URL, json=team_record(1, join_policy="4"), headers=headers)
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0] == {**answer.get_json()["errors"][0],
                                              "pointer": "/join_password",
                                              "rule": "team.join_password_required"}
    answer = client.post(URL, json={**team_record(1, join_policy="4"), "join_password": "ab"}, headers=headers)
    assert answer.status_code == 422
    body = _register(client, headers, {**team_record(1, join_policy="4"), "join_password": "暗号1234"})
    assert body["has_join_password"] is True and "join_password" not in body
    with store.session_scope(store_app) as session:
        stored = session.execute(select(Team.join_password_hash)).scalar_one()
        assert stored.startswith("$argon2id$") and "暗号1234" not in stored and len(stored) <= 128


def test_an_invalid_team_is_refused_and_nothing_written(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "bj", region="11", perms=ALL_PERMS)
    answer = client.post(URL, json=factories.team(uscc="52110105MJ00123421", contact_mobile="1234"),
                         headers=headers)
    assert answer.status_code == 422
    found = {(e["pointer"], e["rule"]) for e in answer.get_json()["errors"]}
    assert {("/uscc", "uscc.checksum"), ("/contact_mobile", "schema.pattern")} <= found
    for table in ("teams", "changes", "number_sequences"):
        assert count(store_app, table) == 0


def test_review_workflow_by_the_management_department_of_the_region(store_app):
    client = store_app.test_client()
    registrar = make_caller(store_app, "registrar", region="110105", perms={"team": ["read", "write"]})
    reviewer = make_caller(store_app, "bj-civil-affairs", region="11", perms={"team": ["read", "review"]})
    outsider = make_caller(store_app, "gd-civil-affairs", region="44", perms={"team": ["read", "review"]})
    team_no = _register(client, registrar, team_record(1))["team_no"]
    other_no = _register(client, registrar, team_record(2))["team_no"]

    # The registrar cannot review; another province's department cannot either.
    assert _review(client, registrar, team_no, "approve").status_code == 403
    answer = _review(client, outsider, team_no, "approve")
    assert answer.status_code == 403 and answer.get_json()["type"] == "/problems/out-of-scope"
    assert _review(client, reviewer, "T404", "approve").status_code == 404

    answer = _review(client, reviewer, team_no, "approve", "材料齐全")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "1"
    assert body["review"]["reviewed_by"] == "bj-civil-affairs" and body["review"]["note"] == "材料齐全"
    assert body["review"]["reviewed_at"]
    # approved → approve / reject / reinstate are invalid; suspend → reinstate works.
    for decision in ("approve", "reject", "reinstate"):
        answer = _review(client, reviewer, team_no, decision)
        assert answer.status_code == 409, decision
        assert "invalid transition" in answer.get_json()["detail"]
    assert _review(client, reviewer, team_no, "suspend").get_json()["status"] == "3"
    assert _review(client, reviewer, team_no, "suspend").status_code == 409
    assert _review(client, reviewer, team_no, "reinstate").get_json()["status"] == "1"
    # pending → rejected, which is final.
    assert _review(client, reviewer, other_no, "reject", "材料不全").get_json()["status"] == "0"
    for decision in ("approve", "suspend", "reinstate", "reject"):
        assert _review(client, reviewer, other_no, decision).status_code == 409
    assert client.post(f"{URL}/{team_no}/review", json={"decision": "dissolve"},
                       headers=reviewer).status_code == 422

    with store.session_scope(store_app) as session:
        history = session.execute(select(Change.action, Change.changes, Change.actor)
                                  .where(Change.entity_no == team_no).order_by(Change.id)).all()
        assert [h.action for h in history] == ["create", "approve", "suspend", "reinstate"]
        assert history[1].changes == {"status": {"old": "2", "new": "1"}}
        assert history[1].actor == "bj-civil-affairs"


def test_team_list_filters_and_scope(store_app):
    client = store_app.test_client()
    national = make_caller(store_app, "national", perms=ALL_PERMS)
    a = _register(client, national, team_record(1, area=CHAOYANG, name="朝阳助老队"))["team_no"]
    _register(client, national, team_record(2, area=HAIDIAN, name="海淀环保队"))
    g = _register(client, national, team_record(3, area=TIANHE, name="天河助老队"))["team_no"]
    assert _review(client, national, a, "approve").status_code == 200

    def names(query, headers=national):
        answer = client.get(URL, query_string=query, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        return [t["name"] for t in answer.get_json()["items"]]

    assert names({}) == ["朝阳助老队", "海淀环保队", "天河助老队"]
    assert names({"region": "11"}) == ["朝阳助老队", "海淀环保队"]
    assert names({"region": "440106"}) == ["天河助老队"]
    assert names({"status": "1"}) == ["朝阳助老队"]
    assert names({"status": "2", "region": "1101"}) == ["海淀环保队"]
    assert names({"name": "助老"}) == ["朝阳助老队", "天河助老队"]
    assert names({"per_page": 1, "page": 3}) == ["天河助老队"]

    guangdong = make_caller(store_app, "gd", region="44", perms=ALL_PERMS)
    assert names({}, guangdong) == ["天河助老队"]
    assert client.get(f"{URL}/{a}", headers=guangdong).status_code == 404
    assert client.get(f"{URL}/{g}", headers=guangdong).status_code == 200
    answer = client.post(URL, json=team_record(4, area=CHAOYANG), headers=guangdong)
    assert answer.status_code == 403
    assert client.get(URL).status_code == 401
    assert client.post(URL, json=team_record(5)).status_code == 401
