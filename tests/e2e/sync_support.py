"""Harness of the sync end-to-end tests: a fresh PostgreSQL database, ``vgw`` processes with
the test's settings, and reads of the sync state straight from the store.

The processes under test are real ``vgw scheduler`` processes (``python -m gateway.cli``), so
a SIGKILL is a real process death: the database, not the test, decides what survived. They
get only the settings given here (every ``GATEWAY_*`` of the test's own environment is
dropped: GATEWAY_TEST_PG_URL is not a gateway setting and would stop the app from loading)
and the test app's KEYS_DIR, so that both sides use the same personal-data keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from gateway import create_app, store
from gateway.store.models import SyncRun, SyncSource
from sync_jobs import sources as sources_mod
from tests.conftest import IN_CI, PG_ADMIN_URL
from tests.simulators.zyh365 import Zyh365Platform

#: The simulator's default credentials (tests/simulators/zyh365.py).
ZYH_KEY_ID, ZYH_SECRET = "zyh-gateway", "zyh-simulator-secret"


@contextlib.contextmanager
def fresh_pg_app(keys_dir: Path) -> Iterator[Any]:
    """The gateway on a new, migrated PostgreSQL database, dropped at the end.

    A database of its own (not the worker's shared ``pg_database``): other processes write
    to it, and it is dropped WITH (FORCE) even if one of them is still connected.
    Unreachable PostgreSQL skips the test, or fails it under CI=true (as tests/conftest.py).
    """
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connection failure means "no PostgreSQL here"
        admin.dispose()
        message = f"PostgreSQL not reachable at {make_url(PG_ADMIN_URL).render_as_string()}: {exc}"
        if IN_CI:
            pytest.fail(message + " (CI=true requires it)")
        pytest.skip(message)
    name = f"vgw_e2e_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    app = None
    try:
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        app = create_app({"TESTING": True, "DATABASE_URL": url, "KEYS_DIR": str(keys_dir)})
        store.upgrade(app)
        yield app
    finally:
        if app is not None:
            app.extensions["store.engine"].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def child_env(app, **settings: Any) -> dict[str, str]:
    """Environment of a ``vgw`` process on ``app``'s store and keys, plus GATEWAY_<settings>."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_DATABASE_URL=app.config["DATABASE_URL"], GATEWAY_KEYS_DIR=app.config["KEYS_DIR"],
               PYTHONUNBUFFERED="1")
    env.update({f"GATEWAY_{k}": str(v) for k, v in settings.items()})
    return env


VGW = [sys.executable, "-m", "gateway.cli"]


