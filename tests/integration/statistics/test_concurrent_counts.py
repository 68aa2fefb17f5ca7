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
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update, false

from gateway import store
from gateway.caller import Caller
from gateway.exchange.upserts import Source, SourcePriority, apply_records
from gateway.privacy import vault
from gateway.services import aggregates, statistics
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store.models import NumberSequence, PendingAggregate, VolunteerCount, VolunteerProvinceCount
from tests.integration.exchange_push import helpers as h
from tests.two_writers import second_writer_does_not_wait

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
    # odd i: gender 1; i < 1000: born 1980-01-01; both registered in the same month
    first, second = [(1, "110105"), (3, "110105")], [(5, "110108"), (7, "110108")]
    done_a, done_b = second_writer_does_not_wait(
        app, lambda a: _write(app, a, first), lambda b: _write(app, b, second))
    assert [o.status for o in done_a] == ["created", "created"]
    assert [o.status for o in done_b] == ["created", "created"]

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
