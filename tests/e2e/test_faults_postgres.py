"""Issue 11, faults on a real PostgreSQL: the database stopped in the middle of a push.

The gateway runs under gunicorn on a private cluster (tests/e2e/pg_cluster.py: the shared
server on 5432 is never disturbed). PostgreSQL is stopped (fast shutdown: every session
cut at once) while a signed NDJSON push is being applied. The client gets 503
problem+json ``/problems/store-unavailable`` with Retry-After — not gunicorn's HTML, not a
500 — and /readyz says the store is down. PostgreSQL is started again; the retry with the
same Idempotency-Key (after the reservation's short lease, since the dying request could
not release it) completes, and the store holds each record exactly once.

Likewise a ``vgw scheduler`` sync run from the zyh365 simulator loses its database: the
run fails cleanly and the next resumes from its cursor; and a gunicorn worker SIGKILLed in
the middle of a 50,000-record NDJSON push: the retry with the same key completes. Each
test takes well under a minute (one private cluster each; CI runs them: ``postgres``).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from gateway import store
from gateway.store.models import IdempotencyKey, Volunteer
from tests.e2e.fault_support import assert_exactly_once, gateway_on, gunicorn_port, store_counts
from tests.e2e.gunicorn_support import Gunicorn
from tests.e2e.pg_cluster import pg_cluster  # noqa: F401 - the fixture
from tests.e2e.sync_support import (add_zyh365_source, child_env, pulled, runs_of, scalar,
                                    schedulers, set_schedule, wait_for_quiet, wait_until)
from tests.integration.exchange.helpers import register_client
from tests.integration.exchange_push import helpers
from tests.simulators.zyh365 import Zyh365Platform, running

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

URL = "/api/v1/exchange/batches"
RECORDS = 12_000


def _post(server: Gunicorn, keys, body: bytes, key: str, timeout: float = 120) -> requests.Response:
    return requests.post(server.url + URL, data=body, auth=keys.auth(), timeout=timeout,
                         headers={"Content-Type": "application/x-ndjson", "Idempotency-Key": key})


def _wait_for_rows(url: str, at_least: int, seconds: float = 60) -> int:
    """Until the push has committed ``at_least`` volunteers (read over a connection of our own)."""
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                stored = conn.scalar(select(func.count()).select_from(Volunteer))
            if stored >= at_least:
                return stored
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError(f"the push did not reach {at_least} volunteers in {seconds} s")


def _key_status(app, key: str) -> str | None:
    with store.session_scope(app) as session:
        return session.scalar(select(IdempotencyKey.status).where(IdempotencyKey.key == key))


def _retry_until_done(server: Gunicorn, keys, body: bytes, key: str, seconds: float = 60):
    """The client's retry: same key, same body; 409 in-progress and 503 honour Retry-After."""
    deadline = time.monotonic() + seconds
    seen = []
    while time.monotonic() < deadline:
        answer = _post(server, keys, body, key)
        seen.append(answer.status_code)
        if answer.status_code == 200:
            return answer, seen
        assert answer.status_code in (409, 503), (answer.status_code, answer.text[:300])
        time.sleep(min(float(answer.headers.get("Retry-After", 1)), 2))
    raise AssertionError(f"the retry did not complete: {seen}")


def _push_in_background(server, keys, body: bytes, key: str, timeout: float = 120):
    """Start the signed push in a thread; its answer, or what it raised (the connection may
    die with the worker or the database), lands in the returned list."""
    outcome: list[requests.Response | BaseException] = []

    def push() -> None:
        try:
            outcome.append(_post(server, keys, body, key, timeout=timeout))
        except BaseException as exc:  # reported by the test
            outcome.append(exc)

    pusher = threading.Thread(target=push)
    pusher.start()
    return pusher, outcome


