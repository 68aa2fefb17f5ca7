"""Federation identity: a record changed at a gateway it did not come from reaches its home,
and a ring of three gateways moves every record once round without a copy or an echo.

Real gateways on 127.0.0.1 (gateway A on ``store_app``: SQLite, then PostgreSQL; the others
on SQLite files of their own), real sync runs through the standard adapter, as
test_no_echo.py (whose fixtures and helpers these reuse). Each gateway has a GATEWAY_ID; the
feed and the pushes carry each record's ``home`` (docs/protocol.md, Federation identity).

* For each wiring of the no-echo table, an operator at B edits A's project, corrects A's
  service record and renames A's volunteer, and A's operator corrects B's service record:
  each change reaches the home record (no second copy, both sides equal); then B deletes
  A's other service record and volunteer and A voids B's project, and each home record is
  deleted. Idle rounds write nothing.
* A→B→C→A (push runs only): after several rounds of new local records each gateway holds
  every record once, an edit at C of A's project comes round to A and stops, idle rounds
  write nothing.

Without the mapping (``homes.addressed`` answering None and no link named by its home) the
edits arrive at the home as second copies or are refused, the deletes find nothing, and
the ring's records come back to their homes as copies: every test here fails.
"""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest
from sqlalchemy import select

from gateway import create_app, store
from gateway.caller import Caller
from gateway.privacy import vault
from gateway.services import activities, hours, registration
from gateway.services.context import ServiceContext
from gateway.standard import engine as standard_engine
from gateway.store.models import Project, ServiceRecord, Team, Volunteer
from tests.integration.adapters_standard.support import Remote, push_natives, sample_records
from tests.integration.adapters_standard import test_no_echo
from tests.integration.adapters_standard.test_no_echo import (
    FEDERATED, WIRINGS, Side, add_source, changes, dead_letters, federate_teams, holdings,
    local_people_and_hours, local_project, local_team, settle, sync_round)

gateways = test_no_echo.gateways  # the two gateways A and B (a fixture)


def identify(*sides: Side) -> None:
    for side in sides:
        side.app.config["GATEWAY_ID"] = f"gw-{side.name}-id"


def operate(side: Side, work):
    """``work(ctx)`` as an operator of the side's gateway (every permission), committed."""
    app = side.app
    with app.app_context(), store.session_scope(app) as session:
        ctx = ServiceContext(session=session, caller=Caller(
            f"operator-{side.name}", permissions={"*": frozenset({"read", "write", "review"})}),
            engine=standard_engine(), vault=vault(), config=app.config)
        return work(ctx)


def project_no(side: Side, index: int) -> str:
    """The side's number of the sample project ``index`` (its own or its copy)."""
    name = sample_records()["project"][index]["name"]
    with store.session_scope(side.app) as session:
        return session.execute(select(Project.project_no).where(Project.name == name)).scalar_one()


def record_of(side: Side, other: Side, n: int) -> ServiceRecord:
    """The side's effective copy (or own) of the ``n``-th service record ``other``'s local
    system pushed (found by its start, which only that record has)."""
    offset = 0 if other.name == "a" else 500 if other.name == "b" else 1000
    m = offset + n
    started = f"2024-05-{1 + m % 28:02d}T{9 + (m // 28) % 8:02d}:00:00+08:00"
    with store.session_scope(side.app) as session:
        rows = session.execute(select(ServiceRecord).where(ServiceRecord.status != hours.DELETED)
                               ).scalars().all()
        found = [r for r in rows if _local(side, r) == started]
        assert len(found) == 1, (side.name, started, [r.record_no for r in found])
        session.expunge(found[0])
        return found[0]


def _local(side: Side, row: ServiceRecord) -> str:
    from datetime import timezone
    from zoneinfo import ZoneInfo
    at = row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=timezone.utc)
    return at.astimezone(ZoneInfo("Asia/Shanghai")).isoformat()


def volunteer_of(side: Side, other: Side, n: int) -> tuple[str, str, bool]:
    """(number, name, deleted) of the volunteer of ``other``'s ``n``-th service record here."""
    record = record_of(side, other, n)
    with store.session_scope(side.app) as session:
        person = session.get(Volunteer, record.volunteer_id)
        return person.volunteer_no, person.name, person.deleted_at is not None


