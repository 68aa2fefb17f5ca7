"""The console's audit trail: who did what, when, from where. Append-only.

:func:`record` is the only writer; there is no function that changes or removes an entry,
and the database refuses UPDATE and DELETE of ``console_audit`` (migration 0007). Entries
name records by their numbers or ids, never by personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import ConsoleAudit, utcnow

__all__ = ["record", "entries"]


def record(session: Session, *, actor: str, action: str, target: str = "", outcome: str = "ok",
           details: dict[str, Any] | None = None, region_prefix: str = "", remote_addr: str = "",
           user_agent: str = "") -> ConsoleAudit:
    row = ConsoleAudit(at=utcnow(), actor=actor[:64], region_prefix=region_prefix, action=action[:64],
                       target=(target or "")[:200], outcome=outcome, details=details or {},
                       remote_addr=(remote_addr or "")[:64], user_agent=(user_agent or "")[:200])
    session.add(row)
    session.flush()
    return row


def entries(session: Session, *, region_prefix: str = "", actor: str | None = None,
            action: str | None = None, since: datetime | None = None,
            limit: int = 200) -> list[ConsoleAudit]:
    """Newest first; an account scoped to a region sees the entries of actors in that region."""
    stmt = select(ConsoleAudit)
    if region_prefix:
        stmt = stmt.where(ConsoleAudit.region_prefix.startswith(region_prefix))
    if actor:
        stmt = stmt.where(ConsoleAudit.actor == actor)
    if action:
        stmt = stmt.where(ConsoleAudit.action == action)
    if since is not None:
        stmt = stmt.where(ConsoleAudit.at >= since)
    return list(session.execute(stmt.order_by(ConsoleAudit.id.desc()).limit(limit)).scalars())
