"""The bulk look-ups read only the index entries they need on a table with no statistics.

A fresh load (no ANALYZE since the table was created or truncated; CI's PostgreSQL and
many production servers run without autovacuum) is where PostgreSQL's planner goes wrong:
planned while the table was small, ``source_system = :s AND source_id = ANY(:keys)`` uses
the unique index on ``source_system`` alone and filters ``source_id``, and psycopg's
prepared statement keeps that plan while the table grows. Here the statement is prepared
while the table holds one page of rows (``plan_cache_mode = force_generic_plan``: the plan
made then is the one kept, as psycopg's prepared statements keep theirs), then 60,000 rows
are loaded and the look-up of 200 keys is run under ``EXPLAIN (ANALYZE, BUFFERS)``:
:func:`gateway.exchange.bulk.keyed_lookup` must read a few buffers per key (one descent of
the unique index each) and filter nothing out; the old form (``= ANY``) is run the same way
and must be caught by the same check (it reads the whole index).
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import MetaData, Table, any_, bindparam, create_engine, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from gateway.exchange.bulk import keyed_lookup

pytestmark = pytest.mark.postgres

LOADED = 60_000
KEYS = [f"S{n}" for n in range(1000, 60_000, 295)]  # 200 keys spread over the table
#: buffers per key of one unique-index descent and its heap row (3 index levels + 1) with
#: slack; a look-up that scans the sender's rows reads hundreds of buffers more.
BUFFERS_PER_KEY = 6


@pytest.fixture
def fresh(pg_database):
    """A connection and two tables shaped like volunteer_sources (unique on source system
    and id) and volunteers' blind index (unique), never analyzed, autovacuum off."""
    engine = create_engine(pg_database)
    suffix = uuid.uuid4().hex[:8]
    names = (f"lookup_sources_{suffix}", f"lookup_people_{suffix}")
    with engine.connect() as conn:
        conn.execute(text(
            f"CREATE TABLE {names[0]} (id serial PRIMARY KEY, volunteer_id int, "
            "source_system varchar(64) NOT NULL, source_id varchar(64) NOT NULL, "
            "UNIQUE (source_system, source_id)) WITH (autovacuum_enabled = false)"))
        conn.execute(text(
            f"CREATE TABLE {names[1]} (id serial PRIMARY KEY, id_index varchar(64) UNIQUE, "
            "payload text) WITH (autovacuum_enabled = false)"))
        conn.commit()
        metadata = MetaData()
        tables = [Table(name, metadata, autoload_with=conn) for name in names]
        yield conn, tables
        conn.rollback()
        for name in names:
            conn.execute(text(f"DROP TABLE {name}"))
        conn.commit()
    engine.dispose()


def _load(conn, sources: Table, people: Table, first: int, last: int) -> None:
    conn.execute(text(f"INSERT INTO {sources.name} (volunteer_id, source_system, source_id) "
                      "SELECT g, 'zyh365', 'S' || g FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g"),
                 {"a": first, "b": last})
    conn.execute(text(f"INSERT INTO {people.name} (id_index, payload) "
                      "SELECT 'S' || g, repeat('x', 120) FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g"),
                 {"a": first, "b": last})
    conn.commit()


def _prepared(conn, name: str, statement, types: str) -> None:
    sql = str(statement.compile(dialect=postgresql.dialect(paramstyle="numeric_dollar")))
    conn.execute(text(f"PREPARE {name} ({types}) AS {sql}".replace(":", r"\:")))


def _explain(conn, name: str, args: str) -> dict:
    plan = conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {name} ({args})"
                             .replace(":", r"\:"))).scalar()
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _check(plan: dict, keys: int) -> None:
    """Found every key, reading a few buffers per key and discarding no row."""
    assert plan["Actual Rows"] == keys
    buffers = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
    assert buffers <= BUFFERS_PER_KEY * keys, f"{buffers} buffers read for {keys} keys"
    removed = sum(node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Join Filter", 0)
                  for node in _nodes(plan))
    assert removed == 0, f"{removed} rows read and thrown away"


def _statements(session: Session, sources: Table, people: Table, old: bool):
    if old:  # the form bulk.py used before: column = ANY(array)
        return (select(sources).where(sources.c.source_system == bindparam("system"),
                                      sources.c.source_id == any_(bindparam(
                                          "keys", type_=ARRAY(sources.c.source_id.type)))),
                select(people).where(people.c.id_index == any_(bindparam(
                    "keys", type_=ARRAY(people.c.id_index.type)))))
    return (keyed_lookup(session, tuple(sources.c), sources.c.source_id, ["k"],
                         sources.c.source_system == "zyh365"),
            keyed_lookup(session, tuple(people.c), people.c.id_index, ["k"]))


def _plans(fresh, old: bool) -> tuple[dict, dict]:
    conn, (sources, people) = fresh
    _load(conn, sources, people, 1, 60)  # one page: what a sender's first page leaves
    stats = conn.execute(text("SELECT count(*) FROM pg_stats WHERE tablename IN (:a, :b)"),
                         {"a": sources.name, "b": people.name}).scalar()
    assert stats == 0  # no statistics: the state of a fresh load
    session = Session(bind=conn)
    by_source, by_index = _statements(session, sources, people, old)
    conn.execute(text("SET plan_cache_mode = force_generic_plan"))
    if old:
        _prepared(conn, "by_source", by_source, "varchar, varchar[]")
    else:  # keyed_lookup puts the keys first (one JSON text, rowsets.py), inlines nothing else
        sql = str(by_source.compile(dialect=postgresql.dialect(paramstyle="numeric_dollar")))
        assert sql.count("$") == 2
        _prepared(conn, "by_source", by_source, "text, varchar")
    _prepared(conn, "by_index", by_index, "varchar[]" if old else "text")

    def given(values: list[str]) -> str:
        return ("'{" + ",".join(values) + "}'" if old
                else "'" + json.dumps([[value] for value in values]) + "'")

    keys, small = given(KEYS), given(["S1", "S2", "S3"])
    args = (f"'zyh365', {small}" if old else f"{small}, 'zyh365'")
    for _ in range(3):  # the plan of the small table is made and kept
        _explain(conn, "by_source", args)
        _explain(conn, "by_index", small)
    _load(conn, sources, people, 61, LOADED)
    args = (f"'zyh365', {keys}" if old else f"{keys}, 'zyh365'")
    return _explain(conn, "by_source", args), _explain(conn, "by_index", keys)


def test_lookups_read_only_their_index_entries_without_statistics(fresh):
    by_source, by_index = _plans(fresh, old=False)
    _check(by_source, len(KEYS))
    _check(by_index, len(KEYS))


def test_the_check_catches_the_old_any_form(fresh):
    """The same check on the former ``= ANY(:keys)`` statements fails: the catch works."""
    by_source, by_index = _plans(fresh, old=True)
    with pytest.raises(AssertionError):
        _check(by_source, len(KEYS))
