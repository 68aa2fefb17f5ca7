"""A rate-limit storage for ``limits`` kept in a SQLite file: one count for every worker.

``memory://`` counts per process, so with two gunicorn workers a limit of 30 a minute lets
60 through (issue 11, finding 7). Where Redis runs, ``RATELIMIT_STORAGE_URI =
redis://host:6379/N`` shares the counters between every worker and host (limits' own
storage; the ``redis`` client is a dependency). The embedded set-up has no Redis, so the
default is this storage: a small SQLite file (stdlib ``sqlite3``, WAL, each update one
``BEGIN IMMEDIATE`` transaction) that every worker and process on the host opens. It is
registered with ``limits`` under the scheme ``vgw+sqlite`` (``vgw+sqlite:///abs/path.db``)
simply by importing this module, and supports the fixed window (flask-limiter's default:
the public verification page) and the moving window (the console's login limiter).

Why a file of its own rather than a table in the central store: no migration, no write on
the store's own (SQLite: single-writer) database for every page view, and it works before
the store is migrated. Several hosts share no file: give them Redis.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlparse

from limits.storage import MovingWindowSupport, Storage

SCHEME = "vgw+sqlite"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL, "
    "expires_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS counters_expiry ON counters (expires_at)",
    "CREATE TABLE IF NOT EXISTS entries (key TEXT NOT NULL, at REAL NOT NULL, "
    "expires_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS entries_key ON entries (key, at)",
    "CREATE INDEX IF NOT EXISTS entries_expiry ON entries (expires_at)",
)


def uri_for(path: str | Path) -> str:
    """The storage URI of the SQLite file at ``path``."""
    return f"{SCHEME}://{Path(path).resolve()}"


def storage_uri(config: Mapping[str, Any], instance_path: str | Path) -> str:
    """Where this app's rate-limit counters live: RATELIMIT_STORAGE_URI, or when it is empty
    (the default) a SQLite file every worker on this host shares — beside a SQLite store's
    file (each store its own counters), else in the instance folder.

    The one answer for every limiter (the verification page, the console's login) and for
    ``vgw serve``'s warnings; the store's URL is read by SQLAlchemy's ``make_url``.
    """
    configured = config["RATELIMIT_STORAGE_URI"]
    if configured:
        return configured
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(config["DATABASE_URL"])
    except ArgumentError:
        url = None
    if url is not None and url.get_backend_name() == "sqlite" and url.database \
            and url.database != ":memory:":
        store = Path(url.database)
        return uri_for(store.with_name(f"{store.stem}-ratelimits.sqlite3"))
    return uri_for(Path(instance_path) / "ratelimits.sqlite3")


class SQLiteStorage(Storage, MovingWindowSupport):
    """Fixed- and moving-window counters in a SQLite file shared by processes."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, timeout: float = 10.0,
                 **options: float | str | bool) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        path = unquote(urlparse(uri).path)
        if not path or path == "/":
            raise ValueError(f"{SCHEME}:// needs the path of a file, e.g. {SCHEME}:///var/lib/vgw/ratelimits.db")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self._local = threading.local()
        with self._transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    # -- connections: one per thread and process (a connection must not cross a fork) ------

    def _connection(self) -> sqlite3.Connection:
        import os

        held = getattr(self._local, "held", None)
        if held is None or held[0] != os.getpid():
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            held = (os.getpid(), db)
            self._local.held = held
        return held[1]

    def _transaction(self):
        storage = self

        class _Tx:
            def __enter__(self) -> sqlite3.Connection:
                self.db = storage._connection()
                self.db.execute("BEGIN IMMEDIATE")  # one writer at a time: counts never race
                return self.db

            def __exit__(self, kind, *_exc) -> None:
                self.db.execute("ROLLBACK" if kind else "COMMIT")

        return _Tx()

    # -- fixed window -------------------------------------------------------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._transaction() as db:
            db.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
            return db.execute(
                "INSERT INTO counters (key, value, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value RETURNING value",
                (key, amount, now + expiry)).fetchone()[0]

    def get(self, key: str) -> int:
        row = self._connection().execute(
            "SELECT value FROM counters WHERE key = ? AND expires_at > ?", (key, time.time())
        ).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        row = self._connection().execute(
            "SELECT expires_at FROM counters WHERE key = ? AND expires_at > ?", (key, now)
        ).fetchone()
        return row[0] if row else now

    def check(self) -> bool:
        try:
            self._connection().execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        with self._transaction() as db:
            count = db.execute("SELECT (SELECT count(*) FROM counters) + "
                               "(SELECT count(DISTINCT key) FROM entries)").fetchone()[0]
            db.execute("DELETE FROM counters")
            db.execute("DELETE FROM entries")
        return count

    def clear(self, key: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM counters WHERE key = ?", (key,))
            db.execute("DELETE FROM entries WHERE key = ?", (key,))

    # -- moving window ---------------------------------------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._transaction() as db:
            db.execute("DELETE FROM entries WHERE expires_at <= ?", (now,))
            held = db.execute("SELECT count(*) FROM entries WHERE key = ? AND at > ?",
                              (key, now - expiry)).fetchone()[0]
            if held + amount > limit:
                return False
            db.executemany("INSERT INTO entries (key, at, expires_at) VALUES (?, ?, ?)",
                           [(key, now, now + expiry)] * amount)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        oldest, count = self._connection().execute(
            "SELECT min(at), count(*) FROM entries WHERE key = ? AND at > ?",
            (key, now - expiry)).fetchone()
        return (oldest if oldest is not None else now), count