def project_state(side: Side, index: int) -> tuple[str, str]:
    with store.session_scope(side.app) as session:
        project = session.execute(select(Project).where(
            Project.project_no == project_no(side, index))).scalar_one()
        return project.status, project.description


def quiet(*sides: Side) -> None:
    """A round with nothing new writes nothing and records no change anywhere."""
    before = [changes(s.app) for s in sides]
    done = sync_round(*sides)
    assert [(r.source, r.direction, r.written) for r in done if r.written] == []
    assert [changes(s.app) for s in sides] == before


def correct(side: Side, record_no: str, minutes: int):
    def work(ctx):
        row = ctx.session.execute(select(ServiceRecord).where(
            ServiceRecord.record_no == record_no)).scalar_one()
        start = _local(side, row)
        return hours.correct_hours(ctx, record_no, {
            "started_at": start, "ended_at": start[:14] + f"{minutes:02d}" + start[16:],
            "hours": round(minutes / 60, 2), "reason": "时长登记有误"}).record_no
    return operate(side, work)


@pytest.mark.parametrize("wiring", WIRINGS)
def test_changes_at_the_other_gateway_reach_the_home_record(gateways, wiring):
    a, b = gateways
    identify(a, b)
    federate_teams(a, b, wiring)
    local_people_and_hours(a, 2, 0)
    local_people_and_hours(b, 2, 500)
    settle(a, b, 2)
    expected = holdings(a.app)
    assert holdings(b.app) == expected and expected["service records"] == 4

    # Edits at the gateway the record did not come from.
    a_project_at_b = project_no(b, 0)
    operate(b, lambda ctx: activities.update_project(ctx, a_project_at_b,
                                                     {"description": "B 修改的项目简介"}))
    correct(b, record_of(b, a, 0).record_no, 30)          # A's first record, at B
    a_person_at_b = volunteer_of(b, a, 1)[0]
    operate(b, lambda ctx: registration.update_volunteer(ctx, a_person_at_b, {"name": "改名者"}))
    correct(a, record_of(a, b, 0).record_no, 20)          # B's first record, at A
    settle(a, b)
    assert holdings(a.app) == expected, ("gateway A", dead_letters(a.app))
    assert holdings(b.app) == expected, ("gateway B", dead_letters(b.app))
    for side in (a, b):  # both sides equal, the home record changed in place
        assert project_state(side, 0) == ("3", "B 修改的项目简介"), side.name
        assert record_of(side, a, 0).hours == Decimal("0.50"), side.name
        assert record_of(side, b, 0).hours == Decimal("0.33"), side.name
        assert volunteer_of(side, a, 1)[1] == "改名者", side.name
    # A's project is still A's local system's: its next edit finds it (no copy there either).
    with store.session_scope(a.app) as session:
        home = session.execute(select(Project).where(Project.project_no == project_no(a, 0))).scalar_one()
        assert home.source_system == "city-a"
    quiet(a, b)

    # Deletes at the other gateway: B deletes A's second service record and A's first
    # volunteer (by B's numbers); A voids B's project.
    a_record_at_b = record_of(b, a, 1).record_no
    operate(b, lambda ctx: hours.delete_hours(ctx, a_record_at_b, "登记错误"))
    a_first_person_at_b = volunteer_of(b, a, 0)[0]
    b_console = b.remote.register("console-b")
    push_natives(b.remote, b_console, "volunteer", [
        {"entity": "volunteer", "op": "delete", "data": {"volunteer_no": a_first_person_at_b}}])
    a_console = a.remote.register("console-a")
    push_natives(a.remote, a_console, "project", [
        {"entity": "project", "op": "delete", "data": {"project_no": project_no(a, 2)}}])
    settle(a, b)
    expected["service records"] -= 1
    expected["distinct service records"] -= 1
    expected["volunteers"] -= 1
    expected["projects"] -= 1
    expected["distinct projects"] -= 1
    assert holdings(a.app) == expected, ("gateway A", dead_letters(a.app))
    assert holdings(b.app) == expected, ("gateway B", dead_letters(b.app))
    for side in (a, b):
        assert project_state(side, 2)[0] == activities.PROJECT_VOID, side.name
        with store.session_scope(side.app) as session:
            gone = session.execute(select(Volunteer).where(Volunteer.deleted_at.is_not(None))).scalars().all()
            assert len(gone) == 1, side.name
    quiet(a, b)


