"""Test data for activities and recruitment: teams, volunteers and memberships made directly
through the models (the registration service has its own tests; these rows look like the ones
it writes: personal data encrypted through the app's vault, approved teams in status "1"),
and projects published through the API under test.

Everything is in 北京市朝阳区 (110105) unless told otherwise.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timezone

from sqlalchemy import select
from stdnum.iso7064 import mod_37_36

from gateway import store
from gateway.privacy import mask_id_number, mask_mobile
from gateway.store.models import Team, TeamMember, Volunteer
from tests import factories

AREA = "110105"
PROJECTS = "/api/v1/projects"
# What a team's own client and a volunteer-facing app may do here.
TEAM_PERMS = {"project": ["read", "write"], "enrollment": ["read", "write"]}
APP_PERMS = {"project": ["read"], "enrollment": ["read", "write"]}
_seq = itertools.count(1)


def _vault(app):
    return app.extensions["privacy.vault"]


def volunteer_no(area: str = AREA) -> str:
    while True:  # the MOD 37-36 check character may be '*', which the wire pattern refuses
        body = f"V{area}2404{next(_seq):06d}"
        check = mod_37_36.calc_check_digit(body[1:])
        if check != "*":
            return body + check


def citizen_id(area: str = AREA) -> str:
    return factories.citizen_id(area=area)


def make_team(app, team_no: str | None = None, *, area: str = AREA, status: str = "1",
              name: str = "测试志愿服务队") -> str:
    """An approved (status "1") team in ``area``; returns its number."""
    team_no = team_no or f"T{area}{next(_seq):06d}"
    with store.session_scope(app) as session:
        team = Team(team_no=team_no, name=name, team_type="2", unit_type="14", status=status,
                    join_policy="1", contact_name="张伟", data={})
        team.set_area(area, app.extensions["standard.engine"].regions)
        session.add(team)
    return team_no


def make_volunteer(app, *, area: str = AREA, name: str = "王淑兰") -> str:
    """A registered volunteer serving in ``area``, PII encrypted like registration does."""
    vault = _vault(app)
    number = volunteer_no(area)
    id_number, mobile = citizen_id(area), factories.mobile()
    with store.session_scope(app) as session:
        volunteer = Volunteer(
            volunteer_no=number, name=name, id_type="01",
            id_index=vault.blind_index("id:01", id_number), id_number_enc=vault.encrypt(id_number),
            id_number_masked=mask_id_number(id_number), mobile_index=vault.blind_index("mobile", mobile),
            mobile_enc=vault.encrypt(mobile), mobile_masked=mask_mobile(mobile), gender="1",
            birth_date=date(1980, 1, 1), registered_at=date(2024, 3, 15), real_name_status="1",
            data={})
        volunteer.set_area(area, app.extensions["standard.engine"].regions)
        session.add(volunteer)
    return number


def make_member(app, team_no: str, volunteer_no_: str) -> None:
    """The volunteer joins the team (membership status "1", not left)."""
    with store.session_scope(app) as session:
        team_id = session.execute(select(Team.id).where(Team.team_no == team_no)).scalar_one()
        vol_id = session.execute(select(Volunteer.id).where(Volunteer.volunteer_no == volunteer_no_)
                                 ).scalar_one()
        now = datetime.now(timezone.utc)
        session.add(TeamMember(team_id=team_id, volunteer_id=vol_id, status="1", applied_at=now,
                               decided_at=now))


def project_record(team_no: str = factories.TEAM_NO, *, headcount: int = 10, **overrides) -> dict:
    """factories.project() for ``team_no`` with one post of ``headcount`` places, numbered
    "1" by the store (the factory's own post number is dropped)."""
    record = factories.project(team_no=team_no, **overrides)
    if "posts" not in overrides and record.get("posts"):
        record["posts"][0]["headcount"] = headcount
        record["posts"][0].pop("post_no", None)
    return record


def publish(client, headers, record: dict | None = None, **overrides) -> dict:
    """Publish through the API; returns the project view (asserts 201)."""
    answer = client.post(PROJECTS, json=record if record is not None else project_record(**overrides),
                         headers=headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def enrol_url(project: dict, post_no: str | None = None) -> str:
    post_no = post_no or project["posts"][0]["post_no"]
    return f"{PROJECTS}/{project['project_no']}/posts/{post_no}/enrollments"


def problem(answer, status: int, slug: str | None = None) -> dict:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    if slug:
        assert body["type"] == f"/problems/{slug}"
    return body


def rules(body: dict) -> set[tuple[str, str]]:
    return {(e["pointer"], e["rule"]) for e in body.get("errors", [])}
