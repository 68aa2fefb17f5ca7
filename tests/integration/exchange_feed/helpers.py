"""Records made through the services' HTTP API, and ways to read the change feed.

Everything goes through the real endpoints (registration, teams and review, projects, hours,
certificates), so the changes the feed shows are the ones the services record. Beijing is
朝阳区 110105, Guangdong 天河区 440106.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text

from gateway import store
from gateway.exchange.feed import Cursor, pg_horizon
from gateway.store.models import Change
from tests import factories

BJ, GD = "110105", "440106"
FEED = "/api/v1/exchange/changes"
_seq = itertools.count(101)


def expect(answer, status: int = 201) -> dict[str, Any]:
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True))
    return answer.get_json()


def citizen_id(area: str) -> tuple[str, str]:
    """A checksum-valid citizen ID born 1980-01-01 in ``area`` and the gender it encodes."""
    seq = next(_seq) % 1000
    return factories.citizen_id(seq, area=area), "1" if seq % 2 else "2"


def volunteer_record(area: str = BJ, **overrides: Any) -> dict[str, Any]:
    id_number, gender = citizen_id(area)
    return factories.volunteer(**{
        "volunteer_no": factories.OMIT, "source_id": factories.OMIT, "id_number": id_number,
        "gender": gender, "birth_date": "1980-01-01", "mobile": factories.mobile(),
        "residence_area": area, "service_area": area, "registration_area": area, **overrides})


def register_volunteer(http, headers, area: str = BJ, **overrides: Any) -> str:
    answer = http.post("/api/v1/volunteers", json=volunteer_record(area, **overrides), headers=headers)
    return expect(answer)["volunteer_no"]


def register_team(http, headers, area: str = BJ, approve: bool = True) -> str:
    """An unregistered community team (type 1, approved by a sub-district office)."""
    record = factories.team(team_no=factories.OMIT, team_type="1", unit_type=factories.OMIT,
                            uscc=factories.OMIT, registration_dept=factories.OMIT,
                            registration_authority=factories.OMIT, area=area,
                            approving_unit={"name": "街道办事处", "contact": "李明",
                                            "phone": "010-65001234"},
                            source_id=f"team-{next(_seq)}")
    team_no = expect(http.post("/api/v1/teams", json=record, headers=headers))["team_no"]
    if approve:
        expect(http.post(f"/api/v1/teams/{team_no}/review", json={"decision": "approve"},
                      headers=headers), 200)
    return team_no


def publish_project(http, headers, team_no: str, area: str = BJ) -> str:
    """A backfill project (recruit_scope 5: hours recorded without enrolments), April–June 2024."""
    record = factories.project(project_no=factories.OMIT, team_no=team_no, area=area,
                               recruit_scope="5", source_id=f"proj-{next(_seq)}",
                               posts=[{"name": "助老陪伴", "headcount": 10}])
    return expect(http.post("/api/v1/projects", json=record, headers=headers))["project_no"]


def record_hours(http, headers, volunteer_no: str, project_no: str, day: int = 1) -> str:
    record = factories.service_record(record_no=factories.OMIT, team_no=factories.OMIT,
                                      volunteer_no=volunteer_no, project_no=project_no,
                                      started_at=f"2024-05-{day:02d}T09:00:00",
                                      ended_at=f"2024-05-{day:02d}T12:30:00",
                                      recorded_at=f"2024-05-{day:02d}")
    return expect(http.post("/api/v1/service-records", json=record, headers=headers))["record_no"]


def delete_hours(http, headers, record_no: str) -> None:
    expect(http.delete(f"/api/v1/service-records/{record_no}", json={"reason": "录入错误"},
                    headers=headers), 200)


def issue_certificate(http, headers, volunteer_no: str, team_no: str) -> str:
    body = {"volunteer_no": volunteer_no, "team_no": team_no, "period_from": "2024-05-01",
            "period_to": "2024-05-31", "responsible_person": "刘强", "handler": "张伟",
            "contact": "010-65001234"}
    return expect(http.post("/api/v1/certificates", json=body, headers=headers))["certificate_no"]


@dataclass
class World:
    """One of everything in one county: volunteer, team, project, hours, certificate."""

    volunteer_no: str
    team_no: str
    project_no: str
    record_no: str
    certificate_no: str


def build_world(http, headers, area: str = BJ) -> World:
    volunteer_no = register_volunteer(http, headers, area)
    team_no = register_team(http, headers, area)
    project_no = publish_project(http, headers, team_no, area)
    record_no = record_hours(http, headers, volunteer_no, project_no)
    certificate_no = issue_certificate(http, headers, volunteer_no, team_no)
    return World(volunteer_no, team_no, project_no, record_no, certificate_no)


# -- reading the feed ----------------------------------------------------------------------------

def settle(app, timeout: float = 60.0) -> None:
    """PostgreSQL: wait until every committed change is below the feed's horizon.

    The feed shows a change once every transaction of the database older than it has ended
    (gateway.exchange.feed.pg_horizon), so right after a request answered, a transaction it
    left to its teardown may hold a change back for a moment. Tests that read right after
    writing wait here.
    """
    engine = app.extensions["store.engine"]
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while True:
            top = conn.execute(text("SELECT max(txid) FROM changes")).scalar()
            conn.rollback()
            horizon = pg_horizon(conn)
            conn.rollback()
            if top is None or horizon > top:
                return
            assert time.monotonic() < deadline, "the feed's horizon did not pass the changes"
            time.sleep(0.01)


def page(http, headers, since: str | None = None, **params: Any) -> dict[str, Any]:
    settle(http.application)
    query = {k: v for k, v in {"since": since, **params}.items() if v is not None}
    return expect(http.get(FEED, query_string=query, headers=headers), 200)


def drain(http, headers, since: str | None = None, limit: int = 500,
          **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every change from ``since`` on, page by page; and the last next_cursor."""
    changes: list[dict[str, Any]] = []
    while True:
        answer = page(http, headers, since, limit=limit, **params)
        changes.extend(answer["changes"])
        assert answer["next_cursor"]
        since = answer["next_cursor"]
        if not answer["has_more"]:
            return changes, since


def change_id(entry: dict[str, Any]) -> int:
    """The change row behind a feed entry (the tests may look inside the opaque cursor)."""
    return Cursor.decode(entry["cursor"]).id


def table_ids(app, *, entities: tuple[str, ...] | None = None) -> list[int]:
    with store.session_scope(app) as session:
        stmt = select(Change.id).order_by(Change.id)
        if entities:
            stmt = stmt.where(Change.entity.in_(entities))
        return list(session.execute(stmt).scalars())
