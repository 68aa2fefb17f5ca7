"""Test data for statistics, written straight through the store's models.

Registration and hours are built alongside; these helpers insert base rows directly and keep
the aggregates in step the way those services must: ``count_volunteer`` / ``count_hours`` in
the same transaction as the change.

:func:`seed` builds one small world. Volunteers (service-area county):

* 广东 44: 天河区 440106 (广州 4401) ×3, 南山区 440305 (深圳 4403) ×2, 东莞 441900 ×1
  — plus one removed again (counted +1 then -1);
* 北京 11: 朝阳区 110105 ×2, 东城区 110101 ×1.

Their ages in the reference year (this year in Asia/Shanghai): see ``AGES``; one Beijing
volunteer has no birth date and one has no registration date (counted in its creation month).

Teams: 44 — T1 天河 approved, T2 南山 pending, T3 registered at city level 440100 (county
unknown) approved; 11 — T4 朝阳 approved. Projects: P1 (T1, 天河, 0001 社区服务, status 3),
P2 (T2, 南山, 0013 应急救援, status 4), P3 (T4, 朝阳, 0001, status 3). Effective hours:
P1 3.50 h on 2024-05-01 and 2.00 h on 2024-06-02, P2 4.00 h on 2024-05-10, P3 1.50 h on
2024-05-01; P1 also has a pending record (5 h) and one that was effective and then deleted
(counted +1 then -1), neither of which counts.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from gateway import store
from gateway.services.aggregates import count_hours, count_volunteer
from gateway.store.models import Project, ServiceRecord, Team, Volunteer

TZ = ZoneInfo("Asia/Shanghai")
READ = {"statistics": ["read"]}
_serial = count(1)


def this_year() -> int:
    return datetime.now(TZ).year


def _regions(app):
    return app.extensions["standard.engine"].regions


def add_volunteer(session, app, area: str, *, age: int | None = 30, gender: str = "1",
                  registered_at: date | None = date(2024, 3, 15)) -> Volunteer:
    """A volunteer aged ``age`` in this year (born on 1 July of this year - age), counted."""
    n = next(_serial)
    volunteer = Volunteer(
        volunteer_no=f"VSTAT{n:08d}", name=f"志愿者{n}", id_type="01", id_index=f"stat-id-{n}",
        id_number_enc="-", id_number_masked="-", mobile_index=f"stat-mobile-{n}", mobile_enc="-",
        mobile_masked="-", gender=gender,
        birth_date=date(this_year() - age, 7, 1) if age is not None else None,
        registered_at=registered_at, real_name_status="1", data={}, provenance={})
    volunteer.set_area(area, _regions(app))
    session.add(volunteer)
    session.flush()
    count_volunteer(session, volunteer, +1)
    return volunteer


def remove_volunteer(session, volunteer: Volunteer) -> None:
    count_volunteer(session, volunteer, -1)
    session.delete(volunteer)
    session.flush()


def add_team(session, app, team_no: str, area: str, status: str = "1") -> Team:
    team = Team(team_no=team_no, name=f"团队{team_no}", team_type="2", status=status, data={})
    team.set_area(area, _regions(app))
    session.add(team)
    session.flush()
    return team


def add_project(session, app, project_no: str, team: Team, area: str, category: str = "0001",
                status: str = "3") -> Project:
    project = Project(project_no=project_no, team_id=team.id, name=f"项目{project_no}",
                      starts_on=date(2024, 1, 1), ends_on=date(2024, 12, 31),
                      service_category=category, status=status, recruit_scope="1", data={})
    project.set_area(area, _regions(app))
    session.add(project)
    session.flush()
    return project


def add_record(session, volunteer: Volunteer, project: Project, day: date, hours: str,
               status: str = "2", start_hour: int = 9) -> ServiceRecord:
    """A service record; an effective one (status 2) is counted into stat_hours."""
    started = datetime.combine(day, time(start_hour), TZ)
    amount = Decimal(hours)
    record = ServiceRecord(
        record_no=f"RSTAT{next(_serial):08d}", volunteer_id=volunteer.id, project_id=project.id,
        team_id=project.team_id, started_at=started, ended_at=started + timedelta(hours=float(amount)),
        local_date=day, hours=amount, source="1", status=status, kind="1")
    session.add(record)
    session.flush()
    if status == "2":
        count_hours(session, record, project, +1)
    return record


def void_record(session, record: ServiceRecord, project: Project) -> None:
    """An effective record leaves the effective status (deleted): uncounted."""
    record.status = "3"
    count_hours(session, record, project, -1)
    session.flush()


# Ages in the reference year of the volunteers seeded in Guangdong, by county.
AGES = {"440106": (18, 17, 60), "440305": (7, 28), "441900": (45,)}


def seed(app) -> None:
    """The world described in the module docstring."""
    with store.session_scope(app) as s:
        guangdong = []
        for area, ages in AGES.items():
            for i, age in enumerate(ages):
                guangdong.append(add_volunteer(s, app, area, age=age, gender="1" if i % 2 == 0 else "2",
                                               registered_at=date(2024, 3 + i, 10)))
        gone = add_volunteer(s, app, "440106", age=40)
        remove_volunteer(s, gone)
        beijing = [add_volunteer(s, app, "110105", age=35, gender="2", registered_at=date(2024, 5, 1)),
                   add_volunteer(s, app, "110105", age=None, gender="1", registered_at=date(2024, 5, 2)),
                   add_volunteer(s, app, "110101", age=50, gender="2", registered_at=None)]

        t1 = add_team(s, app, "T440106000001", "440106", "1")
        t2 = add_team(s, app, "T440305000001", "440305", "2")
        add_team(s, app, "T440100000001", "440100", "1")
        t4 = add_team(s, app, "T110105000001", "110105", "1")
        p1 = add_project(s, app, "P1", t1, "440106", "0001", "3")
        p2 = add_project(s, app, "P2", t2, "440305", "0013", "4")
        p3 = add_project(s, app, "P3", t4, "110105", "0001", "3")

        add_record(s, guangdong[0], p1, date(2024, 5, 1), "3.50")
        add_record(s, guangdong[0], p1, date(2024, 6, 2), "2.00")
        add_record(s, guangdong[3], p2, date(2024, 5, 10), "4.00")
        add_record(s, beijing[0], p3, date(2024, 5, 1), "1.50")
        add_record(s, guangdong[1], p1, date(2024, 5, 3), "5.00", status="1")
        voided = add_record(s, guangdong[1], p1, date(2024, 5, 4), "2.50", start_hour=14)
        void_record(s, voided, p1)
