"""``vgw stats``: the statistics aggregates behind /api/v1/statistics."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext

from gateway import store


@click.group("stats", help="Statistics aggregates (stat_volunteers, stat_hours and their "
                            "province roll-ups).")
def stats() -> None:
    pass


@stats.command("rebuild")
@with_appcontext
def rebuild() -> None:
    """Recompute the aggregate tables from the base tables, in one transaction.

    Safe while the gateway runs: readers keep the old figures until the new ones commit;
    writers that update the aggregates wait for it (PostgreSQL) or for the write lock (SQLite).
    """
    from gateway.services import statistics

    started = time.perf_counter()
    with store.session_scope(current_app) as session:
        counts = statistics.rebuild(session)
    click.echo(f"stat_volunteers: {counts['stat_volunteers']} rows, "
               f"stat_volunteers_province: {counts['stat_volunteers_province']} rows; "
               f"{counts['volunteers']} volunteers")
    click.echo(f"stat_hours: {counts['stat_hours']} rows, "
               f"stat_hours_province: {counts['stat_hours_province']} rows; "
               f"{counts['records']} effective records, {counts['hours']} hours")
    click.echo(f"rebuilt in {time.perf_counter() - started:.1f} s")
