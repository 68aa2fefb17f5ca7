"""Pull runs from a simulated zyh365-style platform into the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import func, select

from gateway.exchange import message_log
from gateway.store.models import DeadLetter, MessageLog, SyncRun, Team, Volunteer
from sync_jobs import engine
from tests.integration.sync_jobs.helpers import (add_source, count, cursor, run, source_row,
                                                 sources_of, volunteers)


def test_a_pull_run_brings_every_record_once_and_stores_the_cursor(sync_app, platform, base_url):
    platform.seed(volunteers=200, departments=5)
    add_source(sync_app, "zyh", base_url, entities=["team", "volunteer"])

    (result,) = run(sync_app, "zyh")

    assert (result.status, result.read, result.written, result.rejected) == ("succeeded", 205, 205, 0)
    assert result.caught_up and result.lag_seconds == 0
    assert result.pages == 1 + 3          # 5 teams; 200 volunteers in pages of 80
    assert volunteers(sync_app) == 200 and sources_of(sync_app, "zyh") == 200
    assert count(sync_app, select(func.count()).select_from(Team)) == 5
    assert cursor(sync_app, "zyh", "pull", "volunteer") == "volunteer:200"
    assert cursor(sync_app, "zyh", "pull", "team") == "department:5"

    # Nothing new: nothing read, nothing written.
    (again,) = run(sync_app, "zyh")
    assert (again.status, again.read, again.written) == ("succeeded", 0, 0)
    assert volunteers(sync_app) == 200


def test_a_change_at_the_source_comes_round_again_as_an_update(sync_app, platform, base_url):
    platform.seed(volunteers=30)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    run(sync_app, "zyh")
    native = platform.record("volunteer", 7)
    (answer,) = platform.push("volunteer", [{**native, "name": "改名字", "updatetime": "2025-06-01 08:00:00"}])
    assert answer["code"] == "000"

    (result,) = run(sync_app, "zyh")

    assert (result.read, result.written, result.unchanged) == (1, 1, 0)
    with sync_app.extensions["store.sessionmaker"]() as session:
        names = session.execute(select(Volunteer.name)).scalars().all()
    assert "改名字" in names and len(names) == 30


def test_every_page_is_in_the_message_log_signed_by_the_gateway(sync_app, platform, base_url):
    """One signed entry per transaction, holding each of its pages (SYNC_PAGES_PER_TRANSACTION)."""
    platform.seed(volunteers=360)
    sync_app.config.update(SYNC_PAGES_PER_TRANSACTION=2)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    (result,) = run(sync_app, "zyh")

    with sync_app.extensions["store.sessionmaker"]() as session:
        entries = session.execute(select(MessageLog).where(MessageLog.adapter == "zyh365")
                                  .order_by(MessageLog.id)).scalars().all()
        assert result.pages == 5 and len(entries) == 3          # pages 1+2, 3+4, 5
        assert [e.summary["pages"] for e in entries] == [2, 2, 1]
        assert [e.summary["total"] for e in entries] == [160, 160, 40]
        first = orjson.loads(b"".join(message_log.read_blob(session, entries[0].body_blob)))
        assert (first["cursor"], first["next_cursor"]) == (None, "volunteer:160")
        assert [(p["cursor"], p["next_cursor"], len(p["items"])) for p in first["pages"]] == [
            (None, "volunteer:80", 80), ("volunteer:80", "volunteer:160", 80)]
        assert sum(e.summary["created"] for e in entries) == 360
        assert {e.source_name for e in entries} == {"zyh"} and {e.direction for e in entries} == {"in"}
        for entry in entries:
            assert message_log.verify_entry(session, entry).verified
        # Tampering with the logged evidence is detected.
        entries[0].body_sha256 = "0" * 64
        check = message_log.verify_entry(session, entries[0])
        assert not check.verified
        session.rollback()


def test_an_unreachable_platform_is_retried_with_backoff(sync_app, platform, base_url):
    platform.seed(volunteers=10)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    platform.fail_next("500", times=2)

    (result,) = run(sync_app, "zyh")

    assert (result.status, result.retries, result.written) == ("succeeded", 2, 10)


def test_with_retries_off_a_failure_fails_the_run_at_once(sync_app, platform, base_url):
    platform.seed(volunteers=10)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    with sync_app.extensions["store.sessionmaker"]() as session:
        engine.set_retries(session, False)
        session.commit()
    platform.fail_next("500", times=1)

    (result,) = run(sync_app, "zyh")

    assert (result.status, result.retries, result.written) == ("failed", 0, 0)
    assert result.errors[0]["kind"] == "adapter.unavailable"
    assert source_row(sync_app, "zyh").consecutive_failures == 1


def test_a_source_that_keeps_failing_is_paused_and_flagged(sync_app, platform, base_url):
    platform.seed(volunteers=5)
    sync_app.config.update(SYNC_PAUSE_AFTER_FAILURES=2, SYNC_RETRY_ATTEMPTS=2)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"], schedule="every 1m")
    platform.fail_next("500", times=4)

    assert run(sync_app, "zyh")[0].status == "failed"
    assert source_row(sync_app, "zyh").status == "active"
    assert run(sync_app, "zyh")[0].status == "failed"
    row = source_row(sync_app, "zyh")
    assert (row.status, row.flagged, row.consecutive_failures) == ("paused", True, 2)
    assert "2 failed runs in a row" in row.paused_reason
    with sync_app.app_context():  # the scheduler no longer starts it
        assert engine.run_source(sync_app, "zyh", trigger="schedule") is None


def test_a_run_that_stops_midway_resumes_from_its_last_page(sync_app, platform, base_url):
    platform.seed(volunteers=200)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    sync_app.config.update(SYNC_RETRY_ATTEMPTS=1)

    (first,) = run(sync_app, "zyh", max_pages=1)
    assert (first.written, first.caught_up) == (80, False)
    platform.fail_next("500", times=1)
    assert run(sync_app, "zyh")[0].status == "failed"
    assert cursor(sync_app, "zyh", "pull", "volunteer") == "volunteer:80"
    (last,) = run(sync_app, "zyh")

    assert (last.read, last.written) == (120, 120)
    assert volunteers(sync_app) == 200 and sources_of(sync_app, "zyh") == 200


@pytest.mark.parametrize("per_transaction", [1, 2])
def test_a_crash_inside_a_page_keeps_none_of_it(sync_app, platform, base_url, monkeypatch,
                                                per_transaction):
    """The transaction's records, dead letters, log entry and cursor commit together or not
    at all: with 2 pages per transaction, the crash in the second transaction (pages 3 and 4)
    keeps pages 1 and 2 and nothing of 3 and 4."""
    platform.seed(volunteers=80 * per_transaction + 120)
    sync_app.config.update(SYNC_PAGES_PER_TRANSACTION=per_transaction)
    kept = 80 * per_transaction
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    real = engine.message_log.record_adapter_batch
    calls = []

    def crash_on_the_second_page(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the process dies here")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.message_log, "record_adapter_batch", crash_on_the_second_page)
    with pytest.raises(RuntimeError):
        run(sync_app, "zyh")
    assert volunteers(sync_app) == kept
    assert cursor(sync_app, "zyh", "pull", "volunteer") == f"volunteer:{kept}"
    with sync_app.extensions["store.sessionmaker"]() as session:
        crashed = session.execute(select(SyncRun)).scalar_one()
        assert (crashed.status, crashed.written, crashed.pages) == ("failed", kept, per_transaction)
        assert session.execute(select(func.count()).select_from(MessageLog)).scalar() == 1

    monkeypatch.setattr(engine.message_log, "record_adapter_batch", real)
    (result,) = run(sync_app, "zyh")
    assert result.written == 120
    assert volunteers(sync_app) == kept + 120 and sources_of(sync_app, "zyh") == kept + 120


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(sync_app, platform, base_url):
    platform.seed(volunteers=3)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    with sync_app.extensions["store.sessionmaker"]() as session:
        session.add(SyncRun(source_id=source_row(sync_app, "zyh").id, direction="pull",
                            trigger="schedule", status="running", worker="gone:1", errors=[]))
        session.commit()

    run(sync_app, "zyh")

    with sync_app.extensions["store.sessionmaker"]() as session:
        statuses = session.execute(select(SyncRun.status).order_by(SyncRun.id)).scalars().all()
    assert statuses == ["interrupted", "succeeded"]


def test_a_slow_platform_gets_a_commit_per_page_not_an_open_transaction(sync_app, platform, base_url,
                                                                        monkeypatch):
    """When the next page is not there within READ_WAIT_SECONDS, the pages in hand commit
    first: no transaction (and no row lock) stays open while the local system is slow."""
    platform.seed(volunteers=200)
    sync_app.config.update(SYNC_PAGES_PER_TRANSACTION=8)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    monkeypatch.setattr(engine, "READ_WAIT_SECONDS", 0.05)
    platform.delay = 0.4

    (result,) = run(sync_app, "zyh")

    with sync_app.extensions["store.sessionmaker"]() as session:
        pages = session.execute(select(MessageLog.summary["pages"].as_integer())
                                .where(MessageLog.adapter == "zyh365")).scalars().all()
    assert (result.pages, result.written) == (3, 200)
    assert pages == [1, 1, 1]
    assert volunteers(sync_app) == 200


def test_a_transactions_pages_are_applied_in_one_call_in_page_order(sync_app, platform, base_url,
                                                                   monkeypatch):
    """The records of a transaction's pages (SYNC_PAGES_PER_TRANSACTION) go to apply_records
    together, in page order — the bulk path's per-call statements once per transaction, not
    once per page — and the refused ones reach the dead letters in that order."""
    from tests.integration.sync_jobs.test_dead_letters import CLOSE_BY

    platform.seed(volunteers=200)
    sync_app.config.update(SYNC_PAGES_PER_TRANSACTION=2)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"],
               scope={"region_prefix": CLOSE_BY, "pii": "full"})
    real, calls = engine.apply_in_version, []

    def counting(ctx, source, version, items):
        calls.append([data.get("source_id") for _entity, _op, data in items])
        return real(ctx, source, version, items)

    monkeypatch.setattr(engine, "apply_in_version", counting)
    (result,) = run(sync_app, "zyh")

    assert [len(c) for c in calls] == [160, 40]
    order = [platform.record("volunteer", i)["vcode"] for i in range(1, 201)]
    assert calls[0] + calls[1] == order
    assert result.written + result.dead_lettered == 200 and 0 < result.dead_lettered < 200
    assert volunteers(sync_app) == result.written
    with sync_app.extensions["store.sessionmaker"]() as session:
        keys = session.execute(select(DeadLetter.record_key).order_by(DeadLetter.id)).scalars().all()
    assert keys == [k for k in order if k in set(keys)]


def test_a_home_a_non_federating_mapping_puts_in_is_dropped(sync_app, platform, base_url,
                                                          monkeypatch):
    """Only an adapter that federates (R17) says a record's home: a zyh365 mapping whose
    output carries the home member (gateway.adapter.HOME) has it dropped before the record is
    applied — no home remembered, the records found and written as the platform's own."""
    from adapters.zyh365 import Zyh365Adapter
    from gateway.adapter import HOME
    from gateway.store.models import FederationHome

    assert not Zyh365Adapter.federates
    real = Zyh365Adapter.to_standard

    def with_a_home(self, entity, native):
        data = real(self, entity, native)
        return {**data, HOME: {"gateway": "gw-elsewhere", "key": f"K-{native.get('vcode')}"}}

    monkeypatch.setattr(Zyh365Adapter, "to_standard", with_a_home)
    platform.seed(volunteers=30)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"])
    (result,) = run(sync_app, "zyh")

    assert (result.status, result.written, result.dead_lettered) == ("succeeded", 30, 0)
    assert volunteers(sync_app) == 30 and sources_of(sync_app, "zyh") == 30
    assert count(sync_app, select(func.count()).select_from(FederationHome)) == 0
