"""The bulk path (gateway.exchange.bulk) answers and writes exactly what one record at a time does.

Each comparison starts from the same committed store and runs the same chunk twice, each in
its own transaction: once through ``apply_records`` (the bulk path), once through
``apply_record`` for each record in order. Both transactions read back everything the
records can touch — volunteers (personal data decrypted: Fernet tokens differ on every
encryption), their sources, the history in order, the number counters, the statistics
aggregates, teams, projects, trainings, complaints — and are rolled back, so both start
from the same state. Row ids and write timestamps are left out; links are compared by the
numbers of the rows they point at. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, false, select, update
from stdnum.iso7064 import mod_37_36

from gateway.adapter import HOME
from gateway.caller import Caller
from gateway.exchange.upserts import Source, SourcePriority, apply_record, apply_records
from gateway.privacy import vault
from gateway.services import aggregates
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store.base import Base
from gateway.store.models import NumberSequence, Volunteer, VolunteerSource
from tests import factories
from tests.integration.exchange_push import helpers as h

NOW = dt.datetime(2024, 6, 3, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
#: Everything a pushed record can write.
TABLES = ("volunteers", "volunteer_sources", "changes", "number_sequences", "stat_volunteers",
          "stat_volunteers_province", "teams", "projects", "posts", "trainings", "complaints",
          "federation_homes")
#: Link columns, compared by the number of the row they point at.
NUMBERS = {"volunteers": "volunteer_no", "teams": "team_no", "projects": "project_no",
           "posts": "post_no"}
#: When the row was written (differs by microseconds between the two runs), and row ids.
SKIPPED = {"id", "created_at", "updated_at", "txid"}


def _context(app, session, client_id: str = "city-01") -> ServiceContext:
    """The sender's context at NOW, its transaction begun.

    pysqlite begins a transaction only at a write: before that, a record's SAVEPOINT would
    open one and its RELEASE commit it (the push's heartbeat is its first write likewise).
    """
    session.execute(update(NumberSequence).where(false()).values(name=NumberSequence.name))
    caller = Caller(client_id, "11", permissions={"*": frozenset({"read", "write"})})
    return ServiceContext(session=session, caller=caller, engine=engine(), vault=vault(),
                          config=app.config, now=NOW)


def _source(app, client_id: str = "city-01") -> Source:
    return Source(client_id, NOW, SourcePriority.from_setting(app.config["SOURCE_PRIORITY"]),
                  "bulk-test")


def _commit(app, items, client_id: str = "city-01") -> list[Any]:
    """Apply ``items`` one by one and commit (the state both runs start from)."""
    with app.app_context():
        session = app.extensions["store.sessionmaker"]()
        try:
            ctx, source = _context(app, session, client_id), _source(app, client_id)
            outcomes = [apply_record(ctx, source, *item) for item in items]
            session.commit()
        finally:
            session.close()
    assert all(o.status != "rejected" for o in outcomes), outcomes
    return outcomes


def _snapshot(session) -> dict[str, list]:
    """Every row of TABLES without ids and write times, links as numbers, secrets decrypted
    (the pending aggregate additions folded into the cells first)."""
    aggregates.fold(session)
    numbers: dict[str, dict[int, str]] = {}
    for table_name, column in NUMBERS.items():
        table = Base.metadata.tables[table_name]
        numbers[table_name] = dict(session.execute(select(table.c.id, table.c[column])).all())
    secret = vault()
    out: dict[str, list] = {}
    for name in TABLES:
        table = Base.metadata.tables[name]
        rows = []
        for row in session.execute(select(table).order_by(*table.primary_key.columns)).mappings():
            values = {}
            for column in table.columns:
                key, value = column.name, row[column.name]
                if key in SKIPPED:
                    continue
                if key.endswith("_enc") and value is not None:
                    value = secret.decrypt(value)
                for fk in column.foreign_keys:
                    target = fk.column.table.name
                    if target in numbers and value is not None:
                        value = numbers[target][value]
                values[key] = value
            rows.append(values)
        # The history keeps its order (the change feed reads it in order); the rest as sets.
        out[name] = rows if name == "changes" else sorted(rows, key=repr)
    return out


def _paths(caplog) -> str:
    """How the bulk path took the records (its debug summary)."""
    (line,) = [r.getMessage() for r in caplog.records if r.name == "gateway.exchange.bulk"
               and r.levelno == logging.DEBUG]
    return line.split(": ", 1)[1]


def _both_ways(app, items, client_id: str = "city-01"):
    """(outcomes, snapshot) one record at a time, then the same through apply_records."""
    results = []
    for bulk in (False, True):
        with app.app_context():
            session = app.extensions["store.sessionmaker"]()
            try:
                ctx, source = _context(app, session, client_id), _source(app, client_id)
                if bulk:
                    outcomes = apply_records(ctx, source, items)
                else:
                    outcomes = [apply_record(ctx, source, *item) for item in items]
                session.flush()
                results.append(([(o.status, o.key, [i.as_dict() for i in o.errors], o.note)
                                 for o in outcomes], _snapshot(session)))
            finally:
                session.rollback()
                session.close()
    return results


def _assert_same(one_by_one, bulk):
    (outcomes_1, store_1), (outcomes_2, store_2) = one_by_one, bulk
    assert outcomes_2 == outcomes_1
    for table in TABLES:
        assert store_2[table] == store_1[table], table


def _number(body: str) -> str:
    """A volunteer number with its check character (a sender's own number for a person)."""
    return body + mod_37_36.calc_check_digit(body[1:])


def _v(i: int, **overrides: Any) -> tuple[str, str, dict[str, Any]]:
    return ("volunteer", "upsert", h.volunteer(i, **overrides))


@pytest.fixture
def seeded(store_app, seeder):
    """People the chunk meets: unchanged, changed, to delete, deleted, from other sources."""
    store_app.config["SOURCE_PRIORITY"] = "province-01, city-01"
    team_no = seeder.approved_team()
    first = _commit(store_app, [
        _v(200), _v(201), _v(202), _v(203), _v(204), _v(205),
        ("volunteer", "delete", {"source_id": "vol-000204"}),
        ("project", "upsert", factories.project(team_no=team_no, source_id="proj-1")),
    ])
    # province-01 outranks city-01: its name for 205 is kept against city-01's
    _commit(store_app, [_v(205, name="王省级", source_id="prov-205",
                           source_updated_at="2024-03-01T08:00:00")], "province-01")
    # county-09 knows 206; city-01 does not (yet)
    _commit(store_app, [_v(206, source_id="cty-206")], "county-09")
    return {"team_no": team_no, "project_no": first[7].key}


def test_a_mixed_chunk_gives_the_same_outcomes_and_store_either_way(store_app, seeded, caplog):
    items = [
        _v(100),                                                        # new
        _v(101),                                                        # new
        _v(200),                                                        # stored, unchanged
        _v(201, email="new@example.com", source_updated_at="2024-04-01T09:00:00"),  # changed
        _v(100, email="again@example.com", source_updated_at="2024-04-02T09:00:00"),  # repeat
        _v(102, mobile="23800138000"),                                  # invalid
        _v(103, area="310101"),                                         # outside region 11
        ("training", "upsert", factories.training(                     # names 101 by the
            volunteer_no="vol-000101", team_no=factories.OMIT)),        # sender's own id
        _v(104),                                                        # new
        _v(205, name="王城市"),                                          # name kept: unchanged + note
        ("volunteer", "delete", {"source_id": "vol-000202"}),           # a delete …
        _v(203),                                                        # … then unchanged, one by one
        _v(202),                                                        # deleted in the chunk: back
        _v(204),                                                        # deleted before: back
        ("team", "upsert", h.team(1)),
        ("complaint", "upsert", factories.complaint(team_no=seeded["team_no"],
                                                    project_no="proj-1")),
        _v(105, source_id="vol-000200"),                                # source id of another
        _v(206),                                                        # known to county-09 only
        _v(107, source_id=factories.OMIT),                              # no source id, no number
        _v(108, source_id=factories.OMIT, volunteer_no=_number("V1101052301000108")),  # its number
        ("volunteer", "upsert", factories.minor_volunteer(source_id="vol-minor")),  # guardian
        _v(109, area="110108"),                                         # another district
        _v(114),                                                        # an ID ending in X
        ("certificate", "upsert", factories.certificate()),
        ("volunteer", "upsert", "not an object"),
        ("nonsense", "upsert", {}),
        _v(200),                                                        # again: one by one now
        _v(111, star_level="5", total_hours=10.0),                      # derived fields ignored
    ]
    with caplog.at_level(logging.DEBUG, logger="gateway.exchange.bulk"):
        one_by_one, bulk = _both_ways(store_app, items)
    _assert_same(one_by_one, bulk)
    assert _paths(caplog) == ("28 record(s): 9 new in 4 set(s), 2 unchanged, 1 invalid, 16 one by one "
                              "(0 of them after a refused set)")
    statuses = [status for status, *_ in bulk[0]]
    assert statuses == [
        "created", "created", "unchanged", "updated", "updated", "rejected", "rejected",
        "created", "created", "unchanged", "deleted", "unchanged", "updated", "updated",
        "created", "created", "rejected", "unchanged", "created", "created", "created",
        "created", "created", "rejected", "rejected", "rejected", "unchanged", "created"]
    assert bulk[0][9][3].startswith("1 field(s) kept")                 # the note on 205
    assert {e["rule"] for e in bulk[0][16][2]} == {"volunteer.source_id_taken"}


def _statements(app, items) -> tuple[list, list[str]]:
    """The outcomes of ``items`` through apply_records and the SQL it sent (rolled back)."""
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()).upper())

    engine_ = app.extensions["store.engine"]
    with app.app_context():
        session = app.extensions["store.sessionmaker"]()
        try:
            ctx = _context(app, session)
            event.listen(engine_, "before_cursor_execute", count)
            try:
                outcomes = apply_records(ctx, _source(app), items)
                session.flush()
            finally:
                event.remove(engine_, "before_cursor_execute", count)
        finally:
            session.rollback()
            session.close()
    return outcomes, sent


