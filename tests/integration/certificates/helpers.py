"""Test data for certificates, written straight through the store's models.

Registration and hours have their own services; until those land, these helpers create
volunteers, teams, projects and service records directly (personal data encrypted with the
app's vault, exactly as the store keeps it).

:func:`seed` builds one small world:

* team A ``T110105000001`` (北京市朝阳区) runs projects P1 and P2;
* team B ``T440106000001`` (广州市天河区) runs project P3;
* the volunteer 王淑兰 (ID ``factories.CITIZEN_ID``, service area 110105) has, in May–June
  2024: effective records by team A of 3.50 h + 3.00 h (P1) and 2.00 h (P2) = 8.50 h, a
  pending record by team A (5 h, never certified), an effective record by team B (4 h, only
  team B may certify it), and an effective record by team A in 2023 (outside the period).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from gateway import store
from gateway.privacy import mask_id_number, mask_mobile
from gateway.store.models import Project, ServiceRecord, Team, Volunteer
from tests import factories

TZ = ZoneInfo("Asia/Shanghai")
ISSUE_PERMS = {"certificate": ["read", "write"]}
READ_PERMS = {"certificate": ["read"]}
PERIOD = ("2024-05-01", "2024-06-30")


@dataclass(frozen=True)
class World:
    volunteer_no: str
    team_a: str
    team_b: str
    id_number: str
    name: str


def _regions(app):
    return app.extensions["standard.engine"].regions


def add_team(session, app, team_no: str, name: str, area: str, status: str = "1") -> Team:
    team = Team(team_no=team_no, name=name, team_type="2", status=status, data={})
    team.set_area(area, _regions(app))
    session.add(team)
    session.flush()
    return team


def add_volunteer(session, app, volunteer_no: str, name: str, id_number: str, mobile: str,
                  area: str) -> Volunteer:
    vault = app.extensions["privacy.vault"]
    volunteer = Volunteer(
        volunteer_no=volunteer_no, name=name, id_type="01",
        id_index=vault.blind_index("id:01", id_number), id_number_enc=vault.encrypt(id_number),
        id_number_masked=mask_id_number(id_number),
        mobile_index=vault.blind_index("mobile", mobile), mobile_enc=vault.encrypt(mobile),
        mobile_masked=mask_mobile(mobile), gender="2", birth_date=date(1949, 12, 31),
        registered_at=date(2024, 3, 15), real_name_status="1", data={}, provenance={})
    volunteer.set_area(area, _regions(app))
    session.add(volunteer)
    session.flush()
    return volunteer


def add_project(session, app, project_no: str, team: Team, name: str, area: str,
                starts_on: date = date(2023, 1, 1), ends_on: date = date(2024, 12, 31)) -> Project:
    project = Project(project_no=project_no, team_id=team.id, name=name, starts_on=starts_on,
                      ends_on=ends_on, service_category="0001", status="3", recruit_scope="1",
                      data={})
    project.set_area(area, _regions(app))
    session.add(project)
    session.flush()
    return project


_record_seq = iter(range(1, 10**9))


def add_record(session, volunteer: Volunteer, project: Project, team: Team, day: date,
               hours: str, *, status: str = "2", start_hour: int = 9) -> ServiceRecord:
    started = datetime(day.year, day.month, day.day, start_hour, tzinfo=TZ)
    amount = Decimal(hours)
    record = ServiceRecord(
        record_no=f"R{day:%Y%m%d}{next(_record_seq):06d}", volunteer_id=volunteer.id,
        project_id=project.id, team_id=team.id, started_at=started,
        ended_at=started + timedelta(hours=float(amount)), local_date=day, hours=amount,
        source="1", status=status, kind="1", recorded_at=day)
    session.add(record)
    session.flush()
    return record


def seed(app) -> World:
    """The world described in the module docstring."""
    with store.session_scope(app) as session:
        team_a = add_team(session, app, "T110105000001", "北京市朝阳区建外街道社区志愿服务中心",
                          "110105")
        team_b = add_team(session, app, "T440106000001", "广州市天河区青年志愿者协会", "440106")
        volunteer = add_volunteer(session, app, factories.VOLUNTEER_NO, "王淑兰",
                                  factories.CITIZEN_ID, "13800138000", "110105")
        p1 = add_project(session, app, "P110105202404001", team_a, "建外街道社区助老志愿服务",
                         "110105")
        p2 = add_project(session, app, "P110105202405002", team_a, "社区垃圾分类宣传", "110105")
        p3 = add_project(session, app, "P440106202405001", team_b, "天河区图书馆阅读推广",
                         "440106")
        add_record(session, volunteer, p1, team_a, date(2024, 5, 1), "3.5")
        add_record(session, volunteer, p1, team_a, date(2024, 5, 8), "3")
        add_record(session, volunteer, p2, team_a, date(2024, 6, 1), "2")
        add_record(session, volunteer, p1, team_a, date(2024, 6, 2), "5", status="1")
        add_record(session, volunteer, p3, team_b, date(2024, 5, 20), "4")
        add_record(session, volunteer, p1, team_a, date(2023, 12, 30), "6")
    return World(volunteer_no=factories.VOLUNTEER_NO, team_a="T110105000001",
                 team_b="T440106000001", id_number=factories.CITIZEN_ID, name="王淑兰")


def issue_body(world: World, **overrides) -> dict:
    """A good issue request: team A certifies May–June 2024."""
    body = {"volunteer_no": world.volunteer_no, "team_no": world.team_a,
            "period_from": PERIOD[0], "period_to": PERIOD[1],
            "responsible_person": "刘强", "handler": "张伟", "contact": "010-65001234",
            "notes": "本证明仅证明志愿服务记录。"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not factories.OMIT}
