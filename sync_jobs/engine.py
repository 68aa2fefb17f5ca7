"""One run of one source: pull its changes into the store, push the store's changes to it.

:func:`run_source` is what ``vgw sync run SOURCE`` and the scheduler call. A run

1. takes the source's lock (:mod:`sync_jobs.locks`; busy → no run, ``None``), marks runs the
   lock's previous holder left ``running`` as ``interrupted``, and records a ``running`` run;
2. **pulls** (direction pull or both), entity by entity: reads the pages from the adapter
   after the stored cursor and maps each item to the standard (``to_standard``) in a reader
   thread (:class:`_ReadAhead`), up to SYNC_PAGES_PER_TRANSACTION + 1 pages ahead in a
   bounded queue while the pages before are written, handed over in page order (a read that
   fails for good is raised in its page's place: the pages before it commit, none after it
   is read), and applies the pages of one transaction (SYNC_PAGES_PER_TRANSACTION of them)
   with ONE call of :func:`gateway.exchange.upserts.apply_records` — the same validation and
   idempotent upserts as a direct push, outcomes as if each record were applied in order —
   and in ONE transaction writes the records, the dead letters, the pages' message-log
   entry, the run's counters and the new cursor. A crash at any point leaves either the
   whole transaction or none of it: the next run reads the same pages again from the old
   cursor, and the upserts find what an earlier attempt wrote (by the source's id or the
   person's document), so every record ends up in the store exactly once (pages read
   ahead and not committed are read again). When the next page is not there within
   READ_WAIT_SECONDS the pages in hand commit first; the reader stops when the run ends,
   however it ends, and the run returns only once its reader thread has ended;
3. **pushes** (direction push or both): reads the change feed (gateway.exchange.feed) in the
   source's scope after its push cursor, skips what came from the receiver (a change whose
   ``origin`` is the source itself or one of ``adapter.receiver_origins()``: no echo) and
   what it does not take (other entities), writes runs of same-entity upserts with
   ``adapter.write`` and of tombstones with ``adapter.delete`` — or, for an adapter that
   cannot delete (``can_delete = False``), counts the tombstones as ``skipped`` with the
   reason ``adapter.cannot_delete`` in the run's summary — and advances the cursor only
   over records the target acknowledged (or that went to the dead letters). A crash between
   the write and the cursor's commit sends those records again; adapters' writes are
   idempotent (R10), so the target still holds one copy;
4. ends the run (succeeded / partial: some records dead-lettered / failed), resets or counts
   the source's failures; after SYNC_PAUSE_AFTER_FAILURES failed runs in a row the source is
   paused and flagged.

Failures
    An adapter call that raises :class:`~gateway.adapter.AdapterUnavailable` is retried with
    exponential backoff and jitter (tenacity) up to SYNC_RETRY_ATTEMPTS, unless retries are
    switched off (``vgw sync retries off``, read before every retry); then the run fails where
    it is (what was committed stays). Any other :class:`~gateway.adapter.AdapterError` fails
    the run at once. A record that breaks a rule, cannot be mapped, or is refused by the
    target goes to the dead letters at once with the reason (the same bytes would fail again);
    one refused for a reason that may pass (``exchange.conflict``: a concurrent change; a
    target's error outside the mapping/schema rules) is tried up to SYNC_RECORD_ATTEMPTS
    times first. :mod:`sync_jobs.dead_letters` replays them.

    The gateway's own database going away in the middle of a run (stopped, restarting, the
    connection cut) is not a record's fault: no record is dead-lettered or counted as
    refused for it. The run stops where it is (the page in hand is rolled back, the
    committed pages and their cursor stay), waits for the database with exponential backoff
    and jitter, and records itself ``failed`` (kind ``store.unavailable``; not counted
    towards pausing the source); the next scheduled run resumes from the cursor. The
    scheduler keeps running meanwhile and logs one line per attempt it could not make.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator, TypeVar, overload

from collections import Counter

import orjson
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from tenacity import (RetryCallState, Retrying, retry_if_exception, retry_if_exception_type,
                      wait_random_exponential)

from gateway import logs, metrics
from gateway.errors import store_unavailable
from gateway.adapter import (Adapter, AdapterError, AdapterUnavailable, MappingError, NativeItem,
                             load_adapter, with_home)
from gateway.exchange import feed, message_log
from gateway.exchange.national import apply_in_version
from gateway.exchange.upserts import Outcome, Source, SourcePriority
from gateway.services.context import ServiceContext
from gateway.standard.issues import Issue
from gateway.standard.rules.common import parse_local_datetime
from gateway.store.models import (DeadLetter, SyncCursor, SyncFlag, SyncRun, SyncSource,
                                  utcnow)
from sync_jobs import sources as sources_mod
from sync_jobs.locks import SourceLock, worker_name

__all__ = ["Run", "RunFailed", "RunResult", "adapter_for", "pulled_record", "retries_enabled",
           "run_source", "set_retries"]

log = logging.getLogger("sync_jobs.engine")

T = TypeVar("T")
FEED = "*"                     # the push cursor's entity: the whole change feed
SKIP_CANNOT_DELETE = "adapter.cannot_delete"
MAX_RUN_ERRORS = 20            # errors kept per run
#: Rule-id prefixes of a target's per-record refusal that will not pass by trying again.
PERMANENT_RULES = ("mapping.", "schema.", "code.", "citizen_id.", "volunteer.", "team.",
                   "project.", "service_record.", "uscc.", "region.", "datetime.", "batch.",
                   "exchange.link_unknown", "exchange.out_of_scope", "exchange.invalid",
                   "exchange.not_found", "exchange.not_pushable", "exchange.link_fixed",
                   "exchange.data", "exchange.op")


@dataclass
class RunResult:
    """What a run did (also kept in ``sync_runs``)."""

    run_id: int
    source: str
    direction: str
    status: str = "running"
    pages: int = 0
    read: int = 0
    written: int = 0
    unchanged: int = 0
    rejected: int = 0
    dead_lettered: int = 0
    retries: int = 0
    #: changes the target did not get although the source takes their entity, and why:
    #: ``{rule: {"count", "message"}}`` (``adapter.cannot_delete``: tombstones for an adapter
    #: that cannot delete)
    skipped: int = 0
    skipped_reasons: dict[str, dict[str, Any]] = field(default_factory=dict)
    lag_seconds: int | None = None
    caught_up: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


#: Set by the scheduler on SIGTERM: runs stop after the page in hand (status "interrupted").
STOP = threading.Event()


class _Stopped(Exception):
    """The process is stopping: end the run between two pages."""


class RunFailed(Exception):
    """The run cannot go on (the adapter is unreachable after retries, or failed for good).

    ``error``: the run's error entry (kind, message) not recorded yet — a read ahead
    (:class:`_ReadAhead`) records it when the run reaches that page, not when it was read."""

    def __init__(self, message: str, error: tuple[str, str] | None = None):
        super().__init__(message)
        self.error = error


# -- the global retry switch -----------------------------------------------------------------------

RETRIES_FLAG = "retries"


def retries_enabled(session: Session) -> bool:
    value = session.execute(select(SyncFlag.value).where(SyncFlag.name == RETRIES_FLAG)).scalar_one_or_none()
    return value != "off"


def set_retries(session: Session, enabled: bool) -> None:
    row = session.get(SyncFlag, RETRIES_FLAG)
    if row is None:
        session.add(SyncFlag(name=RETRIES_FLAG, value="on" if enabled else "off", updated_at=utcnow()))
    else:
        row.value, row.updated_at = ("on" if enabled else "off"), utcnow()


# -- one run -------------------------------------------------------------------------------------------

class Run:
    """The state of one run of one source in one direction."""

    def __init__(self, app: Flask, source: SyncSource, direction: str, trigger: str,
                 lock: SourceLock, adapter: Adapter, max_pages: int | None,
                 sleep: Callable[[float], None]):
        self.app, self.source, self.direction, self.lock = app, source, direction, lock
        self.adapter = adapter
        self.config = app.config
        self.sessions: sessionmaker[Session] = app.extensions["store.sessionmaker"]
        self.engine = app.extensions["standard.engine"]
        self.vault = app.extensions["privacy.vault"]
        self.keyring = app.extensions["signing.keyring"]
        self.max_pages = max_pages
        self.sleep = sleep
        self.caller = sources_mod.caller_for(source)
        #: counters of the transaction in hand, folded into ``result`` when it commits
        self.pending: Counter[str] = Counter()
        self.priority = SourcePriority.from_setting(self.config["SOURCE_PRIORITY"])
        self.started = time.perf_counter()
        with self.sessions() as session:
            row = SyncRun(source_id=source.id, direction=direction, trigger=trigger,
                          status="running", started_at=utcnow(), heartbeat_at=utcnow(),
                          worker=worker_name(), errors=[])
            session.add(row)
            session.commit()
            self.result = RunResult(row.id, source.name, direction)
        logs.bind(source=source.name, run_id=row.id)

    # -- plumbing ------------------------------------------------------------------------------

    def context(self, session: Session) -> ServiceContext:
        return ServiceContext(session=session, caller=self.caller, engine=self.engine,
                              vault=self.vault, config=self.config)

    def error(self, kind: str, message: str) -> None:
        if len(self.result.errors) < MAX_RUN_ERRORS:
            self.result.errors.append({"at": utcnow().isoformat(), "kind": kind, "message": message})

    def call(self, what: str, fn: Callable[[], T], halt: threading.Event | None = None) -> T:
        """``fn()``, retried on AdapterUnavailable with backoff and jitter while retries are on.

        ``halt`` (the pull's reader thread, :class:`_ReadAhead`): no retry once it is set, and
        the process's own wait between retries (:func:`_sleep`) wakes when it is set; the call
        then raises ``_Stopped``. A failure for good is raised with its error entry unrecorded
        (``RunFailed.error``): the run records it when it reaches that page."""
        attempts = self.config["SYNC_RETRY_ATTEMPTS"]
        halted = halt.is_set if halt is not None else (lambda: False)
        sleep = _waiting_on(halt) if halt is not None and self.sleep is _sleep else self.sleep

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= attempts or STOP.is_set() or halted():
                return True
            with self.sessions() as session:
                return not retries_enabled(session)

        def before_sleep(state: RetryCallState) -> None:
            self.result.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning("sync %s: %s failed (%s), attempt %d of %d; retrying", self.source.name,
                        what, type(exc).__name__, state.attempt_number, attempts)

        retrying = Retrying(
            stop=stop, retry=retry_if_exception_type(AdapterUnavailable), reraise=True,
            wait=wait_random_exponential(multiplier=self.config["SYNC_RETRY_BACKOFF_SECONDS"],
                                         max=self.config["SYNC_RETRY_MAX_BACKOFF_SECONDS"]),
            sleep=sleep, before_sleep=before_sleep)
        def attempt() -> T:
            if halted():  # woken from the wait to retry: no further request
                raise _Stopped
            return fn()

        try:
            return retrying(attempt)
        except AdapterUnavailable as exc:
            if STOP.is_set() or halted():  # stopping while waiting to retry: not the source's failure
                raise _Stopped from exc
            raise self._failed(RunFailed(f"{what}: the local system is unavailable ({exc})",
                                         ("adapter.unavailable", f"{what}: {exc}")),
                               record=halt is None) from exc
        except AdapterError as exc:
            raise self._failed(RunFailed(f"{what}: {exc}", ("adapter.error", f"{what}: {exc}")),
                               record=halt is None) from exc

    def _failed(self, failed: RunFailed, record: bool = True) -> RunFailed:
        """``failed``, its error entry added to the run's errors first if ``record`` (once)."""
        if record and failed.error is not None:
            self.error(*failed.error)
            failed.error = None
        return failed

    def touch(self, session: Session) -> None:
        """Heartbeat of the run, in the caller's transaction (also its first write)."""
        session.execute(update(SyncRun).where(SyncRun.id == self.result.run_id)
                        .values(heartbeat_at=utcnow()))

    def skip(self, rule: str, message: str, n: int = 1) -> None:
        """Count ``n`` changes the target does not get, with why (the run's ``skipped``)."""
        self.result.skipped += n
        reason = self.result.skipped_reasons.setdefault(rule, {"count": 0, "message": message})
        reason["count"] += n

    def count(self, **deltas: int) -> None:
        """Add to the run's counters once the current transaction commits."""
        self.pending.update(deltas)

    def save_counters(self, session: Session) -> None:
        """Write the counters, the pending ones included, in the caller's transaction."""
        r, p = self.result, self.pending
        session.execute(update(SyncRun).where(SyncRun.id == r.run_id).values(
            pages=r.pages + p["pages"], read=r.read + p["read"], written=r.written + p["written"],
            unchanged=r.unchanged + p["unchanged"], rejected=r.rejected + p["rejected"],
            dead_lettered=r.dead_lettered + p["dead_lettered"], retries=r.retries,
            skipped=r.skipped, skipped_reasons=dict(r.skipped_reasons),
            heartbeat_at=utcnow(), errors=list(r.errors)))
        self.lock.renew(session)

    def commit(self, session: Session) -> None:
        """Commit, then count what the transaction did (a failed one counts nothing)."""
        self.save_counters(session)
        session.commit()
        for name, value in self.pending.items():
            setattr(self.result, name, getattr(self.result, name) + value)
        self.pending.clear()

    def _cursor(self, session: Session, entity: str) -> SyncCursor:
        row = session.execute(select(SyncCursor).where(
            SyncCursor.source_id == self.source.id, SyncCursor.direction == self._dir(),
            SyncCursor.entity == entity)).scalar_one_or_none()
        if row is None:
            row = SyncCursor(source_id=self.source.id, direction=self._dir(), entity=entity,
                             cursor=None, updated_at=utcnow())
            session.add(row)
            session.flush()
        return row

    def _dir(self) -> str:
        return "pull" if self.direction == "pull" else "push"

    def _dead_letter(self, session: Session, entity: str, op: str, key: str | None,
                     payload: Any, issues: list[Issue] | list[dict[str, Any]], attempts: int,
                     home: dict[str, Any] | None = None) -> None:
        """Keep a failed record for :mod:`sync_jobs.dead_letters`, with its ``home`` (a
        pulled item's, a pushed tombstone's): the replay applies it as the run would have."""
        reason = [i.as_dict() if isinstance(i, Issue) else dict(i) for i in issues]
        session.add(DeadLetter(
            source_id=self.source.id, run_id=self.result.run_id, direction=self._dir(),
            entity=entity, op=op, record_key=(key or "")[:128] or None,
            payload_enc=self.vault.encrypt(orjson.dumps(payload).decode("utf-8")), home=home,
            rule=(reason[0].get("rule") if reason else None), reason=reason, attempts=attempts,
            status="pending", created_at=utcnow(), last_attempt_at=utcnow()))
        self.count(dead_lettered=1)

    def _log_batch(self, session: Session, entity: str, target: str, body: dict[str, Any],
                   summary: dict[str, Any]) -> None:
        message_log.record_adapter_batch(
            session, self.keyring, direction="in" if self._dir() == "pull" else "out",
            source_name=self.source.name, adapter=self.adapter.name, target_uri=target,
            body=orjson.dumps(body), batch_id=f"sync-{self.result.run_id}-{uuid.uuid4().hex[:12]}",
            status="done", summary={"run_id": self.result.run_id, "entity": entity, **summary,
                                    **({"verification": self.adapter.verification}
                                       if self._dir() == "pull" else {})})

    # -- pull ----------------------------------------------------------------------------------

    def pull(self) -> None:
        page_size = self.config["SYNC_PAGE_SIZE"]
        per_transaction = self.config["SYNC_PAGES_PER_TRANSACTION"]
        caught_up, newest = True, None
        for entity in self.source.entities:
            with self.sessions() as session:
                cursor = self._cursor(session, entity).cursor
                session.commit()
            limit = None if self.max_pages is None else self.max_pages - self.result.pages
            if limit is not None and limit <= 0:
                caught_up = False
                continue
            # Up to a transaction's pages (and one) read and mapped ahead while these are applied.
            ahead = _ReadAhead(self, entity, cursor, page_size, per_transaction + 1, limit)
            tx: _Transaction | None = None
            try:
                while True:
                    if STOP.is_set():
                        raise _Stopped
                    if self.max_pages is not None and self.result.pages + self._open_pages(tx) >= self.max_pages:
                        caught_up = False
                        break
                    taken = ahead.take(READ_WAIT_SECONDS) if tx is not None else None
                    if taken is None:
                        # The local system is slow: commit what is in hand rather than keep a
                        # transaction (and its row locks) open while waiting for it.
                        tx = self._commit_pages(tx)
                        taken = ahead.take(None)
                    page, mapped = taken
                    if tx is None:
                        tx = self._begin(entity, cursor)
                    stamp = self._apply_page(tx, page.items, mapped, page.next_cursor)
                    newest = max(filter(None, (newest, stamp)), default=None)
                    cursor = page.next_cursor
                    if not page.has_more:
                        break
                    if len(tx.pages) >= per_transaction:
                        tx = self._commit_pages(tx)
                tx = self._commit_pages(tx)
            except (RunFailed, _Stopped):
                # A read failed for good, or the process stops: the pages already applied
                # are whole; commit them (their cursor with them) before the run ends.
                ahead.halt.set()
                tx = self._commit_pages(tx)
                raise
            finally:
                ahead.halt.set()
                if tx is not None:  # an error while applying: none of the open pages stays
                    tx.session.rollback()
                    tx.session.close()
                    self.pending.clear()
                ahead.close()
        self.result.caught_up = caught_up
        if caught_up:
            self.result.lag_seconds = 0
        elif newest is not None:
            self.result.lag_seconds = max(0, int((utcnow() - newest).total_seconds()))

    def _read(self, entity: str, cursor: str | None, page_size: int,
              halt: threading.Event | None = None) -> Any:
        """The adapter's page after ``cursor`` (with retries; ``halt``: see :meth:`call`).

        :meth:`pull` calls it ahead in a thread of its own (:class:`_ReadAhead`), so the
        source's answers (and their network waits) overlap the writing of the pages before:
        both cores work. Nothing read ahead is committed before the pages before it, so a
        crash loses at most those reads (sent again from the committed cursor)."""
        return self.call(f"read {entity}", lambda: self.adapter.read(entity, cursor, page_size),
                         halt)

    def _read_mapped(self, entity: str, cursor: str | None, page_size: int,
                     halt: threading.Event | None = None
                     ) -> tuple[Any, list[tuple[bool, Any, datetime | None]]]:
        """The page after ``cursor`` and each of its items mapped to the standard: ``(True,
        data, its source_updated_at)``, or ``(False, the MappingError's issues, None)`` for an
        item that cannot be mapped. Read ahead in the reader thread, this mapping runs while
        the pages before are being written (their waits on the database release the GIL); it
        touches no store."""
        page = self._read(entity, cursor, page_size, halt)
        tz = self.engine.tz
        mapped: list[tuple[bool, Any, datetime | None]] = []
        for item in page.items:
            try:
                data = pulled_record(self.adapter, entity, item.op, item.source_id, item.native,
                                     item.home)
            except MappingError as exc:
                mapped.append((False, exc.issues, None))
                continue
            mapped.append((True, data, None if item.op == "delete" else
                           parse_local_datetime(data.get("source_updated_at"), tz)))
        return page, mapped

    @staticmethod
    def _open_pages(tx: "_Transaction | None") -> int:
        return len(tx.pages) if tx is not None else 0

    def _begin(self, entity: str, cursor: str | None) -> "_Transaction":
        """Open the transaction of the next pages (SYNC_PAGES_PER_TRANSACTION of them)."""
        session = self.sessions()
        # The transaction's first statement must be a write: pysqlite begins a transaction
        # only at a write, and the records' SAVEPOINTs outside one would each commit alone.
        self.touch(session)
        self.pending.clear()
        return _Transaction(session, entity, cursor)

    def _apply_page(self, tx: "_Transaction", items: list[NativeItem],
                    mapped: list[tuple[bool, Any, datetime | None]],
                    next_cursor: str | None) -> datetime | None:
        """Add one page's items, mapped by :meth:`_read_mapped`, to the open transaction ``tx``; they are
        validated, upserted and dead-lettered with the transaction's other pages, in one
        :meth:`_apply_pending` call just before it commits (the per-call work of the bulk
        path — look-ups, COPYs, counters, aggregates — is then done once for up to
        SYNC_PAGES_PER_TRANSACTION pages instead of once per page; the outcomes are those of
        applying each record in page order, as page by page gave)."""
        page_no = len(tx.pages)
        newest = None
        for item, (ok, data, at) in zip(items, mapped):
            if ok:
                tx.mapped.append((page_no, item, data))
                newest = max(filter(None, (newest, at)), default=None)
            else:
                tx.dead.append((page_no, 0, item, data))
        tx.counts["total"] += len(items)
        self.count(pages=1, read=len(items))
        tx.pages.append({"cursor": tx.next_cursor if tx.pages else tx.cursor,
                         "next_cursor": next_cursor,
                         "items": [{"source_id": i.source_id, "op": i.op, "native": i.native,
                                    **({"home": i.home} if i.home is not None else {})}
                                   for i in items]})
        tx.next_cursor = next_cursor
        return newest

    def _apply_pending(self, tx: "_Transaction") -> None:
        """Apply the mapped records of ``tx``'s pages in one call (in page order), then write
        the dead letters page by page (a page's unmappable records first, then its rejected
        ones, as page by page did) and count the outcomes."""
        if not tx.mapped and not tx.dead:
            return
        entity, session = tx.entity, tx.session
        source = Source(self.source.name, utcnow(), self.priority, f"sync-run-{self.result.run_id}")
        ctx = self.context(session)
        mapped = [(item, data) for _page, item, data in tx.mapped]
        page_of = {id(item): page for page, item, _data in tx.mapped}
        rejected: list[tuple[NativeItem, list[Issue]]] = []
        outcomes = self._apply(ctx, source, entity, mapped, rejected)
        dead = tx.dead + [(page_of[id(item)], 1, item, issues) for item, issues in rejected]
        dead.sort(key=lambda d: (d[0], d[1]))       # stable: input order within each kind
        counts = tx.counts
        counts["rejected"] += len(dead)
        for outcome in outcomes:
            counts[outcome.status] += 1
        for _page, _kind, item, issues in dead:
            self._dead_letter(session, entity, item.op, item.source_id, item.native, issues, 1,
                              home=item.home if self.adapter.federates else None)
        self.count(unchanged=sum(o.status == "unchanged" for o in outcomes),
                   written=sum(o.status in ("created", "updated", "deleted") for o in outcomes),
                   rejected=len(dead))
        tx.metrics += ([(entity, o.status, ()) for o in outcomes]
                       + [(entity, "rejected", [i.rule for i in issues])
                          for _page, _kind, _item, issues in dead])
        tx.mapped, tx.dead = [], []

    def _commit_pages(self, tx: "_Transaction | None") -> "_Transaction | None":
        """Apply the open pages' records (:meth:`_apply_pending`), write their one
        message-log entry, the run's counters and the cursor after the last of them; commit.
        ``None`` (nothing open) does nothing. Returns ``None``: the transaction is over."""
        if tx is None:
            return None
        session, entity = tx.session, tx.entity
        try:
            self._apply_pending(tx)
            self._log_batch(session, entity,
                            f"adapter:{self.adapter.name}/{entity}?cursor={tx.cursor or ''}",
                            {"entity": entity, "cursor": tx.cursor, "next_cursor": tx.next_cursor,
                             "pages": tx.pages}, {**tx.counts, "pages": len(tx.pages)})
            row = self._cursor(session, entity)
            row.cursor, row.updated_at = tx.next_cursor, utcnow()
            self.commit(session)
        finally:
            session.close()
        tx.pages = []
        metrics.records("sync_pull", self.source.name, tx.metrics)
        return None

    def _apply(self, ctx: ServiceContext, source: Source, entity: str,
               mapped: list[tuple[NativeItem, dict[str, Any]]],
               dead: list[tuple[NativeItem, list[Issue]]]) -> list[Outcome]:
        """Apply the mapped items; rejected ones are retried (if the reason may pass) or dead."""
        version = self.adapter.schema_version
        outcomes = apply_in_version(ctx, source, version,
                                    [(entity, item.op, data) for item, data in mapped])
        final: list[Outcome] = []
        retry: list[tuple[NativeItem, dict[str, Any]]] = []
        for (item, data), outcome in zip(mapped, outcomes):
            if outcome.status != "rejected":
                final.append(outcome)
            elif _transient(outcome.errors):
                retry.append((item, data))
            else:
                dead.append((item, outcome.errors))
        for attempt in range(2, self.config["SYNC_RECORD_ATTEMPTS"] + 1):
            if not retry:
                break
            again = apply_in_version(ctx, source, version,
                                     [(entity, item.op, data) for item, data in retry])
            still = []
            for (item, data), outcome in zip(retry, again):
                if outcome.status != "rejected":
                    final.append(outcome)
                elif _transient(outcome.errors) and attempt < self.config["SYNC_RECORD_ATTEMPTS"]:
                    still.append((item, data))
                else:
                    dead.append((item, outcome.errors))
            retry = still
        return final

    # -- push ----------------------------------------------------------------------------------

    def push(self) -> None:
        page_size = min(self.config["SYNC_PAGE_SIZE"], feed.MAX_LIMIT)
        entities = set(self.source.entities)
        # What came from the receiver (this source's pulls, its other ways in) goes not back.
        receivers = {self.source.name} | set(self.adapter.receiver_origins())
        can_delete = self.adapter.can_delete
        with self.sessions() as session:
            cursor = self._cursor(session, FEED).cursor
            session.commit()
        last_sent_at: str | None = None
        while True:
            if STOP.is_set():
                raise _Stopped
            if self.max_pages is not None and self.result.pages >= self.max_pages:
                self.result.caught_up = False
                break
            with self.sessions() as session:
                page = feed.read_changes(self.context(session), since=cursor, limit=page_size)
                session.rollback()
            pending = []
            for change in page.changes:
                if change["entity"] not in entities or change.get("origin") in receivers:
                    continue  # not taken by the source, or came from it: no echo
                if change["op"] == "delete" and not can_delete:
                    self.skip(SKIP_CANNOT_DELETE, f"deletions not sent: the {self.adapter.name} "
                              f"adapter cannot delete ({self.adapter.cannot_delete_reason})")
                    continue
                pending.append(change)
            self.count(read=len(page.changes))
            acked = self._push_changes(pending, cursor)
            if acked is not _ALL:
                # A write failed for good: keep what was acknowledged, fail the run.
                raise RunFailed(acked[1])
            with self.sessions() as session:
                row = self._cursor(session, FEED)
                row.cursor, row.updated_at = page.next_cursor, utcnow()
                self.count(pages=1)
                self.commit(session)
            cursor = page.next_cursor
            if pending:
                last_sent_at = pending[-1]["changed_at"]
            if not page.has_more:
                self.result.caught_up = True
                break
        if self.result.caught_up:
            self.result.lag_seconds = 0
        elif last_sent_at:
            self.result.lag_seconds = max(0, int((utcnow() - datetime.fromisoformat(last_sent_at))
                                                 .total_seconds()))

    def _push_changes(self, pending: list[dict[str, Any]], cursor: str | None):
        """Write ``pending`` in runs of one entity; ``_ALL`` or ``(None, why)`` after saving the
        cursor of the last acknowledged change."""
        start = 0
        while start < len(pending):
            entity, op = pending[start]["entity"], pending[start]["op"]
            end = start
            while (end < len(pending) and pending[end]["entity"] == entity
                   and pending[end]["op"] == op and end - start < 500):
                end += 1
            group = pending[start:end]
            try:
                self._write_group(entity, group, op)
            except RunFailed as exc:
                if start:
                    with self.sessions() as session:
                        row = self._cursor(session, FEED)
                        row.cursor, row.updated_at = pending[start - 1]["cursor"], utcnow()
                        self.commit(session)
                return None, str(exc)
            start = end
        return _ALL

    def _write_group(self, entity: str, group: list[dict[str, Any]], op: str = "upsert") -> None:
        """Write (or, for tombstones, delete) one run of changes of one entity, retrying the
        records refused for a reason that may pass; the others go to the dead letters."""
        deleting = op == "delete"
        # A federating adapter gets each record's home (docs/protocol.md, Federation identity).
        federates = self.adapter.federates
        records = [{"key": c["key"]} if deleting else
                   with_home(c["data"], c.get("home") if federates else None) for c in group]
        homes = [c.get("home") for c in group] if federates and deleting else None
        attempts = self.config["SYNC_RECORD_ATTEMPTS"]
        todo = list(range(len(group)))
        tries = 0
        while todo:
            tries += 1
            batch = [records[i] for i in todo]
            if deleting and homes is not None:
                batch_homes = [homes[i] for i in todo]
                results = self.call(f"delete {len(batch)} {entity}", lambda: self.adapter.delete(
                    entity, [r["key"] for r in batch], homes=batch_homes))  # type: ignore[call-arg]
            elif deleting:
                results = self.call(f"delete {len(batch)} {entity}", lambda: self.adapter.delete(
                    entity, [r["key"] for r in batch]))
            else:
                results = self.call(f"write {len(batch)} {entity}",
                                    lambda: self.adapter.write(entity, batch))
            if len(results) != len(batch):
                raise RunFailed(f"the adapter answered {len(results)} results for {len(batch)} records")
            failed, dead = [], []
            counts = {"total": len(batch), "written": 0, "rejected": 0}
            for index, result in zip(todo, results):
                if result.ok:
                    counts["written"] += 1
                elif tries < attempts and not _permanent(result.errors):
                    failed.append(index)
                else:
                    counts["rejected"] += 1
                    dead.append((index, result.errors))
            with self.sessions() as session:
                self._log_batch(session, entity, f"adapter:{self.adapter.name}/{entity}",
                                {"entity": entity, "op": op, "records": batch},
                                {**counts, "retrying": len(failed)})
                for index, errors in dead:
                    change = group[index]
                    self._dead_letter(session, entity, op, change["key"], records[index],
                                      errors or [Issue("", "adapter.refused", "本地系统拒绝了该记录",
                                                       "the local system refused the record")], tries,
                                      home=change.get("home") if federates else None)
                self.count(written=counts["written"], rejected=counts["rejected"])
                self.commit(session)
            metrics.records("sync_push", self.source.name,
                            [(entity, "written", ())] * counts["written"]
                            + [(entity, "rejected", [_rule_of(e) for e in errors or ()]
                                or ["adapter.refused"]) for _index, errors in dead])
            todo = failed
            if todo:
                self.sleep(min(self.config["SYNC_RETRY_BACKOFF_SECONDS"] * tries,
                               self.config["SYNC_RETRY_MAX_BACKOFF_SECONDS"]))

    # -- the end -------------------------------------------------------------------------------

    def finish(self, status: str, *, source_failure: bool = True) -> RunResult:
        """End the run; a ``failed`` one counts towards pausing its source if ``source_failure``."""
        r = self.result
        r.status = status
        with self.sessions() as session:
            session.execute(update(SyncRun).where(SyncRun.id == r.run_id).values(
                status=status, finished_at=utcnow(), heartbeat_at=utcnow(), pages=r.pages,
                read=r.read, written=r.written, unchanged=r.unchanged, rejected=r.rejected,
                dead_lettered=r.dead_lettered, retries=r.retries, lag_seconds=r.lag_seconds,
                caught_up=r.caught_up, errors=list(r.errors), skipped=r.skipped,
                skipped_reasons=dict(r.skipped_reasons)))
            source = session.get(SyncSource, self.source.id)
            if source is not None:
                if status == "failed" and source_failure:
                    source.consecutive_failures += 1
                    limit = self.config["SYNC_PAUSE_AFTER_FAILURES"]
                    if source.consecutive_failures >= limit and source.status == "active":
                        source.status, source.flagged = "paused", True
                        last = r.errors[-1]["message"] if r.errors else "failed"
                        source.paused_reason = f"{limit} failed runs in a row; last: {last}"[:2000]
                        log.error("sync %s: paused and flagged after %d failed runs in a row",
                                  source.name, limit)
                elif status not in ("interrupted", "failed"):
                    source.consecutive_failures = 0
            session.commit()
        metrics.sync_run_finished(self.source.name, self.direction, status,
                                  time.perf_counter() - self.started)
        return r


_ALL = object()

#: How long a pull waits for the next page before committing the pages in hand first.
READ_WAIT_SECONDS = 1.0
#: How often a thread waiting for the other (a page, room in the queue) looks at STOP / halt.
_POLL_SECONDS = 0.1


class _ReadAhead:
    """The pages of one entity after ``cursor``, read (:meth:`Run._read_mapped`: with retries,
    mapped to the standard) in a thread of its own and handed over in order through a queue
    of ``depth`` pages, at most ``limit`` of them (max_pages) — while :meth:`Run.pull` applies
    and commits the pages before.

    The reader follows the pages' ``next_cursor`` until one has no more (``has_more``), a read
    fails, or :attr:`halt` is set. What it raises (RunFailed after the retries, an internal
    error) goes into the queue after the pages before it and is raised by :meth:`take` in
    their place, so the run applies and commits every page before the failed read and none
    after it (the reader reads nothing after a failure). Memory is bounded: ``depth`` pages
    queued and one in the reader's hands. :meth:`close` (the pull's ``finally``) sets
    ``halt`` and waits for the thread to end: a wait between retries ends at once, an HTTP
    request in flight within the adapter's timeout; then no thread of the run reads the
    source any more. The thread runs in a copy of the run's context (its log fields)."""

    def __init__(self, run: Run, entity: str, cursor: str | None, page_size: int, depth: int,
                 limit: int | None):
        self._run = run
        self.halt = threading.Event()
        self._pages: queue.Queue[tuple[Any, Any, BaseException | None]] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._read_all, run, entity, cursor, page_size, limit),
            name=f"sync-read-{run.result.run_id}", daemon=True)
        self._thread.start()

    def _read_all(self, run: Run, entity: str, cursor: str | None, page_size: int,
                  limit: int | None) -> None:
        read = 0
        try:
            while not self.halt.is_set() and (limit is None or read < limit):
                page, mapped = run._read_mapped(entity, cursor, page_size, self.halt)
                read += 1
                if not self._hand_over((page, mapped, None)) or not page.has_more:
                    return
                cursor = page.next_cursor
        except BaseException as exc:  # noqa: BLE001 - raised by take() in its page's place
            self._hand_over((None, None, exc))

    def _hand_over(self, item: tuple[Any, Any, BaseException | None]) -> bool:
        """Queue ``item`` once there is room; False when halted first."""
        while not self.halt.is_set():
            try:
                self._pages.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    @overload
    def take(self, seconds: None) -> tuple[Any, list[tuple[bool, Any, datetime | None]]]: ...

    @overload
    def take(self, seconds: float) -> tuple[Any, list[tuple[bool, Any, datetime | None]]] | None: ...

    def take(self, seconds: float | None) -> tuple[Any, list[tuple[bool, Any, datetime | None]]] | None:
        """The next page and its mapped items, or ``None`` when it is not there within
        ``seconds`` (``None``: wait for it). Raises what its read raised (a RunFailed's
        error entry recorded in the run now), and ``_Stopped`` when the process is told to
        stop while it waits."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            wait = _POLL_SECONDS if deadline is None else min(_POLL_SECONDS, deadline - time.monotonic())
            try:
                page, mapped, exc = self._pages.get(timeout=max(wait, 0.0))
            except queue.Empty:
                if STOP.is_set():
                    raise _Stopped from None
                if not self._thread.is_alive() and self._pages.empty():
                    raise RuntimeError("the sync reader thread ended without the next page") from None
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                continue
            if exc is not None:
                if isinstance(exc, RunFailed):
                    self._run._failed(exc)
                raise exc
            return page, mapped

    def close(self) -> None:
        """Stop reading, drop what was read ahead, and wait for the reader thread to end."""
        self.halt.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._pages.get_nowait()
        self._thread.join()


@dataclass
class _Transaction:
    """The pages of a pull applied in one open transaction, not committed yet."""

    session: Session
    entity: str
    cursor: str | None                      # the committed cursor the pages start after
    next_cursor: str | None = None          # the cursor after the last page applied
    pages: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(
        ("total", "created", "updated", "unchanged", "deleted", "rejected"), 0)))
    metrics: list[tuple[str, str, Any]] = field(default_factory=list)
    #: the pages' mapped records, applied together before the commit: (page, item, data)
    mapped: list[tuple[int, NativeItem, dict[str, Any]]] = field(default_factory=list)
    #: the pages' records that could not be mapped: (page, 0, item, issues)
    dead: list[tuple[int, int, NativeItem, list[Issue]]] = field(default_factory=list)


def pulled_record(adapter: Adapter, entity: str, op: str, source_id: str | None,
                  native: dict[str, Any], home: dict[str, Any] | None) -> dict[str, Any]:
    """The standard record a pulled item is applied as — the one mapping of a pull run
    (:meth:`Run._read_mapped`) and of a pulled dead letter's replay: a delete names the
    record by its source id; an upsert is ``adapter.to_standard(entity, native)`` with the
    source id filled in where the mapping gives none. The item's ``home`` goes with it for
    an adapter that ``federates``; any other home (a non-federating adapter's, or one a
    mapping put in) is dropped (:func:`gateway.adapter.with_home`). Raises MappingError."""
    if op == "delete":
        data: dict[str, Any] = {"source_id": source_id}
    else:
        data = adapter.to_standard(entity, native)
        if source_id and not data.get("source_id"):
            data = {**data, "source_id": source_id}
    return with_home(data, home if adapter.federates else None)


def _rule_of(error: Any) -> str:
    """The rule id of a target's refusal (an Issue, or a dict from the adapter)."""
    rule = error.get("rule") if isinstance(error, dict) else getattr(error, "rule", None)
    return rule if isinstance(rule, str) else "adapter.refused"


