"""Test data for the hours service: teams, projects, posts, volunteers and enrolments made
directly through the models (registration and activities have their own services; these
helpers only need rows that look like theirs), plus a service context for seeding.

Everything is in 北京市朝阳区 (110105) unless told otherwise; projects run 2024-04-01 to
2024-06-30 like tests.factories.project().
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterator

from sqlalchemy import func, select
from stdnum.iso7064 import mod_37_36

from gateway import store
from gateway.caller import Caller
from gateway.privacy import mask_id_number, mask_mobile, vault
from gateway.services import aggregates
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store.models import (Enrollment, HoursTotal, Post, Project, ServiceRecord, Team,
                                  Volunteer)
from tests import factories

AREA = "110105"
HOURS_PERMS = {"service_record": ["read", "write", "review"]}
_seq = itertools.count(1)


def _next() -> int:
    return next(_seq)


def volunteer_no(area: str = AREA) -> str:
    while True:  # the MOD 37-36 check character may be '*', which the wire pattern refuses
        body = f"V{area}2404{_next():06d}"
        check = mod_37_36.calc_check_digit(body[1:])
        if check != "*":
            return body + check


def citizen_id(area: str = AREA) -> str:
    return factories.citizen_id(area=area)


@dataclass
class World:
    """Numbers of one team, its project (with one post) and one volunteer admitted to it."""

    team_no: str
    project_no: str
    post_no: str
    volunteer_no: str
    area: str = AREA


def make_team(session, app, *, team_no: str | None = None, area: str = AREA) -> Team:
    team = Team(team_no=team_no or f"T{area}{_next():04d}", name="朝阳区社区志愿服务队",
                team_type="2", unit_type="14", status="1", data={})
    team.set_area(area, engine().regions)
    session.add(team)
    session.flush()
    return team


def make_project(session, app, team: Team, *, project_no: str | None = None,
                 starts_on: date = date(2024, 4, 1), ends_on: date = date(2024, 6, 30),
                 recruit_scope: str = "1", area: str | None = None,
                 service_category: str = "0001") -> Project:
    number = project_no or f"P{(area or team.area_code)}2024{_next():05d}"
    project = Project(project_no=number, team_id=team.id, name="社区助老志愿服务",
                      starts_on=starts_on, ends_on=ends_on, service_category=service_category,
                      status="3", recruit_scope=recruit_scope, data={})
    project.set_area(area or team.area_code, engine().regions)
    project.posts.append(Post(post_no=f"{number}-01", name="助老陪伴", headcount=10, admitted=0))
    session.add(project)
    session.flush()
    return project


def make_volunteer(session, app, *, number: str | None = None, area: str = AREA,
                   total_hours: Decimal = Decimal("0"), star_level: int = 0) -> Volunteer:
    pii = vault()
    id_number, mobile = citizen_id(area), factories.mobile()
    volunteer = Volunteer(
        volunteer_no=number or volunteer_no(area), name="王淑兰", id_type="01",
        id_index=pii.blind_index("id:01", id_number), id_number_enc=pii.encrypt(id_number),
        id_number_masked=mask_id_number(id_number), mobile_index=pii.blind_index("mobile", mobile),
        mobile_enc=pii.encrypt(mobile), mobile_masked=mask_mobile(mobile), gender="2",
        birth_date=date(1980, 1, 1), registered_at=date(2024, 3, 15), real_name_status="1",
        total_hours=total_hours, star_level=star_level, data={}, provenance={})
    volunteer.set_area(area, engine().regions)
    session.add(volunteer)
    session.flush()
    return volunteer


def enroll(session, volunteer: Volunteer, project: Project, status: str = "2") -> Enrollment:
    post = project.posts[0]
    enrollment = Enrollment(enrollment_no=f"E{_next():012d}", volunteer_id=volunteer.id,
                            project_id=project.id, post_id=post.id, status=status,
                            applied_at=datetime(2024, 3, 20, tzinfo=timezone.utc))
    if status in ("2", "3", "5", "6"):
        post.admitted += 1
    session.add(enrollment)
    session.flush()
    return enrollment


def seed(app, *, area: str = AREA, recruit_scope: str = "1", enrolled: bool = True,
         volunteer_area: str | None = None, existing_volunteer: str | None = None,
         **volunteer_kw: Any) -> World:
    """A team with a project and a volunteer (admitted unless ``enrolled`` is False); the
    volunteer is made here unless ``existing_volunteer`` names one already in the store."""
    with app.app_context(), store.session_scope(app) as session:
        team = make_team(session, app, area=area)
        project = make_project(session, app, team, recruit_scope=recruit_scope)
        if existing_volunteer:
            volunteer = session.execute(select(Volunteer).where(
                Volunteer.volunteer_no == existing_volunteer)).scalar_one()
        else:
            volunteer = make_volunteer(session, app, area=volunteer_area or area, **volunteer_kw)
        if enrolled:
            enroll(session, volunteer, project)
        return World(team.team_no, project.project_no, project.posts[0].post_no,
                     volunteer.volunteer_no, area)


def add_project(app, world: World, *, team_no: str | None = None, enroll_volunteer: bool = True,
                **kw: Any) -> str:
    """Another project of the world's team (or of ``team_no``), the volunteer admitted to it."""
    with app.app_context(), store.session_scope(app) as session:
        team = session.execute(select(Team).where(Team.team_no == (team_no or world.team_no))).scalar_one()
        project = make_project(session, app, team, **kw)
        if enroll_volunteer:
            volunteer = session.execute(select(Volunteer).where(
                Volunteer.volunteer_no == world.volunteer_no)).scalar_one()
            enroll(session, volunteer, project)
        return project.project_no


