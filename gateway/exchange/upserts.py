"""One pushed record into the store: upsert or delete, one function per entity.

Every function takes the service context (the pushing client is ``ctx.caller``), the
:class:`Source` of the batch and the record's ``data``, and returns an :class:`Outcome`
``(status, key, errors, note)``; rules are raised as the services' errors and turned into a
``rejected`` outcome by :func:`apply_record`, which runs each record in its own SAVEPOINT so
a rejected record leaves no trace and never blocks the others.

How a pushed record finds the stored one
    By the sender's own id: ``(source_system = client id, source_id)``, where ``source_id`` is
    the record's ``source_id`` or else the sender's own number for it (``team_no``,
    ``project_no``, ``record_no``, ``enrollment_no``, ``training_no``, …: the store never
    takes a sender's number as its own). Volunteers are found by their document (type +
    number, through the blind index) whoever sent them; teams also by their unified social
    credit code. The ``key`` answered is the store's number (``volunteer_no``, ``team_no``,
    …); links inside records (``volunteer_no``, ``team_no``, ``project_no``) name store
    numbers.

What an upsert does
    volunteer → :func:`gateway.services.registration.upsert_volunteer` (fields the sender
    leaves out are kept); team → update, or :func:`register_team` (a new team waits for
    review: status 2, whatever the record says; an update never changes the status);
    project → update, or :func:`publish_project`; service_record → a correction of the
    stored record (:func:`correct_hours`: the original is kept as status 3, the answer's key
    is the new record), or :func:`record_hours` — every rule across records applies;
    enrollment → the activities service's reported enrolments
    (:func:`~gateway.services.activities.create_reported_enrollment`, places following the
    status); training, commendation, evaluation, complaint → the store's models directly,
    links checked (an unknown link is rejected with a pointer to it, rule
    ``exchange.link_unknown``). Certificates are issued by the gateway and never pushed
    (``exchange.not_pushable``).

What a delete does (``op: "delete"``; ``data`` names the record by ``source_id`` or the
sender's number as in its upserts, or by the store's number)
    volunteer → marked deleted (``deleted_at``), row, sources and history kept; team → status
    4 (逻辑删除); project → status 9 (作废); service_record → status 3 (已删除, through
    :func:`delete_hours`, which stops it counting); enrollment → removed (its place freed);
    training, commendation, evaluation, complaint → kept as a tombstone (``deleted_at``: records
    are retained, 2020 办法 Art. 13; an upsert brings it back). Each writes a change with action
    ``delete`` (the change feed's tombstone). Deleting what is already deleted answers
    ``unchanged``; an upsert of a deleted volunteer, team or project brings it back (a
    team back to review, status 2).

Conflicts between sources (SOURCE_PRIORITY, :class:`SourcePriority`)
    Every write carries a stamp: the sender and its ``source_updated_at``. A stamp wins over
    the stored one when its source ranks higher; at equal rank (clients not listed all rank
    equal, below the listed ones) when its ``source_updated_at`` is strictly newer — or when
    either side has none, as the two cannot be ordered then: the later write wins. An equal
    or older ``source_updated_at`` loses. Volunteers: per field — a field
    whose stored stamp wins keeps its value (the record answers ``unchanged`` with a note
    if nothing else changed), and ``provenance[field] = {"source", "at"}`` records who
    provided each field (a source whose write wins becomes the provider of every field it
    sent, even where the value was already the same). Teams and projects: the same at record level (``provenance`` of the
    row). Records of one source only (service records, enrolments, …): the newer
    ``source_updated_at`` wins. A volunteer is not deleted by a source ranking below one
    that provided any of their fields.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway import store
from gateway.exchange import homes
from gateway.privacy import mask_mobile
from gateway.services import activities, hours, registration
from gateway.services.context import ServiceContext, Valid
from gateway.services.errors import Conflict, Invalid, NotFound, OutOfScope, ServiceError
from gateway.standard.issues import Issue
from gateway.standard.rules.common import parse_date, parse_local_datetime
from gateway.store.models import (Commendation, Complaint, Enrollment, Evaluation, Post, Project,
                                  ServiceRecord, Team, Training, Volunteer, VolunteerSource)
from gateway.store.models.common import json_safe

__all__ = [
    "ENTITIES", "Outcome", "Source", "SourcePriority", "Stamp", "VolunteerMerge", "apply_record",
    "apply_records", "handler", "is_stale", "merge_volunteer", "new_provenance", "rejection",
    "translate_links", "DERIVED",
]

log = logging.getLogger("gateway.exchange.upserts")

ENTITIES = ("volunteer", "team", "project", "enrollment", "service_record", "training",
            "commendation", "evaluation", "complaint", "certificate")
_SOURCE_KEYS = ("source_id", "source_updated_at")


# -- sources, stamps, priority ------------------------------------------------------------------

class SourcePriority:
    """SOURCE_PRIORITY: client ids, highest first; clients not listed rank equal, below them."""

    def __init__(self, order: Sequence[str] = ()):
        self.order = [c for c in order if c]
        self._rank = {client: i for i, client in enumerate(self.order)}

    @classmethod
    def from_setting(cls, value: str) -> "SourcePriority":
        return cls([part.strip() for part in (value or "").split(",") if part.strip()])

    def rank(self, client_id: str | None) -> int:
        """0 is the highest priority."""
        return self._rank.get(client_id or "", len(self.order))

    def wins(self, new: "Stamp", old: "Stamp | None") -> bool:
        """Whether a write stamped ``new`` replaces what ``old`` provided."""
        if old is None or old.source is None:
            return True
        new_rank, old_rank = self.rank(new.source), self.rank(old.source)
        if new_rank != old_rank:
            return new_rank < old_rank
        return _newer(new, old.at)


@dataclass(frozen=True)
class Stamp:
    """Who provided a value, and as of when (the source's ``source_updated_at``, if it sent one)."""

    source: str | None
    at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source,
                "at": self.at.astimezone(timezone.utc).isoformat() if self.at else None}

    @classmethod
    def from_json(cls, value: Any) -> "Stamp | None":
        """A stored stamp; a bare string is the older form (source only, no time)."""
        if isinstance(value, str):
            return cls(value, None)
        if isinstance(value, Mapping):
            at = value.get("at")
            try:
                when = datetime.fromisoformat(at) if isinstance(at, str) else None
            except ValueError:
                when = None
            return cls(value.get("source"), when)
        return None


