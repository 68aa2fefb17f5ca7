"""Helpers of the sync-run tests: sources on the simulated platform, runs, counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gateway.store.models import SyncCursor, SyncSource, Volunteer, VolunteerSource
from sync_jobs import engine, sources
from tests.simulators import zyh365 as sim


def zyh_settings(base_url: str, **extra: Any) -> dict[str, Any]:
    return {"base_url": base_url, "access_key_id": sim.DEFAULT_ACCESS_KEY_ID,
            "access_key_secret": sim.DEFAULT_ACCESS_KEY_SECRET, **extra}


def add_source(app, name: str, base_url: str, *, direction: str = "pull",
               entities: list[str] | None = None, scope: dict[str, Any] | None = None,
               schedule: str = "", **settings: Any) -> None:
    with app.app_context(), app.extensions["store.sessionmaker"]() as session:
        sources.add_or_update(session, app.extensions["privacy.vault"], sources.SourceSpec(
            name=name, adapter="zyh365", settings=zyh_settings(base_url, **settings),
            direction=direction, entities=entities, schedule=schedule, scope=scope))
        session.commit()


def run(app, name: str, **kwargs: Any) -> list[engine.RunResult]:
    with app.app_context():
        results = engine.run_source(app, name, sleep=lambda _s: None, **kwargs)
    assert results is not None, "the source was busy or paused"
    return results


def count(app, stmt) -> int:
    with app.extensions["store.sessionmaker"]() as session:
        return session.execute(stmt).scalar_one()


def volunteers(app) -> int:
    return count(app, select(func.count()).select_from(Volunteer))


def sources_of(app, name: str) -> int:
    return count(app, select(func.count()).select_from(VolunteerSource)
                 .where(VolunteerSource.source_system == name))


def cursor(app, name: str, direction: str, entity: str) -> str | None:
    with app.extensions["store.sessionmaker"]() as session:
        return session.execute(select(SyncCursor.cursor).join(SyncSource).where(
            SyncSource.name == name, SyncCursor.direction == direction,
            SyncCursor.entity == entity)).scalar_one_or_none()


def source_row(app, name: str) -> SyncSource:
    with app.extensions["store.sessionmaker"]() as session:
        return session.execute(select(SyncSource).where(SyncSource.name == name)).scalar_one()
