"""Federation identity survives the dead letters: a replayed record keeps its home.

Real gateways on 127.0.0.1 (A on ``store_app``: SQLite, then PostgreSQL; B on a SQLite file),
real sync runs and real replays (``sync_jobs.dead_letters.replay``), as
test_federation_identity.py. A record that goes to the dead letters keeps the home it came
with (``dead_letters.home``), and its replay applies (pull) or sends (push) it with that home:

* pull: B corrects A's own service record; A pulls it while A's source for B may not reach
  A's record (the source's region scope), so the correction (and the tombstone of B's copy
  it replaces) is refused (out of scope) into the dead letters. Once the scope is widened,
  the replay applies the correction to A's record itself: no second copy, no letter left.
  The pull's signed evidence (the message log's pages) holds each item's home.
* push delete: B voids A's project and pushes the tombstone to A while B's client at A may
  not reach A's project (region scope): A refuses it (out of scope). Once the scope is
  widened (and A's stored answer to that exact batch gone: a batch sent again with the same
  bytes gets the first answer, gateway/exchange/client.py), the replay sends the tombstone
  with its home and A voids its own project.

Without the home kept and used (the replay mapping with no home; the tombstone's replay
without ``homes=``) the pulled correction is refused again and the tombstone answers
"already gone" at A (A's project stays active): both tests fail.
"""

from __future__ import annotations

from decimal import Decimal

import orjson

from sqlalchemy import delete, select, update

from gateway import store
from gateway.services import activities
from gateway.exchange import message_log
from gateway.store.models import Client, DeadLetter, IdempotencyKey, MessageLog, SyncSource
from sync_jobs import dead_letters, engine
from tests.integration.adapters_standard.support import push_natives
from tests.integration.adapters_standard.test_federation_identity import (
    correct, identify, project_no, project_state, record_of)
from tests.integration.adapters_standard.test_no_echo import (
    federate_teams, holdings, local_people_and_hours, settle)
from tests.integration.adapters_standard import test_no_echo

gateways = test_no_echo.gateways  # the two gateways A and B (a fixture)


def _held(app) -> dict[str, int]:
    """What the gateway holds, its dead letters (replayed ones are kept) left out."""
    return {k: v for k, v in holdings(app).items() if k != "dead letters"}


def _letters(app) -> list[DeadLetter]:
    with store.session_scope(app) as session:
        rows = session.execute(select(DeadLetter).where(DeadLetter.status == "pending")
                               .order_by(DeadLetter.id)).scalars().all()
        for row in rows:
            session.expunge(row)
        return rows


def _scope(side, name: str, scope) -> None:
    with store.session_scope(side.app) as session:
        session.execute(update(SyncSource).where(SyncSource.name == name).values(scope=scope))


def _run(side, name: str) -> list[engine.RunResult]:
    with side.app.app_context():
        done = engine.run_source(side.app, name, sleep=lambda _s: None)
    assert done is not None
    return done


def test_a_replayed_pulled_edit_reaches_the_home_record(gateways):
    a, b = gateways
    identify(a, b)
    federate_teams(a, b, "pull-pull")
    local_people_and_hours(a, 1, 0)
    local_people_and_hours(b, 1, 500)
    settle(a, b, 2)
    expected = _held(a.app)
    assert _held(b.app) == expected and expected["service records"] == 2

    correct(b, record_of(b, a, 0).record_no, 30)            # A's record, corrected at B
    _scope(a, "pull-b", {"region_prefix": "65"})             # not A's region, for now
    (pulled,) = _run(a, "pull-b")
    assert pulled.status == "partial" and pulled.dead_lettered >= 1
    letters = _letters(a.app)
    assert letters and all(d.direction == "pull" for d in letters)
    with store.session_scope(a.app) as session:                # the run's signed evidence
        entry = session.execute(select(MessageLog).where(MessageLog.adapter == "standard",
                                                         MessageLog.direction == "in")
                                .order_by(MessageLog.id.desc()).limit(1)).scalar_one()
        body = orjson.loads(b"".join(message_log.read_blob(session, entry.body_blob)))
        assert message_log.verify_entry(session, entry).verified
    items = [i for p in body["pages"] for i in p["items"]]
    assert items and all(i["home"]["gateway"] == "gw-a-id" for i in items), items
    homes = [d.home for d in letters]
    assert {"gateway": "gw-a-id", "key": record_of(a, a, 0).record_no}.items() <= \
        next(h for h in homes if h and h.get("key") == record_of(a, a, 0).record_no).items()

    _scope(a, "pull-b", None)
    with a.app.app_context():
        summary = dead_letters.replay(a.app, dead_letters.Filter(source="pull-b"),
                                      sleep=lambda _s: None)
    assert (summary.replayed, summary.failed) == (len(letters), 0), [
        (d.rule, d.reason) for d in _letters(a.app)]
    assert _letters(a.app) == []
    assert record_of(a, a, 0).hours == Decimal("0.50")      # the home record, corrected
    assert _held(a.app) == expected                          # and no second copy
    settle(a, b)
    assert _held(a.app) == _held(b.app) == expected
    assert record_of(b, a, 0).hours == Decimal("0.50")


def test_a_replayed_pushed_delete_deletes_the_home_record(gateways):
    a, b = gateways
    identify(a, b)
    federate_teams(a, b, "push-push")
    settle(a, b, 2)
    assert project_state(a, 0)[0] != activities.PROJECT_VOID

    b_console = b.remote.register("console-b")
    push_natives(b.remote, b_console, "project", [
        {"entity": "project", "op": "delete", "data": {"project_no": project_no(b, 0)}}])
    with store.session_scope(a.app) as session:                # B's client at A: not A's region
        session.execute(update(Client).where(Client.client_id == "gw-b").values(region_prefix="65"))
    (pushed,) = _run(b, "push-a")
    assert pushed.status == "partial" and pushed.dead_lettered == 1
    (letter,) = _letters(b.app)
    assert (letter.direction, letter.op, letter.rule) == ("push", "delete", "exchange.out_of_scope")
    assert letter.home is not None
    assert (letter.home["gateway"], letter.home["key"]) == ("gw-a-id", project_no(a, 0))
    assert project_state(a, 0)[0] != activities.PROJECT_VOID

    with store.session_scope(a.app) as session:
        session.execute(update(Client).where(Client.client_id == "gw-b").values(region_prefix=""))
        session.execute(delete(IdempotencyKey))
    with b.app.app_context():
        summary = dead_letters.replay(b.app, dead_letters.Filter(source="push-a"),
                                      sleep=lambda _s: None)
    assert (summary.replayed, summary.failed) == (1, 0), [(d.rule, d.reason) for d in _letters(b.app)]
    assert project_state(a, 0)[0] == activities.PROJECT_VOID   # A's own project, voided
    settle(a, b)
    assert _held(a.app) == _held(b.app)
    assert project_state(b, 0)[0] == activities.PROJECT_VOID