@dataclass(frozen=True)
class Source:
    """The batch a record came in: who sent it, when it arrived, and the priority policy."""

    client_id: str
    received_at: datetime
    priority: SourcePriority
    batch_id: str | None = None
    #: The stored record a received record's home names (gateway/exchange/homes.py): it is
    #: the record the write applies to, whoever sent it first. Set per record.
    addressed: Any = None

    def stamp(self, ctx: ServiceContext, data: Mapping[str, Any]) -> Stamp:
        return Stamp(self.client_id, parse_local_datetime(data.get("source_updated_at"), ctx.tz))

    @property
    def note(self) -> str:
        return f"push batch {self.batch_id}" if self.batch_id else "push"


class Outcome(NamedTuple):
    """What happened to one record: created, updated, unchanged, deleted or rejected."""

    status: str
    key: str | None = None
    errors: list[Issue] = []
    note: str | None = None


def _newer(stamp: Stamp, stored_at: datetime | None) -> bool:
    """Whether ``stamp`` is newer than ``stored_at``; without both times, the later write wins."""
    return stamp.at is None or stored_at is None or stamp.at > stored_at


# -- running one record -----------------------------------------------------------------------

def apply_record(ctx: ServiceContext, source: Source, entity: Any, op: Any, data: Any, *,
                 valid: Valid | None = None) -> Outcome:
    """Upsert or delete one record in its own SAVEPOINT; any rule broken → ``rejected``.

    ``valid``: the volunteer upsert's record as already validated (the bulk path screens
    every volunteer upsert of a chunk), handed on instead of validating ``data`` again.
    """
    issues = _shape_issues(entity, op, data)
    received = None
    if not issues and homes.HOME in data:
        data = dict(data)
        received = homes.parse(data.pop(homes.HOME))
        if isinstance(received, list):
            issues, received = received, None
    if issues:
        return Outcome("rejected", None, issues)
    apply = handler(entity, op)
    session = ctx.session
    try:
        with session.begin_nested():
            if received is None:
                if entity != "volunteer":
                    data = translate_links(ctx, source, data)
                return apply(ctx, source, valid if valid is not None else data)
            return _apply_received(ctx, source, entity, op, data, received)
    except ServiceError as exc:
        return rejection(exc)
    except SQLAlchemyError as exc:
        if store.connection_lost(exc):  # the database went away: not this record's fault
            raise
        # The database refused (e.g. a unique constraint raced by a concurrent writer). The
        # message may hold record values: log the kind only.
        log.warning("push: %s record refused by the database (%s)", entity, type(exc).__name__)
        return Outcome("rejected", None, [Issue("/data", "exchange.conflict",
                                                "记录与数据中心的现有数据冲突，请稍后重试",
                                                "the record conflicts with the store's data "
                                                "(a concurrent change?); retry later")])


def _apply_received(ctx: ServiceContext, source: Source, entity: str, op: str,
                    data: dict[str, Any], received: "homes.Received") -> Outcome:
    """A record another gateway sent with its home: applied to the record the home names
    (this gateway's own, or the one received before with that home), links named by home
    first; a new record from another gateway keeps its home (gateway/exchange/homes.py)."""
    row = homes.addressed(ctx, entity, received)
    if row is not None:
        source = dataclasses.replace(source, addressed=row)
        if op == "delete" and received.replaced:
            # A correction replaced the sender's record; the correction follows as an upsert.
            return Outcome("unchanged", getattr(row, homes.HOMED[entity][1]), [],
                           "replaced by a correction at the sender: the correction follows")
    if (row is not None and op == "upsert" and isinstance(row, ServiceRecord)
            and row.status == hours.DELETED and received.home.gateway == homes.own_id(ctx)):
        raise Invalid("the home record is deleted", [Issue(
            "/home/key", "exchange.home_deleted", "home 指向的服务时间记录已删除，不能修改",
            "the service record the home names is deleted here and cannot be updated")])
    local = homes.local_links(ctx, received, data)
    if entity != "volunteer":
        data = translate_links(ctx, source, data, keep=frozenset(local))
    data = {**data, **local}
    outcome = handler(entity, op)(ctx, source, data)
    if row is not None and entity == "volunteer" and outcome.key != row.volunteer_no:
        raise Invalid("the person is another record here", [Issue(
            "/home/key", "exchange.home_mismatch", "home 指向的志愿者与证件所属的志愿者不是同一人",
            "the volunteer the home names is not the one these documents belong to here")])
    if outcome.status == "created" and outcome.key:
        homes.remember(ctx, entity, outcome.key, received)
    return outcome


def apply_records(ctx: ServiceContext, source: Source,
                  items: Sequence[tuple[Any, Any, Any]]) -> list[Outcome]:
    """:func:`apply_record` for each ``(entity, op, data)`` of ``items``, in order: one outcome
    per item, exactly as if each were applied on its own (push batches and sync runs call this
    with a chunk of records; the caller commits).

    New volunteers and volunteers sent again unchanged take the bulk path
    (:mod:`gateway.exchange.bulk`: set-based writes, same result); everything else goes
    through :func:`apply_record` in its place. Records from another gateway with their
    homes (homes.HOME) are applied one at a time; ``items`` is cut into consecutive runs
    with and without a home, each applied in turn, so that one homed record among thousands
    sends only itself off the bulk path and every record still sees the ones before it.
    """
    from gateway.exchange import bulk  # it builds on this module

    outcomes: list[Outcome] = []
    start = 0
    while start < len(items):
        homed = _homed(items[start])
        end = start + 1
        while end < len(items) and _homed(items[end]) == homed:
            end += 1
        run = items[start:end]
        if homed:
            outcomes += [apply_record(ctx, source, entity, op, data) for entity, op, data in run]
        else:
            outcomes += bulk.apply_records(ctx, source, run)
        start = end
    return outcomes


def _homed(item: tuple[Any, Any, Any]) -> bool:
    data = item[2]
    return isinstance(data, dict) and homes.HOME in data


def handler(entity: str, op: str) -> Callable[[ServiceContext, Source, dict[str, Any]], Outcome]:
    """The function applying ``op`` to a record of ``entity`` (see the tables at the end)."""
    return (_UPSERTS if op == "upsert" else _DELETES)[entity]


