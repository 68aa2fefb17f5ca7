"""``vgw stats rebuild`` recomputes exactly what the writes kept incrementally, on both stores."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, update

from gateway import store
from gateway.services.statistics import stat_rows
from gateway.store.models import HoursTotal, VolunteerCount, VolunteerProvinceCount
from tests.integration.statistics import helpers


def _snapshot(app):
    with store.session_scope(app) as session:
        return stat_rows(session)


def test_rebuild_equals_the_incremental_aggregates(store_app):
    helpers.seed(store_app)
    incremental = _snapshot(store_app)
    for name in ("stat_volunteers", "stat_volunteers_province"):
        assert sum(row[-1] for row in incremental[name]) == 9
    for name in ("stat_hours", "stat_hours_province"):
        assert sum(row[-1] for row in incremental[name]) == 4
        assert sum(row[3] for row in incremental[name]) == Decimal("11.00")
    assert {row[0] for row in incremental["stat_volunteers_province"]} == {"11", "44"}

    result = store_app.test_cli_runner().invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0, result.output
    rows = {name: len(r) for name, r in incremental.items()}
    assert (f"stat_volunteers: {rows['stat_volunteers']} rows, stat_volunteers_province: "
            f"{rows['stat_volunteers_province']} rows; 9 volunteers") in result.output
    assert (f"stat_hours: {rows['stat_hours']} rows, stat_hours_province: "
            f"{rows['stat_hours_province']} rows; 4 effective records, 11.00 hours") in result.output
    assert _snapshot(store_app) == incremental


def test_rebuild_repairs_drifted_or_empty_aggregates(store_app):
    helpers.seed(store_app)
    incremental = _snapshot(store_app)
    with store.session_scope(store_app) as session:
        session.execute(update(VolunteerCount).values(count=VolunteerCount.count + 5))
        session.execute(delete(HoursTotal))
        session.execute(delete(VolunteerProvinceCount))
    assert _snapshot(store_app) != incremental
    runner = store_app.test_cli_runner()
    assert runner.invoke(args=["stats", "rebuild"]).exit_code == 0
    assert _snapshot(store_app) == incremental
    # Rebuilding again changes nothing.
    assert runner.invoke(args=["stats", "rebuild"]).exit_code == 0
    assert _snapshot(store_app) == incremental


def test_rebuild_of_an_empty_store(store_app):
    result = store_app.test_cli_runner().invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "stat_volunteers: 0 rows, stat_volunteers_province: 0 rows; 0 volunteers" in result.output
    assert "stat_hours: 0 rows, stat_hours_province: 0 rows; 0 effective records" in result.output
