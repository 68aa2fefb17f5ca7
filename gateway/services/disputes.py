"""Disputes (异议) about service records: raised by the volunteer's side, answered by the
recording team, with a status and a deadline.

《志愿服务记录与证明出具办法（试行）》 2020, Art. 13: the volunteer may raise an error in a
record; the organisation verifies it promptly (及时核实) and corrects or completes it, keeping
the original. Here:

* :func:`raise_dispute` — a caller covering the volunteer (``service_record:write``) objects
  to a record with a reason (``service_record.reason_required``). The dispute is ``open`` and
  due ``DISPUTE_ANSWER_DAYS`` working days later (China's official calendar,
  :mod:`gateway.standard.workdays`; the 办法 names no number of days, so the number is the
  product's policy). The record's history gets a ``dispute`` entry, the dispute its own.
* :func:`answer_dispute` — the recording team (``service_record:write`` on the team) answers
  once: ``corrected`` (the record was corrected — the correction is linked — or deleted
  through the hours service first: ``dispute.not_corrected`` otherwise) or ``upheld``
  (verified as recorded; the answer says why). An answer is required
  (``dispute.answer_required``), the outcome is one of the two (``dispute.outcome``), and an
  answered dispute is not answered again (409 ``dispute.answered``).
* A dispute still open after ``due_on`` reads as ``overdue``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from gateway.services import hours
from gateway.services.context import ServiceContext
from gateway.services.errors import Conflict, Invalid, NotFound, OutOfScope
from gateway.standard import workdays
from gateway.standard.issues import Issue
from gateway.store.models import Dispute, ServiceRecord

__all__ = ["ENTITY", "OUTCOMES", "answer_dispute", "dispute_view", "get_dispute",
           "raise_dispute", "record_disputes"]

ENTITY = "dispute"  # history entity
OPEN, CORRECTED, UPHELD = "open", "corrected", "upheld"
OUTCOMES = (CORRECTED, UPHELD)


def raise_dispute(ctx: ServiceContext, record_no: str, reason: Any) -> Dispute:
    """The volunteer's side objects to a record (kept in the record's history as "dispute")."""
    ctx.caller.require(hours.ENTITY, "write")
    reason = hours.require_reason(reason)
    record = hours.load_record(ctx, record_no)
    if not ctx.caller.covers_region(record.volunteer.area_code):
        raise OutOfScope(f"volunteer of service record {record_no} is outside the region of "
                         f"client {ctx.caller.client_id!r}")
    today = ctx.now.astimezone(ctx.tz).date()
    due_on, _estimated = workdays.add_working_days(today, int(ctx.config.get("DISPUTE_ANSWER_DAYS", 10)))
    dispute = Dispute(dispute_no=ctx.number("D", record.project.area_code), record_id=record.id,
                      volunteer_id=record.volunteer_id, team_id=record.team_id, reason=reason,
                      status=OPEN, raised_by=ctx.caller.client_id, raised_at=ctx.now, due_on=due_on)
    ctx.session.add(dispute)
    ctx.session.flush()
    place = {"area": record.project.area_code, "team_no": record.team.team_no}
    ctx.record_change(hours.ENTITY, record.record_no, "dispute", None,
                      {"dispute_no": dispute.dispute_no}, note=reason, **place)
    ctx.record_change(ENTITY, dispute.dispute_no, "raise", None,
                      {"record_no": record.record_no, "status": OPEN,
                       "due_on": due_on.isoformat()}, note=reason, **place)
    return dispute


def _load(ctx: ServiceContext, dispute_no: str, *, for_update: bool = False) -> Dispute:
    stmt = (select(Dispute).options(joinedload(Dispute.record).joinedload(ServiceRecord.team),
                                    joinedload(Dispute.record).joinedload(ServiceRecord.volunteer),
                                    joinedload(Dispute.record).joinedload(ServiceRecord.project))
            .where(Dispute.dispute_no == dispute_no))
    if for_update:
        stmt = stmt.with_for_update(of=Dispute)
    dispute = ctx.session.execute(stmt).scalar_one_or_none()
    if dispute is None or not hours.can_read(ctx, dispute.record):
        raise NotFound(f"no dispute {dispute_no}")
    return dispute


def get_dispute(ctx: ServiceContext, dispute_no: str) -> Dispute:
    """A dispute the caller may read (as its record: the team's side or the volunteer's)."""
    ctx.caller.require(hours.ENTITY, "read")
    return _load(ctx, dispute_no)


def record_disputes(ctx: ServiceContext, record: ServiceRecord) -> list[Dispute]:
    return list(ctx.session.execute(select(Dispute).where(Dispute.record_id == record.id)
                                    .order_by(Dispute.id)).scalars())


def _latest(ctx: ServiceContext, record: ServiceRecord) -> ServiceRecord | None:
    """The record that now stands for ``record`` after its corrections (None: deleted)."""
    current = record
    while current.superseded_by_id is not None:
        following = ctx.session.get(ServiceRecord, current.superseded_by_id)
        if following is None:
            break
        current = following
    return None if current is record else current


def answer_dispute(ctx: ServiceContext, dispute_no: str, outcome: Any, answer: Any) -> Dispute:
    """The recording team answers a dispute once: corrected or upheld, with its answer."""
    ctx.caller.require(hours.ENTITY, "write")
    dispute = _load(ctx, dispute_no, for_update=True)
    record = dispute.record
    ctx.caller.require_team(record.team.team_no, record.team.area_code)
    if dispute.status != OPEN:
        raise Conflict(f"dispute {dispute_no} was already answered ({dispute.status})", [Issue(
            "/outcome", "dispute.answered", "该异议已答复，不能再次答复",
            "the dispute was already answered")], dispute_status=dispute.status)
    issues = []
    if outcome not in OUTCOMES:
        issues.append(Issue("/outcome", "dispute.outcome", "答复结果应为 corrected（已更正）或 upheld（核实无误）",
                            "outcome must be corrected or upheld"))
    text = answer.strip() if isinstance(answer, str) else ""
    if not text:
        issues.append(Issue("/answer", "dispute.answer_required", "请填写答复（核实的结果和理由）",
                            "an answer is required (what the verification found, and why)"))
    corrected_by = None
    if outcome == CORRECTED:
        corrected_by = _latest(ctx, record)
        if corrected_by is None and record.status != hours.DELETED:
            issues.append(Issue("/outcome", "dispute.not_corrected",
                                "该记录尚未更正或删除：请先更正（或删除）记录，再答复为已更正",
                                "the record has not been corrected or deleted: correct (or "
                                "delete) it first, then answer corrected"))
    if issues:
        raise Invalid(f"dispute {dispute_no} cannot be answered so", issues)
    before = {"status": dispute.status}
    dispute.status = outcome
    dispute.answer = text
    dispute.answered_by = ctx.caller.client_id
    dispute.answered_at = ctx.now
    dispute.corrected_by_id = corrected_by.id if corrected_by is not None else None
    ctx.session.flush()
    after: dict[str, Any] = {"status": outcome}
    if corrected_by is not None:
        after["corrected_by"] = corrected_by.record_no
    ctx.record_change(ENTITY, dispute_no, "answer", before, after, note=text,
                      area=record.project.area_code, team_no=record.team.team_no)
    return dispute


def dispute_view(ctx: ServiceContext, dispute: Dispute) -> dict[str, Any]:
    today = ctx.now.astimezone(ctx.tz).date()
    return {
        "dispute_no": dispute.dispute_no,
        "record_no": dispute.record.record_no,
        "status": dispute.status,
        "reason": dispute.reason,
        "raised_by": dispute.raised_by,
        "raised_at": dispute.raised_at.astimezone(ctx.tz).isoformat(),
        "due_on": dispute.due_on.isoformat(),
        "overdue": dispute.status == OPEN and today > dispute.due_on,
        "answer": dispute.answer,
        "answered_by": dispute.answered_by,
        "answered_at": dispute.answered_at.astimezone(ctx.tz).isoformat()
        if dispute.answered_at else None,
        "corrected_by": dispute.corrected_by.record_no if dispute.corrected_by else None,
    }