def translate_links(ctx: ServiceContext, source: Source, data: dict[str, Any],
                    keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Links given as the sender's own numbers, turned into the store's numbers.

    A local system that knows people, teams and projects by its own numbers (a zyh365-style
    ``vcode``, say) names them that way in its service records and enrolments. A link that is
    the sender's own number for a record the store has from that sender (the volunteer's
    ``source_volunteer_no`` or ``source_id``, a team's or project's ``source_id``) becomes
    the store's number; anything else is left as sent (a store number, or unknown: the
    entity's handler answers ``exchange.link_unknown``). The sender's own numbers come first:
    they may look like store numbers of other records. ``keep``: link fields already named
    by the store's numbers (by their homes), left as they are.
    """
    if not isinstance(data, dict):
        return data
    session, sender = ctx.session, source.client_id
    out = data
    for name in ("volunteer_no", "team_no", "project_no", "parent_team_no"):
        value = data.get(name)
        if not isinstance(value, str) or not value or name in keep:
            continue
        if name == "volunteer_no":
            number = session.execute(
                select(Volunteer.volunteer_no).join(VolunteerSource,
                                                    VolunteerSource.volunteer_id == Volunteer.id)
                .where(VolunteerSource.source_system == sender,
                       (VolunteerSource.source_volunteer_no == value)
                       | (VolunteerSource.source_id == value))
                .limit(1)).scalar_one_or_none()
        else:
            model = Project if name == "project_no" else Team
            column = Project.project_no if name == "project_no" else Team.team_no
            number = session.execute(select(column).where(model.source_system == sender,
                                                          model.source_id == value)
                                     .order_by(model.id.desc()).limit(1)).scalar_one_or_none()
        if number is not None and number != value:
            if out is data:
                out = dict(data)
            out[name] = number
    return out


def _shape_issues(entity: Any, op: Any, data: Any) -> list[Issue]:
    issues = []
    if entity not in ENTITIES:
        issues.append(Issue("/entity", "batch.unknown_entity", "未知的数据类别", "unknown entity"))
    elif entity == "certificate":
        issues.append(Issue("/entity", "exchange.not_pushable",
                            "证明由网关签发，不能推送", "certificates are issued by the gateway "
                            "and cannot be pushed"))
    if op not in ("upsert", "delete"):
        issues.append(Issue("/op", "exchange.op", "操作应为 upsert 或 delete",
                            "op must be upsert or delete"))
    if not isinstance(data, dict):
        issues.append(Issue("/data", "exchange.data", "data 应为 JSON 对象",
                            "data must be a JSON object"))
    return issues


def rejection(exc: ServiceError) -> Outcome:
    """The ``rejected`` outcome of a record a service refused: its issues under ``/data``."""
    return Outcome("rejected", None, _issues_of(exc))


def _under_data(issue: Issue) -> Issue:
    if issue.pointer == "/home" or issue.pointer.startswith("/home/"):
        return issue  # the item's home member, beside data (gateway/exchange/homes.py)
    return Issue("/data" + issue.pointer, issue.rule, issue.message_zh, issue.message_en)


def _issues_of(exc: ServiceError) -> list[Issue]:
    if exc.issues:
        return [_under_data(i) for i in exc.issues]
    if isinstance(exc, OutOfScope):
        return [Issue("/data", "exchange.out_of_scope", "记录超出本客户端的数据范围（地区、队伍或权限）",
                      f"the record is outside the client's scope: {exc.detail}")]
    if isinstance(exc, NotFound):
        return [Issue("/data", "exchange.not_found", "要删除或修改的记录不存在",
                      f"no such record: {exc.detail}")]
    if isinstance(exc, Conflict):
        return [Issue("/data", "exchange.conflict", "记录与数据中心的现有数据冲突",
                      f"the record conflicts with the store: {exc.detail}")]
    return [Issue("/data", "exchange.invalid", "记录无效", exc.detail)]


# -- small helpers ------------------------------------------------------------------------------

def _source_id(data: Mapping[str, Any], number_key: str | None) -> str | None:
    value = data.get("source_id") or (data.get(number_key) if number_key else None)
    return value if isinstance(value, str) and value else None


def _link_unknown(field_name: str, what_zh: str, what_en: str) -> Invalid:
    return Invalid(f"no {what_en} {field_name}", [Issue(
        f"/{field_name}", "exchange.link_unknown", f"{what_zh}不存在于数据中心（{field_name}）",
        f"no {what_en} with this {field_name} is in the store")])


def _by_source(session: Session, model, source: Source, sid: str | None):
    """The row a received record's home names (:attr:`Source.addressed`), else the sender's
    latest row with this source id (None without an id)."""
    if isinstance(source.addressed, model):
        return source.addressed
    if not sid:
        return None
    return session.execute(select(model).where(model.source_system == source.client_id,
                                               model.source_id == sid)
                           .order_by(model.id.desc()).limit(1)).scalar_one_or_none()


def _by_number(session: Session, model, column, number: Any):
    if not isinstance(number, str) or not number:
        return None
    return session.execute(select(model).where(column == number)).scalar_one_or_none()


def _for_delete(session: Session, model, column, source: Source, data: Mapping[str, Any],
                number_key: str, visible: Callable[[Any], bool] = lambda row: True):
    """The row a delete names: the sender's source id (or own number), else the store's number.

    A row the caller may not see (``visible``) reads as never there, deleted or not.
    """
    row = _by_source(session, model, source, _source_id(data, number_key))
    if row is None:
        row = _by_number(session, model, column, data.get(number_key))
    if row is None or not visible(row):
        given = "source_id" if data.get("source_id") else number_key
        raise Invalid("nothing to delete", [Issue(
            f"/{given}", "exchange.not_found", "要删除的记录不存在（按 source_id 或编号查找）",
            "no record with this source_id (or number) to delete")])
    return row


_STALE = "the stored record is newer or comes from a higher-priority source; kept"


def _stale(note: str = "") -> str:
    return _STALE + (f" ({note})" if note else "")


def is_stale(outcome: Outcome) -> bool:
    """Whether ``outcome`` says the write lost to the stored record (nothing was taken)."""
    return outcome.status == "unchanged" and (outcome.note or "").startswith(_STALE)


def _volunteer(ctx: ServiceContext, number: Any, field_name: str = "volunteer_no",
               required: bool = True) -> Volunteer | None:
    if number is None and not required:
        return None
    row = _by_number(ctx.session, Volunteer, Volunteer.volunteer_no, number)
    if row is None:
        raise _link_unknown(field_name, "志愿者", "volunteer")
    return row


def _team(ctx: ServiceContext, number: Any, required: bool = False) -> Team | None:
    if number is None and not required:
        return None
    row = _by_number(ctx.session, Team, Team.team_no, number)
    if row is None:
        raise _link_unknown("team_no", "队伍", "team")
    return row


def _project(ctx: ServiceContext, number: Any, required: bool = True) -> Project | None:
    if number is None and not required:
        return None
    row = _by_number(ctx.session, Project, Project.project_no, number)
    if row is None:
        raise _link_unknown("project_no", "项目", "project")
    return row


# -- volunteers ----------------------------------------------------------------------------------

#: A volunteer's fields the store derives (from service records): never taken from a sender.
DERIVED = ("total_hours", "star_level")
_VOLUNTEER_NOT_FIELDS = {"volunteer_no", "source_id", "source_updated_at", *DERIVED}


def _person_fields(data: Mapping[str, Any]) -> list[str]:
    return [k for k in data if k not in _VOLUNTEER_NOT_FIELDS]


def new_provenance(stamp: Stamp, data: Mapping[str, Any]) -> dict[str, Any]:
    """A new person's provenance: this source and time provided every field it sent.

    The fields share one stamp object: provenance is replaced, never changed in place.
    """
    value = stamp.as_json()
    return {f: value for f in _person_fields(data)}


class VolunteerMerge(NamedTuple):
    """How a pushed person meets the stored one, field by field under the policy."""

    record: dict[str, Any]      # what to store: the data, fields whose stored stamp wins kept
    winning: list[str]          # fields this source now provides (its stamp goes on them)
    note: str | None            # the fields kept although the data differs, if any

    def provenance(self, stored: Mapping[str, Any] | None, stamp: Stamp) -> dict[str, Any]:
        """``stored`` provenance with this write's stamp on the winning fields."""
        provenance = dict(stored or {})
        value = stamp.as_json()  # shared by the fields: replaced, never changed in place
        for name in self.winning:
            provenance[name] = value
        return provenance