def test_new_people_are_written_in_sets(store_app):
    """Fifty new people: at most one INSERT for them all (PostgreSQL: a COPY on the driver's
    cursor, below SQLAlchemy's events), one SAVEPOINT — not one of each per person."""
    items = [_v(300 + i) for i in range(50)]
    outcomes, sent = _statements(store_app, items)
    assert [o.status for o in outcomes] == ["created"] * 50
    assert len([s for s in sent if s.startswith("INSERT INTO VOLUNTEERS ")]) <= 1
    assert len([s for s in sent if s.startswith("SAVEPOINT")]) == 1
    _assert_same(*_both_ways(store_app, items))


def test_people_sent_again_unchanged_write_nothing(store_app):
    _commit(store_app, [_v(400 + i) for i in range(20)])
    items = [_v(400 + i) for i in range(20)]
    outcomes, sent = _statements(store_app, items)
    assert [o.status for o in outcomes] == ["unchanged"] * 20
    assert [s for s in sent if s.startswith(("INSERT", "UPDATE", "DELETE", "SAVEPOINT"))] == []
    _assert_same(*_both_ways(store_app, items))


def test_a_run_the_database_refuses_is_applied_one_by_one(store_app, caplog):
    """The sender already uses, for someone else, the number the store is about to give a new
    person who comes without an id of their own: inserting the run's source rows fails, the
    savepoint is rolled back and the run goes record by record — with the same answers."""
    (existing,) = _commit(store_app, [_v(500)])
    with store_app.app_context():
        session = store_app.extensions["store.sessionmaker"]()
        try:
            ctx = _context(store_app, session)
            counter = ctx.volunteer_counter(h.AREA)
            current = session.execute(select(NumberSequence.next_value).where(
                NumberSequence.name == counter)).scalar_one()
            upcoming = ctx.volunteer_no(h.AREA, current)
            person = session.execute(select(Volunteer).where(
                Volunteer.volunteer_no == existing.key)).scalar_one()
            session.add(VolunteerSource(volunteer_id=person.id, source_system="city-01",
                                        source_id=upcoming, first_seen_at=NOW))
            session.commit()
        finally:
            session.close()
    items = [_v(501, source_id=factories.OMIT), _v(502), _v(503)]
    with caplog.at_level(logging.DEBUG, logger="gateway.exchange.bulk"):
        one_by_one, bulk = _both_ways(store_app, items)
    assert any("refused by the database" in r.getMessage() for r in caplog.records)
    assert _paths(caplog) == ("3 record(s): 0 new in 0 set(s), 0 unchanged, 0 invalid, 3 one by one "
                              "(3 of them after a refused set)")
    _assert_same(one_by_one, bulk)
    outcomes = bulk[0]
    assert [o[0] for o in outcomes] == ["created"] * 3
    assert outcomes[0][1] == upcoming
    # one by one, the person without an id of their own got no source row of their own
    sources = {row["source_id"]: row["volunteer_id"] for row in bulk[1]["volunteer_sources"]}
    assert sources[upcoming] == existing.key


