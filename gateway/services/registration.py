"""Registration: volunteers (one row per real person), teams with review, team membership.

Volunteers
    A person is identified by the keyed blind index of (document type, document number):
    ``vault.blind_index(f"id:{id_type}", id_number)``. The document type is part of the key, so
    the legacy codes 6 / 7 / 9 and the current 06 / 07 / 99 are different types and never
    match each other. Registering a person the store already has is refused (409, rule
    ``volunteer.duplicate``, with ``existing_volunteer_no`` for a caller whose region covers
    the person; any other caller gets the same refusal naming nothing of theirs, so no region
    can probe another's people — :func:`duplicate_elsewhere`); the exchange uses
    :func:`upsert_volunteer`, which updates the existing person instead.

    The store always assigns the unified volunteer number (``ctx.volunteer_no(area)``). A
    ``volunteer_no`` in the input is the *source's* number for the person: it is kept on the
    source's :class:`VolunteerSource` row (``source_volunteer_no``), never used as the store's.
    ``total_hours`` and ``star_level`` are derived from service records and ignored on input.

    ID number, mobile and the guardian block are encrypted at rest (the guardian as JSON);
    the ID and mobile numbers also keep a masked copy (for output) and a blind index (for
    look-up). Nothing personal is ever logged or kept in clear in the history.

Teams
    A new team waits for review (status 2) whatever the input says; a management department
    whose region covers the team approves (1) or rejects (0) it, and may suspend (3) and
    reinstate (1) an approved one. The store assigns the team number (``T`` + area + sequence);
    a source's own ``team_no`` is kept as ``data["source_team_no"]``.

Membership
    A volunteer applies to an approved team; the team's join policy decides: 1 the team
    reviews the application, 2 member at once, 3 closed, 4 member at once with the team's
    join password. Leaving keeps the row (``left_at``) and its history.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Callable, Mapping

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from gateway import timefmt
from gateway.passwords import check_password, hash_password, needs_rehash
from gateway.privacy import mask_id_number, mask_mobile
from gateway.services.aggregates import count_volunteer
from gateway.services.context import ServiceContext, Valid
from gateway.services.errors import Conflict, Invalid, NotFound, OutOfScope
from gateway.services.lookups import get_team, get_volunteer
from gateway.standard.issues import Issue
from gateway.standard.rules.common import parse_date, parse_local_datetime
from gateway.standard.rules.volunteer import id_birth_date, mainland_id
from gateway.store.models.common import json_safe
from gateway.store.models import Change, Team, TeamMember, Volunteer, VolunteerSource

__all__ = [
    "register_volunteer", "upsert_volunteer", "update_volunteer", "volunteer_view",
    "create_from_source", "update_from_source",
    "build_volunteer", "creation_change_values", "source_row_values", "upsert_writes_nothing",
    "find_volunteer_by_document", "find_volunteers_by_number", "list_volunteers",
    "volunteer_history", "change_view", "volunteer_record", "get_volunteer_for_read",
    "get_team_for_read",
    "register_team", "review_team", "team_view", "list_teams",
    "apply_membership", "decide_membership", "leave_membership", "list_members",
    "membership_view", "is_member", "hash_password", "check_password",
    "ID_TYPES", "REVIEW_TRANSITIONS", "require_team_active", "require_team_issuing",
    "dissolve_team", "record_keepers",
    "refuse_taken_uscc", "flush_team",
    "team_parent_and_password", "team_state", "apply_team_changes", "update_team", "withdraw_team",
]

# Every document type of the standard (id_type code table); legacy 6/7/9 stay distinct.
ID_TYPES = ("6", "7", "9", "01", "02", "03", "04", "05", "06", "07", "99")

# -- volunteer fields -------------------------------------------------------------------------

# Derived by the store, never taken from input (readOnly in the schema).
_READ_ONLY = ("total_hours", "star_level")
# The source's bookkeeping, not the person's data.
_SOURCE_KEYS = ("volunteer_no", "source_id", "source_updated_at")
_VOLUNTEER_COLUMNS = ("name", "id_type", "gender", "birth_date", "registered_at",
                      "real_name_status")
_VOLUNTEER_PERSONAL = ("id_number", "mobile", "guardian")
_NOT_DATA = set(_READ_ONLY) | set(_SOURCE_KEYS) | set(_VOLUNTEER_COLUMNS) | set(_VOLUNTEER_PERSONAL)
#: The keys :func:`_standard_fields` drops, as a set: it runs twice per pushed person.
_NOT_STANDARD = frozenset(_READ_ONLY) | frozenset(_SOURCE_KEYS)

# The standard's keys in its order, for output.
VOLUNTEER_KEYS = (
    "name", "id_type", "id_number", "gender", "birth_date", "nationality", "ethnicity",
    "political_status", "education", "employment_status", "mobile", "email", "address",
    "residence_area", "service_area", "service_categories", "skills", "availability",
    "languages", "registered_at", "registration_area", "real_name_status", "guardian",
    "consent",
)

# Area of a volunteer, for scope, numbering and statistics: the first of these present.
_AREA_KEYS = ("service_area", "residence_area", "registration_area")


def _area_of(record: Mapping[str, Any]) -> str | None:
    for key in _AREA_KEYS:
        value = record.get(key)
        if isinstance(value, str) and value:
            return value
    return None


#: The region a volunteer record places the person in (the exchange checks scope with it).
area_of = _area_of


def _standard_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The person's fields of a record: without the derived and the source's bookkeeping keys."""
    return {k: v for k, v in record.items() if k not in _NOT_STANDARD}


def _without_read_only(record: Any) -> Any:
    if isinstance(record, dict):
        return {k: v for k, v in record.items() if k not in _READ_ONLY}
    return record


def _id_index(ctx: ServiceContext, id_type: str, id_number: str) -> str:
    return ctx.vault.blind_index(f"id:{id_type}", id_number)


def _mobile_index(ctx: ServiceContext, mobile: str) -> str:
    return ctx.vault.blind_index("mobile", mobile)


def _iso(value: datetime | None, ctx: ServiceContext) -> str | None:
    """A stored instant in the gateway's zone, ISO 8601 with its microseconds (gateway/timefmt.py)."""
    return timefmt.iso(value, ctx.tz, timespec="auto")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def volunteer_record(ctx: ServiceContext, volunteer: Volunteer) -> dict[str, Any]:
    """The stored person as a standard record, personal data decrypted (never log it)."""
    vault = ctx.vault
    record: dict[str, Any] = {"name": volunteer.name, "id_type": volunteer.id_type,
                              "id_number": vault.decrypt(volunteer.id_number_enc),
                              "gender": volunteer.gender,
                              "mobile": vault.decrypt(volunteer.mobile_enc)}
    if volunteer.birth_date is not None:
        record["birth_date"] = volunteer.birth_date.isoformat()
    if volunteer.registered_at is not None:
        record["registered_at"] = volunteer.registered_at.isoformat()
    if volunteer.real_name_status is not None:
        record["real_name_status"] = volunteer.real_name_status
    if volunteer.guardian_enc:
        record["guardian"] = json.loads(vault.decrypt(volunteer.guardian_enc))
    record.update(volunteer.data or {})
    return record


def _stat_key(volunteer: Volunteer) -> tuple:
    """What the volunteer aggregate cell depends on."""
    return (volunteer.county, volunteer.birth_date, volunteer.gender, volunteer.registered_at)


