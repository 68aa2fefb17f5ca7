"""The pull's read-ahead (sync_jobs.engine._ReadAhead): pages read and mapped in a thread of
their own up to a transaction's pages (and one) ahead of the pages being applied, on SQLite
and PostgreSQL, from the simulated platform over HTTP.

Page order and outcomes stay those of reading page by page, memory stays bounded, a read
that fails for good keeps the pages before it and none after, STOP and max_pages stop the
reader where they stop the run, and no reader thread outlives its run.
"""

from __future__ import annotations

import threading
import time

import orjson
import pytest
from sqlalchemy import select
from tenacity import wait_fixed

from gateway.exchange import message_log
from gateway.store.models import MessageLog, SyncRun
from sync_jobs import engine
from tests.integration.sync_jobs.helpers import add_source, cursor, run, sources_of, volunteers

PAGE = 80  # the platform's page (adapters/zyh365.py MAX_ROWS)


def readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sync-read")]


@pytest.fixture(autouse=True)
def no_reader_outlives_its_run():
    """Every test here: no reader thread before, none left once the run has returned."""
    assert readers() == []
    yield
    left = readers()
    assert left == [], f"reader threads still alive after the run: {left}"


@pytest.fixture
def stop_flag():
    """engine.STOP, cleared again whatever the test does (it is the process's flag)."""
    engine.STOP.clear()
    yield engine.STOP
    engine.STOP.clear()


def pulls(platform) -> list[int]:
    """The ``maxid`` of every volunteer pull the platform answered or refused, in order."""
    return [int(params["maxid"]) for path, params in platform.requests
            if path == "/api/syn/volunteer"]


def test_read_ahead_is_bounded_and_keeps_page_order_and_outcomes(sync_app, platform, base_url,
                                                                 monkeypatch):
    """With a slow store the reader runs ahead — but never more than the queue's pages
    (SYNC_PAGES_PER_TRANSACTION + 1) and the one in its hands — and every page is read once,
    in cursor order, applied in page order, logged with an unbroken cursor chain."""
    platform.seed(volunteers=10 * PAGE + 40)
    sync_app.config.update(SYNC_PAGES_PER_TRANSACTION=2)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    real, applied, ahead = engine.apply_in_version, [], []

    def slow_store(ctx, source, version, items):
        time.sleep(0.3)                                # the reader has time to fill its queue
        ahead.append(len(pulls(platform)) - len(applied) // PAGE - -(-len(items) // PAGE))
        applied.extend(data["source_id"] for _entity, _op, data in items)
        return real(ctx, source, version, items)

    monkeypatch.setattr(engine, "apply_in_version", slow_store)
    (result,) = run(sync_app, "zyh")

    assert (result.status, result.pages, result.read, result.written) == ("succeeded", 11, 840, 840)
    assert result.caught_up and cursor(sync_app, "zyh", "pull", "volunteer") == "volunteer:840"
    assert pulls(platform) == [PAGE * n for n in range(11)]          # each page read once, in order
    # pages read beyond those applied: the queue's 3 and the one in the reader's hands at most
    assert max(ahead) == 2 + 1 + 1 and min(ahead) >= 0
    assert applied == [platform.record("volunteer", i)["vcode"] for i in range(1, 841)]
    assert volunteers(sync_app) == 840 and sources_of(sync_app, "zyh") == 840
    with sync_app.extensions["store.sessionmaker"]() as session:
        entries = session.execute(select(MessageLog).where(MessageLog.adapter == "zyh365")
                                  .order_by(MessageLog.id)).scalars().all()
        bodies = [orjson.loads(b"".join(message_log.read_blob(session, e.body_blob)))
                  for e in entries]
    chain = [(p["cursor"], p["next_cursor"]) for body in bodies for p in body["pages"]]
    assert chain == [(None if n == 0 else f"volunteer:{PAGE * n}", f"volunteer:{min(PAGE * (n + 1), 840)}")
                     for n in range(11)]
    assert [e.summary["pages"] for e in entries] == [2] * 5 + [1]


@pytest.mark.parametrize("code", ["005", "500"], ids=["refused", "unavailable-after-retries"])
def test_a_read_failing_for_good_keeps_the_pages_before_it_and_none_after(sync_app, platform,
                                                                        base_url, code):
    """The sixth page cannot be read (a refusal at once, or 500 through every retry): the
    five before it — read ahead and not committed yet, in the same transaction of 8 — are
    committed with their cursor; nothing after the failed read is read or applied; the
    run fails with the read's error, recorded once."""
    platform.seed(volunteers=12 * PAGE)
    sync_app.config.update(SYNC_PAGES_PER_TRANSACTION=8, SYNC_RETRY_ATTEMPTS=3)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    platform.fail_pulls_from("volunteer", 5 * PAGE, code)

    (result,) = run(sync_app, "zyh")

    assert (result.status, result.pages, result.written) == ("failed", 5, 400)
    assert cursor(sync_app, "zyh", "pull", "volunteer") == "volunteer:400"
    assert volunteers(sync_app) == 400 and sources_of(sync_app, "zyh") == 400
    tries = 3 if code == "500" else 1
    assert pulls(platform) == [PAGE * n for n in range(5)] + [400] * tries
    assert [e["kind"] for e in result.errors] == [
        "adapter.unavailable" if code == "500" else "adapter.error"]
    with sync_app.extensions["store.sessionmaker"]() as session:
        row = session.execute(select(SyncRun)).scalar_one()
        assert (row.status, row.pages, row.written, len(row.errors)) == ("failed", 5, 400, 1)

    platform.fail_pulls_from("volunteer", 10**9)                      # mended
    (again,) = run(sync_app, "zyh")
    assert (again.status, again.written) == ("succeeded", 560)
    assert volunteers(sync_app) == 960 and sources_of(sync_app, "zyh") == 960


def test_stop_ends_the_run_after_the_transaction_in_hand_and_the_reader_with_it(
        sync_app, platform, base_url, monkeypatch, stop_flag):
    """STOP (SIGTERM to the scheduler) while the reader is in the middle of a slow read:
    the run commits what it applied, ends ``interrupted``, and its reader is gone when it
    returns (the fixture); the next run goes on from the cursor, every record once."""
    platform.seed(volunteers=10 * PAGE)
    sync_app.config.update(SYNC_PAGES_PER_TRANSACTION=2)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    platform.delay = 0.2
    real = engine.message_log.record_adapter_batch

    def stop_after_the_first_transaction(*args, **kwargs):
        stop_flag.set()
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.message_log, "record_adapter_batch", stop_after_the_first_transaction)
    (result,) = run(sync_app, "zyh")

    assert readers() == []                 # the reader was in a slow read: it ended first
    assert (result.status, result.pages, result.written) == ("interrupted", 2, 160)
    assert cursor(sync_app, "zyh", "pull", "volunteer") == "volunteer:160"
    assert volunteers(sync_app) == 160

    stop_flag.clear()
    monkeypatch.setattr(engine.message_log, "record_adapter_batch", real)
    platform.delay = 0
    (rest,) = run(sync_app, "zyh")
    assert (rest.status, rest.written) == ("succeeded", 640)
    assert volunteers(sync_app) == 800 and sources_of(sync_app, "zyh") == 800


