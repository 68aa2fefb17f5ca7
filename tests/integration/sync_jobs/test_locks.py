"""sync_jobs.locks.SourceLock: at most one run of a source at a time, across processes.

On PostgreSQL the lock is a session-level advisory lock, freed when its holder's connection
ends (a killed scheduler frees its sources at once); on SQLite it is a lease on the source's
row, freed by release or when it runs out. Each test runs on both (``store_app``).
"""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from gateway import store
from gateway.store.models import SyncSource, utcnow
from sync_jobs import sources as sources_mod
from sync_jobs.locks import SourceLock

ADVISORY_LOCKS = ("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
                  "(SELECT oid FROM pg_database WHERE datname = current_database())")


def _add_sources(app, *names: str) -> list[int]:
    """Sources to lock (their adapter is never called here)."""
    ids = []
    with app.app_context(), store.session_scope(app) as session:
        for name in names:
            spec = sources_mod.SourceSpec(name=name, adapter="zyh365", entities=["volunteer"], settings={
                "base_url": "http://127.0.0.1:9", "access_key_id": "k", "access_key_secret": "s"})
            _status, row = sources_mod.add_or_update(session, app.extensions["privacy.vault"], spec)
            ids.append(row.id)
    return ids


@pytest.fixture
def source_ids(store_app):
    return _add_sources(store_app, "lock-a", "lock-b")


def _lock(app, source_id: int) -> SourceLock:
    return SourceLock(app.extensions["store.engine"], app.extensions["store.sessionmaker"], source_id,
                      lease_seconds=60)


def _postgres(app) -> bool:
    return app.extensions["store.engine"].dialect.name == "postgresql"


def _holders(app, source_id: int) -> list:
    """Who holds the source, as the database sees it: advisory-lock sessions or the lease owner."""
    with app.extensions["store.engine"].connect() as conn:
        if _postgres(app):
            return list(conn.execute(text(ADVISORY_LOCKS)).scalars())
        owner = conn.execute(select(SyncSource.lease_owner).where(SyncSource.id == source_id)).scalar()
        return [owner] if owner else []


def test_a_second_acquire_fails_while_the_first_holds_and_succeeds_after_release(store_app, source_ids):
    a, b = source_ids
    first, second = _lock(store_app, a), _lock(store_app, a)
    assert first.acquire() and first.held
    try:
        assert len(_holders(store_app, a)) == 1
        assert not second.acquire() and not second.held
        with _lock(store_app, b) as other:          # another source is not blocked
            assert other.acquire()
        assert not second.acquire()                 # still held after the other one's release
    finally:
        first.release()
    assert _holders(store_app, a) == []
    with second:
        assert second.acquire()
    assert _holders(store_app, a) == []
    second.release()                                # a second release does nothing
    assert _holders(store_app, a) == []


def _die(app, source_id: int, holder: SourceLock) -> None:
    """What the holder's process dying leaves behind, without it unlocking anything.

    PostgreSQL: its connection ends (here: the server ends that session, as it does when the
    client's socket closes with its process) and the server frees the session's advisory lock.
    SQLite: the lease stays on the row until it runs out; move its end into the past, as if
    SYNC_LEASE_SECONDS had gone by.
    """
    if _postgres(app):
        (pid,) = _holders(app, source_id)
        with app.extensions["store.engine"].connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}).scalar()
        return
    with store.session_scope(app) as session:
        session.execute(update(SyncSource)
                        .where(SyncSource.id == source_id, SyncSource.lease_owner == holder.owner)
                        .values(lease_until=utcnow() - dt.timedelta(seconds=1)))


def test_the_source_is_free_again_once_its_holder_died(store_app, source_ids):
    a, _b = source_ids
    holder, taker, third = _lock(store_app, a), _lock(store_app, a), _lock(store_app, a)
    assert holder.acquire()
    assert not taker.acquire()
    _die(store_app, a, holder)
    assert taker.acquire()
    try:
        # The dead holder's late heartbeat and release (its connection is gone on PostgreSQL;
        # on SQLite they name it as the owner) touch nothing of the new holder's.
        with store.session_scope(store_app) as session:
            holder.renew(session)
        with contextlib.suppress(OperationalError):
            holder.release()
        assert not third.acquire()
        assert len(_holders(store_app, a)) == 1
    finally:
        taker.release()
    assert third.acquire()
    third.release()


def test_sqlite_the_owner_renews_its_lease_and_a_live_lease_is_not_taken_over(app):
    """The engine renews the lease with every page's commit (``Run.save_counters``)."""
    (sqlite_source,) = _add_sources(app, "lock-c")
    holder, other = _lock(app, sqlite_source), _lock(app, sqlite_source)
    assert holder.acquire()
    with store.session_scope(app) as session:
        before = session.get(SyncSource, sqlite_source).lease_until
        holder.renew(session)
    with store.session_scope(app) as session:
        row = session.get(SyncSource, sqlite_source)
        assert row.lease_owner == holder.owner and row.lease_until >= before
    assert not other.acquire()
    holder.release()
    assert other.acquire()
    other.release()