def _apply_volunteer(ctx: ServiceContext, volunteer: Volunteer, record: Mapping[str, Any],
                     old: Mapping[str, Any] | None = None) -> None:
    """Set every stored field of ``volunteer`` from the valid standard ``record``.

    Personal values are re-encrypted only when they changed (``old`` is the stored record).
    """
    old = old or {}
    vault = ctx.vault
    volunteer.name = record["name"]
    volunteer.id_type = record["id_type"]
    volunteer.gender = record["gender"]
    birth = parse_date(record.get("birth_date"))
    if birth is None:
        number = mainland_id(dict(record))
        birth = id_birth_date(number) if number else None
    volunteer.birth_date = birth
    volunteer.registered_at = (parse_date(record.get("registered_at")) or volunteer.registered_at
                               or ctx.now.date())
    volunteer.real_name_status = record.get("real_name_status")
    if record["id_number"] != old.get("id_number") or record["id_type"] != old.get("id_type"):
        volunteer.id_index = _id_index(ctx, record["id_type"], record["id_number"])
        volunteer.id_number_enc = vault.encrypt(record["id_number"])
        volunteer.id_number_masked = mask_id_number(record["id_number"])
    if record["mobile"] != old.get("mobile"):
        volunteer.mobile_index = _mobile_index(ctx, record["mobile"])
        volunteer.mobile_enc = vault.encrypt(record["mobile"])
        volunteer.mobile_masked = mask_mobile(record["mobile"])
    guardian = record.get("guardian")
    if guardian != old.get("guardian"):
        volunteer.guardian_enc = (vault.encrypt(json.dumps(guardian, ensure_ascii=False, sort_keys=True))
                                  if guardian else None)
    # A new dict, so SQLAlchemy sees the JSON column change.
    volunteer.data = {k: v for k, v in record.items() if k not in _NOT_DATA}
    volunteer.set_area(_area_of(record), ctx.regions)


def duplicate_elsewhere() -> Conflict:
    """The refusal of a document held by a person outside the caller's region (issue 11,
    finding 3): a duplicate still, but naming no number, region or state of that person — the
    same answer whether they are active or deleted."""
    return Conflict(
        "this person is already registered",
        [Issue("/id_number", "volunteer.duplicate",
               "该证件类型和证件号码的志愿者已注册，不能重复注册",
               "a volunteer with this document type and number is already registered")])


def _duplicate(ctx: ServiceContext, existing: Volunteer) -> Conflict:
    """The refusal of a document another person holds: with their number for a caller whose
    region covers them, else :func:`duplicate_elsewhere`."""
    if not ctx.caller.covers_region(existing.area_code):
        return duplicate_elsewhere()
    return Conflict(
        f"this person is already registered as volunteer {existing.volunteer_no}",
        [Issue("/id_number", "volunteer.duplicate",
               f"该证件类型和证件号码的志愿者已注册（志愿者编号 {existing.volunteer_no}），不能重复注册",
               f"a volunteer with this document type and number is already registered "
               f"(volunteer number {existing.volunteer_no})")],
        existing_volunteer_no=existing.volunteer_no)


def _by_index(session: Session, id_index: str) -> Volunteer | None:
    return session.execute(select(Volunteer).where(Volunteer.id_index == id_index)).scalar_one_or_none()


def find_volunteer_by_document(ctx: ServiceContext, id_type: str, id_number: str, *,
                               in_scope: bool = True) -> Volunteer | None:
    """The volunteer holding this document, found through the blind index; None if none
    (or, with ``in_scope``, if they are outside the caller's region)."""
    if not id_type or not id_number or not id_number.strip():
        return None
    volunteer = _by_index(ctx.session, _id_index(ctx, id_type, id_number))
    if volunteer is not None and in_scope and not ctx.caller.covers_region(volunteer.area_code):
        return None
    return volunteer


def find_volunteers_by_number(ctx: ServiceContext, id_number: str,
                              id_type: str | None = None) -> list[str]:
    """Blind indexes to look ``id_number`` up under one document type, or under every type."""
    if not id_number or not id_number.strip():
        return []
    types = (id_type,) if id_type else ID_TYPES
    return [_id_index(ctx, t, id_number) for t in types]


def _source_key(source_id: str | None, source_no: str | None, volunteer_no: str) -> str:
    # A source that sent no id of its own knows the person by its number for them, or else
    # by the number the store gave back.
    return source_id or source_no or volunteer_no


def _check_source_free(ctx: ServiceContext, source_system: str | None, source_id: str | None,
                       volunteer: Volunteer | None) -> None:
    """Refuse a source id the same source already uses for another person."""
    if not source_system or not source_id:
        return
    row = ctx.session.execute(select(VolunteerSource).where(
        VolunteerSource.source_system == source_system,
        VolunteerSource.source_id == source_id)).scalar_one_or_none()
    if row is not None and (volunteer is None or row.volunteer_id != volunteer.id):
        raise Conflict(
            f"source {source_system!r} already uses this source_id for another volunteer",
            [Issue("/source_id", "volunteer.source_id_taken",
                   "来源系统已将该记录标识用于另一名志愿者",
                   "the sending system already uses this source_id for another volunteer")])


def source_row_values(ctx: ServiceContext, volunteer: Volunteer, source_system: str,
                      source_id: str | None, source_no: str | None) -> dict[str, Any]:
    """The values of the row saying ``source_system`` knows ``volunteer`` (numbered, with its
    id), by ``source_id``, else its own number for them, else the store's."""
    return {"volunteer_id": volunteer.id, "source_system": source_system,
            "source_id": _source_key(source_id, source_no, volunteer.volunteer_no),
            "source_volunteer_no": source_no, "first_seen_at": ctx.now}


def _attach_source(ctx: ServiceContext, volunteer: Volunteer, source_system: str | None,
                   source_id: str | None, source_no: str | None) -> VolunteerSource | None:
    """Record that ``source_system`` knows this person (a VolunteerSource row), once."""
    if not source_system:
        return None
    key = _source_key(source_id, source_no, volunteer.volunteer_no)
    row = ctx.session.execute(select(VolunteerSource).where(
        VolunteerSource.source_system == source_system,
        VolunteerSource.source_id == key)).scalar_one_or_none()
    if row is None:
        row = VolunteerSource(**source_row_values(ctx, volunteer, source_system, source_id,
                                                  source_no))
        ctx.session.add(row)
    elif source_no and row.source_volunteer_no != source_no:
        row.source_volunteer_no = source_no
    return row