def _transient(errors: list[Issue]) -> bool:
    return bool(errors) and all(e.rule == "exchange.conflict" for e in errors)


def _permanent(errors: list[Issue]) -> bool:
    return any(e.rule.startswith(PERMANENT_RULES) for e in errors)


@contextlib.contextmanager
def adapter_for(app: Flask, source: SyncSource) -> Iterator[Adapter]:
    settings = sources_mod.settings_of(app.extensions["privacy.vault"], source)
    # The personal-data keys: an adapter keeps what it stores itself (uploads) sealed.
    adapter = load_adapter(source.adapter, settings, sealer=app.extensions["privacy.vault"])
    try:
        yield adapter
    finally:
        adapter.close()


def _mark_interrupted(sessions: sessionmaker[Session], source_id: int) -> None:
    """Runs left ``running`` by a holder of the lock that died: we hold the lock now."""
    with sessions() as session:
        session.execute(update(SyncRun).where(SyncRun.source_id == source_id,
                                              SyncRun.status == "running")
                        .values(status="interrupted", finished_at=SyncRun.heartbeat_at)
                        .execution_options(synchronize_session=False))
        session.commit()


def _waiting_on(event: threading.Event) -> Callable[[float], None]:
    """A wait between retries that ends when ``event`` is set (a reader's ``halt``)."""
    def wait(seconds: float) -> None:
        event.wait(seconds)
    return wait


