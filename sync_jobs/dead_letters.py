"""Records that kept failing: list them, replay them (one by one or in bulk by filter), discard.

A dead letter keeps the record as it was when it failed — the local system's native record
for a pull, the standard record for a push — encrypted, with its home (a federated record's,
docs/protocol.md "Federation identity": the replay applies or sends it with that home, as
the run would have), the reason (the issues: pointer,
rule, messages) and the number of attempts. Replaying runs it through the same path again:
a pulled record is mapped, validated and upserted (for instance once the volunteer a service
record names has arrived, or after the adapter's mapping was fixed); a pushed one is written
to the local system again. A replay holds the source's lock like a run and is recorded in the
run history with trigger ``replay``. What succeeds is marked ``replayed``; what fails again
stays ``pending`` with the new reason and one more attempt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import orjson
from flask import Flask
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from gateway import metrics
from gateway.adapter import MappingError
from gateway.exchange.upserts import Source, apply_records
from gateway.store.models import DeadLetter, SyncSource, utcnow
from sync_jobs import engine as engine_mod
from sync_jobs.locks import SourceLock

__all__ = ["Filter", "ReplaySummary", "discard", "listing", "payload", "replay"]


@dataclass(frozen=True)
class Filter:
    """Which dead letters: by id, or by source / entity / rule / status (``None``: any)."""

    ids: tuple[int, ...] = ()
    source: str | None = None
    entity: str | None = None
    rule: str | None = None
    status: str | None = "pending"

    def select(self) -> Select:
        stmt = select(DeadLetter, SyncSource.name).join(SyncSource, SyncSource.id == DeadLetter.source_id)
        if self.ids:
            stmt = stmt.where(DeadLetter.id.in_(self.ids))
        if self.source:
            stmt = stmt.where(SyncSource.name == self.source)
        if self.entity:
            stmt = stmt.where(DeadLetter.entity == self.entity)
        if self.rule:
            stmt = stmt.where(DeadLetter.rule == self.rule)
        if self.status:
            stmt = stmt.where(DeadLetter.status == self.status)
        return stmt.order_by(DeadLetter.id)


@dataclass
class ReplaySummary:
    replayed: int = 0
    failed: int = 0
    busy_sources: tuple[str, ...] = ()


def listing(session: Session, flt: Filter, limit: int = 100) -> list[dict[str, Any]]:
    """Dead letters as rows for display (no payload: it holds personal data)."""
    rows = session.execute(flt.select().limit(limit)).all()
    return [{"id": d.id, "source": name, "direction": d.direction, "entity": d.entity,
             "op": d.op, "record_key": d.record_key, "rule": d.rule, "reason": d.reason,
             "attempts": d.attempts, "status": d.status, "created_at": d.created_at.isoformat(),
             "last_attempt_at": d.last_attempt_at.isoformat()} for d, name in rows]


def payload(app: Flask, letter: DeadLetter) -> Any:
    """The failed record, decrypted (personal data: never log it)."""
    return orjson.loads(app.extensions["privacy.vault"].decrypt(letter.payload_enc))


def discard(session: Session, flt: Filter) -> int:
    """Mark the matching pending dead letters discarded (kept, no longer replayed)."""
    count = 0
    for letter, _name in session.execute(flt.select()).all():
        if letter.status == "pending":
            letter.status, letter.resolved_at = "discarded", utcnow()
            count += 1
    return count


def replay(app: Flask, flt: Filter, *, sleep: Callable[[float], None] = time.sleep) -> ReplaySummary:
    """Replay the matching pending dead letters, source by source (see the module docstring)."""
    sessions: sessionmaker[Session] = app.extensions["store.sessionmaker"]
    with sessions() as session:
        wanted = [(d.id, d.source_id) for d, _n in session.execute(flt.select()).all()
                  if d.status == "pending"]
    summary = ReplaySummary()
    busy = []
    by_source: dict[int, list[int]] = {}
    for letter_id, source_id in wanted:
        by_source.setdefault(source_id, []).append(letter_id)
    for source_id, ids in by_source.items():
        with sessions() as session:
            source = session.get(SyncSource, source_id)
            session.expunge(source)
        lock = SourceLock(app.extensions["store.engine"], sessions, source.id,
                          app.config["SYNC_LEASE_SECONDS"])
        if not lock.acquire():
            busy.append(source.name)
            continue
        try:
            with engine_mod.adapter_for(app, source) as adapter:
                for direction in ("pull", "push"):
                    chosen = _of_direction(sessions, ids, direction)
                    if not chosen:
                        continue
                    run = engine_mod.Run(app, source, direction, "replay", lock, adapter, None, sleep)
                    ok, failed = (_replay_pull if direction == "pull" else _replay_push)(app, run, chosen)
                    summary.replayed += ok
                    summary.failed += failed
                    run.finish("succeeded" if not failed else "partial")
        finally:
            lock.release()
    summary.busy_sources = tuple(busy)
    return summary


def _of_direction(sessions: sessionmaker[Session], ids: Iterable[int], direction: str) -> list[int]:
    with sessions() as session:
        return list(session.execute(select(DeadLetter.id).where(
            DeadLetter.id.in_(list(ids)), DeadLetter.direction == direction,
            DeadLetter.status == "pending").order_by(DeadLetter.id)).scalars())


def _settle(letter: DeadLetter, ok: bool, reason: list[dict[str, Any]] | None) -> None:
    letter.attempts += 1
    letter.last_attempt_at = utcnow()
    if ok:
        letter.status, letter.resolved_at = "replayed", utcnow()
    else:
        letter.reason = reason or letter.reason
        letter.rule = (letter.reason[0].get("rule") if letter.reason else None)


def _replay_pull(app: Flask, run: "engine_mod.Run", ids: list[int]) -> tuple[int, int]:
    ok = failed = 0
    for letter_id in ids:  # one transaction per record: one failure never holds back the rest
        with run.sessions() as session:
            run.touch(session)  # a write first: see Run.touch
            letter = session.get(DeadLetter, letter_id)
            native = payload(app, letter)
            source = Source(run.source.name, utcnow(), run.priority, f"sync-replay-{run.result.run_id}")
            try:  # mapped as the run maps it, with the home the item came with
                data = engine_mod.pulled_record(run.adapter, letter.entity, letter.op,
                                                letter.record_key, native, letter.home)
            except MappingError as exc:
                _settle(letter, False, [i.as_dict() for i in exc.issues])
                failed += 1
                session.commit()
                metrics.records("sync_pull", run.source.name,
                                [(letter.entity, "rejected", [i.rule for i in exc.issues])])
                continue
            (outcome,) = apply_records(run.context(session), source, [(letter.entity, letter.op, data)])
            entity = letter.entity
            good = outcome.status != "rejected"
            _settle(letter, good, [i.as_dict() for i in outcome.errors])
            if good:
                ok += 1
                run.count(read=1, written=int(outcome.status != "unchanged"),
                          unchanged=int(outcome.status == "unchanged"))
            else:
                failed += 1
                run.count(read=1, rejected=1)
            run.commit(session)
        # Counted once committed, as a run's pages are (a replay is a sync record again).
        metrics.records("sync_pull", run.source.name,
                        [(entity, outcome.status, [i.rule for i in outcome.errors])])
    return ok, failed


def _replay_push(app: Flask, run: "engine_mod.Run", ids: list[int]) -> tuple[int, int]:
    ok = failed = 0
    for letter_id in ids:
        with run.sessions() as session:
            letter = session.get(DeadLetter, letter_id)
            record = payload(app, letter)
            try:
                if letter.op == "delete" and run.adapter.federates:
                    # a tombstone ({"key": number}) with its home, as the run sent it
                    (result,) = run.call(f"delete 1 {letter.entity}", lambda: run.adapter.delete(
                        letter.entity, [record["key"]], homes=[letter.home]))  # type: ignore[call-arg]
                elif letter.op == "delete":   # a tombstone ({"key": number}) the target refused
                    (result,) = run.call(f"delete 1 {letter.entity}", lambda: run.adapter.delete(
                        letter.entity, [record["key"]]))
                else:
                    (result,) = run.call(f"write 1 {letter.entity}",
                                         lambda: run.adapter.write(letter.entity, [record]))
            except engine_mod.RunFailed as exc:
                _settle(letter, False, [{"pointer": "", "rule": "adapter.unavailable",
                                         "message_zh": "本地系统不可用", "message_en": str(exc)}])
                failed += 1
                session.commit()
                continue
            _settle(letter, result.ok, [i.as_dict() for i in result.errors])
            entity, rules = letter.entity, [i.rule for i in result.errors] or ["adapter.refused"]
            if result.ok:
                ok += 1
                run.count(read=1, written=1)
            else:
                failed += 1
                run.count(read=1, rejected=1)
            run.commit(session)
        metrics.records("sync_push", run.source.name,
                        [(entity, "written", ()) if result.ok else (entity, "rejected", rules)])
    return ok, failed
