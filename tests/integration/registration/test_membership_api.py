"""Team membership (apply, approve, reject, leave) for each join policy, on both stores."""

from __future__ import annotations

from sqlalchemy import select

from gateway import store
from gateway.services.registration import is_member
from gateway.store.models import Change, Team, Volunteer
from tests.integration.registration.helpers import (ALL_PERMS, TIANHE, make_caller, person,
                                                    register, team_record)


class World:
    """Approved teams with each join policy, volunteers and the callers acting on them."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.admin = make_caller(app, "admin", perms=ALL_PERMS)
        self.volunteer_system = make_caller(app, "bj-volunteers", region="11",
                                            perms={"volunteer": ["read", "write"]})
        self.teams: dict[str, str] = {}
        for policy in ("1", "2", "3", "4"):
            body = team_record(int(policy), join_policy=policy)
            if policy == "4":
                body["join_password"] = "open-sesame"
            answer = self.client.post("/api/v1/teams", json=body, headers=self.admin)
            assert answer.status_code == 201, answer.get_json()
            team_no = answer.get_json()["team_no"]
            review = self.client.post(f"/api/v1/teams/{team_no}/review", json={"decision": "approve"},
                                      headers=self.admin)
            assert review.status_code == 200
            self.teams[policy] = team_no
        self.team_system = make_caller(app, "team-1", region="11", perms={"team": ["read", "write"]},
                                       teams=[self.teams["1"]])
        self.volunteers = [register(self.client, self.volunteer_system, person(n))["volunteer_no"]
                           for n in (1, 2, 3)]

    def apply(self, policy, volunteer_no, headers=None, **extra):
        return self.client.post(f"/api/v1/teams/{self.teams[policy]}/members",
                                json={"volunteer_no": volunteer_no, **extra},
                                headers=headers or self.volunteer_system)

    def decide(self, policy, volunteer_no, decision, headers=None):
        return self.client.post(f"/api/v1/teams/{self.teams[policy]}/members/{volunteer_no}/{decision}",
                                json={}, headers=headers or self.team_system)

    def leave(self, policy, volunteer_no, headers=None):
        return self.client.delete(f"/api/v1/teams/{self.teams[policy]}/members/{volunteer_no}",
                                  headers=headers or self.volunteer_system)

    def members(self, policy, **query):
        answer = self.client.get(f"/api/v1/teams/{self.teams[policy]}/members", query_string=query,
                                 headers=self.admin)
        assert answer.status_code == 200, answer.get_json()
        return [(m["volunteer_no"], m["status"], m["current_member"]) for m in answer.get_json()["items"]]

    def is_member(self, policy, volunteer_no) -> bool:
        with store.session_scope(self.app) as session:
            team_id = session.execute(select(Team.id).where(Team.team_no == self.teams[policy])).scalar_one()
            volunteer_id = session.execute(select(Volunteer.id).where(
                Volunteer.volunteer_no == volunteer_no)).scalar_one()
            return is_member(session, team_id, volunteer_id)


def test_policy_1_the_team_reviews_applications(store_app):
    w = World(store_app)
    v1, v2, _ = w.volunteers
    answer = w.apply("1", v1)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["status"], body["current_member"], body["decided_at"]) == ("2", False, None)
    assert answer.headers["Location"].endswith(f"/members/{v1}")
    assert not w.is_member("1", v1)
    assert w.apply("1", v1).status_code == 409  # already applying

    answer = w.decide("1", v1, "approve")
    assert answer.status_code == 200 and answer.get_json()["status"] == "1"
    assert w.is_member("1", v1)
    assert w.decide("1", v1, "approve").status_code == 409  # only from status 2
    assert w.apply("1", v1).status_code == 409  # already a member

    assert w.apply("1", v2).status_code == 201
    answer = w.decide("1", v2, "reject")
    assert answer.get_json()["status"] == "3" and not w.is_member("1", v2)
    assert w.decide("1", v2, "reject").status_code == 409
    # A rejected volunteer may apply again.
    assert w.apply("1", v2).get_json()["status"] == "2"

    assert w.members("1") == [(v1, "1", True), (v2, "2", False)]
    assert w.members("1", status="2") == [(v2, "2", False)]
    with store.session_scope(store_app) as session:
        actions = session.execute(select(Change.action).where(Change.entity == "team_member",
                                                              Change.entity_no == f"{w.teams['1']}/{v2}")
                                  .order_by(Change.id)).scalars().all()
        assert actions == ["apply", "reject", "apply"]


def test_policy_2_joins_at_once_and_leaving_ends_the_membership(store_app):
    w = World(store_app)
    v1 = w.volunteers[0]
    answer = w.apply("2", v1)
    assert answer.status_code == 201 and answer.get_json()["status"] == "1"
    assert answer.get_json()["current_member"] is True and w.is_member("2", v1)
    assert w.apply("2", v1).status_code == 409

    answer = w.leave("2", v1)
    assert answer.status_code == 200
    assert answer.get_json()["left_at"] and answer.get_json()["current_member"] is False
    assert not w.is_member("2", v1)
    assert w.leave("2", v1).status_code == 404
    assert w.members("2", current="false") == [(v1, "1", False)]
    assert w.members("2", current="true") == []
    # Joining again re-opens the same membership.
    assert w.apply("2", v1).status_code == 201 and w.is_member("2", v1)


def test_policy_3_takes_nobody(store_app):
    w = World(store_app)
    answer = w.apply("3", w.volunteers[0])
    assert answer.status_code == 409 and answer.get_json()["join_policy"] == "3"
    assert w.members("3") == []


def test_policy_4_needs_the_join_password(store_app):
    w = World(store_app)
    v1 = w.volunteers[0]
    for extra in ({}, {"password": "wrong"}):
        answer = w.apply("4", v1, **extra)
        assert answer.status_code == 422
        assert [(e["pointer"], e["rule"]) for e in answer.get_json()["errors"]] == [
            ("/password", "team.join_password")]
    assert w.members("4") == []
    answer = w.apply("4", v1, password="open-sesame")
    assert answer.status_code == 201 and answer.get_json()["status"] == "1"
    assert w.is_member("4", v1)


def test_only_approved_teams_take_members(store_app):
    w = World(store_app)
    pending = w.client.post("/api/v1/teams", json=team_record(9, join_policy="2"), headers=w.admin)
    team_no = pending.get_json()["team_no"]
    answer = w.client.post(f"/api/v1/teams/{team_no}/members", json={"volunteer_no": w.volunteers[0]},
                           headers=w.volunteer_system)
    assert answer.status_code == 409 and answer.get_json()["team_status"] == "2"
    w.client.post(f"/api/v1/teams/{w.teams['2']}/review", json={"decision": "suspend"}, headers=w.admin)
    assert w.apply("2", w.volunteers[0]).status_code == 409


def test_who_may_act_on_memberships(store_app):
    w = World(store_app)
    v1, v2, v3 = w.volunteers
    # The team's own system may enrol a volunteer of any region into its team.
    answer = w.apply("1", v1, headers=w.team_system)
    assert answer.status_code == 201
    # ... but not into a team it does not hold.
    assert w.apply("2", v2, headers=w.team_system).status_code == 403
    # Another province's volunteer system cannot act for Beijing volunteers.
    guangdong = make_caller(store_app, "gd-volunteers", region="44", perms=ALL_PERMS)
    # Not 403: that would tell Guangdong these Beijing numbers exist (issue 11, finding 3).
    assert w.apply("2", v2, headers=guangdong).status_code == 404
    assert w.leave("1", v1, headers=guangdong).status_code == 404
    # Deciding is the team's: the volunteer system cannot approve itself in.
    assert w.decide("1", v1, "approve", headers=w.volunteer_system).status_code == 403
    other_team = make_caller(store_app, "team-2", region="11", perms={"team": ["read", "write"]},
                             teams=[w.teams["2"]])
    assert w.decide("1", v1, "approve", headers=other_team).status_code == 403
    assert w.decide("1", v1, "approve").status_code == 200
    # A Guangdong team takes a Beijing volunteer through the volunteer's own system.
    gd_team = w.client.post("/api/v1/teams", json=team_record(8, area=TIANHE, join_policy="2"),
                            headers=w.admin).get_json()["team_no"]
    w.client.post(f"/api/v1/teams/{gd_team}/review", json={"decision": "approve"}, headers=w.admin)
    answer = w.client.post(f"/api/v1/teams/{gd_team}/members", json={"volunteer_no": v3},
                           headers=w.volunteer_system)
    assert answer.status_code == 201 and answer.get_json()["status"] == "1"
    # The team leaves a member out.
    assert w.leave("1", v1, headers=w.team_system).status_code == 200
    # Unknown numbers.
    assert w.apply("1", "V0000000000000000X").status_code == 404
    assert w.client.post("/api/v1/teams/T404/members", json={"volunteer_no": v1},
                         headers=w.volunteer_system).status_code == 404
    assert w.client.post(f"/api/v1/teams/{w.teams['1']}/members", json={},
                         headers=w.volunteer_system).status_code == 422
    # Reading the member list needs team read in the team's region.
    assert w.client.get(f"/api/v1/teams/{w.teams['1']}/members", headers=guangdong).status_code == 404
    assert w.client.get(f"/api/v1/teams/{w.teams['1']}/members").status_code == 401
