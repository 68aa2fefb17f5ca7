"""Push runs: the store's change feed written to a simulated zyh365-style platform."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from gateway.caller import Caller
from gateway.exchange.upserts import Source, SourcePriority, apply_records
from gateway.services.context import ServiceContext
from gateway.store.models import DeadLetter, MessageLog, utcnow
from tests import factories
from tests.integration.exchange_push import helpers as push_helpers
from tests.integration.sync_jobs.helpers import add_source, cursor, run

PORTAL = Caller("portal", permissions={"volunteer": frozenset({"read", "write"})}, pii_full=True)


def _people(n: int, start: int = 0) -> list[dict]:
    """n valid volunteers in 330102 with distinct documents."""
    return [push_helpers.volunteer(i, area="330102", source_id=factories.OMIT)
            for i in range(start, start + n)]


def _write(app, caller: Caller, records: list[dict]) -> list[str]:
    with app.app_context(), app.extensions["store.sessionmaker"]() as session:
        ctx = ServiceContext(session=session, caller=caller, engine=app.extensions["standard.engine"],
                             vault=app.extensions["privacy.vault"], config=app.config)
        outcomes = apply_records(ctx, Source(caller.client_id, utcnow(), SourcePriority()),
                                 [("volunteer", "upsert", r) for r in records])
        session.commit()
    assert all(o.status == "created" for o in outcomes), outcomes
    return [o.key for o in outcomes]


def test_a_push_run_writes_the_feed_to_the_platform_and_moves_its_cursor(sync_app, platform, base_url):
    _write(sync_app, PORTAL, _people(12))
    add_source(sync_app, "zyh-out", base_url, direction="push", entities=["volunteer"])

    (result,) = run(sync_app, "zyh-out")

    assert (result.status, result.written, result.rejected, result.caught_up) == ("succeeded", 12, 0, True)
    assert platform.count("volunteer") == 12
    assert cursor(sync_app, "zyh-out", "push", "*") is not None
    with sync_app.extensions["store.sessionmaker"]() as session:
        logged = session.execute(select(MessageLog).where(MessageLog.direction == "out",
                                                          MessageLog.adapter == "zyh365")).scalars().all()
    assert sum(e.summary["written"] for e in logged) == 12

    # Nothing changed since: nothing is written again.
    (again,) = run(sync_app, "zyh-out")
    assert (again.read, again.written) == (0, 0)
    _write(sync_app, PORTAL, _people(3, start=100))
    (more,) = run(sync_app, "zyh-out")
    assert more.written == 3 and platform.count("volunteer") == 15


def test_what_came_from_a_source_is_not_sent_back_to_it(sync_app, platform, base_url):
    platform.seed(volunteers=20)
    add_source(sync_app, "zyh", base_url, direction="both", entities=["volunteer"])

    pull, push = run(sync_app, "zyh")

    assert (pull.direction, pull.written) == ("pull", 20)
    assert (push.direction, push.read, push.written) == ("push", 20, 0)
    assert platform.count("volunteer") == 20


def test_a_record_the_platform_refuses_goes_to_the_dead_letters(sync_app, platform, base_url):
    people = _people(4)
    numbers = _write(sync_app, PORTAL, people)
    add_source(sync_app, "zyh-out", base_url, direction="push", entities=["volunteer"])
    # Someone else already holds, on the platform, the number the store gave the second person:
    # the platform refuses that one record (E12) and takes the others.
    (taken,) = platform.push("volunteer", [{"vcode": numbers[1], "name": "别人", "idcardtype": "1",
                                             "idcard": "110105194912310021", "mphone": "13900000000",
                                             "sex": "女"}])
    assert taken["code"] == "000"

    (result,) = run(sync_app, "zyh-out")

    assert (result.status, result.written, result.dead_lettered) == ("partial", 3, 1)
    with sync_app.extensions["store.sessionmaker"]() as session:
        (letter,) = session.execute(select(DeadLetter)).scalars().all()
    assert (letter.direction, letter.entity, letter.record_key, letter.rule) == (
        "push", "volunteer", numbers[1], "zyh365.E12")
    assert letter.attempts == sync_app.config["SYNC_RECORD_ATTEMPTS"]  # tried, then set aside
    # The cursor moved past it: the next run sends nothing again.
    (again,) = run(sync_app, "zyh-out")
    assert (again.written, again.dead_lettered) == (0, 0)


def test_the_cursor_stays_at_the_last_acknowledged_record_when_the_platform_fails(sync_app, platform, base_url):
    _write(sync_app, PORTAL, _people(5))
    sync_app.config.update(SYNC_RETRY_ATTEMPTS=1)
    add_source(sync_app, "zyh-out", base_url, direction="push", entities=["volunteer"])
    platform.fail_next("500", times=1)

    (failed,) = run(sync_app, "zyh-out")

    assert (failed.status, failed.written) == ("failed", 0)
    assert cursor(sync_app, "zyh-out", "push", "*") is None
    (ok,) = run(sync_app, "zyh-out")
    assert ok.written == 5 and platform.count("volunteer") == 5


def test_a_push_source_sees_only_its_scope(sync_app, platform, base_url):
    people = _people(6)
    elsewhere = [push_helpers.volunteer(i, area="110105", source_id=factories.OMIT) for i in (50, 51)]
    _write(sync_app, dataclasses.replace(PORTAL), people + elsewhere)
    add_source(sync_app, "zyh-out", base_url, direction="push", entities=["volunteer"],
               scope={"region_prefix": "3301", "pii": "full"})

    (result,) = run(sync_app, "zyh-out")

    assert result.written == 6 and platform.count("volunteer") == 6