def test_postgres_stopped_mid_push_gives_503_then_the_retry_stores_each_record_once(
        pg_cluster, tmp_path):  # noqa: F811 - the fixture
    with gateway_on(pg_cluster) as app:
        keys = register_client(app, "city-01")
        env = child_env(app, LOG_LEVEL="WARNING", IDEMPOTENCY_LEASE_SECONDS=3)
        server = Gunicorn(env, tmp_path / "gunicorn.log", workers=2, timeout=120,
                          port=gunicorn_port())
        try:
            body = helpers.ndjson([helpers.item("volunteer", helpers.volunteer(i))
                                   for i in range(1, RECORDS + 1)])
            key = uuid.uuid4().hex
            pusher, answers = _push_in_background(server, keys, body, key)
            stored = _wait_for_rows(app.config["DATABASE_URL"], 500)
            pg_cluster.stop("fast")
            pusher.join(timeout=60)
            assert not pusher.is_alive(), "the push never answered"
            (answer,) = answers
            assert isinstance(answer, requests.Response), answer
            assert stored < RECORDS, "the push ended before the database was stopped"
            assert answer.status_code == 503, (answer.status_code, answer.text[:500])
            assert answer.headers["Content-Type"].startswith("application/problem+json")
            problem = answer.json()
            assert problem["type"] == "/problems/store-unavailable", problem
            assert int(answer.headers["Retry-After"]) > 0

            ready = requests.get(server.url + "/readyz", timeout=10)
            assert ready.status_code == 503 and ready.json()["store"] == "down", ready.text
            assert "Retry-After" in ready.headers
            # a push while the store is down: the same clear answer, before any work
            down = _post(server, keys, body, key)
            assert down.status_code == 503, down.text[:300]
            assert down.json()["type"] == "/problems/store-unavailable"

            pg_cluster.start()
            server.wait_ready(30)
            retried, seen = _retry_until_done(server, keys, body, key)
            summary = helpers.ndjson_lines(retried)[-1]["summary"]
            assert summary["total"] == RECORDS and summary["rejected"] == 0, summary
            assert_exactly_once(app, RECORDS)
            # the key now answers from its stored result, and changes nothing
            again = _post(server, keys, body, key)
            assert again.status_code == 200 and again.content == retried.content
            assert store_counts(app)["volunteers"] == RECORDS
            assert "Internal Server Error" not in server.output()
        finally:
            server.stop()


# -- a sync run ---------------------------------------------------------------------------------

SYNC_COUNT = 4_000
SOURCE = "zyh-faults"


def test_postgres_stopped_mid_sync_run_fails_the_run_then_the_next_resumes_from_its_cursor(
        pg_cluster, tmp_path):  # noqa: F811 - the fixture
    """A ``vgw scheduler`` pulling from the zyh365 simulator loses its database mid-run: the
    run fails (recorded as ``failed``, kind ``store.unavailable``, once the database answers
    again, not counted against the source), the scheduler survives, and the next run resumes
    from the committed cursor: every record once, no page read twice into the store."""
    platform = Zyh365Platform().seed(volunteers=SYNC_COUNT)
    with gateway_on(pg_cluster) as app, running(platform) as url:
        add_zyh365_source(app, SOURCE, url, ["volunteer"], "every 1s")
        env = child_env(app, SCHEDULER_RELOAD_SECONDS=1, SYNC_PAGE_SIZE=80, LOG_LEVEL="INFO",
                        SYNC_RETRY_BACKOFF_SECONDS=1, SYNC_RETRY_MAX_BACKOFF_SECONDS=2)
        with schedulers(env, tmp_path) as start:
            scheduler = start()
            wait_until(lambda: pulled(app, SOURCE, "volunteer") >= 800, "the pull to pass 800",
                       timeout=120, processes=[scheduler])
            pg_cluster.stop("fast")
            time.sleep(3)  # the scheduler meets the closed database a few times
            assert scheduler.alive(), scheduler.output()[-3000:]
            pg_cluster.start()
            wait_until(lambda: pulled(app, SOURCE, "volunteer") == SYNC_COUNT, "the pull to finish",
                       timeout=180, processes=[scheduler])
            wait_until(lambda: any(r.status == "succeeded" and r.caught_up
                                   for r in runs_of(app, SOURCE)),
                       "a run that caught up", timeout=60, processes=[scheduler])
            set_schedule(app, SOURCE, "")
            wait_for_quiet(app, idle=2, timeout=60, processes=[scheduler])
            assert scheduler.stop() == 0, scheduler.output()[-3000:]
            output = scheduler.output()

        runs = runs_of(app, SOURCE)
        failed = [r for r in runs if r.status == "failed"]
        assert len(failed) == 1, ([(r.status, r.errors) for r in runs], output[-6000:])
        assert [e["kind"] for e in failed[0].errors] == ["store.unavailable"], failed[0].errors
        assert failed[0].finished_at is not None
        assert {r.status for r in runs} <= {"failed", "succeeded"}, [r.status for r in runs]
        assert runs[-1].status == "succeeded" and runs[-1].caught_up
        assert sum(r.written for r in runs) == SYNC_COUNT == sum(r.read for r in runs)
        assert scalar(app, "SELECT consecutive_failures FROM sync_sources WHERE name = :n",
                      n=SOURCE) == 0
        assert "the store is unavailable" in output
        assert "Traceback" not in output, output[-3000:]

        # every record once: the volunteers, their source rows, history and aggregates
        expected = {platform.record("volunteer", i)["vcode"] for i in range(1, SYNC_COUNT + 1)}
        with app.extensions["store.engine"].connect() as db:
            source_ids = db.execute(text("SELECT source_id FROM volunteer_sources "
                                         "WHERE source_system = :s"), {"s": SOURCE}).scalars().all()
        assert len(source_ids) == SYNC_COUNT and set(source_ids) == expected
        assert_exactly_once(app, SYNC_COUNT)
        assert pulled(app, SOURCE, "volunteer") == SYNC_COUNT