def _homed(i: int, key: str, **overrides: Any) -> tuple[str, str, dict[str, Any]]:
    """A volunteer another gateway sent with its home (gateway/exchange/homes.py)."""
    return ("volunteer", "upsert", {**h.volunteer(i, **overrides),
                                    HOME: {"gateway": "gw-other", "key": key}})


def test_records_with_homes_leave_only_themselves_off_the_bulk_path(store_app, caplog):
    """A chunk with a few records from another gateway (homes) among new people: the runs
    without a home still go through the bulk path (one debug summary per run, each set-based),
    the homed ones one at a time in their place — outcomes and store as one by one, also
    where a homed record meets a person written earlier in the same chunk by the bulk path
    and where an unhomed one meets a person a homed record just created."""
    items = [_v(600 + i) for i in range(10)]                             # bulk
    items += [_homed(601, "VH-601", email="fed@example.com",            # a bulk-created person,
                     source_updated_at="2024-04-01T09:00:00"),          # updated by home
              _homed(650, "VH-650")]                                    # new, its home kept
    items += [_v(610 + i) for i in range(10)] + [_v(650)]               # bulk; 650 as sent again
    items += [_homed(650, "VH-650", name="联邦改名",                     # found by its home
                     source_updated_at="2024-04-02T09:00:00")]
    with caplog.at_level(logging.DEBUG, logger="gateway.exchange.bulk"):
        one_by_one, bulk = _both_ways(store_app, items)
    _assert_same(one_by_one, bulk)
    assert [o[0] for o in bulk[0]] == (["created"] * 10 + ["updated", "created"]
                                       + ["created"] * 10 + ["unchanged", "updated"])
    assert [row["home_key"] for row in bulk[1]["federation_homes"]] == ["VH-650"]
    summaries = [r.getMessage().split(": ", 1)[1] for r in caplog.records
                 if r.name == "gateway.exchange.bulk" and r.levelno == logging.DEBUG]
    assert summaries == [
        "10 record(s): 10 new in 1 set(s), 0 unchanged, 0 invalid, 0 one by one "
        "(0 of them after a refused set)",
        "11 record(s): 10 new in 1 set(s), 1 unchanged, 0 invalid, 0 one by one "
        "(0 of them after a refused set)"]