def merge_volunteer(source: Source, stamp: Stamp, data: Mapping[str, Any], old: Mapping[str, Any],
                    provenance: Mapping[str, Any] | None) -> VolunteerMerge:
    """Which of ``data``'s fields win over the stored person's (``old``, with its provenance)."""
    provenance = provenance or {}
    winning, kept = [], []
    for name in _person_fields(data):
        if name not in old or source.priority.wins(stamp, Stamp.from_json(provenance.get(name))):
            winning.append(name)
        else:
            kept.append(name)
    record = dict(data)
    for name in kept:
        record[name] = old[name]
    overruled = sorted(n for n in kept if data[n] != old.get(n))
    note = None
    if overruled:
        note = (f"{len(overruled)} field(s) kept as provided by a higher-priority or newer "
                f"source: {', '.join(overruled)}")
    return VolunteerMerge(record, winning, note)


#: How a v2 member kept beside the v1 columns (gateway.exchange.national) is named in a
#: person's provenance: apart from the v1 field names, whatever v2 calls it.
V2_PROVENANCE_PREFIX = "v2:"


def merge_volunteer_v2(source: Source, stamp: Stamp, remainder: Mapping[str, Any],
                       old: Mapping[str, Any], provenance: Mapping[str, Any] | None
                       ) -> tuple[dict[str, Any], VolunteerMerge]:
    """A v2 upsert's members beyond v1 (``remainder``) over the kept ones (``old``), under
    the same field-by-field policy as the v1 fields (:func:`merge_volunteer`, their names
    prefixed with :data:`V2_PROVENANCE_PREFIX` in the provenance): a member whose stored
    stamp wins keeps its value, a member not stored yet is taken, a member left out is kept
    (as a v1 field left out is). ``(the members to keep, the merge)``; the merge's
    ``provenance`` puts this write's stamp on the members it now provides."""
    p = V2_PROVENANCE_PREFIX
    merge = merge_volunteer(source, stamp, {p + k: v for k, v in remainder.items()},
                            {p + k: v for k, v in old.items()}, provenance)
    kept = {**old, **{k[len(p):]: v for k, v in merge.record.items()}}
    return kept, merge


def upsert_volunteer(ctx: ServiceContext, source: Source, data: dict[str, Any] | Valid) -> Outcome:
    """Create or update the person (found by document), field by field under the policy.

    ``data`` may come validated already (a :class:`Valid`, the bulk path's screening): the
    record is validated once, here or there, and handed on to the registration service.
    """
    ctx.caller.require("volunteer", "write")
    valid = data if isinstance(data, Valid) else ctx.valid("volunteer", _without_derived(data))
    data = valid.record
    stamp = source.stamp(ctx, data)
    # The record's own region first: the answer to a record outside it must not depend on
    # whether someone elsewhere holds the document (issue 11, finding 3).
    ctx.caller.require_region(registration.area_of(data), "the volunteer's service area")
    existing = registration.find_volunteer_by_document(ctx, data["id_type"], data["id_number"],
                                                       in_scope=False)
    if existing is None:
        volunteer = registration.create_from_source(ctx, valid, source.client_id,
                                                    data.get("source_id"))
        volunteer.provenance = new_provenance(stamp, data)
        return Outcome("created", volunteer.volunteer_no)

    if not ctx.caller.covers_region(existing.area_code):
        raise registration.duplicate_elsewhere()  # no number, region or state of theirs
    old = registration.volunteer_record(ctx, existing)
    merge = merge_volunteer(source, stamp, data, old, existing.provenance)
    revived = existing.deleted_at is not None
    status, volunteer = registration.update_from_source(
        ctx, existing, old, valid if merge.record == data else merge.record, source.client_id,
        data.get("source_id"))
    volunteer.provenance = merge.provenance(volunteer.provenance, stamp)
    if revived:
        volunteer.deleted_at = None
        ctx.record_change("volunteer", volunteer.volunteer_no, "restore", {"deleted": True},
                          {"deleted": False}, note=source.note, source_system=source.client_id,
                          area=volunteer.area_code)
        status = "updated"
    return Outcome(status, volunteer.volunteer_no, [], merge.note)


def _without_derived(data: Mapping[str, Any]) -> dict[str, Any]:
    """A volunteer record without the store's derived fields (what is validated and stored)."""
    return {k: v for k, v in data.items() if k not in DERIVED}