# -- a worker killed ----------------------------------------------------------------------------

BIG = 50_000


def test_a_worker_sigkilled_mid_50k_push_then_the_retry_stores_each_record_once(
        pg_cluster, tmp_path):  # noqa: F811 - the fixture
    """SIGKILL (no handler runs, nothing is released) to the gunicorn worker applying a
    50,000-record NDJSON push; gunicorn replaces it; the client's retry with the same key
    waits out the dead worker's lease (409, Retry-After), then the whole batch is processed:
    what the dead worker committed answers ``unchanged``, the rest ``created``, and the
    store holds every record exactly once."""
    with gateway_on(pg_cluster) as app:
        keys = register_client(app, "city-01")
        env = child_env(app, LOG_LEVEL="WARNING", IDEMPOTENCY_LEASE_SECONDS=3)
        server = Gunicorn(env, tmp_path / "gunicorn.log", workers=1, timeout=300,
                          port=gunicorn_port())
        try:
            started = time.monotonic()
            body = helpers.ndjson([helpers.item("volunteer", helpers.volunteer(i))
                                   for i in range(1, BIG + 1)])
            key = uuid.uuid4().hex
            (worker,) = server.live_workers()
            pusher, outcome = _push_in_background(server, keys, body, key, timeout=300)
            stored = _wait_for_rows(app.config["DATABASE_URL"], 5_000, seconds=120)
            killed_at = time.monotonic() - started
            os.kill(worker, signal.SIGKILL)
            pusher.join(timeout=60)
            assert not pusher.is_alive(), "the client never saw the worker die"
            assert isinstance(outcome[0], requests.RequestException), outcome
            assert stored < BIG
            deadline = time.monotonic() + 30
            while not [p for p in server.live_workers() if p != worker]:
                assert time.monotonic() < deadline, server.output()[-3000:]
                time.sleep(0.1)  # gunicorn boots a new worker
            committed = store_counts(app)["volunteers"]
            assert 0 < committed < BIG

            # nothing ran in the dead worker to give the key back: its lease must lapse
            assert _key_status(app, key) == "in_progress"
            retried, _seen = _retry_until_done(server, keys, body, key, seconds=240)
            print(f"worker killed at {killed_at:.1f} s with {stored:,} volunteers committed; "
                  f"the retry done at {time.monotonic() - started:.1f} s")
            lines = helpers.ndjson_lines(retried)
            summary = lines[-1]["summary"]
            assert summary["total"] == BIG and summary["rejected"] == 0, summary
            statuses = [line["status"] for line in lines[:-1]]
            assert statuses.count("unchanged") == committed, (committed, summary)
            assert statuses.count("created") == BIG - committed
            assert_exactly_once(app, BIG)
            assert "WORKER TIMEOUT" not in server.output()
        finally:
            server.stop()
