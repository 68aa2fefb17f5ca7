"""Two writers on one store, the second not allowed to wait for the first (issue 14's "no hot
row" checks: aggregate cells, number counters).

Writer A writes in a session of its own and stays open; writer B, on another connection,
writes and commits meanwhile — on PostgreSQL with ``lock_timeout`` so that a wait fails it
instead of hanging — while a probe watches pg_locks for any lock not granted in the test's
database. Then A commits. SQLite has one writer at a time, so there A commits before B
starts and only the results are compared.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

Write = Callable[[Session], Any]

_NOT_GRANTED = text(
    "SELECT l.locktype, l.relation::regclass::text FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE NOT l.granted AND a.datname = current_database()")


def second_writer_does_not_wait(app, write_a: Write, write_b: Write) -> tuple[Any, Any]:
    """Run ``write_a`` then, while A's transaction is open, ``write_b`` (each given its
    session); assert B neither failed, nor waited on a lock, nor took 2 s; both commit.
    Returns what each write returned."""
    postgres = app.extensions["store.engine"].dialect.name == "postgresql"
    sessions = app.extensions["store.sessionmaker"]
    answer: dict[str, Any] = {}
    with app.app_context():
        a = sessions()
        try:
            first = write_a(a)
            if not postgres:
                a.commit()  # SQLite has one writer at a time: A commits before B starts.

            def writer_b() -> None:
                with app.app_context(), sessions() as b:
                    if postgres:
                        b.execute(text("SET LOCAL lock_timeout = '2s'"))
                    started = time.perf_counter()
                    try:
                        answer["result"] = write_b(b)
                        b.commit()
                    except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                        answer["error"] = repr(exc)
                    answer["seconds"] = time.perf_counter() - started

            thread = threading.Thread(target=writer_b)
            waits: list[Any] = []
            thread.start()
            if postgres:
                with app.extensions["store.engine"].connect() as probe:
                    while thread.is_alive():
                        waits += probe.execute(_NOT_GRANTED).all()
                        probe.rollback()
                        time.sleep(0.01)
            thread.join(timeout=60)
            assert "error" not in answer, answer
            assert waits == [], f"writer B waited on a lock held by writer A: {waits}"
            if postgres:
                assert answer["seconds"] < 2
                a.commit()  # A commits after B
        finally:
            a.close()
    return first, answer["result"]