def delete_volunteer(ctx: ServiceContext, source: Source, data: dict[str, Any]) -> Outcome:
    """Mark the person deleted (the row, their sources and history stay)."""
    ctx.caller.require("volunteer", "write")
    session = ctx.session
    volunteer = source.addressed if isinstance(source.addressed, Volunteer) else None
    sid = _source_id(data, None)
    if sid and volunteer is None:
        link = session.execute(select(VolunteerSource).where(
            VolunteerSource.source_system == source.client_id,
            VolunteerSource.source_id == sid)).scalar_one_or_none()
        volunteer = link.volunteer if link is not None else None
    number = data.get("volunteer_no")
    if volunteer is None and isinstance(number, str):
        volunteer = _by_number(session, Volunteer, Volunteer.volunteer_no, number)
        if volunteer is None:  # the sender's own number for the person
            link = session.execute(select(VolunteerSource).where(
                VolunteerSource.source_system == source.client_id,
                VolunteerSource.source_volunteer_no == number).limit(1)).scalar_one_or_none()
            volunteer = link.volunteer if link is not None else None
    if volunteer is None or not ctx.caller.covers_region(volunteer.area_code):
        # Another region's person reads as never there, deleted or not (issue 11, finding 3).
        raise Invalid("nothing to delete", [Issue(
            "/source_id" if sid else "/volunteer_no", "exchange.not_found",
            "要删除的志愿者不存在（按 source_id 或志愿者编号查找）",
            "no volunteer with this source_id (or volunteer_no) to delete")])
    if volunteer.deleted_at is not None:
        return Outcome("unchanged", volunteer.volunteer_no, [], "already deleted")
    mine = source.priority.rank(source.client_id)
    higher = sorted({s.source for s in map(Stamp.from_json, (volunteer.provenance or {}).values())
                     if s is not None and s.source and source.priority.rank(s.source) < mine})
    if higher:
        return Outcome("unchanged", volunteer.volunteer_no, [],
                       f"not deleted: fields of this person come from higher-priority source(s) "
                       f"{', '.join(higher)}")
    volunteer.deleted_at = ctx.now
    ctx.record_change("volunteer", volunteer.volunteer_no, "delete", None, None, note=source.note,
                      source_system=source.client_id, area=volunteer.area_code)
    return Outcome("deleted", volunteer.volunteer_no)


# -- teams ---------------------------------------------------------------------------------------

TEAM_DELETED = "4"  # team_status 逻辑删除
_TEAM_NOT_STATE = {"team_no", "status", "source_id", "source_updated_at"}


def _find_team(ctx: ServiceContext, source: Source, data: Mapping[str, Any]) -> Team | None:
    team = _by_source(ctx.session, Team, source, _source_id(data, "team_no"))
    if team is None and data.get("uscc"):
        team = ctx.session.execute(select(Team).where(Team.uscc == data["uscc"])
                                   .order_by(Team.id).limit(1)).scalar_one_or_none()
    return team


def _record_stamp(row: Team | Project) -> Stamp | None:
    stamp = Stamp.from_json(row.provenance)
    if stamp is None and row.source_system:
        stamp = Stamp(row.source_system, row.source_updated_at)
    return stamp


def upsert_team(ctx: ServiceContext, source: Source, data: dict[str, Any]) -> Outcome:
    """Register a new team (it waits for review) or update the stored one (record level)."""
    ctx.caller.require("team", "write")
    valid = ctx.valid("team", data)
    ctx.caller.require_region(data["area"], "the team's area")
    stamp = source.stamp(ctx, data)
    team = _find_team(ctx, source, data)
    if team is None:
        team = registration.register_team(ctx, valid, None, source_system=source.client_id)
        team.source_id = _source_id(data, "team_no")
        team.source_updated_at = stamp.at
        team.provenance = stamp.as_json()
        return Outcome("created", team.team_no)

    ctx.caller.require_team(team.team_no, team.area_code)
    old = registration.team_state(ctx, team)
    new = {**old, **{k: v for k, v in data.items() if k not in _TEAM_NOT_STATE}}
    revived = team.status == TEAM_DELETED
    wins = source.priority.wins(stamp, _record_stamp(team))
    if new == old and not revived:
        if wins:  # the same values, now (also) vouched for by this source and time
            team.provenance, team.source_updated_at = stamp.as_json(), stamp.at
        return Outcome("unchanged", team.team_no)
    if not wins:
        return Outcome("unchanged", team.team_no, [], _stale())
    team.provenance = stamp.as_json()
    team.source_updated_at = stamp.at
    registration.apply_team_changes(ctx, team, old, new)
    before, after = dict(old), dict(new)
    if revived:
        before["status"], after["status"] = team.status, registration.TEAM_PENDING
        team.status = registration.TEAM_PENDING
    team.updated_at = ctx.now
    registration.flush_team(ctx, team)
    ctx.record_change("team", team.team_no, "restore" if revived else "update", _team_history(before),
                      _team_history(after), note=source.note, source_system=source.client_id,
                      area=team.area_code, team_no=team.team_no)
    return Outcome("updated", team.team_no)