def vgw(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run one ``vgw`` command to its end (its output captured)."""
    return subprocess.run([*VGW, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


class Scheduler:
    """One ``vgw scheduler`` process, its output in ``log``; stopped by its PID."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path):
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen([*VGW, "scheduler"], env=env, cwd=cwd, stdout=out,
                                         stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> int:
        """SIGKILL: the process dies where it is (nothing of it runs any more)."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        return self.proc.wait(timeout=30)

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM, then wait for the process to end by itself (its exit code)."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def schedulers(env: dict[str, str], cwd: Path) -> Iterator[Callable[[], Scheduler]]:
    """A factory of scheduler processes; any still alive at the end is killed by its PID."""
    started: list[Scheduler] = []

    def start() -> Scheduler:
        process = Scheduler(env, cwd, cwd / f"scheduler-{len(started) + 1}.log")
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.kill()


def add_zyh365_source(app, name: str, base_url: str, entities: list[str], schedule: str) -> None:
    """Store a zyh365 source (what ``vgw sources add`` does), 80-row pages."""
    spec = sources_mod.SourceSpec(
        name=name, adapter="zyh365", entities=entities, schedule=schedule,
        settings={"base_url": base_url, "access_key_id": ZYH_KEY_ID, "access_key_secret": ZYH_SECRET})
    with app.app_context(), store.session_scope(app) as session:
        sources_mod.add_or_update(session, app.extensions["privacy.vault"], spec)


def set_schedule(app, name: str, schedule: str) -> None:
    """Change a source's schedule (``vgw sources update NAME --schedule …``)."""
    with app.app_context(), store.session_scope(app) as session:
        row = sources_mod.get(session, name)
        spec = sources_mod.SourceSpec(
            name=name, adapter=row.adapter, direction=row.direction, entities=list(row.entities),
            schedule=schedule, scope=dict(row.scope or {}),
            settings=sources_mod.settings_of(app.extensions["privacy.vault"], row))
        sources_mod.add_or_update(session, app.extensions["privacy.vault"], spec,
                                  declared_in=row.declared_in, update=True)


def scalar(app, sql: str, **params: Any) -> Any:
    with app.extensions["store.engine"].connect() as conn:
        return conn.execute(text(sql), params).scalar()


def pulled(app, name: str, entity: str) -> int:
    """How far the source's committed pull cursor has got (the platform's last id, 0: none)."""
    cursor = scalar(app, "SELECT c.cursor FROM sync_cursors c JOIN sync_sources s ON s.id = c.source_id "
                         "WHERE s.name = :name AND c.direction = 'pull' AND c.entity = :entity",
                    name=name, entity=entity)
    return int(cursor.rsplit(":", 1)[1]) if cursor else 0


def runs_of(app, name: str) -> list[SyncRun]:
    """The source's runs, oldest first (detached rows)."""
    with store.session_scope(app) as session:
        rows = session.execute(select(SyncRun).join(SyncSource, SyncSource.id == SyncRun.source_id)
                               .where(SyncSource.name == name).order_by(SyncRun.id)).scalars().all()
        session.expunge_all()
    return list(rows)


def wait_until(predicate: Callable[[], Any], what: str, *, timeout: float,
               processes: list[Scheduler] = (), interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it is truthy (its value); fail after ``timeout`` seconds, or at
    once if a scheduler process died, with the processes' output. A guard against hanging,
    not a speed assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        dead = [p for p in processes if not p.alive()]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f"--- scheduler pid {p.pid} (exit {p.proc.poll()}):\n{p.output()[-3000:]}"
                             for p in processes)
            pytest.fail(f"{'a scheduler died' if dead else f'timed out after {timeout:.0f} s'} "
                        f"waiting for {what}\n{logs}")
        time.sleep(interval)


def wait_for_quiet(app, *, idle: float, timeout: float, processes: list[Scheduler] = ()) -> None:
    """Wait until no run is running and none has started for ``idle`` seconds (after the
    sources were unscheduled: the scheduler has re-read them and starts nothing more)."""
    state = {"last": None, "since": time.monotonic()}

    def quiet() -> bool:
        now = (scalar(app, "SELECT max(id) FROM sync_runs"),
               scalar(app, "SELECT count(*) FROM sync_runs WHERE status = 'running'"))
        if now != state["last"]:
            state["last"], state["since"] = now, time.monotonic()
        return now[1] == 0 and time.monotonic() - state["since"] >= idle

    wait_until(quiet, "the scheduler to start no more runs", timeout=timeout, processes=processes,
               interval=0.1)


def sync_status(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """``vgw sync status --json``, run as its own process, parsed."""
    done = vgw(env, cwd, "sync", "status", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_no_personal_data(texts: list[str], platform: Zyh365Platform) -> None:
    """No citizen ID or mobile number of the platform's generated records appears in ``texts``
    (the processes' output; tests/conftest.py checks this process's own log)."""
    numbers: set[str] = set()
    for i in range(1, platform.tables["volunteer"].generated + 1):
        record = platform.record("volunteer", i)
        numbers.add(record["mphone"])
        if record["idcardtype"] == "1":
            numbers.add(record["idcard"])
    for i in range(1, platform.tables["department"].generated + 1):
        numbers.add(platform.record("department", i)["linkphone"])
    leaked = {n for n in numbers for t in texts if n in t}
    assert not leaked, f"{len(leaked)} ID/mobile numbers appear in the processes' output"