def add_volunteer(app, world: World, *, area: str | None = None, enrolled: bool = True) -> str:
    with app.app_context(), store.session_scope(app) as session:
        volunteer = make_volunteer(session, app, area=area or world.area)
        if enrolled:
            project = session.execute(select(Project).where(
                Project.project_no == world.project_no)).scalar_one()
            enroll(session, volunteer, project)
        return volunteer.volunteer_no


def record(world: World, day: str = "2024-05-01", start: str = "09:00", end: str = "12:30",
           hours: Any = None, **overrides: Any) -> dict[str, Any]:
    """A wire service_record for the world's volunteer and project; hours from the times."""
    started = f"{day}T{start}:00"
    ended = f"{day}T{end}:00" if end != "24:00" else \
        f"{(date.fromisoformat(day) + timedelta(days=1)).isoformat()}T00:00:00"
    if hours is None:
        seconds = (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
        hours = float((Decimal(seconds) / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP))
    base = dict(volunteer_no=world.volunteer_no, project_no=world.project_no, team_no=world.team_no,
                started_at=started, ended_at=ended, hours=hours, record_no=factories.OMIT,
                recorded_at=factories.OMIT, status=factories.OMIT)
    base.update(overrides)
    return factories.service_record(**base)


def application(world: World, **kw: Any) -> dict[str, Any]:
    """A volunteer's application (no source: the store sets 2 个人申请)."""
    return record(world, **{"source": factories.OMIT, **kw})


@contextmanager
def service_ctx(app, client_id: str = "seed", **caller_kw: Any) -> Iterator[ServiceContext]:
    """A service context outside any request (committed at the end), for seeding."""
    caller_kw.setdefault("permissions", {"*": frozenset({"read", "write", "review"})})
    with app.app_context(), store.session_scope(app) as session:
        yield ServiceContext(session=session, caller=Caller(client_id, **caller_kw), engine=engine(),
                             vault=vault(), config=app.config)


def open_checkin(app, world: World, project_no: str | None = None) -> str:
    """An open check-in (status 1 未签退) of the volunteer, as a check-in system would leave it."""
    with app.app_context(), store.session_scope(app) as session:
        volunteer = session.execute(select(Volunteer).where(
            Volunteer.volunteer_no == world.volunteer_no)).scalar_one()
        project = session.execute(select(Project).where(
            Project.project_no == (project_no or world.project_no))).scalar_one()
        started = datetime(2024, 5, 20, 1, 0, tzinfo=timezone.utc)
        row = ServiceRecord(record_no=f"CHK{_next():08d}", volunteer_id=volunteer.id,
                            project_id=project.id, team_id=project.team_id, started_at=started,
                            ended_at=started + timedelta(minutes=1), local_date=date(2024, 5, 20),
                            hours=Decimal("0.02"), source="4", status="1", kind="1",
                            source_system="checkin-app")
        session.add(row)
        return row.record_no


def stored(app, record_no: str) -> ServiceRecord:
    with store.session_scope(app) as session:
        return session.execute(select(ServiceRecord).where(ServiceRecord.record_no == record_no)).scalar_one()


def volunteer_row(app, number: str) -> Volunteer:
    with store.session_scope(app) as session:
        return session.execute(select(Volunteer).where(Volunteer.volunteer_no == number)).scalar_one()


def counts(app) -> dict[str, int]:
    """How many rows the write paths touch (to show that a refused write left nothing)."""
    from gateway.store.models import Change

    with store.session_scope(app) as session:
        aggregates.fold(session)
        return {"records": session.scalar(select(func.count()).select_from(ServiceRecord)),
                "changes": session.scalar(select(func.count()).select_from(Change)),
                "stat_rows": session.scalar(select(func.count()).select_from(HoursTotal).where(
                    HoursTotal.records != 0))}


def aggregates_match(app) -> tuple[dict, dict]:
    """stat_hours (non-empty cells) and the same figures summed from effective records."""
    with store.session_scope(app) as session:
        aggregates.fold(session)
        cells = session.execute(select(HoursTotal)).scalars()
        stats = {(r.county, r.month, r.service_category):
                 (Decimal(r.hours).quantize(Decimal("0.01")), r.records) for r in cells if r.records}
        rows = session.execute(
            select(Project.county, ServiceRecord.local_date, Project.service_category, ServiceRecord.hours)
            .join(Project, Project.id == ServiceRecord.project_id).where(ServiceRecord.status == "2")).all()
    expected: dict = {}
    for county, day, category, hours in rows:
        key = (county or "", day.strftime("%Y-%m"), category)
        total, n = expected.get(key, (Decimal("0.00"), 0))
        expected[key] = ((total + Decimal(hours)).quantize(Decimal("0.01")), n + 1)
    return stats, expected
