"""At most one run of a source at a time, whatever the number of scheduler processes.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection of its
own, held for the whole run. The database releases it when that connection ends, so a
scheduler killed in the middle of a run frees its sources at once, and a second scheduler
never starts a source that one is running.

SQLite (one host, usually one scheduler): a lease on the source's row — ``lease_owner`` and
``lease_until``, taken with a conditional UPDATE, renewed at every page; a killed run blocks
its source until the lease runs out (SYNC_LEASE_SECONDS).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import uuid

from sqlalchemy import Engine, or_, text, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.models import SyncSource, utcnow

__all__ = ["SourceLock", "worker_name"]


def worker_name() -> str:
    """``host:pid`` of this process, as run history shows it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _advisory_key(source_id: int) -> int:
    """A signed 64-bit key for the source, in a space of its own (hashing a label)."""
    digest = hashlib.blake2b(f"vgw-sync-source:{source_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class SourceLock:
    """``acquire()`` → bool (never waits), ``renew()`` during the run, ``release()`` at its end."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session], source_id: int,
                 lease_seconds: int):
        self.engine, self.sessions = engine, sessions
        self.source_id, self.lease_seconds = source_id, lease_seconds
        self.postgres = engine.dialect.name == "postgresql"
        self.owner = f"{worker_name()}:{uuid.uuid4().hex[:8]}"
        self._connection = None
        self.held = False

    def acquire(self) -> bool:
        if self.postgres:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                         {"key": _advisory_key(self.source_id)}).scalar_one()
            except BaseException:
                connection.close()
                raise
            if not got:
                connection.close()
                return False
            self._connection, self.held = connection, True
            return True
        now = utcnow()
        with self.sessions() as session:
            taken = session.execute(
                update(SyncSource).where(SyncSource.id == self.source_id,
                                         or_(SyncSource.lease_owner.is_(None),
                                             SyncSource.lease_until < now))
                .values(lease_owner=self.owner, lease_until=self._until(now))
                .execution_options(synchronize_session=False)).rowcount
            session.commit()
        self.held = taken == 1
        return self.held

    def _until(self, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(seconds=self.lease_seconds)

    def renew(self, session: Session) -> None:
        """Extend the SQLite lease in the caller's transaction (PostgreSQL: nothing to do)."""
        if not self.postgres and self.held:
            session.execute(update(SyncSource).where(SyncSource.id == self.source_id,
                                                     SyncSource.lease_owner == self.owner)
                            .values(lease_until=self._until(utcnow()))
                            .execution_options(synchronize_session=False))

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self.postgres:
            connection, self._connection = self._connection, None
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": _advisory_key(self.source_id)})
            finally:
                connection.close()
            return
        with self.sessions() as session:
            session.execute(update(SyncSource).where(SyncSource.id == self.source_id,
                                                     SyncSource.lease_owner == self.owner)
                            .values(lease_owner=None, lease_until=None)
                            .execution_options(synchronize_session=False))
            session.commit()

    def __enter__(self) -> "SourceLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