def _history_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as the history keeps it (record_change masks the personal fields)."""
    return _standard_fields(record)


def _validated(ctx: ServiceContext, record: Any) -> dict[str, Any]:
    """The record without its derived fields, validated — unless it comes as a :class:`Valid`
    (validated already by whoever made it, derived fields left out)."""
    if isinstance(record, Valid):
        return ctx.valid("volunteer", record).record
    record = _without_read_only(record)
    ctx.validate("volunteer", record)
    return record


def register_volunteer(ctx: ServiceContext, record: Any, source_system: str | None = None,
                       source_id: str | None = None) -> Volunteer:
    """Register a new person; refuse one the store already has (409 ``volunteer.duplicate``)."""
    ctx.caller.require("volunteer", "write")
    record = _validated(ctx, record)
    ctx.caller.require_region(_area_of(record), "the volunteer's service area")
    existing = _by_index(ctx.session, _id_index(ctx, record["id_type"], record["id_number"]))
    if existing is not None:
        raise _duplicate(ctx, existing)
    source_id = source_id or record.get("source_id")
    return _create_volunteer(ctx, record, source_system, source_id)


def build_volunteer(ctx: ServiceContext, record: Mapping[str, Any], source_system: str | None,
                    source_id: str | None, make: Callable[..., Any] = Volunteer,
                    provenance: dict[str, Any] | None = None) -> Volunteer:
    """A new person's row from a valid record: every stored field but the number, not added.

    :func:`_create_volunteer` writes one; the exchange's bulk path
    (gateway.exchange.bulk) builds a chunk of them and writes them together with Core
    statements, on plain attribute holders (``make``) rather than model instances, each
    with the provenance the exchange's policy gives it (``provenance``; without it, every
    field is ``source_system``'s).
    """
    volunteer = make(total_hours=Decimal("0"), star_level=0,
                     source_system=source_system, source_id=source_id,
                     source_updated_at=parse_local_datetime(record.get("source_updated_at"), ctx.tz))
    _apply_volunteer(ctx, volunteer, record)
    if provenance is None:
        provenance = {k: source_system for k in _standard_fields(record)} if source_system else {}
    volunteer.provenance = provenance
    return volunteer


def creation_change_values(ctx: ServiceContext, volunteer: Volunteer, source_system: str | None,
                           source_no: str | None) -> dict[str, Any]:
    """The values of a new, numbered person's history row (every field, masked)."""
    after = _history_record(volunteer_record(ctx, volunteer))
    return ctx.change_row("volunteer", volunteer.volunteer_no, "create", {}, after,
                          note=f"source volunteer number {source_no}" if source_no else None,
                          source_system=source_system, area=volunteer.area_code)


def _create_volunteer(ctx: ServiceContext, record: dict[str, Any], source_system: str | None,
                      source_id: str | None) -> Volunteer:
    source_no = record.get("volunteer_no")
    _check_source_free(ctx, source_system, source_id or source_no, None)
    session = ctx.session
    volunteer = build_volunteer(ctx, record, source_system, source_id)
    volunteer.volunteer_no = ctx.volunteer_no(volunteer.area_code)
    try:
        with session.begin_nested():
            session.add(volunteer)
            session.flush()
    except IntegrityError:
        # Registered concurrently by someone else between our look-up and our insert.
        existing = _by_index(session, volunteer.id_index)
        if existing is not None:
            raise _duplicate(ctx, existing) from None
        raise
    _attach_source(ctx, volunteer, source_system, source_id, source_no)
    count_volunteer(session, volunteer, +1)
    session.add(Change(**creation_change_values(ctx, volunteer, source_system, source_no)))
    session.flush()
    return volunteer


def _change_volunteer(ctx: ServiceContext, volunteer: Volunteer, old: dict[str, Any],
                      new: dict[str, Any], source_system: str | None, action: str) -> bool:
    """Store ``new`` (valid, whole) over ``old``; history, provenance, aggregates. False if equal."""
    if new == old:
        return False
    if (new["id_type"], new["id_number"]) != (old["id_type"], old["id_number"]):
        other = _by_index(ctx.session, _id_index(ctx, new["id_type"], new["id_number"]))
        if other is not None and other.id != volunteer.id:
            raise _duplicate(ctx, other)
    before_key = _stat_key(volunteer)
    # The aggregate cell the volunteer leaves (count_volunteer only reads these attributes).
    snapshot = SimpleNamespace(county=volunteer.county, birth_date=volunteer.birth_date,
                               gender=volunteer.gender, registered_at=volunteer.registered_at,
                               created_at=volunteer.created_at)
    _apply_volunteer(ctx, volunteer, new, old)
    volunteer.updated_at = ctx.now
    try:
        with ctx.session.begin_nested():
            ctx.session.flush()
    except IntegrityError:
        # Another writer gave the same document to someone else meanwhile.
        other = _by_index(ctx.session, _id_index(ctx, new["id_type"], new["id_number"]))
        if other is not None:
            raise _duplicate(ctx, other) from None
        raise
    if _stat_key(volunteer) != before_key:
        count_volunteer(ctx.session, snapshot, -1)  # type: ignore[arg-type]
        count_volunteer(ctx.session, volunteer, +1)
    changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
    who = source_system or ctx.caller.client_id
    provenance = dict(volunteer.provenance or {})
    for key in changed:
        if key in new:
            provenance[key] = who
        else:
            provenance.pop(key, None)
    volunteer.provenance = provenance
    ctx.record_change("volunteer", volunteer.volunteer_no, action, _history_record(old),
                      _history_record(new), source_system=source_system, area=volunteer.area_code)
    return True


def upsert_writes_nothing(ctx: ServiceContext, volunteer: Volunteer, old: Mapping[str, Any],
                          record: Mapping[str, Any], source_system: str, source_id: str | None,
                          source_row: VolunteerSource | None) -> bool:
    """Whether :func:`upsert_volunteer` of the valid ``record`` would find the stored
    ``volunteer`` (``old`` = its record) and pass without writing anything: in scope, its
    source row (``source_row``, the sender's row under the record's key, or None) already
    there and the same, no field changed. The exchange's bulk path answers ``unchanged``
    from this instead of running the upsert; keep the two in step.
    """
    source_no = record.get("volunteer_no")
    key = _source_key(source_id or record.get("source_id"), source_no, volunteer.volunteer_no)
    return (ctx.caller.covers_region(_area_of(record)) and ctx.caller.covers_region(volunteer.area_code)
            and source_row is not None and source_row.source_system == source_system
            and source_row.source_id == key and source_row.volunteer_id == volunteer.id
            and (not source_no or source_row.source_volunteer_no == source_no)
            and {**old, **_standard_fields(record)} == old)


def upsert_volunteer(ctx: ServiceContext, record: Any, source_system: str,
                     source_id: str | None = None) -> tuple[str, Volunteer]:
    """Create the person, or update the one the store has: ``("created"|"updated"|"unchanged", v)``.

    Fields the source sends replace the stored ones (each remembered in ``provenance`` as
    coming from ``source_system``); fields it leaves out are kept (another source may have
    sent them). A person registered outside the caller's region is refused as a duplicate
    (409, :func:`duplicate_elsewhere`: no number, region or state of theirs). ``record`` may
    come as a :class:`Valid` (validated already: not again).
    """
    ctx.caller.require("volunteer", "write")
    record = _validated(ctx, record)
    ctx.caller.require_region(_area_of(record), "the volunteer's service area")
    source_id = source_id or record.get("source_id")
    existing = _by_index(ctx.session, _id_index(ctx, record["id_type"], record["id_number"]))
    if existing is None:
        return "created", _create_volunteer(ctx, record, source_system, source_id)
    if not ctx.caller.covers_region(existing.area_code):
        raise duplicate_elsewhere()
    return update_from_source(ctx, existing, volunteer_record(ctx, existing),
                              Valid("volunteer", record), source_system, source_id)


def create_from_source(ctx: ServiceContext, record: Valid, source_system: str,
                       source_id: str | None = None) -> Volunteer:
    """A new person from a source's valid record, whom the caller found the store has not
    (:func:`find_volunteer_by_document`) after checking its permission and the record's
    region (the exchange's upsert does; :func:`upsert_volunteer` is the whole of it). A
    person registered concurrently meanwhile is refused as a duplicate."""
    valid = ctx.valid("volunteer", record).record
    return _create_volunteer(ctx, valid, source_system, source_id or valid.get("source_id"))


