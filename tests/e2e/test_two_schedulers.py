"""Issue 5: two ``vgw scheduler`` processes on one PostgreSQL store never run a source twice
at once, and between them bring every record in exactly once.

Both processes schedule both sources every second; the source's advisory lock
(sync_jobs.locks) decides who runs. The proof is the run history: per source the runs'
[started_at, finished_at] intervals never overlap, and both processes (the ``worker`` column,
``host:pid``) did runs.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.store.models import MessageLog
from tests.e2e.sync_support import (add_zyh365_source, assert_no_personal_data, child_env,
                                    fresh_pg_app, pulled, runs_of, scalar, schedulers, set_schedule,
                                    sync_status, wait_for_quiet, wait_until)
from tests.simulators.zyh365 import Zyh365Platform, running

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

VOLUNTEERS, TEAMS = 4_000, 800
# source name → (entity, records on the platform): one each, so both processes have work
SOURCES = {"zyh-people": ("volunteer", VOLUNTEERS), "zyh-teams": ("team", TEAMS)}


def test_two_schedulers_never_run_a_source_twice_at_once(tmp_path):
    platform = Zyh365Platform().seed(volunteers=VOLUNTEERS, departments=TEAMS)
    with fresh_pg_app(tmp_path / "keys") as app, running(platform) as url:
        for name, (entity, _count) in SOURCES.items():
            add_zyh365_source(app, name, url, [entity], "every 1s")
        env = child_env(app, SCHEDULER_RELOAD_SECONDS=1, SYNC_PAGE_SIZE=80, LOG_LEVEL="INFO")
        with schedulers(env, tmp_path) as start:
            processes = [start(), start()]
            for name, (entity, count) in SOURCES.items():
                wait_until(lambda: pulled(app, name, entity) == count, f"{name} to pull {count:,} records",
                           timeout=600, processes=processes)
            workers = {f":{p.pid}" for p in processes}

            def both_ran() -> bool:
                ran = {r.worker[r.worker.rindex(":"):] for source in SOURCES for r in runs_of(app, source)}
                return ran == workers

            # Once caught up, a run takes a moment and each process tries every second: both get turns.
            wait_until(both_ran, "runs by both processes", timeout=120, processes=processes)
            for name in SOURCES:
                set_schedule(app, name, "")
            wait_for_quiet(app, idle=3, timeout=120, processes=processes)
            for process in processes:
                assert process.stop() == 0, process.output()[-3000:]

        for name, (entity, count) in SOURCES.items():
            runs = sorted(runs_of(app, name), key=lambda r: r.started_at)
            assert runs and all(r.status == "succeeded" and r.finished_at is not None for r in runs), \
                [(r.id, r.status) for r in runs]
            for earlier, later in zip(runs, runs[1:]):
                assert later.started_at >= earlier.finished_at, (
                    f"{name}: run {later.id} ({later.worker}) started before run {earlier.id} "
                    f"({earlier.worker}) finished")
            assert all(r.worker.endswith(tuple(workers)) for r in runs)
            print(f"{name}: {len(runs)} runs, " + ", ".join(
                f"{sum(r.worker.endswith(w) for r in runs)} by pid {w[1:]}" for w in sorted(workers)))
            assert sum(r.written for r in runs) == count
            assert pulled(app, name, entity) == count
            # every page logged once: no page was applied by both processes
            with app.extensions["store.sessionmaker"]() as session:
                summaries = session.execute(select(MessageLog.summary).where(
                    MessageLog.source_name == name)).scalars().all()
            assert sum(s["total"] for s in summaries) == count

        # Every record exactly once, each with its source's row.
        assert scalar(app, "SELECT count(*) FROM volunteers") == VOLUNTEERS
        assert scalar(app, "SELECT count(DISTINCT id_index) FROM volunteers") == VOLUNTEERS
        assert scalar(app, "SELECT count(DISTINCT source_id) FROM volunteer_sources "
                           "WHERE source_system = 'zyh-people'") == VOLUNTEERS
        assert scalar(app, "SELECT count(*) FROM volunteer_sources") == VOLUNTEERS
        assert scalar(app, "SELECT count(*) FROM teams") == TEAMS
        assert scalar(app, "SELECT count(DISTINCT source_id) FROM teams "
                           "WHERE source_system = 'zyh-teams'") == TEAMS
        assert scalar(app, "SELECT count(*) FROM changes WHERE action = 'create'") == VOLUNTEERS + TEAMS
        assert scalar(app, "SELECT count(*) FROM changes") == VOLUNTEERS + TEAMS

        status = {s["name"]: s for s in sync_status(env, tmp_path)["sources"]}
        for name in SOURCES:
            assert status[name]["status"] == "active" and not status[name]["flagged"]
            assert status[name]["last_run"]["status"] == "succeeded"
            assert status[name]["lag_seconds"] == 0 and status[name]["dead_letters_pending"] == 0

        assert_no_personal_data([p.output() for p in processes], platform)