# -- a ring of three -----------------------------------------------------------------------------

@pytest.fixture
def ring(gateways, sqlite_template, tmp_path):
    a, b = gateways
    path = tmp_path / "c.sqlite3"
    shutil.copy(sqlite_template, path)
    c_app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}",
                        "KEYS_DIR": str(tmp_path / "c-keys"), "DEV_TOKENS": True,
                        "SYNC_RETRY_BACKOFF_SECONDS": 0, "SYNC_RETRY_MAX_BACKOFF_SECONDS": 0})
    c_remote = Remote(c_app)
    try:
        c = Side("c", c_remote, c_remote.register("city-c"))
        yield a, b, c
    finally:
        c_remote.stop()
        c_app.extensions["store.engine"].dispose()


def approve_waiting(*sides: Side) -> None:
    for side in sides:
        with store.session_scope(side.app) as session:
            waiting = session.execute(select(Team.team_no).where(Team.status == "2")).scalars().all()
        side.remote.approve_teams(waiting)


def test_a_ring_of_three_gateways_moves_each_record_round_once(ring):
    a, b, c = ring
    identify(a, b, c)
    for side, nxt in ((a, b), (b, c), (c, a)):   # A→B→C→A, push runs only
        keys = nxt.remote.register(f"gw-{side.name}")
        side._ring = (nxt, keys)
    local_team(a, 0)
    local_team(b, 2)
    team = sample_records()["team"][1]
    team.pop("parent_team_no", None)  # its parent is A's team: C's local system has none
    c.remote.approve_teams(push_natives(c.remote, c.local, "team", [team]))
    c.team_no = team["team_no"]
    for entities in (["team"], FEDERATED):
        for side in (a, b, c):
            nxt, keys = side._ring
            add_source(side, f"ring-{nxt.name}", nxt, keys, "push", entities)
        for _ in range(3):                       # each team reaches the other two
            sync_round(a, b, c)
            approve_waiting(a, b, c)
    local_project(a, 0)
    local_project(b, 2)
    project = sample_records()["project"][1]   # C's: over the same weeks as the others'
    project.update(starts_on="2024-04-01", ends_on="2024-06-30")
    for post in project["posts"]:
        post.update(starts_at="2024-04-01T08:00:00+08:00", ends_at="2024-06-30T18:00:00+08:00")
    push_natives(c.remote, c.local, "project", [project])
    c.project_no = project["project_no"]
    # C's team has no credit code (found by its home alone): two distinct codes in three teams.
    expected = {"volunteers": 0, "teams": 3, "distinct teams": 2, "projects": 3,
                "distinct projects": 3, "service records": 0, "distinct service records": 0,
                "dead letters": 0}
    for new_people in (2, 1):
        local_people_and_hours(a, new_people, 0)
        local_people_and_hours(b, new_people, 500)
        local_people_and_hours(c, new_people, 1000)
        for _ in range(4):
            sync_round(a, b, c)
        for key in ("volunteers", "service records", "distinct service records"):
            expected[key] += 3 * new_people
        for side in (a, b, c):
            assert holdings(side.app) == expected, (side.name, dead_letters(side.app))
        quiet(a, b, c)

    # An edit at C of A's project goes C→A (home: applied to A's record) →B (B's copy) and
    # stops at C (unchanged).
    a_project_at_c = project_no(c, 0)
    operate(c, lambda ctx: activities.update_project(ctx, a_project_at_c,
                                                     {"description": "C 修改的项目简介"}))
    for _ in range(3):
        sync_round(a, b, c)
    for side in (a, b, c):
        assert holdings(side.app) == expected, (side.name, dead_letters(side.app))
        assert project_state(side, 0)[1] == "C 修改的项目简介", side.name
    quiet(a, b, c)