def update_from_source(ctx: ServiceContext, volunteer: Volunteer, old: dict[str, Any],
                       record: Mapping[str, Any] | Valid, source_system: str,
                       source_id: str | None = None) -> tuple[str, Volunteer]:
    """Store what ``source_system`` sends about a person the store has, in the caller's
    region (``old`` = :func:`volunteer_record`): the fields ``record`` has replace the stored
    ones, the others are kept; ``("updated"|"unchanged", volunteer)``.

    What is stored — the stored person with the record's fields — is validated as a whole
    when it changes, unless it is the record itself and that came as a :class:`Valid`: each
    record is validated once. ``record`` may also be one the caller put together from a
    valid one and stored values (the exchange's conflict policy keeps the fields a
    higher-priority source provided): then only the result is validated.
    """
    valid = record.record if isinstance(record, Valid) else None
    fields: Mapping[str, Any] = valid if valid is not None else record  # type: ignore[assignment]
    source_id = source_id or fields.get("source_id")
    source_no = fields.get("volunteer_no")
    _check_source_free(ctx, source_system, _source_key(source_id, source_no, volunteer.volunteer_no),
                       volunteer)
    sent = _standard_fields(fields)
    new = {**old, **sent}
    if new != old:
        # The record without its bookkeeping keys (schema properties no rule reads) is valid
        # when the record is: only a record that is not the one validated is validated.
        if valid is None or new != sent:
            ctx.validate("volunteer", new)
        ctx.caller.require_region(_area_of(new), "the volunteer's service area")
    changed = _change_volunteer(ctx, volunteer, old, new, source_system, "update")
    _attach_source(ctx, volunteer, source_system, source_id, source_no)
    ctx.session.flush()
    return ("updated" if changed else "unchanged"), volunteer


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: objects merge, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


merge_patch = _merge_patch  # the one merge patch of the services (projects' PATCH too)


def update_volunteer(ctx: ServiceContext, volunteer_no: str, changes: Any) -> Volunteer:
    """Change a volunteer (merge-patch semantics); the whole result is validated again."""
    ctx.caller.require("volunteer", "write")
    # Outside the caller's region reads as not found (lookups): a 403 would tell that it exists.
    volunteer = get_volunteer(ctx, volunteer_no, for_update=True)
    if not isinstance(changes, dict):
        raise Invalid("the changes must be a JSON object",
                      [Issue("", "schema.type", "修改内容必须是 JSON 对象", "the changes must be a JSON object")])
    given_no = changes.get("volunteer_no")
    if given_no is not None and given_no != volunteer.volunteer_no:
        raise Invalid("the volunteer number is assigned by the store and cannot change",
                      [Issue("/volunteer_no", "volunteer.number_assigned",
                             "志愿者编号由中心库分配，不能修改",
                             "the volunteer number is assigned by the central store and cannot change")])
    patch = {k: v for k, v in changes.items() if k not in _READ_ONLY and k not in _SOURCE_KEYS}
    old = volunteer_record(ctx, volunteer)
    new = _merge_patch(old, patch)
    ctx.validate("volunteer", new)
    ctx.caller.require_region(_area_of(new), "the volunteer's new service area")
    _change_volunteer(ctx, volunteer, old, new, None, "update")
    ctx.session.flush()
    return volunteer


def _mask_guardian(guardian: Mapping[str, Any]) -> dict[str, Any]:
    return {k: mask_mobile(v) if k == "mobile" else v for k, v in guardian.items()}


def volunteer_view(ctx: ServiceContext, volunteer: Volunteer) -> dict[str, Any]:
    """The volunteer as the API answers: the standard's keys, ID and mobiles masked unless the
    caller may see them in full, plus the store's number, derived totals and timestamps."""
    full = ctx.caller.pii_full
    data = volunteer.data or {}
    values: dict[str, Any] = {
        **data,
        "name": volunteer.name, "id_type": volunteer.id_type,
        "id_number": ctx.vault.decrypt(volunteer.id_number_enc) if full else volunteer.id_number_masked,
        "gender": volunteer.gender,
        "birth_date": _day(volunteer.birth_date),
        "mobile": ctx.vault.decrypt(volunteer.mobile_enc) if full else volunteer.mobile_masked,
        "registered_at": _day(volunteer.registered_at),
        "real_name_status": volunteer.real_name_status,
    }
    if volunteer.guardian_enc:
        guardian = json.loads(ctx.vault.decrypt(volunteer.guardian_enc))
        values["guardian"] = guardian if full else _mask_guardian(guardian)
    view: dict[str, Any] = {"volunteer_no": volunteer.volunteer_no}
    for key in VOLUNTEER_KEYS:
        if values.get(key) is not None:
            view[key] = values[key]
    view["star_level"] = str(volunteer.star_level) if volunteer.star_level else None
    view["total_hours"] = f"{Decimal(volunteer.total_hours or 0):.2f}"
    view["sources"] = [{"source_system": s.source_system, "source_id": s.source_id,
                        "source_volunteer_no": s.source_volunteer_no}
                       for s in sorted(volunteer.sources, key=lambda s: s.id)]
    view["created_at"] = _iso(volunteer.created_at, ctx)
    view["updated_at"] = _iso(volunteer.updated_at, ctx)
    return view


def _region_clause(model, prefix: str):
    """Equality on the indexed province / city / county column for a 2/4/6-digit prefix."""
    column = {2: model.province, 4: model.city, 6: model.county}.get(len(prefix))
    if column is None:
        return model.area_code.startswith(prefix)
    return column == prefix


def _scoped(stmt, model, ctx: ServiceContext, region: str | None):
    if ctx.caller.region_prefix:
        stmt = stmt.where(_region_clause(model, ctx.caller.region_prefix))
    if region:
        stmt = stmt.where(_region_clause(model, region))
    return stmt


def _page(ctx: ServiceContext, stmt, order_by, page: int, per_page: int,
          options: tuple = ()) -> tuple[list, int]:
    total = ctx.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    rows = ctx.session.execute(stmt.options(*options).order_by(order_by)
                               .offset((page - 1) * per_page).limit(per_page)).scalars().all()
    return list(rows), total


def list_volunteers(ctx: ServiceContext, *, region: str | None = None, name: str | None = None,
                    id_type: str | None = None, id_number: str | None = None,
                    mobile: str | None = None, page: int = 1,
                    per_page: int = 20) -> tuple[list[Volunteer], int]:
    """Volunteers in the caller's region, filtered; personal data is matched by blind index only."""
    ctx.caller.require("volunteer", "read")
    stmt = _scoped(select(Volunteer), Volunteer, ctx, region)
    if name:
        stmt = stmt.where(Volunteer.name.contains(name, autoescape=True))
    if id_number:
        stmt = stmt.where(Volunteer.id_index.in_(find_volunteers_by_number(ctx, id_number, id_type)))
    elif id_type:
        stmt = stmt.where(Volunteer.id_type == id_type)
    if mobile:
        stmt = stmt.where(Volunteer.mobile_index == _mobile_index(ctx, mobile))
    return _page(ctx, stmt, Volunteer.id, page, per_page, (selectinload(Volunteer.sources),))


def get_volunteer_for_read(ctx: ServiceContext, volunteer_no: str) -> Volunteer:
    ctx.caller.require("volunteer", "read")
    return get_volunteer(ctx, volunteer_no)


def volunteer_history(ctx: ServiceContext, volunteer_no: str, page: int = 1,
                      per_page: int = 20) -> tuple[list[Change], int]:
    """The recorded changes of a volunteer in the caller's region, oldest first (masked)."""
    volunteer = get_volunteer_for_read(ctx, volunteer_no)
    stmt = select(Change).where(Change.entity == "volunteer",
                                Change.entity_no == volunteer.volunteer_no)
    return _page(ctx, stmt, Change.id, page, per_page)