def _sleep(seconds: float) -> None:
    """Wait between retries, but wake at once when the process is told to stop."""
    STOP.wait(seconds)


def run_source(app: Flask, name: str, *, trigger: str = "manual", direction: str | None = None,
               max_pages: int | None = None, sleep: Callable[[float], None] = _sleep,
               include_paused: bool = False) -> list[RunResult] | None:
    """Run source ``name`` now (pull, then push, as its direction says): its run results, or
    ``None`` when another process is running it (or it is paused and not ``include_paused``).

    Call inside ``app.app_context()``. Raises :class:`sync_jobs.sources.SourceError` for an
    unknown source.
    """
    sessions: sessionmaker[Session] = app.extensions["store.sessionmaker"]
    with sessions() as session:
        source = sources_mod.get(session, name)
        session.expunge(source)
    if source.status != "active" and not include_paused:
        return None
    directions = [d for d in ("pull", "push") if source.direction in (d, "both")]
    if direction is not None:
        if direction not in directions:
            raise sources_mod.SourceError("/direction", f"source {name!r} does not {direction}")
        directions = [direction]
    lock = SourceLock(app.extensions["store.engine"], sessions, source.id,
                      app.config["SYNC_LEASE_SECONDS"])
    if not lock.acquire():
        log.info("sync %s: busy (another process is running it); not started", name)
        return None
    results = []
    try:
        _mark_interrupted(sessions, source.id)
        with adapter_for(app, source) as adapter:
            for way in directions:
                run = Run(app, source, way, trigger, lock, adapter, max_pages, sleep)
                log.info("sync %s: %s run %d started (%s)", name, way, run.result.run_id, trigger)
                try:
                    run.pull() if way == "pull" else run.push()
                except RunFailed as exc:
                    log.error("sync %s: %s run %d failed: %s", name, way, run.result.run_id, exc)
                    results.append(run.finish("failed"))
                    break
                except _Stopped:
                    log.info("sync %s: %s run %d interrupted (stopping)", name, way, run.result.run_id)
                    results.append(run.finish("interrupted"))
                    break
                except Exception as exc:
                    if store_unavailable(exc):
                        # The database went away in the middle of the run: what was
                        # committed stays (whole pages, their cursor); record the failure
                        # once the database answers again, then the next run resumes.
                        log.warning("sync %s: %s run %d: the store is unavailable (%s); the run "
                                    "fails and the next one resumes from the cursor", name, way,
                                    run.result.run_id, type(exc).__name__)
                        run.error("store.unavailable", "the gateway's database could not be "
                                  "reached; the next run resumes from the last committed page")
                        results.append(_finish_when_store_returns(run))
                        break
                    run.error("internal", f"{type(exc).__name__}: {exc}")
                    log.exception("sync %s: %s run %d stopped by an internal error", name, way,
                                  run.result.run_id)
                    results.append(run.finish("failed"))
                    raise
                status = "partial" if run.result.dead_lettered else "succeeded"
                results.append(run.finish(status))
                log.info("sync %s: %s run %d %s: %d read, %d written, %d dead-lettered", name, way,
                         run.result.run_id, status, run.result.read, run.result.written,
                         run.result.dead_lettered)
    finally:
        try:
            lock.release()
        except Exception as exc:
            if not store_unavailable(exc):
                raise
            # The lock's session died with the connection: PostgreSQL has released it.
            log.info("sync %s: lock released by the database (its connection was lost)", name)
    return results


