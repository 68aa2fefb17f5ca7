"""Pieces shared by the fault tests: the gateway on a private cluster, and "exactly once".

:func:`gateway_on` migrates a fresh database of a :class:`tests.e2e.pg_cluster.PgCluster`
and builds the test's app on it (the session's keys, as every test app). :func:`store_counts`
reads what the store holds of pushed volunteers in every place a record leaves a copy:
the volunteers, their source rows, their history (changes, which the feed serves) and the
statistics aggregates; :func:`assert_exactly_once` says each holds exactly ``n``.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any, Iterator

from sqlalchemy import func, select

from gateway import store
from gateway.services import aggregates
from gateway.store.models import Change, Volunteer, VolunteerSource
from gateway.store.models.stats import VolunteerCount, VolunteerProvinceCount
from tests.conftest import _make_app
from tests.e2e.pg_cluster import PgCluster, free_port

#: Ports of the gunicorn servers these tests start (the cluster takes 23100–23399).
GUNICORN_PORTS = range(23000, 23100)


def gunicorn_port() -> int:
    return free_port(GUNICORN_PORTS)


@contextlib.contextmanager
def gateway_on(cluster: PgCluster, **settings: Any) -> Iterator[Any]:
    """The test app on a new, migrated database of ``cluster``; its engine disposed after."""
    url = cluster.create_database(f"faults_{uuid.uuid4().hex[:10]}")
    app = _make_app(url, **settings)
    store.upgrade(app)
    try:
        yield app
    finally:
        app.extensions["store.engine"].dispose()


def store_counts(app) -> dict[str, int]:
    """What the store holds of volunteers, in each place a pushed volunteer leaves a copy."""
    per_entity = (select(func.count().label("n")).select_from(Change)
                  .where(Change.entity == "volunteer").group_by(Change.entity_no).subquery())
    with store.session_scope(app) as session:
        aggregates.fold(session)
        scalar = session.scalar
        return {
            "volunteers": scalar(select(func.count()).select_from(Volunteer)),
            "people": scalar(select(func.count(func.distinct(Volunteer.id_index)))),
            "sources": scalar(select(func.count(func.distinct(VolunteerSource.source_id)))),
            "source rows": scalar(select(func.count()).select_from(VolunteerSource)),
            "history": scalar(select(func.count()).select_from(Change).where(
                Change.entity == "volunteer")),
            "history entries per volunteer (max)": scalar(select(func.max(per_entity.c.n))) or 0,
            "aggregate": int(scalar(select(func.coalesce(func.sum(VolunteerCount.count), 0)))),
            "aggregate (province)": int(scalar(select(
                func.coalesce(func.sum(VolunteerProvinceCount.count), 0)))),
        }


def assert_exactly_once(app, n: int) -> None:
    """Every one of ``n`` pushed volunteers is stored once, with one history entry and
    counted once in the aggregates (new volunteers: one creation entry each)."""
    found = store_counts(app)
    wanted = {"volunteers": n, "people": n, "sources": n, "source rows": n, "history": n,
              "history entries per volunteer (max)": 1, "aggregate": n,
              "aggregate (province)": n}
    assert found == wanted, found