def _team_history(record: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(record)
    unit = out.get("approving_unit")
    if isinstance(unit, dict) and isinstance(unit.get("phone"), str) and len(unit["phone"]) == 11:
        out["approving_unit"] = {**unit, "phone": mask_mobile(unit["phone"])}
    return out


def delete_team(ctx: ServiceContext, source: Source, data: dict[str, Any]) -> Outcome:
    """Logical deletion: team status 4 (逻辑删除); the team stays with its history."""
    ctx.caller.require("team", "write")
    team = _for_delete(ctx.session, Team, Team.team_no, source, data, "team_no",
                       lambda t: ctx.caller.covers_team(t.team_no, t.area_code))
    if team.status == TEAM_DELETED:
        return Outcome("unchanged", team.team_no, [], "already deleted")
    stamp = source.stamp(ctx, data)
    if not source.priority.wins(stamp, _record_stamp(team)):
        return Outcome("unchanged", team.team_no, [], _stale())
    before = team.status
    team.status = TEAM_DELETED
    team.provenance = stamp.as_json()
    team.updated_at = ctx.now
    ctx.record_change("team", team.team_no, "delete", {"status": before}, {"status": TEAM_DELETED},
                      note=source.note, source_system=source.client_id, area=team.area_code,
                      team_no=team.team_no)
    return Outcome("deleted", team.team_no)


# -- projects ------------------------------------------------------------------------------------

PROJECT_VOID = activities.PROJECT_VOID


def upsert_project(ctx: ServiceContext, source: Source, data: dict[str, Any]) -> Outcome:
    """Publish a new project, or update the sender's one (record level); posts merge by post_no."""
    ctx.caller.require("project", "write")
    sid = _source_id(data, "project_no")
    project = _by_source(ctx.session, Project, source, sid)
    stamp = source.stamp(ctx, data)
    if project is None:
        project = activities.publish_project(ctx, data)
        project.source_id = sid
        project.source_updated_at = stamp.at
        project.provenance = stamp.as_json()
        return Outcome("created", project.project_no)

    ctx.validate("project", data)
    ctx.caller.require_team(project.team.team_no, project.team.area_code)
    if data["team_no"] != project.team.team_no:
        raise Invalid("a project's team cannot change", [Issue(
            "/team_no", "exchange.link_fixed", "项目的发起队伍不能更改",
            "the organising team of a project cannot change; void it and publish a new one")])
    old = activities.project_state(ctx, project)
    new = _incoming_project(ctx, old, data)
    wins = source.priority.wins(stamp, _record_stamp(project))
    if new == old:
        if wins:
            project.provenance, project.source_updated_at = stamp.as_json(), stamp.at
        return Outcome("unchanged", project.project_no)
    if not wins:
        return Outcome("unchanged", project.project_no, [], _stale())
    posts_in = list(data.get("posts") or [])
    issues: list[Issue] = []
    activities.post_numbers(posts_in, issues, required=True)  # posts merge by number
    project.provenance = stamp.as_json()
    project.source_updated_at = stamp.at
    activities.apply_project_changes(ctx, project, old, new, posts_in, issues)
    if data.get("project_no"):
        project.data = {**(project.data or {}), "source_project_no": data["project_no"]}
    project.updated_at = ctx.now
    ctx.session.flush()
    ctx.record_change("project", project.project_no, "update", activities.project_history(ctx, old),
                      activities.project_history(ctx, new), note=source.note,
                      source_system=source.client_id, area=project.area_code,
                      team_no=project.team.team_no)
    return Outcome("updated", project.project_no)


def _incoming_project(ctx: ServiceContext, old: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    new = {**old, **{k: v for k, v in data.items()
                     if k not in ("project_no", "team_no", "posts", "source_id", "source_updated_at")}}
    posts = dict(old["posts"])
    for post in data.get("posts") or []:
        posts[post.get("post_no")] = activities.post_state(ctx, post)
    new["posts"] = posts
    return new


def delete_project(ctx: ServiceContext, source: Source, data: dict[str, Any]) -> Outcome:
    """Void the project (status 9 作废): its enrolments and hours stay."""
    ctx.caller.require("project", "write")
    project = _for_delete(ctx.session, Project, Project.project_no, source, data, "project_no",
                          lambda p: ctx.caller.covers_team(p.team.team_no, p.team.area_code))
    if project.status == PROJECT_VOID:
        return Outcome("unchanged", project.project_no, [], "already deleted")
    stamp = source.stamp(ctx, data)
    if not source.priority.wins(stamp, _record_stamp(project)):
        return Outcome("unchanged", project.project_no, [], _stale())
    project.provenance = stamp.as_json()
    activities.void_project(ctx, project, source.note, source.client_id)
    return Outcome("deleted", project.project_no)


# -- service records -----------------------------------------------------------------------------

def upsert_service_record(ctx: ServiceContext, source: Source, data: dict[str, Any]) -> Outcome:
    """Record effective hours, or correct the sender's stored record (the original is kept)."""
    ctx.caller.require(hours.ENTITY, "write")
    sid = _source_id(data, "record_no")
    stamp = source.stamp(ctx, data)
    row = _by_source(ctx.session, ServiceRecord, source, sid)
    if row is None or row.status == hours.DELETED:
        new = hours.record_hours(ctx, data, source_system=source.client_id)
        new.source_id = sid
        new.source_updated_at = stamp.at
        return Outcome("created", new.record_no, [], _late_note(ctx, new))

    ctx.validate(hours.ENTITY, data)
    if (data["volunteer_no"], data["project_no"]) != (row.volunteer.volunteer_no, row.project.project_no):
        raise Invalid("a service record's volunteer and project cannot change", [Issue(
            "/volunteer_no" if data["volunteer_no"] != row.volunteer.volunteer_no else "/project_no",
            "exchange.link_fixed", "服务时间记录的志愿者和项目不能更改，请删除后重新推送",
            "the volunteer and project of a service record cannot change; delete it and push "
            "a new one")])
    if row.status != hours.EFFECTIVE:
        raise Conflict(f"service record {row.record_no} has status {row.status}", [Issue(
            "/status", "exchange.not_effective", "数据中心中该记录不是已生效状态，不能通过推送更正",
            "the stored record is not effective (status 2) and cannot be corrected by a push")])
    started = parse_local_datetime(data["started_at"], ctx.tz)
    ended = parse_local_datetime(data["ended_at"], ctx.tz)
    same = (started == row.started_at and ended == row.ended_at
            and hours._hours(data["hours"]) == row.hours  # noqa: SLF001 (the service's rounding)
            and all(data.get(key, getattr(row, key)) == getattr(row, key)
                    for key in ("description", "place", "person_in_charge")))
    newer = _newer(stamp, row.source_updated_at)
    if same:
        if newer:
            row.source_updated_at = stamp.at
        return Outcome("unchanged", row.record_no)
    if not newer:
        return Outcome("unchanged", row.record_no, [], _stale())
    new = hours.correct_hours(ctx, row.record_no, {
        "started_at": data["started_at"], "ended_at": data["ended_at"], "hours": data["hours"],
        "description": data.get("description"), "place": data.get("place"),
        "person_in_charge": data.get("person_in_charge"),
        "reason": f"updated by {source.client_id} ({source.note})"})
    if source.addressed is row:  # the home's record: it stays its first sender's
        new.source_system, new.source_id = row.source_system, row.source_id
        new.source_updated_at = stamp.at
    else:
        new.source_system, new.source_id, new.source_updated_at = source.client_id, sid, stamp.at
    return Outcome("updated", new.record_no, [], _late_note(ctx, new))


def _late_note(ctx: ServiceContext, record: ServiceRecord) -> str | None:
    """The answer's note for a record made later than 办法 (2020) Art. 11 allows (reported)."""
    if record.late_working_days is None:
        return None
    return (f"recorded late: {record.late_working_days} working days after the activity "
            f"ended (办法 2020 Art. 11: within {ctx.config.get('RECORDING_DEADLINE_DAYS', 10)})")


def delete_service_record(ctx: ServiceContext, source: Source, data: dict[str, Any]) -> Outcome:
    """Status 3 (已删除) through the hours service: an effective record stops counting."""
    ctx.caller.require(hours.ENTITY, "write")
    row = _for_delete(ctx.session, ServiceRecord, ServiceRecord.record_no, source, data, "record_no",
                      lambda r: ctx.caller.covers_team(r.team.team_no, r.team.area_code))
    if row.status == hours.DELETED:
        return Outcome("unchanged", row.record_no, [], "already deleted")
    hours.delete_hours(ctx, row.record_no, f"deleted by {source.client_id} ({source.note})")
    return Outcome("deleted", row.record_no)


# -- enrolments ----------------------------------------------------------------------------------

def _acts_for(ctx: ServiceContext, *, volunteer: Volunteer | None = None, team: Team | None = None) -> bool:
    """The caller acts for the volunteer (their region, not a team-limited client) or the team."""
    caller = ctx.caller
    if team is not None and caller.covers_team(team.team_no, team.area_code):
        return True
    return volunteer is not None and not caller.team_nos and caller.covers_region(volunteer.area_code)


def _enrollment_links(ctx: ServiceContext, data: Mapping[str, Any]) -> tuple[Volunteer, Project, Post]:
    volunteer = _volunteer(ctx, data.get("volunteer_no"))
    project = _project(ctx, data.get("project_no"))
    posts = list(project.posts)
    post_no = data.get("post_no")
    if post_no is None:
        if len(posts) != 1:
            raise Invalid("which post?", [Issue("/post_no", "exchange.post_required",
                                                "项目有多个岗位，须指明岗位编号",
                                                "the project has several posts: post_no is required")])
        return volunteer, project, posts[0]
    post = next((p for p in posts if p.post_no == post_no), None)
    if post is None:
        raise _link_unknown("post_no", "岗位", "post")
    return volunteer, project, post


def upsert_enrollment(ctx: ServiceContext, source: Source, data: dict[str, Any]) -> Outcome:
    """The sender's enrolment as it reports it; places in the post follow the status."""
    ctx.caller.require("enrollment", "write")
    ctx.validate("enrollment", data)
    volunteer, project, post = _enrollment_links(ctx, data)
    if not _acts_for(ctx, volunteer=volunteer, team=project.team):
        raise OutOfScope(f"client {ctx.caller.client_id!r} acts neither for the volunteer nor "
                         f"for team {project.team.team_no}")
    sid = _source_id(data, "enrollment_no")
    stamp = source.stamp(ctx, data)
    row = _by_source(ctx.session, Enrollment, source, sid)
    status = data["status"]
    applied = parse_local_datetime(data.get("applied_at"), ctx.tz) or ctx.now
    decided = parse_local_datetime(data.get("decided_at"), ctx.tz)
    if row is None:
        row = activities.create_reported_enrollment(
            ctx, volunteer, project, post, status=status, invited=bool(data.get("invited", False)),
            applied_at=applied, decided_at=decided, source_system=source.client_id,
            source_id=sid, source_updated_at=stamp.at, note=source.note)
        return Outcome("created", row.enrollment_no)

    if (row.volunteer_id, row.post_id) != (volunteer.id, post.id):
        raise Invalid("an enrolment's volunteer and post cannot change", [Issue(
            "/volunteer_no", "exchange.link_fixed", "报名的志愿者和岗位不能更改，请删除后重新推送",
            "the volunteer and post of an enrolment cannot change; delete it and push a new one")])
    before = activities.reported_enrollment_state(row)
    new_state = {"status": status, "invited": bool(data.get("invited", row.invited)),
                 "applied_at": applied if data.get("applied_at") else row.applied_at,
                 "decided_at": decided if data.get("decided_at") else row.decided_at}
    newer = _newer(stamp, row.source_updated_at)
    if json_safe(new_state) == before:
        if newer:
            row.source_updated_at = stamp.at
        return Outcome("unchanged", row.enrollment_no)
    if not newer:
        return Outcome("unchanged", row.enrollment_no, [], _stale())
    row.source_updated_at = stamp.at
    activities.change_reported_enrollment(ctx, row, post, new_state,
                                          source_system=source.client_id, note=source.note)
    return Outcome("updated", row.enrollment_no)


def delete_enrollment(ctx: ServiceContext, source: Source, data: dict[str, Any]) -> Outcome:
    ctx.caller.require("enrollment", "write")
    row = _for_delete(ctx.session, Enrollment, Enrollment.enrollment_no, source, data, "enrollment_no")
    if not _acts_for(ctx, volunteer=row.volunteer, team=row.project.team):
        raise OutOfScope(f"enrollment {row.enrollment_no} is outside the client's scope")
    number = activities.remove_reported_enrollment(ctx, row, source_system=source.client_id,
                                                   note=source.note)
    return Outcome("deleted", number)


# -- trainings, commendations, evaluations, complaints --------------------------------------------

@dataclass(frozen=True)
class _Attached:
    """How one of the smaller records maps onto its model."""

    entity: str
    model: Any
    number: str                       # the store's number column (and the sender's key)
    prefix: str                       # of the store's numbers
    # (volunteer_no | team_no | project_no, required): links held as foreign keys; any other
    # link field of the record (an evaluation's team_no) stays in ``data``.
    links: tuple[tuple[str, bool], ...]
    columns: Callable[[ServiceContext, Mapping[str, Any]], dict[str, Any]]


def _training_columns(ctx, data):
    return {"held_on": parse_date(data["held_on"])}


def _commendation_columns(ctx, data):
    return {"subject": data["subject"], "awarded_on": parse_date(data["awarded_on"])}


def _evaluation_columns(ctx, data):
    return {}


def _complaint_columns(ctx, data):
    return {"kind": data["kind"], "status": data.get("status", "open"),
            "submitted_at": parse_local_datetime(data["submitted_at"], ctx.tz)}


_ATTACHED = {
    "training": _Attached("training", Training, "training_no", "TR",
                          (("volunteer_no", True), ("team_no", False)), _training_columns),
    "commendation": _Attached("commendation", Commendation, "commendation_no", "CM",
                              (("volunteer_no", False), ("team_no", False)), _commendation_columns),
    "evaluation": _Attached("evaluation", Evaluation, "evaluation_no", "EV",
                            (("volunteer_no", True), ("project_no", True)), _evaluation_columns),
    "complaint": _Attached("complaint", Complaint, "complaint_no", "CP",
                           (("volunteer_no", False), ("team_no", False), ("project_no", False)),
                           _complaint_columns),
}
_LINK_KEYS = ("volunteer_no", "team_no", "project_no")
_LINK_COLUMNS = {"volunteer_no": "volunteer_id", "team_no": "team_id", "project_no": "project_id"}
_LINK_MODELS = {"volunteer_no": Volunteer, "team_no": Team, "project_no": Project}


def _resolve_links(ctx: ServiceContext, spec: _Attached, data: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, required in spec.links:
        if name == "volunteer_no":
            found[name] = _volunteer(ctx, data.get(name), required=required)
        elif name == "team_no":
            found[name] = _team(ctx, data.get(name), required=required)
        else:
            found[name] = _project(ctx, data.get(name), required=required)
    return found


def _require_links_in_scope(ctx: ServiceContext, spec: _Attached, links: Mapping[str, Any]) -> None:
    """The caller acts for at least one linked record (a record with no links: permission only)."""
    volunteer, team, project = links.get("volunteer_no"), links.get("team_no"), links.get("project_no")
    if volunteer is None and team is None and project is None:
        return
    if _acts_for(ctx, volunteer=volunteer, team=team) or (
            project is not None and _acts_for(ctx, team=project.team)):
        return
    raise OutOfScope(f"the {spec.entity}'s volunteer, team and project are outside the scope of "
                     f"client {ctx.caller.client_id!r}")


def _area_of_links(links: Mapping[str, Any]) -> str | None:
    for name in _LINK_KEYS:
        row = links.get(name)
        if row is not None and row.area_code:
            return row.area_code
    return None


def _place_of_links(links: Mapping[str, Any]) -> dict[str, str | None]:
    """The change's region and team (for the change feed's scope) from the record's links."""
    team = links.get("team_no")
    project = links.get("project_no")
    if team is None and project is not None:
        team = project.team
    return {"area": _area_of_links(links), "team_no": team.team_no if team is not None else None}


def _attached_values(ctx: ServiceContext, spec: _Attached, data: Mapping[str, Any],
                     links: Mapping[str, Any]) -> dict[str, Any]:
    values = spec.columns(ctx, data)
    linked = [key for key, _required in spec.links]
    for key in linked:
        row = links.get(key)
        values[_LINK_COLUMNS[key]] = row.id if row is not None else None
    values["data"] = {k: v for k, v in data.items()
                      if k not in linked and k != spec.number and k not in _SOURCE_KEYS}
    return values


def _upsert_attached(spec: _Attached, ctx: ServiceContext, source: Source,
                     data: dict[str, Any]) -> Outcome:
    ctx.caller.require(spec.entity, "write")
    ctx.validate(spec.entity, data)
    links = _resolve_links(ctx, spec, data)
    _require_links_in_scope(ctx, spec, links)
    sid = _source_id(data, spec.number)
    stamp = source.stamp(ctx, data)
    values = _attached_values(ctx, spec, data, links)
    history = {k: v for k, v in data.items() if k not in _SOURCE_KEYS and k != spec.number}
    row = _by_source(ctx.session, spec.model, source, sid)
    if row is None:
        row = spec.model(**values, source_system=source.client_id, source_id=sid,
                         source_updated_at=stamp.at, created_at=ctx.now, updated_at=ctx.now)
        setattr(row, spec.number, ctx.number(spec.prefix, _area_of_links(links)))
        ctx.session.add(row)
        ctx.session.flush()
        ctx.record_change(spec.entity, getattr(row, spec.number), "create", None, history,
                          note=source.note, source_system=source.client_id,
                          **_place_of_links(links))
        return Outcome("created", getattr(row, spec.number))
    number = getattr(row, spec.number)
    if row.deleted_at is not None:
        # A tombstone pushed again comes back, as a deleted volunteer does.
        row.deleted_at = None
        ctx.record_change(spec.entity, number, "restore", {"deleted": True}, {"deleted": False},
                          note=source.note, source_system=source.client_id, **_place_of_links(links))
        row.source_updated_at = stamp.at
        before = {name: getattr(row, name) for name in values}
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = ctx.now
        if before != values:
            ctx.record_change(spec.entity, number, "update", _jsonable(before), _jsonable(values),
                              note=source.note, source_system=source.client_id,
                              **_place_of_links(links))
        return Outcome("updated", number)
    before = {name: getattr(row, name) for name in values}
    newer = _newer(stamp, row.source_updated_at)
    if before == values:
        if newer:
            row.source_updated_at = stamp.at
        return Outcome("unchanged", number)
    if not newer:
        return Outcome("unchanged", number, [], _stale())
    row.source_updated_at = stamp.at
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = ctx.now
    ctx.record_change(spec.entity, number, "update", _jsonable(before), _jsonable(values),
                      note=source.note, source_system=source.client_id, **_place_of_links(links))
    return Outcome("updated", number)


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if key == "data":
            out.update(value or {})
        elif hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


def _delete_attached(spec: _Attached, ctx: ServiceContext, source: Source,
                     data: dict[str, Any]) -> Outcome:
    ctx.caller.require(spec.entity, "write")
    column = getattr(spec.model, spec.number)
    row = _for_delete(ctx.session, spec.model, column, source, data, spec.number)
    links = {}
    for key, _required in spec.links:
        value = getattr(row, _LINK_COLUMNS[key])
        links[key] = ctx.session.get(_LINK_MODELS[key], value) if value is not None else None
    _require_links_in_scope(ctx, spec, links)
    number = getattr(row, spec.number)
    if row.deleted_at is not None:
        return Outcome("unchanged", number, [], "already deleted")
    # Retained, not removed (2020 办法 Art. 13, keep the history): the row stays as a
    # tombstone and the history gets the ``delete`` change the feed answers as a tombstone.
    row.deleted_at = ctx.now
    row.updated_at = ctx.now
    ctx.record_change(spec.entity, number, "delete", {"deleted": False}, {"deleted": True},
                      note=source.note, source_system=source.client_id, **_place_of_links(links))
    return Outcome("deleted", number)


def _attached_handlers(spec: _Attached):
    return (lambda ctx, source, data: _upsert_attached(spec, ctx, source, data),
            lambda ctx, source, data: _delete_attached(spec, ctx, source, data))


_UPSERTS: dict[str, Callable[[ServiceContext, Source, dict[str, Any]], Outcome]] = {
    "volunteer": upsert_volunteer,
    "team": upsert_team,
    "project": upsert_project,
    "service_record": upsert_service_record,
    "enrollment": upsert_enrollment,
}
_DELETES: dict[str, Callable[[ServiceContext, Source, dict[str, Any]], Outcome]] = {
    "volunteer": delete_volunteer,
    "team": delete_team,
    "project": delete_project,
    "service_record": delete_service_record,
    "enrollment": delete_enrollment,
}
for _name, _spec in _ATTACHED.items():
    _UPSERTS[_name], _DELETES[_name] = _attached_handlers(_spec)