def _finish_when_store_returns(run: Run) -> RunResult:
    """Mark ``run`` failed once the store answers again, waiting with exponential backoff
    and jitter (SYNC_RETRY_BACKOFF_SECONDS … SYNC_RETRY_MAX_BACKOFF_SECONDS, at most
    SYNC_RETRY_ATTEMPTS × 4 tries, stopping at once on SIGTERM). A store outage is not the
    source's failure: it does not count towards SYNC_PAUSE_AFTER_FAILURES. If the store
    stays away the error is raised; the run stays ``running`` and the next run that takes
    the source's lock marks it ``interrupted``."""
    attempts = run.config["SYNC_RETRY_ATTEMPTS"] * 4
    retrying = Retrying(
        stop=lambda state: state.attempt_number >= attempts or STOP.is_set(),
        retry=retry_if_exception(store_unavailable), reraise=True,
        wait=wait_random_exponential(multiplier=run.config["SYNC_RETRY_BACKOFF_SECONDS"],
                                     max=run.config["SYNC_RETRY_MAX_BACKOFF_SECONDS"]),
        sleep=run.sleep)
    return retrying(run.finish, "failed", source_failure=False)


def pending_dead_letters(session: Session, source_id: int) -> int:
    return session.execute(select(func.count()).select_from(DeadLetter).where(
        DeadLetter.source_id == source_id, DeadLetter.status == "pending")).scalar_one()
