"""``vgw scheduler``: starts each active source's runs on its schedule, in a process of its own.

APScheduler 3 (BlockingScheduler, a thread pool of SCHEDULER_THREADS) holds one job per
active, scheduled source, built from the store; every SCHEDULER_RELOAD_SECONDS it reads the
sources again and adds, reschedules or removes jobs (``vgw sources add / pause / resume /
remove`` need no restart). Jobs coalesce and never overlap inside one process
(``max_instances=1``); across processes the source's lock decides (sync_jobs.locks), so
several schedulers — for availability — never run the same source at once. On start the
sources file (SOURCES_FILE) is applied. SIGTERM / SIGINT stop it (runs in progress are cut
where they are; like a killed run, they resume from their last committed page).
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy import select

from gateway import metrics
from gateway.errors import store_unavailable
from gateway.store.models import SyncSource
from sync_jobs import engine
from sync_jobs import sources as sources_mod

__all__ = ["build", "serve"]

log = logging.getLogger("sync_jobs.scheduler")

RELOAD_JOB = "vgw:reload-sources"
ALERTS_JOB = "vgw:alerts"


def _job_id(name: str) -> str:
    return f"source:{name}"


def _run(app: Flask, name: str) -> None:
    with app.app_context():
        try:
            engine.run_source(app, name, trigger="schedule")
        except sources_mod.SourceError:
            log.info("scheduler: source %s is gone", name)
        except Exception as exc:  # noqa: BLE001 - one source's failure must not stop the scheduler
            if store_unavailable(exc):  # the database is down: the next trigger tries again
                log.warning("scheduler: run of %s not started, the store is unavailable (%s)",
                            name, type(exc).__name__)
                return
            log.exception("scheduler: run of %s failed", name)


def reload_sources(app: Flask, scheduler: Any, known: dict[str, str]) -> None:
    """Bring the jobs in line with the sources table (``known``: job name → schedule)."""
    with app.app_context():
        try:
            with app.extensions["store.sessionmaker"]() as session:
                rows = session.execute(select(SyncSource.name, SyncSource.schedule,
                                              SyncSource.status)).all()
        except Exception as exc:
            if not store_unavailable(exc):
                raise
            # The database is down: keep the jobs as they are and read again next time.
            log.warning("scheduler: sources not re-read, the store is unavailable (%s)",
                        type(exc).__name__)
            return
    wanted = {name: schedule for name, schedule, status in rows
              if status == "active" and (schedule or "").strip()}
    tz = app.extensions["standard.engine"].tz
    for name in list(known):
        if name not in wanted:
            scheduler.remove_job(_job_id(name))
            del known[name]
            log.info("scheduler: %s unscheduled", name)
    for name, schedule in wanted.items():
        if known.get(name) == schedule:
            continue
        try:
            trigger = sources_mod.trigger_for(schedule, tz)
        except ValueError as exc:
            log.error("scheduler: source %s has a bad schedule %r: %s", name, schedule, exc)
            continue
        scheduler.add_job(_run, trigger, args=(app, name), id=_job_id(name), name=name,
                          replace_existing=True, coalesce=True, max_instances=1,
                          misfire_grace_time=None)
        known[name] = schedule
        log.info("scheduler: %s scheduled (%s)", name, schedule)


def build(app: Flask) -> BlockingScheduler:
    """The scheduler with its reload job (not started)."""
    tz = app.extensions["standard.engine"].tz
    scheduler = BlockingScheduler(timezone=tz, executors={
        "default": ThreadPoolExecutor(app.config["SCHEDULER_THREADS"])})
    known: dict[str, str] = {}
    reload_sources(app, scheduler, known)
    scheduler.add_job(reload_sources, "interval", seconds=app.config["SCHEDULER_RELOAD_SECONDS"],
                      args=(app, scheduler, known), id=RELOAD_JOB, coalesce=True, max_instances=1)
    scheduler.add_job(evaluate_alerts, "interval", seconds=app.config["ALERTS_EVALUATE_SECONDS"],
                      args=(app,), id=ALERTS_JOB, coalesce=True, max_instances=1)
    return scheduler


def evaluate_alerts(app: Flask) -> None:
    """The console's alert rules (gateway.services.alerts), evaluated in this process."""
    from gateway.services import alerts

    with app.app_context():
        try:
            with app.extensions["store.sessionmaker"]() as session:
                counts = alerts.evaluate(session, app.config, app.extensions["signing.keyring"])
                session.commit()
        except Exception as exc:  # noqa: BLE001 - a broken rule must not stop the scheduler
            if store_unavailable(exc):
                log.warning("scheduler: alerts not evaluated, the store is unavailable (%s)",
                            type(exc).__name__)
                return
            log.exception("scheduler: alert evaluation failed")
            return
    if counts["opened"] or counts["resolved"]:
        log.info("scheduler: alerts opened %d, resolved %d, delivered %d, delivery failures %d",
                 counts["opened"], counts["resolved"], counts["delivered"], counts["failed"])


def serve(app: Flask) -> None:
    """Apply the sources file, then run until SIGTERM / SIGINT."""
    path = app.config["SOURCES_FILE"]
    if path:
        with app.app_context():
            vault = app.extensions["privacy.vault"]
            with app.extensions["store.sessionmaker"]() as session:
                results = sources_mod.apply_file(session, vault, path)
                session.commit()
        for name, status in results:
            log.info("scheduler: source %s from %s: %s", name, path, status)
    scheduler = build(app)
    server = None
    if app.config["SCHEDULER_METRICS_PORT"]:
        # This process's own /metrics (its runs, durations, records pulled and pushed):
        # the gateway's multiprocess folder belongs to its gunicorn workers alone.
        server, _thread = metrics.serve_in_thread(app.config["SCHEDULER_METRICS_HOST"],
                                                  app.config["SCHEDULER_METRICS_PORT"],
                                                  app.config["METRICS_ALLOW"])

    def stop(signum: int, _frame: Any) -> None:
        log.info("scheduler: signal %d, stopping", signum)
        engine.STOP.set()
        # shutdown() from a signal handler would wait for itself: hand it to a thread.
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler: started with %d source job(s)", len(scheduler.get_jobs()) - 2)
    try:
        scheduler.start()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    log.info("scheduler: stopped")