def change_view(ctx: ServiceContext, change: Change) -> dict[str, Any]:
    return {"id": change.id, "entity": change.entity, "entity_no": change.entity_no,
            "action": change.action, "actor": change.actor, "source_system": change.source_system,
            "at": _iso(change.at, ctx), "changes": change.changes or {}, "note": change.note}


# -- teams --------------------------------------------------------------------------------------

TEAM_PENDING, TEAM_APPROVED, TEAM_REJECTED, TEAM_SUSPENDED = "2", "1", "0", "3"

# decision -> {from status: to status}
REVIEW_TRANSITIONS: dict[str, dict[str, str]] = {
    "approve": {TEAM_PENDING: TEAM_APPROVED},
    "reject": {TEAM_PENDING: TEAM_REJECTED},
    "suspend": {TEAM_APPROVED: TEAM_SUSPENDED},
    "reinstate": {TEAM_SUSPENDED: TEAM_APPROVED},
}

_TEAM_COLUMNS = ("name", "team_type", "unit_type", "uscc", "status", "join_policy",
                 "contact_name")
_TEAM_NOT_DATA = set(_TEAM_COLUMNS) | {"team_no", "contact_mobile", "area", "parent_team_no",
                                       "source_id", "source_updated_at"}
TEAM_KEYS = (
    "team_no", "name", "team_type", "unit_type", "registration_dept", "registration_authority",
    "uscc", "approving_unit", "contact_name", "contact_mobile", "area", "address",
    "established_on", "status", "join_policy", "parent_team_no", "service_categories",
)
JOIN_PASSWORD_LENGTH = (4, 64)


