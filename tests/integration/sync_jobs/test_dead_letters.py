"""Dead letters: kept with their reason, replayed one by one or in bulk, discarded."""

from __future__ import annotations

import json

from sqlalchemy import select

from gateway.store.models import DeadLetter
from sync_jobs import dead_letters
from tests.integration.sync_jobs.helpers import add_source, run, sources_of, volunteers

CLOSE_BY = "330102"   # two of the simulator's twelve streets are in 330102; the rest elsewhere


def _pending(app) -> list[DeadLetter]:
    with app.extensions["store.sessionmaker"]() as session:
        return session.execute(select(DeadLetter).where(DeadLetter.status == "pending")
                               .order_by(DeadLetter.id)).scalars().all()


def test_records_outside_the_scope_wait_in_the_dead_letters_until_replayed(sync_app, platform, base_url):
    platform.seed(volunteers=24)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"],
               scope={"region_prefix": CLOSE_BY, "pii": "full"})

    (result,) = run(sync_app, "zyh")

    letters = _pending(sync_app)
    assert (result.status, result.written) == ("partial", volunteers(sync_app))
    assert len(letters) == result.dead_lettered == 24 - result.written > 0
    assert {d.rule for d in letters} == {"exchange.out_of_scope"}
    assert all(d.direction == "pull" and d.record_key for d in letters)
    # The payload is kept encrypted: no ID number in the row as stored.
    native = dead_letters.payload(sync_app, letters[0])
    assert native["idcard"] and native["idcard"] not in letters[0].payload_enc

    # One by one: still out of scope, so it fails again with one more attempt.
    summary = dead_letters.replay(sync_app, dead_letters.Filter(ids=(letters[0].id,)), sleep=lambda s: None)
    assert (summary.replayed, summary.failed) == (0, 1)
    assert _pending(sync_app)[0].attempts == 2

    # The operator widens the scope; a bulk replay by filter brings everyone in, once.
    with sync_app.app_context(), sync_app.extensions["store.sessionmaker"]() as session:
        from sync_jobs import sources

        row = sources.get(session, "zyh")
        row.scope = {**row.scope, "region_prefix": "3301"}
        session.commit()
    summary = dead_letters.replay(sync_app, dead_letters.Filter(source="zyh", rule="exchange.out_of_scope"),
                                  sleep=lambda s: None)
    assert (summary.replayed, summary.failed) == (len(letters), 0)
    assert _pending(sync_app) == []
    assert volunteers(sync_app) == 24 and sources_of(sync_app, "zyh") == 24
    # Replaying again finds nothing to do; a later run reads nothing new.
    assert dead_letters.replay(sync_app, dead_letters.Filter(source="zyh")).replayed == 0
    (after,) = run(sync_app, "zyh")
    assert (after.read, after.dead_lettered) == (0, 0)


def test_the_cli_lists_replays_and_discards(sync_app, platform, base_url):
    platform.seed(volunteers=12)
    add_source(sync_app, "zyh", base_url, entities=["volunteer"],
               scope={"region_prefix": CLOSE_BY, "pii": "full"})
    run(sync_app, "zyh")
    runner = sync_app.test_cli_runner()

    listed = runner.invoke(args=["sync", "dead-letters", "list", "--json", "--source", "zyh"])
    rows = json.loads(listed.output)
    assert listed.exit_code == 0 and len(rows) == len(_pending(sync_app)) > 1
    assert "idcard" not in listed.output and rows[0]["rule"] == "exchange.out_of_scope"

    discarded = runner.invoke(args=["sync", "dead-letters", "discard", str(rows[0]["id"])])
    assert discarded.exit_code == 0 and "discarded 1" in discarded.output
    assert runner.invoke(args=["sync", "dead-letters", "replay"]).exit_code == 2  # ids or --all

    still = runner.invoke(args=["sync", "dead-letters", "replay", "--all", "--source", "zyh"])
    assert still.exit_code == 1 and f"still failing {len(rows) - 1}" in still.output
    history = json.loads(runner.invoke(args=["sync", "runs", "zyh", "--json"]).output)
    assert history[0]["trigger"] == "replay" and history[0]["rejected"] == len(rows) - 1


def test_the_cli_says_so_when_there_is_no_dead_letter(sync_app):
    """An empty listing is a sentence, not silence (issue 12, item 11)."""
    runner = sync_app.test_cli_runner()
    listed = runner.invoke(args=["sync", "dead-letters", "list"])
    assert listed.exit_code == 0 and listed.output == "no pending dead letters\n"
    listed = runner.invoke(args=["sync", "dead-letters", "list", "--status", "all", "--source", "x"])
    assert listed.output == "no dead letters matching the filter\n"
    assert runner.invoke(args=["sync", "dead-letters", "list", "--json"]).output.strip() == "[]"
