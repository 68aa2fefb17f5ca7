"""The state of every sync source, from the store: what ``vgw sync status`` prints (as a table
or JSON) and what the console will show. Reads only the store (sync_jobs writes it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import timefmt
from gateway.store.models import DeadLetter, SyncCursor, SyncFlag, SyncRun, SyncSource, utcnow

__all__ = ["run_view", "status", "runs"]


def _iso(value: datetime | None) -> str | None:
    return timefmt.iso(value)  # the one rule for shown times (gateway/timefmt.py)


def run_view(run: SyncRun) -> dict[str, Any]:
    return {"id": run.id, "direction": run.direction, "trigger": run.trigger, "status": run.status,
            "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
            "worker": run.worker, "pages": run.pages, "read": run.read, "written": run.written,
            "unchanged": run.unchanged, "rejected": run.rejected,
            "dead_lettered": run.dead_lettered, "retries": run.retries,
            "skipped": run.skipped or 0, "skipped_reasons": dict(run.skipped_reasons or {}),
            "lag_seconds": run.lag_seconds, "caught_up": run.caught_up, "errors": run.errors}


def runs(session: Session, source_name: str, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs of a source, newest first."""
    rows = session.execute(select(SyncRun).join(SyncSource, SyncSource.id == SyncRun.source_id)
                           .where(SyncSource.name == source_name)
                           .order_by(SyncRun.id.desc()).limit(limit)).scalars()
    return [run_view(r) for r in rows]


def status(session: Session) -> dict[str, Any]:
    """Every source: its state, last run, last success, lag, failures and pending dead letters."""
    retries = session.execute(select(SyncFlag.value).where(SyncFlag.name == "retries")).scalar_one_or_none()
    pending = dict(session.execute(select(DeadLetter.source_id, func.count()).where(
        DeadLetter.status == "pending").group_by(DeadLetter.source_id)).all())
    out = []
    for source in session.execute(select(SyncSource).order_by(SyncSource.name)).scalars():
        last = session.execute(select(SyncRun).where(SyncRun.source_id == source.id)
                               .order_by(SyncRun.id.desc()).limit(1)).scalar_one_or_none()
        last_success = session.execute(
            select(func.max(SyncRun.finished_at)).where(
                SyncRun.source_id == source.id, SyncRun.status.in_(("succeeded", "partial")))
        ).scalar_one_or_none()
        last_finished = session.execute(
            select(SyncRun).where(SyncRun.source_id == source.id, SyncRun.finished_at.is_not(None),
                                  SyncRun.trigger != "replay")
            .order_by(SyncRun.id.desc()).limit(1)).scalar_one_or_none()
        cursors = {f"{c.direction}:{c.entity}": c.cursor for c in session.execute(
            select(SyncCursor).where(SyncCursor.source_id == source.id)).scalars()}
        out.append({
            "name": source.name, "adapter": source.adapter, "direction": source.direction,
            "entities": list(source.entities), "schedule": source.schedule,
            "status": source.status, "flagged": source.flagged,
            "paused_reason": source.paused_reason,
            "consecutive_failures": source.consecutive_failures,
            "last_run": run_view(last) if last is not None else None,
            "last_success_at": _iso(last_success),
            "lag_seconds": last_finished.lag_seconds if last_finished is not None else None,
            "dead_letters_pending": pending.get(source.id, 0),
            "cursors": cursors,
        })
    return {"generated_at": _iso(utcnow()), "retries": retries or "on", "sources": out}
