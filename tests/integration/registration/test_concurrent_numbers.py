"""Number counters do not serialise concurrent writers, and numbers stay unique (issue 14).

Two writers number new volunteers of ONE area and month — the same counter — each a real
transaction on a connection of its own, through the ingestion path (``apply_records``).
Writer A stays open; writer B, on PostgreSQL with ``lock_timeout`` set, must finish and
commit meanwhile, with no ungranted lock in pg_locks. When the counter was upserted in the
write transaction, B waited on A's counter row and failed here with a lock timeout (shown
by putting the in-transaction upsert back in ``ServiceContext.reserve_values``).

Then the rollback policy (docs/rules.md, "Numbers"): values a rolled-back transaction or
savepoint reserved return to the counter when nobody reserved after them (one writer
numbers as if the counter were part of its transaction), and stay a gap when somebody did.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from zoneinfo import ZoneInfo

from sqlalchemy import false, select, text, update
from stdnum.iso7064 import mod_37_36

from gateway.caller import Caller
from gateway.exchange.upserts import Source, SourcePriority, apply_records
from gateway.privacy import vault
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store.models import NumberSequence, Volunteer
from tests.integration.exchange_push import helpers as h
from tests.two_writers import second_writer_does_not_wait

NOW = dt.datetime(2024, 6, 3, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
COUNTER = "volunteer:110105:2406"
WELL_FORMED = re.compile(r"V1101052406(\d{6})[0-9A-Z]")


def _context(app, session) -> ServiceContext:
    """A context at NOW, its transaction begun (pysqlite begins one only at a write)."""
    session.execute(update(NumberSequence).where(false()).values(name=NumberSequence.name))
    caller = Caller("city-01", "11", permissions={"*": frozenset({"read", "write"})})
    return ServiceContext(session=session, caller=caller, engine=engine(), vault=vault(),
                          config=app.config, now=NOW)


def _write(app, session, people: list[int]):
    """Apply new volunteers of 110105 in ``session``'s transaction (not committed)."""
    ctx = _context(app, session)
    source = Source("city-01", NOW, SourcePriority.from_setting(""), "numbers-test")
    return apply_records(ctx, source, [("volunteer", "upsert", h.volunteer(i)) for i in people])


def _counter(app) -> int | None:
    with app.app_context(), app.extensions["store.sessionmaker"]() as session:
        return session.scalar(select(NumberSequence.next_value).where(NumberSequence.name == COUNTER))


def _sequence(number: str) -> int:
    match = WELL_FORMED.fullmatch(number)
    assert match, number
    assert mod_37_36.is_valid(number[1:]), number
    return int(match.group(1))


def test_two_writers_of_one_counter_do_not_wait_and_get_distinct_numbers(store_app):
    app = store_app
    sessions = app.extensions["store.sessionmaker"]
    first, second = second_writer_does_not_wait(
        app, lambda a: _write(app, a, [1, 3, 5]), lambda b: _write(app, b, [7, 9]))
    assert [o.status for o in first] == ["created"] * 3
    assert [o.status for o in second] == ["created", "created"]

    numbers = [o.key for o in first] + [o.key for o in second]
    # unique, well formed, and A's block (reserved first) before B's
    assert [_sequence(n) for n in numbers] == [1, 2, 3, 4, 5]
    with app.app_context(), sessions() as session:
        stored = session.scalars(select(Volunteer.volunteer_no)).all()
    assert sorted(stored) == sorted(numbers)
    assert _counter(app) == 6


def test_a_rolled_back_writer_gives_its_numbers_back(store_app):
    """One writer: a rollback, a rolled-back savepoint, a session closed uncommitted all
    leave the counter where it was, as in one transaction; a released savepoint's values go
    with the enclosing transaction."""
    app = store_app
    sessions = app.extensions["store.sessionmaker"]
    with app.app_context():
        with sessions() as session:
            assert [o.status for o in _write(app, session, [1, 3])] == ["created", "created"]
            session.rollback()
        assert _counter(app) in (None, 1)  # SQLite: the row went with the transaction

        with sessions() as session:
            ctx = _context(app, session)
            assert ctx.reserve_values({COUNTER: 2}) == {COUNTER: 1}
            with session.begin_nested():
                assert ctx.reserve_values({COUNTER: 3, "T:110105": 1}) == {COUNTER: 3, "T:110105": 1}
            try:
                with session.begin_nested():
                    assert ctx.next_value(COUNTER) == 6
                    with session.begin_nested():  # released into the one rolled back
                        assert ctx.next_value(COUNTER) == 7
                    raise RuntimeError("this savepoint is rolled back")
            except RuntimeError:
                pass
            assert ctx.next_value(COUNTER) == 6  # 6 and 7 came back
            session.commit()
        assert _counter(app) == 7

        session = sessions()
        ctx = _context(app, session)
        assert ctx.reserve_values({COUNTER: 10}) == {COUNTER: 7}
        session.close()  # neither committed nor rolled back
        assert _counter(app) == 7

        with sessions() as session:
            outcomes = _write(app, session, [5, 7])
            session.commit()
    assert [_sequence(o.key) for o in outcomes] == [7, 8]
    assert _counter(app) == 9