def _looks_mobile(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 11 and value.isdigit() and value[0] == "1"


def _team_history(record: Mapping[str, Any]) -> dict[str, Any]:
    """The team record as history keeps it: an approving unit's mobile masked too."""
    out = dict(record)
    unit = out.get("approving_unit")
    if isinstance(unit, dict) and _looks_mobile(unit.get("phone")):
        out["approving_unit"] = {**unit, "phone": mask_mobile(unit["phone"])}
    return out


def team_parent_and_password(session: Session, record: Mapping[str, Any], *, team: Team | None = None,
                             join_password: Any = None) -> Team | None:
    """The team's rules across records, every issue at once (422): the parent team exists
    (and is not the team itself) and join policy 4 has a join password (given now, 4–64
    characters, or stored already on ``team``). Returns the parent team (or None)."""
    issues: list[Issue] = []
    parent = None
    if record.get("parent_team_no"):
        parent = session.execute(select(Team).where(Team.team_no == record["parent_team_no"])
                                 ).scalar_one_or_none()
        if parent is None or (team is not None and parent.id == team.id):
            issues.append(Issue("/parent_team_no", "team.parent_exists",
                                "上级队伍编号不存在", "no team has this parent_team_no"))
    has_password = team is not None and team.join_password_hash is not None
    if join_password is not None and not (
            isinstance(join_password, str)
            and JOIN_PASSWORD_LENGTH[0] <= len(join_password) <= JOIN_PASSWORD_LENGTH[1]):
        issues.append(Issue("/join_password", "team.join_password_required",
                            "加入密码应为 4–64 个字符的字符串",
                            "the join password must be a string of 4-64 characters"))
    elif record.get("join_policy") == "4" and not join_password and not has_password:
        issues.append(Issue("/join_password", "team.join_password_required",
                            "加入方式为免审密码加入（4）时必须设置加入密码",
                            "join policy 4 (join with a password) needs a join_password"))
    if issues:
        raise Invalid(f"the team record breaks {len(issues)} rule(s) of the store", issues)
    return parent


def _duplicate_uscc(team_no: str | None) -> Conflict:
    """The one answer to a second team with a unified social credit code already registered."""
    number = f"（队伍编号 {team_no}）" if team_no else ""
    return Conflict(f"a team with this unified social credit code is already registered "
                    f"({team_no or 'a concurrent registration'})",
                    [Issue("/uscc", "team.duplicate_uscc", f"该统一社会信用代码已登记{number}",
                           "a team with this unified social credit code is already registered"
                           + (f" (team number {team_no})" if team_no else ""))],
                    existing_team_no=team_no)


def refuse_taken_uscc(session: Session, uscc: str | None, team_id: int | None = None) -> None:
    """409 ``team.duplicate_uscc`` if another team (not ``team_id``) has ``uscc``."""
    if not uscc:
        return
    stmt = select(Team.team_no).where(Team.uscc == uscc)
    if team_id is not None:
        stmt = stmt.where(Team.id != team_id)
    other = session.execute(stmt.order_by(Team.id).limit(1)).scalar_one_or_none()
    if other is not None:
        raise _duplicate_uscc(other)


def flush_team(ctx: ServiceContext, team: Team) -> None:
    """Flush the team's row; the database's unique USCC index (migration 0008_verbs) refusing
    it (a concurrent writer took the code after our look-up) is the same 409."""
    try:
        with ctx.session.begin_nested():
            ctx.session.flush()
    except IntegrityError:
        if not team.uscc:
            raise
        other = ctx.session.execute(select(Team.team_no).where(Team.uscc == team.uscc)
                                    .limit(1)).scalar_one_or_none()
        raise _duplicate_uscc(other) from None


def register_team(ctx: ServiceContext, record: Any, join_password: Any = None,
                  source_system: str | None = None) -> Team:
    """Register a team; it waits for review (status 2) whatever the record says. ``record``
    may come as a :class:`Valid` (validated already: not again)."""
    ctx.caller.require("team", "write")
    record = ctx.valid("team", record).record
    area = record["area"]
    ctx.caller.require_region(area, "the team's area")
    session = ctx.session
    parent = team_parent_and_password(session, record, join_password=join_password)
    uscc = record.get("uscc")
    refuse_taken_uscc(session, uscc)
    team = Team(name=record["name"], team_type=record["team_type"], unit_type=record.get("unit_type"),
                uscc=uscc, status=TEAM_PENDING, join_policy=record.get("join_policy"),
                contact_name=record.get("contact_name"),
                parent_id=parent.id if parent is not None else None,
                source_system=source_system, source_id=record.get("source_id"),
                source_updated_at=parse_local_datetime(record.get("source_updated_at"), ctx.tz))
    mobile = record.get("contact_mobile")
    if mobile:
        team.contact_mobile_enc = ctx.vault.encrypt(mobile)
        team.contact_mobile_masked = mask_mobile(mobile)
    if join_password:
        team.join_password_hash = hash_password(join_password)
    data = {k: v for k, v in record.items() if k not in _TEAM_NOT_DATA}
    if record.get("team_no"):
        data["source_team_no"] = record["team_no"]
    team.data = data
    team.set_area(area, ctx.regions)
    team.team_no = ctx.number("T", area)
    session.add(team)
    flush_team(ctx, team)
    after = {k: v for k, v in record.items() if k not in ("team_no", "status")}
    after["status"] = TEAM_PENDING
    ctx.record_change("team", team.team_no, "create", {}, _team_history(after),
                      note=f"source team number {record['team_no']}" if record.get("team_no") else None,
                      source_system=source_system, area=team.area_code, team_no=team.team_no)
    return team


def review_team(ctx: ServiceContext, team_no: str, decision: str, note: str | None = None) -> Team:
    """A management department's decision on a team in its region (see REVIEW_TRANSITIONS)."""
    ctx.caller.require("team", "review")
    if decision not in REVIEW_TRANSITIONS:
        raise Invalid(f"unknown decision {decision!r}",
                      [Issue("/decision", "team.review_decision", "审核决定应为 approve、reject、suspend 或 reinstate",
                             "the decision must be approve, reject, suspend or reinstate")])
    team = get_team(ctx, team_no, in_scope=False, for_update=True)
    ctx.caller.require_region(team.area_code, f"team {team_no}")
    target = REVIEW_TRANSITIONS[decision].get(team.status)
    if target is None:
        raise Conflict(f"invalid transition: cannot {decision} a team in status {team.status}",
                       team_status=team.status, decision=decision)
    before = {"status": team.status}
    team.status = target
    team.reviewed_by = ctx.caller.client_id
    team.reviewed_at = ctx.now
    team.review_note = note
    team.updated_at = ctx.now
    ctx.record_change("team", team.team_no, decision, before, {"status": target}, note=note,
                      area=team.area_code, team_no=team.team_no)
    ctx.session.flush()
    return team


def team_view(ctx: ServiceContext, team: Team) -> dict[str, Any]:
    """The team as the API answers: the standard's keys (contact mobile masked unless the
    caller may see it), the review and timestamps."""
    full = ctx.caller.pii_full
    data = dict(team.data or {})
    unit = data.get("approving_unit")
    if not full and isinstance(unit, dict) and _looks_mobile(unit.get("phone")):
        data["approving_unit"] = {**unit, "phone": mask_mobile(unit["phone"])}
    values = {
        **data, "team_no": team.team_no, "name": team.name, "team_type": team.team_type,
        "unit_type": team.unit_type, "uscc": team.uscc, "contact_name": team.contact_name,
        "contact_mobile": (ctx.vault.decrypt(team.contact_mobile_enc) if full and team.contact_mobile_enc
                           else team.contact_mobile_masked),
        "area": team.area_code, "status": team.status, "join_policy": team.join_policy,
        "parent_team_no": team.parent.team_no if team.parent is not None else None,
    }
    view = {key: values[key] for key in TEAM_KEYS if values.get(key) is not None}
    if data.get("source_team_no"):
        view["source_team_no"] = data["source_team_no"]
    view["has_join_password"] = team.join_password_hash is not None
    view["review"] = {"reviewed_by": team.reviewed_by, "reviewed_at": _iso(team.reviewed_at, ctx),
                      "note": team.review_note}
    if team.dissolved_at is not None:
        view["dissolved_at"] = _iso(team.dissolved_at, ctx)
        view["successor_team_no"] = team.successor.team_no if team.successor else None
    view["created_at"] = _iso(team.created_at, ctx)
    view["updated_at"] = _iso(team.updated_at, ctx)
    return view


_TEAM_STATE_COLUMNS = ("name", "team_type", "unit_type", "uscc", "join_policy", "contact_name")
TEAM_WITHDRAWN = "4"  # team_status 逻辑删除


def team_state(ctx: ServiceContext, team: Team) -> dict[str, Any]:
    """The stored team as the standard's fields (contact mobile decrypted: never log it)."""
    state = {k: v for k, v in (team.data or {}).items() if k != "source_team_no"}
    state.update({name: getattr(team, name) for name in _TEAM_STATE_COLUMNS})
    state["contact_mobile"] = (ctx.vault.decrypt(team.contact_mobile_enc)
                               if team.contact_mobile_enc else None)
    state["area"] = team.area_code
    state["parent_team_no"] = team.parent.team_no if team.parent is not None else None
    return json_safe(state)


def apply_team_changes(ctx: ServiceContext, team: Team, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """The team's rules across records, then ``new`` (the whole valid record) onto the row."""
    if new.get("uscc") != old.get("uscc"):
        refuse_taken_uscc(ctx.session, new.get("uscc"), team.id)
    parent = team.parent
    if new.get("parent_team_no") != old.get("parent_team_no"):
        parent = team_parent_and_password(ctx.session, new, team=team)
    else:
        team_parent_and_password(ctx.session, {"join_policy": new.get("join_policy")},
                                              team=team)
    if new["area"] != old.get("area"):
        ctx.caller.require_region(new["area"], "the team's new area")
        team.set_area(new["area"], ctx.regions)
    for name in _TEAM_STATE_COLUMNS:
        setattr(team, name, new.get(name))
    mobile = new.get("contact_mobile")
    if mobile != old.get("contact_mobile"):
        team.contact_mobile_enc = ctx.vault.encrypt(mobile) if mobile else None
        team.contact_mobile_masked = mask_mobile(mobile) if mobile else None
    team.parent = parent
    data = {k: v for k, v in new.items()
            if k not in _TEAM_STATE_COLUMNS and k not in ("contact_mobile", "area", "parent_team_no")}
    source_no = (team.data or {}).get("source_team_no")
    if source_no:
        data["source_team_no"] = source_no
    team.data = data


def update_team(ctx: ServiceContext, team_no: str, changes: Any, note: str | None = None) -> Team:
    """Change a team (RFC 7396 merge patch over its standard record; the whole result is
    validated again). The number and the status are the store's (status: review, withdraw);
    ``join_password`` beside the fields sets a new one."""
    ctx.caller.require("team", "write")
    team = get_team(ctx, team_no, in_scope=False, for_update=True)
    ctx.caller.require_team(team.team_no, team.area_code)
    if not isinstance(changes, dict):
        raise Invalid("the changes must be a JSON object",
                      [Issue("", "schema.type", "修改内容必须是 JSON 对象", "the changes must be a JSON object")])
    changes = dict(changes)
    join_password = changes.pop("join_password", None)
    for key, rule, zh, en in (
            ("team_no", "team.number_assigned", "队伍编号由中心库分配，不能修改",
             "the team number is assigned by the central store and cannot change"),
            ("status", "team.status_by_review", "队伍状态只能通过审核或注销改变",
             "the team status changes only by review or withdrawal")):
        current = team.team_no if key == "team_no" else team.status
        if key in changes and changes[key] is not None and changes[key] != current:
            raise Invalid(en, [Issue(f"/{key}", rule, zh, en)])
        changes.pop(key, None)
    for key in ("source_id", "source_updated_at", "source_team_no"):
        changes.pop(key, None)
    old = team_state(ctx, team)
    new = _merge_patch(old, changes)
    ctx.validate("team", {**{k: v for k, v in new.items() if v is not None}, "status": team.status})
    if new == old and join_password is None:
        return team
    if join_password is not None:
        team_parent_and_password(ctx.session, {}, join_password=join_password)
        team.join_password_hash = hash_password(join_password)
    apply_team_changes(ctx, team, old, new)
    team.updated_at = ctx.now
    flush_team(ctx, team)
    after = _team_history(new)
    if join_password is not None:
        after["join_password"] = "changed"
    ctx.record_change("team", team.team_no, "update", _team_history(old), after, note=note,
                      area=team.area_code, team_no=team.team_no)
    return team


def withdraw_team(ctx: ServiceContext, team_no: str, note: str | None = None) -> Team:
    """Withdraw (deregister) a team: status 4 逻辑删除, the change feed's tombstone; the team,
    its history, projects and hours stay. Withdrawing a withdrawn team changes nothing."""
    ctx.caller.require("team", "write")
    team = get_team(ctx, team_no, in_scope=False, for_update=True)
    ctx.caller.require_team(team.team_no, team.area_code)
    if team.status == TEAM_WITHDRAWN:
        return team
    before = team.status
    team.status = TEAM_WITHDRAWN
    team.updated_at = ctx.now
    ctx.record_change("team", team.team_no, "delete", {"status": before}, {"status": TEAM_WITHDRAWN},
                      note=note, area=team.area_code, team_no=team.team_no)
    ctx.session.flush()
    return team


# Team statuses that stop a team acting: 停用 suspended, 逻辑删除 withdrawn, 系统锁定 locked.
TEAM_INACTIVE = {"3": "suspended", "4": "withdrawn", "5": "locked by the system"}


def require_team_active(team: Team, pointer: str = "/team_no") -> None:
    """409 ``team.not_active``: a suspended, withdrawn, locked or dissolved team records no
    hours and issues no certificates (hours and certificates call this; one place for the
    rule). A dissolved team's problem names its successor (``successor_team_no``)."""
    if team.dissolved_at is not None:
        successor = team.successor.team_no if team.successor is not None else None
        raise _not_active(team, pointer, f"was dissolved; its records passed to {successor}",
                          f"队伍已解散，其记录已由 {successor} 承接，不能再记录服务时间或出具证明",
                          f"the team was dissolved and its records passed to {successor}: it "
                          "cannot record service hours or issue certificates",
                          successor_team_no=successor)
    state = TEAM_INACTIVE.get(team.status)
    if state is not None:
        raise _not_active(team, pointer, f"is {state} (team status {team.status})",
                          f"队伍已停用、注销或锁定（队伍状态 {team.status}），不能记录服务时间或出具证明",
                          f"the team is {state} (team status {team.status}): it cannot record "
                          "service hours or issue certificates")


def _not_active(team: Team, pointer: str, detail: str, zh: str, en: str, **extra: Any) -> Conflict:
    """The 409 ``team.not_active`` of :func:`require_team_active` / :func:`require_team_issuing`."""
    return Conflict(f"team {team.team_no} {detail}", [Issue(pointer, "team.not_active", zh, en)],
                    team_status=team.status, **extra)


# Team statuses that never issued: 0 审批不通过 (rejected), 2 待审 (waiting for review).
TEAM_NOT_ISSUING = {"0": "not approved", "2": "waiting for review"}


def require_team_issuing(team: Team, pointer: str = "/team_no") -> None:
    """409 ``team.not_active`` for a certificate's issuer: only an approved team (status 1)
    that is not dissolved issues (办法 2020 Art. 14: the recording organisation certifies;
    a team that is suspended, withdrawn, locked, rejected, still under review or dissolved is
    not an organisation acting). Certificates call this; :func:`require_team_active` is the
    part hours share."""
    require_team_active(team, pointer)
    state = TEAM_NOT_ISSUING.get(team.status)
    if state is not None:
        raise _not_active(team, pointer, f"is {state} (team status {team.status})",
                          f"队伍未通过审核或尚在审核中（队伍状态 {team.status}），不能出具证明",
                          f"the team is {state} (team status {team.status}): it cannot "
                          "issue certificates")


def dissolve_team(ctx: ServiceContext, team_no: str, successor_team_no: Any,
                  note: str | None = None) -> Team:
    """The management department dissolves a team of its region and names the unit its
    records pass to (``team:review``; both teams inside the caller's region).

    The team stays, with its records and their history; it acts no more (``team.not_active``)
    and the successor certifies what it recorded (:func:`record_keepers`). The successor is an
    approved, active, not dissolved team other than this one (``team.successor_*``); a team is
    dissolved once (409 ``team.dissolved``). History: ``dissolve`` on the team, ``succeed``
    on the successor.
    """
    ctx.caller.require("team", "review")
    team = get_team(ctx, team_no, in_scope=False, for_update=True)
    ctx.caller.require_region(team.area_code, f"team {team_no}")
    if team.dissolved_at is not None:
        raise Conflict(f"team {team_no} was already dissolved", [Issue(
            "/successor_team_no", "team.dissolved", "该队伍已解散", "the team was already dissolved")],
            successor_team_no=team.successor.team_no if team.successor else None)
    pointer = "/successor_team_no"
    successor = (ctx.session.execute(select(Team).where(Team.team_no == successor_team_no))
                 .scalar_one_or_none() if isinstance(successor_team_no, str) else None)
    if successor is None or not ctx.caller.covers_region(successor.area_code):
        raise Invalid("unknown successor", [Issue(
            pointer, "team.successor_unknown", "承接单位不存在（须为本地区的队伍）",
            "the successor names no team of the caller's region")])
    if successor.id == team.id:
        raise Invalid("a team cannot succeed itself", [Issue(
            pointer, "team.successor_self", "承接单位不能是被解散的队伍本身",
            "a dissolved team cannot be its own successor")])
    if (successor.status != "1" or successor.dissolved_at is not None):
        raise Invalid("the successor does not act", [Issue(
            pointer, "team.successor_not_active", "承接单位须为已审核、正常运行且未解散的队伍",
            "the successor must be an approved, active team that is not dissolved")],
            team_status=successor.status)
    team.dissolved_at = ctx.now
    team.successor_id = successor.id
    team.updated_at = ctx.now
    ctx.record_change("team", team.team_no, "dissolve", {"successor_team_no": None},
                      {"successor_team_no": successor.team_no, "dissolved": True}, note=note,
                      area=team.area_code, team_no=team.team_no)
    ctx.record_change("team", successor.team_no, "succeed", None,
                      {"predecessor_team_no": team.team_no}, note=note,
                      area=successor.area_code, team_no=successor.team_no)
    ctx.session.flush()
    return team


def record_keepers(ctx: ServiceContext, team: Team) -> list[int]:
    """The ids of the teams whose records ``team`` keeps: itself and every dissolved team
    whose successor chain leads to it."""
    ids, frontier = [team.id], [team.id]
    while frontier:
        frontier = [tid for (tid,) in ctx.session.execute(
            select(Team.id).where(Team.successor_id.in_(frontier)))]
        frontier = [tid for tid in frontier if tid not in ids]
        ids += frontier
    return ids


def get_team_for_read(ctx: ServiceContext, team_no: str) -> Team:
    ctx.caller.require("team", "read")
    return get_team(ctx, team_no)


def list_teams(ctx: ServiceContext, *, region: str | None = None, status: str | None = None,
               name: str | None = None, page: int = 1, per_page: int = 20) -> tuple[list[Team], int]:
    ctx.caller.require("team", "read")
    stmt = _scoped(select(Team), Team, ctx, region)
    if status:
        stmt = stmt.where(Team.status == status)
    if name:
        stmt = stmt.where(Team.name.contains(name, autoescape=True))
    return _page(ctx, stmt, Team.id, page, per_page)


# -- membership ---------------------------------------------------------------------------------

MEMBER, APPLIED, REJECTED = "1", "2", "3"


def is_member(session: Session, team_id: int, volunteer_id: int) -> bool:
    """Whether the volunteer is a current member of the team (status 1, not left)."""
    return session.execute(select(TeamMember.id).where(
        TeamMember.team_id == team_id, TeamMember.volunteer_id == volunteer_id,
        TeamMember.status == MEMBER, TeamMember.left_at.is_(None))).first() is not None


def _membership_no(team: Team, volunteer: Volunteer) -> str:
    return f"{team.team_no}/{volunteer.volunteer_no}"


def _for_volunteer(ctx: ServiceContext, volunteer: Volunteer) -> bool:
    return ctx.caller.can("volunteer", "write") and ctx.caller.covers_region(volunteer.area_code)


def _for_team(ctx: ServiceContext, team: Team) -> bool:
    return ctx.caller.can("team", "write") and ctx.caller.covers_team(team.team_no, team.area_code)


def _membership(ctx: ServiceContext, team: Team, volunteer: Volunteer,
                for_update: bool = False) -> TeamMember | None:
    stmt = select(TeamMember).where(TeamMember.team_id == team.id,
                                    TeamMember.volunteer_id == volunteer.id)
    if for_update:
        stmt = stmt.with_for_update()
    return ctx.session.execute(stmt).scalar_one_or_none()


def _member_state(row: TeamMember | None) -> dict[str, Any]:
    if row is None:
        return {}
    return {"status": row.status, "left": row.left_at is not None}


def _membership_parties(ctx: ServiceContext, team_no: str,
                        volunteer_no: str) -> tuple[Team, Volunteer]:
    """The team and the volunteer of a membership, for a caller acting for one of them.

    A caller acting for neither gets 403 when one of them lies in its region, else one
    answer (404) whether either exists elsewhere or nowhere: a 403 would tell another
    region's numbers from unused ones (issue 11, finding 3).
    """
    team = _get_or_none(get_team, ctx, team_no, for_update=True)
    volunteer = _get_or_none(get_volunteer, ctx, volunteer_no)
    acts = ((volunteer is not None and _for_volunteer(ctx, volunteer))
            or (team is not None and _for_team(ctx, team)))
    if not acts and not any(row is not None and ctx.caller.covers_region(row.area_code)
                            for row in (team, volunteer)):
        raise NotFound(f"no team {team_no} with volunteer {volunteer_no} that client "
                       f"{ctx.caller.client_id!r} acts for")
    if team is None:
        raise NotFound(f"no team {team_no}")
    if volunteer is None:
        raise NotFound(f"no volunteer {volunteer_no}")
    if not acts:
        raise OutOfScope(f"client {ctx.caller.client_id!r} may act neither for volunteer "
                         f"{volunteer_no} nor for team {team_no}")
    return team, volunteer


def _get_or_none(get: Callable[..., Any], ctx: ServiceContext, number: str, **options: Any) -> Any:
    try:
        return get(ctx, number, in_scope=False, **options)
    except NotFound:
        return None


def apply_membership(ctx: ServiceContext, team_no: str, volunteer_no: str,
                     password: Any = None) -> TeamMember:
    """A volunteer applies to join a team; the team's join policy decides what follows.

    The caller is the volunteer's own system (volunteer write, covering the volunteer) or the
    team's (team write, covering the team).
    """
    team, volunteer = _membership_parties(ctx, team_no, volunteer_no)
    if team.status != TEAM_APPROVED:
        raise Conflict(f"team {team_no} is not approved (status {team.status}); it takes no members",
                       team_status=team.status)
    policy = team.join_policy or "1"
    if policy == "3":
        raise Conflict(f"team {team_no} accepts no applications (join policy 3)", join_policy=policy)
    if policy == "4" and not check_password(team.join_password_hash, password):
        raise Invalid("wrong join password",
                      [Issue("/password", "team.join_password", "加入密码不正确",
                             "the team's join password is wrong or missing")])
    if policy == "4" and needs_rehash(team.join_password_hash):
        team.join_password_hash = hash_password(password)  # an older scheme: argon2id from now on
    row = _membership(ctx, team, volunteer, for_update=True)
    if row is not None and row.left_at is None and row.status in (MEMBER, APPLIED):
        raise Conflict(f"volunteer {volunteer_no} is already "
                       f"{'a member of' if row.status == MEMBER else 'applying to'} team {team_no}",
                       membership_status=row.status)
    before = _member_state(row)
    status = APPLIED if policy == "1" else MEMBER
    if row is None:
        row = TeamMember(team_id=team.id, volunteer_id=volunteer.id)
        ctx.session.add(row)
    row.status = status
    row.applied_at = ctx.now
    row.decided_at = ctx.now if status == MEMBER else None
    row.left_at = None
    ctx.session.flush()
    ctx.record_change("team_member", _membership_no(team, volunteer),
                      "join" if status == MEMBER else "apply", before, _member_state(row),
                      note=f"join policy {policy}", area=team.area_code, team_no=team.team_no)
    return row


def decide_membership(ctx: ServiceContext, team_no: str, volunteer_no: str, decision: str,
                      note: str | None = None) -> TeamMember:
    """The team approves or rejects a pending application (status 2)."""
    ctx.caller.require("team", "write")
    team = get_team(ctx, team_no, in_scope=False, for_update=True)
    ctx.caller.require_team(team.team_no, team.area_code)
    volunteer = get_volunteer(ctx, volunteer_no, in_scope=False)
    row = _membership(ctx, team, volunteer, for_update=True)
    if row is None:
        raise NotFound(f"volunteer {volunteer_no} has not applied to team {team_no}")
    if row.status != APPLIED or row.left_at is not None:
        raise Conflict(f"only a pending application can be decided (status {row.status})",
                       membership_status=row.status)
    before = _member_state(row)
    row.status = MEMBER if decision == "approve" else REJECTED
    row.decided_at = ctx.now
    ctx.session.flush()
    ctx.record_change("team_member", _membership_no(team, volunteer), decision, before,
                      _member_state(row), note=note, area=team.area_code, team_no=team.team_no)
    return row


def leave_membership(ctx: ServiceContext, team_no: str, volunteer_no: str,
                     note: str | None = None) -> TeamMember:
    """End a membership (or withdraw an application): the row stays, with ``left_at``."""
    team, volunteer = _membership_parties(ctx, team_no, volunteer_no)
    row = _membership(ctx, team, volunteer, for_update=True)
    if row is None or row.left_at is not None or row.status not in (MEMBER, APPLIED):
        raise NotFound(f"volunteer {volunteer_no} is not a member of team {team_no}")
    before = _member_state(row)
    row.left_at = ctx.now
    ctx.session.flush()
    ctx.record_change("team_member", _membership_no(team, volunteer), "leave", before,
                      _member_state(row), note=note, area=team.area_code, team_no=team.team_no)
    return row


def list_members(ctx: ServiceContext, team_no: str, *, status: str | None = None,
                 current: bool | None = None, page: int = 1,
                 per_page: int = 20) -> tuple[list[TeamMember], int]:
    """A team's memberships (current and past), for a caller who may read the team."""
    team = get_team_for_read(ctx, team_no)
    stmt = select(TeamMember).where(TeamMember.team_id == team.id)
    if status:
        stmt = stmt.where(TeamMember.status == status)
    if current is True:
        stmt = stmt.where(TeamMember.left_at.is_(None))
    elif current is False:
        stmt = stmt.where(TeamMember.left_at.is_not(None))
    return _page(ctx, stmt, TeamMember.id, page, per_page,
                 (selectinload(TeamMember.volunteer), selectinload(TeamMember.team)))


def membership_view(ctx: ServiceContext, row: TeamMember) -> dict[str, Any]:
    return {"team_no": row.team.team_no, "volunteer_no": row.volunteer.volunteer_no,
            "name": row.volunteer.name, "status": row.status,
            "current_member": row.status == MEMBER and row.left_at is None,
            "applied_at": _iso(row.applied_at, ctx), "decided_at": _iso(row.decided_at, ctx),
            "left_at": _iso(row.left_at, ctx)}
