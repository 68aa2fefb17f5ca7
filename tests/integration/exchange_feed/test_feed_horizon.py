"""PostgreSQL: which open transactions hold the feed back (gateway.exchange.feed.pg_horizon).

A transaction of the gateway's database that is still open may yet commit a change numbered
before the ones committed after it: the feed waits for it. A transaction in another
database on the same server can never write here: the feed does not wait for it (the plain
``pg_snapshot_xmin`` would).
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from gateway.caller import Caller
from gateway.privacy import vault
from gateway.services.context import ServiceContext
from gateway.standard import engine
from tests.conftest import PG_ADMIN_URL
from tests.integration.exchange_feed import helpers as h


@pytest.fixture
def pg(store_app):
    if store_app.extensions["store.engine"].dialect.name != "postgresql":
        pytest.skip("about PostgreSQL transaction ids (SQLite has one writer at a time)")
    return store_app


def _read(http, headers, since=None):
    query = {"since": since} if since else {}
    answer = http.get(h.FEED, query_string=query, headers=headers)
    assert answer.status_code == 200
    return answer.get_json()


def test_an_open_transaction_of_this_database_holds_later_changes_back_until_it_ends(
        pg, http, admin, beijing):
    team_no = h.register_team(http, admin)
    start = h.page(http, beijing)["next_cursor"]
    with pg.app_context(), pg.extensions["store.sessionmaker"]() as early:
        ctx = ServiceContext(early, Caller("slow"), engine(), vault(), pg.config)
        slow = ctx.record_change("team", team_no, "update", area=h.BJ, team_no=team_no)
        early.flush()  # number and transaction id taken; not committed
        volunteer_no = h.register_volunteer(http, admin)  # committed after, numbered after

        held = _read(http, beijing, start)
        assert held == {"changes": [], "next_cursor": start, "has_more": False}
        early.commit()

    after = _read(http, beijing, start)["changes"]
    assert [(c["key"], h.change_id(c)) for c in after] == [(team_no, slow.id),
                                                           (volunteer_no, slow.id + 1)]


def test_a_transaction_in_another_database_does_not_hold_the_feed_back(pg, http, admin, beijing):
    other = create_engine(PG_ADMIN_URL)
    try:
        with other.connect() as elsewhere:
            xid = int(elsewhere.execute(text("SELECT pg_current_xact_id()::text")).scalar())
            volunteer_no = h.register_volunteer(http, admin)
            with pg.extensions["store.engine"].connect() as conn:
                server_xmin = int(conn.execute(text(
                    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text")).scalar())
            assert server_xmin <= xid  # the server-wide horizon is held back …
            changes = _read(http, beijing)["changes"]  # … the feed is not
            assert [c["key"] for c in changes] == [volunteer_no]
            elsewhere.rollback()
    finally:
        other.dispose()