def test_a_writer_rolled_back_after_another_reserved_leaves_a_gap(store_app):
    """PostgreSQL: A reserves, B reserves after it and commits, A rolls back. A's values
    cannot return (B's stand after them): they stay unused — a gap, never a duplicate.
    (On SQLite B cannot reserve while A's write transaction is open.)"""
    app = store_app
    if app.extensions["store.engine"].dialect.name != "postgresql":
        return
    sessions = app.extensions["store.sessionmaker"]
    with app.app_context():
        a, b = sessions(), sessions()
        try:
            numbered_a = _write(app, a, [1, 3])
            b.execute(text("SET LOCAL lock_timeout = '2s'"))  # fail, not hang, if B waited on A
            numbered_b = _write(app, b, [5])
            b.commit()
            a.rollback()
        finally:
            a.close()
            b.close()
        assert [o.status for o in numbered_a + numbered_b] == ["created"] * 3
        assert [_sequence(o.key) for o in numbered_a] == [1, 2]
        assert [_sequence(o.key) for o in numbered_b] == [3]
        assert _counter(app) == 4
        with sessions() as c:
            numbered_c = _write(app, c, [7])
            c.commit()
        assert [_sequence(o.key) for o in numbered_c] == [4]
        with sessions() as session:
            stored = sorted(_sequence(n) for n in session.scalars(select(Volunteer.volunteer_no)))
        assert stored == [3, 4]  # 1 and 2: the gap the rolled-back writer left


def test_a_failed_commit_gives_nothing_back(store_app):
    """PostgreSQL: a rollback that follows a COMMIT attempt may follow a COMMIT the server
    applied (the connection dropped on the way back): moving the counter back over numbers
    in use would have every later writer collide, so nothing is given back — a gap at worst.
    Here the commit fails at its flush (a duplicate counter row), which rolls back."""
    app = store_app
    if app.extensions["store.engine"].dialect.name != "postgresql":
        return
    sessions = app.extensions["store.sessionmaker"]
    with app.app_context():
        session = sessions()
        try:
            assert [o.status for o in _write(app, session, [1, 3])] == ["created"] * 2
            session.add(NumberSequence(name=COUNTER, next_value=1))  # flushed by the commit
            try:
                session.commit()
            except Exception as exc:  # noqa: BLE001 - the IntegrityError of the duplicate row
                assert "number_sequences" in str(exc)
            else:
                raise AssertionError("the commit should have failed")
        finally:
            session.close()
        assert _counter(app) == 3  # 1 and 2 not given back
        with sessions() as session:
            numbered = _write(app, session, [5])
            session.commit()
        assert [_sequence(o.key) for o in numbered] == [3]


def test_with_no_connection_of_its_own_the_counter_is_taken_in_the_transaction(store_app):
    """PostgreSQL: when the counters' own pool has no connection to give (here every one of
    them held), numbering falls back to the caller's transaction — the records are numbered,
    not refused — and the values go with that transaction."""
    app = store_app
    if app.extensions["store.engine"].dialect.name != "postgresql":
        return
    from gateway.services.context import _counter_engine
    counters = _counter_engine(app.extensions["store.engine"])
    held = []
    try:
        while True:  # take every connection the counters' pool has
            try:
                held.append(counters.connect())
            except Exception:  # noqa: BLE001 - the pool's TimeoutError: all taken
                break
        assert held
        sessions = app.extensions["store.sessionmaker"]
        with app.app_context():
            with sessions() as session:
                outcomes = _write(app, session, [1, 3])
                assert [o.status for o in outcomes] == ["created"] * 2
                assert [_sequence(o.key) for o in outcomes] == [1, 2]
                session.rollback()
            assert _counter(app) is None  # the counter row went with the transaction
            with sessions() as session:
                outcomes = _write(app, session, [5])
                session.commit()
            assert [_sequence(o.key) for o in outcomes] == [1]
            assert _counter(app) == 2
    finally:
        for connection in held:
            connection.close()


def test_as_many_writers_as_the_sessions_pool_never_wait_to_number(store_app):
    """PostgreSQL: fifteen threads, each holding its session's connection of a pool of 15
    (SQLAlchemy's default), all number at once: the counters' own pool serves them, so none
    waits on the sessions' pool (with the counters in the sessions' pool, 15 writers held
    every connection and waited for a 16th: timeouts and 500s)."""
    app = store_app
    if app.extensions["store.engine"].dialect.name != "postgresql":
        return
    sessions = app.extensions["store.sessionmaker"]
    barrier = threading.Barrier(15)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            with app.app_context(), sessions() as session:
                ctx = _context(app, session)  # holds a connection of the sessions' pool
                barrier.wait(timeout=30)
                numbers.append(ctx.next_value(COUNTER))
                session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(15)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors[:3]
    assert sorted(numbers) == list(range(1, 16))
    assert time.monotonic() - started < 25  # the sessions' pool_timeout (30 s) never reached