def test_max_pages_reads_no_page_beyond_it(sync_app, platform, base_url):
    """max_pages 3 with 8 pages per transaction: three pages read (none ahead of the
    limit), applied and committed, the run not caught up."""
    platform.seed(volunteers=10 * PAGE)
    sync_app.config.update(SYNC_PAGES_PER_TRANSACTION=8)
    add_source(sync_app, "zyh", base_url, entities=["volunteer", "team"])

    (result,) = run(sync_app, "zyh", max_pages=3)
    assert readers() == []

    assert (result.status, result.pages, result.written, result.caught_up) == ("succeeded", 3, 240, False)
    assert pulls(platform) == [0, 80, 160]
    assert not [path for path, _params in platform.requests if path != "/api/syn/volunteer"]
    assert cursor(sync_app, "zyh", "pull", "volunteer") == "volunteer:240"


def test_a_failing_store_stops_a_reader_waiting_to_retry_at_once(sync_app, platform, base_url,
                                                                 monkeypatch):
    """The run fails while its reader waits between retries of the next page (30 s
    backoffs, the process's own wait): the reader stops at once — the run ends within a
    couple of seconds, not after the wait — and records no error of the page it never
    reached (the run's only error is its own). The backoff's jitter is pinned to its
    full length, so a reader that sleeps it out is always seen."""
    platform.seed(volunteers=3 * PAGE)
    sync_app.config.update(SYNC_PAGES_PER_TRANSACTION=1, SYNC_RETRY_ATTEMPTS=6,
                           SYNC_RETRY_BACKOFF_SECONDS=30, SYNC_RETRY_MAX_BACKOFF_SECONDS=30)
    monkeypatch.setattr(engine, "wait_random_exponential",
                        lambda multiplier, max: wait_fixed(multiplier))
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    platform.fail_pulls_from("volunteer", PAGE)               # the second page: 500, retried

    def store_fails_once_the_reader_waits(ctx, source, version, items):
        deadline = time.monotonic() + 10
        while not platform.rejected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert platform.rejected, "the reader never got to the second page"
        time.sleep(0.2)                                        # into its wait before the retry
        raise RuntimeError("the store fails here")

    monkeypatch.setattr(engine, "apply_in_version", store_fails_once_the_reader_waits)
    started = time.monotonic()
    with sync_app.app_context(), pytest.raises(RuntimeError, match="the store fails here"):
        engine.run_source(sync_app, "zyh")                    # the scheduler's sleep: STOP-aware
    assert readers() == []
    assert time.monotonic() - started < 3

    with sync_app.extensions["store.sessionmaker"]() as session:
        row = session.execute(select(SyncRun)).scalar_one()
        assert (row.status, row.pages, [e["kind"] for e in row.errors]) == ("failed", 0, ["internal"])
    assert cursor(sync_app, "zyh", "pull", "volunteer") is None
