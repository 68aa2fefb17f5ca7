"""Two writers counting into the same aggregate cell at once: neither waits for the other's
row lock, and the answers afterwards are exact (issue 14).

Each writer is a real transaction on a connection of its own, through the ingestion path
(``apply_records``: numbers, rows, history, aggregates). The volunteers live in two
counties of one province with the same birth year, gender and month, so their number
counters and county cells differ and their province cell (stat_volunteers_province) is the
same one. Writer A stays open; writer B, on PostgreSQL with ``lock_timeout`` set, must
finish and commit meanwhile. When the aggregates were upserted in the write transaction,
B waited on A's province cell and failed here with a lock timeout (shown by putting the
upsert back in ``aggregates._add_many``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update, false

from gateway import store
from gateway.caller import Caller
from gateway.exchange.upserts import Source, SourcePriority, apply_records
from gateway.privacy import vault
from gateway.services import aggregates, statistics
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store.models import NumberSequence, PendingAggregate, VolunteerCount, VolunteerProvinceCount
from tests.integration.exchange_push import helpers as h

NOW = dt.datetime(2024, 6, 3, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def _write(app, session, people: list[tuple[int, str]]):
    """Apply new volunteers ``(i, county)`` in ``session``'s transaction (not committed)."""
    session.execute(update(NumberSequence).where(false()).values(name=NumberSequence.name))
    caller = Caller("city-01", "11", permissions={"*": frozenset({"read", "write"})})
    ctx = ServiceContext(session=session, caller=caller, engine=engine(), vault=vault(),
                         config=app.config, now=NOW)
    source = Source("city-01", NOW, SourcePriority.from_setting(""), "concurrency-test")
    return apply_records(ctx, source, [("volunteer", "upsert", h.volunteer(i, county))
                                       for i, county in people])


def test_two_writers_into_one_cell_do_not_wait_and_count_exactly(store_app):
    app = store_app
    postgres = app.extensions["store.engine"].dialect.name == "postgresql"
    sessions = app.extensions["store.sessionmaker"]
    # odd i: gender 1; i < 1000: born 1980-01-01; both registered in the same month
    first, second = [(1, "110105"), (3, "110105")], [(5, "110108"), (7, "110108")]
    with app.app_context():
        a = sessions()
        try:
            assert [o.status for o in _write(app, a, first)] == ["created", "created"]
            if not postgres:
                # SQLite has one writer at a time: A commits before B starts.
                a.commit()
            answer: dict = {}

            def writer_b() -> None:
                with app.app_context(), sessions() as b:
                    if postgres:
                        b.execute(text("SET LOCAL lock_timeout = '2s'"))
                    started = time.perf_counter()
                    try:
                        answer["statuses"] = [o.status for o in _write(app, b, second)]
                        b.commit()
                    except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                        answer["error"] = repr(exc)
                    answer["seconds"] = time.perf_counter() - started

            thread = threading.Thread(target=writer_b)
            waits = []
            thread.start()
            if postgres:
                with app.extensions["store.engine"].connect() as probe:
                    while thread.is_alive():
                        waits += probe.execute(text(
                            "SELECT l.locktype, l.relation::regclass::text FROM pg_locks l "
                            "JOIN pg_stat_activity a ON a.pid = l.pid "
                            "WHERE NOT l.granted AND a.datname = current_database()")).all()
                        probe.rollback()
                        time.sleep(0.01)
            thread.join(timeout=60)
            assert "error" not in answer, answer
            assert answer["statuses"] == ["created", "created"]
            assert waits == [], f"writer B waited on a lock held by writer A: {waits}"
            if postgres:
                assert answer["seconds"] < 2
                a.commit()  # A commits after B
        finally:
            a.close()

    with store.session_scope(app) as session:
        assert session.scalar(select(func.count()).select_from(PendingAggregate)) > 0
        assert aggregates.fold(session) > 0
        province = session.execute(select(VolunteerProvinceCount.province, VolunteerProvinceCount.count)
                                   .where(VolunteerProvinceCount.count != 0)).all()
        county = dict(session.execute(select(VolunteerCount.county, func.sum(VolunteerCount.count))
                                      .group_by(VolunteerCount.county)).all())
        assert [tuple(r) for r in province] == [("11", 4)]
        assert county == {"110105": 2, "110108": 2}
        assert session.scalar(select(func.count()).select_from(PendingAggregate)) == 0
        # the figures equal what rebuild computes from the volunteers themselves
        before = statistics.stat_rows(session)
        statistics.rebuild(session)
        assert statistics.stat_rows(session) == before
