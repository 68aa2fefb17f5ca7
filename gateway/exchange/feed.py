"""The change feed: the changes a client may see since a cursor, oldest first, in pages.

Every service records each change in the ``changes`` table (``ServiceContext.record_change``),
with the record's region (``area_code``) and team (``team_no``). The feed reads that table
and answers, per change, the record as it is *now*, in the standard's form
(``schemas/v1``): ``{cursor, entity, op, key, changed_at, origin, data}``. Outbound pulls
(``GET /api/v1/exchange/changes``) and scheduled pushes to local systems (sync runs of
direction push, ``sync_jobs.engine.Run.push``) read it through :func:`read_changes`.

Order and cursors (the part that must not be got wrong)
    A change's id is taken when it is inserted, but transactions commit in another order:
    transaction A inserts change 10, transaction B inserts change 11 and commits, a reader
    sees 11 (not yet 10) and moves its cursor past 11; when A commits, 10 lands *behind* the
    cursor and is never read. Ordering by id alone therefore loses changes on PostgreSQL.

    So on PostgreSQL each change carries the id of the transaction that wrote it
    (``txid``, a server default ``pg_current_xact_id()``), and the feed returns only changes
    of transactions older than a horizon below which every transaction has finished, so no
    change can still appear there: ``pg_snapshot_xmin(pg_current_snapshot())``, narrowed to
    the transactions of this database (:func:`pg_horizon`). Rows are ordered by
    ``(txid, id)`` and the cursor is that pair; whatever commits later has a txid at or
    above the horizon, hence after the cursor. The price: a long-running writing transaction
    in the gateway's database holds the feed back until it ends (nothing is lost, it only
    waits).

    SQLite has one writer at a time, holding the write lock from its first write to its
    commit, so ids are handed out in commit order: the feed orders by id and the cursor's
    txid is 0.

    A cursor is opaque to clients: base64url (no padding) of ``v1:<txid>:<id>``. A cursor
    that does not decode is refused (400 ``/problems/invalid-cursor``).

What a client sees
    * Only entities it has ``read`` permission on, among :data:`FEED_ENTITIES` (the published
      entities the store records; team membership has no published schema and is not in
      the feed), in its region prefix and — for a client limited to teams — of those teams
      (volunteers have no team, so a team's system sees no volunteers).
    * ``op`` is ``"delete"`` with ``data: null`` (a tombstone) for a deleting action
      (:data:`DELETE_ACTIONS`), for a record that no longer exists, and for a record in a
      deleted state (a volunteer with ``deleted_at``, a team with status 4 逻辑删除, a
      project with status 9 作废 — what a pushed delete leaves —, a service record with
      status 3, deleted or superseded by a correction); otherwise ``"upsert"`` with the
      current record.
    * A change recorded without a region (or, for a client limited to teams, without a
      team) is decided by the record's current region and team; its tombstone, which has no
      record to place, goes only to clients whose scope covers it (the whole country).
    * Personal data is masked unless the client's ``pii_access`` is ``full`` (the services'
      own views do it: :func:`gateway.services.registration.volunteer_view`, …).
    * Each change appears once, but the data is the record as it is when the page is read:
      two changes to one record both appear, each with the latest data (at least once per
      change). Consumers upsert by ``key`` idempotently.
    * ``origin`` says who wrote the change in this gateway: the client id of the exchange
      client whose push or API call made it, or the name of the sync source whose pull
      brought it (the change's ``actor``, recorded on write by every service). Gateways that
      federate both ways skip what came from the receiver, so that nothing echoes back
      (``adapters/standard.py``, ``sync_jobs/engine.py``).

What leaves is checked
    Each record is validated by the standard's engine (schema and rules) before it is sent.
    A record that fails is never sent: it is logged by entity and number (the rule ids and
    pointers, never values) and counted (:class:`FeedStats`); the cursor moves past it. For
    a client with masked access the record is checked in full and then masked (a masked
    mobile such as ``138****5678`` cannot match the schema's pattern, by design). A record
    that has meanwhile left the client's scope is skipped the same way, without a warning.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence

from sqlalchemy import Connection, literal_column, or_, select, text, tuple_
from sqlalchemy.orm import Session, joinedload, selectinload

from gateway import timefmt
from gateway.caller import Caller
from gateway.exchange import homes, national
from gateway.services import activities, certificates, hours, registration
from gateway.services.context import ServiceContext
from gateway.services.errors import OutOfScope, ServiceError
from gateway.standard.rules import RuleContext
from gateway.store.models import (Certificate, Change, Enrollment, Project, ServiceRecord, Team,
                                  Volunteer)

__all__ = [
    "CURSOR_VERSION", "DEFAULT_LIMIT", "DELETE_ACTIONS", "FEED_ENTITIES", "FEED_VERSIONS",
    "MAX_LIMIT", "START",
    "Cursor", "FeedPage", "FeedStats", "InvalidCursor", "pg_horizon", "read_changes",
    "render_records",
]

log = logging.getLogger("gateway.exchange.feed")

#: The entities the feed carries, in the order the OpenAPI document lists them.
FEED_ENTITIES: tuple[str, ...] = ("volunteer", "team", "project", "enrollment", "service_record",
                                  "certificate")
#: Recorded actions that remove a record: the feed answers them as tombstones.
DELETE_ACTIONS = frozenset({"delete", "tombstone"})
#: Statuses that mean "deleted" (a push's delete sets them; an upsert brings the record back).
TEAM_DELETED = "4"     # team_status 逻辑删除
PROJECT_VOIDED = "9"   # project_status 作废
DEFAULT_LIMIT, MAX_LIMIT = 500, 1000
#: The schema versions a reader may ask the records in (``schema_version``; default 1).
FEED_VERSIONS = ("1", "2")
CURSOR_VERSION = "v1"
_CURSOR_TEXT = re.compile(r"^v1:(0|[1-9][0-9]{0,18}):(0|[1-9][0-9]{0,18})$")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]{1,96}$")
_MAX_BIGINT = 2 ** 63 - 1
# PostgreSQL: the oldest transaction still running when the statement's snapshot was taken
# (anywhere on the server; the safe fallback of :func:`pg_horizon`).
_SERVER_HORIZON = literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
_SNAPSHOT = text("SELECT pg_current_snapshot()::text, current_setting('transaction_isolation')")
_CLEAR_STATS = text("SELECT pg_stat_clear_snapshot()")
# Top-level transaction ids (32-bit) now running in this database, prepared ones included.
_DATABASE_XIDS = text(
    "SELECT backend_xid::text::bigint FROM pg_stat_activity "
    "WHERE datname = current_database() AND backend_xid IS NOT NULL "
    "UNION ALL SELECT transaction::text::bigint FROM pg_prepared_xacts "
    "WHERE database = current_database()")


class InvalidCursor(ServiceError):
    """The ``since`` cursor is not one this gateway handed out (400)."""

    status, slug, title = 400, "invalid-cursor", "Invalid cursor"


# -- cursors -------------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the feed: after the change ``id`` of transaction ``txid`` (0 on SQLite)."""

    txid: int
    id: int

    def encode(self) -> str:
        text = f"{CURSOR_VERSION}:{self.txid}:{self.id}"
        return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, value: str) -> "Cursor":
        """The cursor ``value`` stands for; :class:`InvalidCursor` for anything else."""
        if not isinstance(value, str) or not _BASE64URL.match(value):
            raise InvalidCursor("the cursor is not one the gateway handed out: use a next_cursor "
                                "or cursor from an earlier answer, or leave since out to start")
        try:
            text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        except (binascii.Error, ValueError):
            text = ""
        match = _CURSOR_TEXT.match(text)
        if not match or max(int(match[1]), int(match[2])) > _MAX_BIGINT:
            raise InvalidCursor("the cursor is not one the gateway handed out (malformed or of "
                                "another version): use a next_cursor or cursor from an earlier "
                                "answer, or leave since out to start")
        return cls(int(match[1]), int(match[2]))


#: Before every change.
START = Cursor(0, 0)


# -- what a page holds ---------------------------------------------------------------------------

@dataclass
class FeedPage:
    changes: list[dict[str, Any]]
    next_cursor: str
    has_more: bool
    scanned: int = 0             # change rows read (sent or skipped)
    skipped_invalid: int = 0     # not sent: the record fails the published schema or rules
    skipped_out_of_scope: int = 0  # not sent: the record has left the client's scope

    def as_dict(self) -> dict[str, Any]:
        """The answer of ``GET /api/v1/exchange/changes``."""
        return {"changes": self.changes, "next_cursor": self.next_cursor, "has_more": self.has_more}


class FeedStats:
    """Process-wide counters of what the feed refused to send (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._invalid: Counter[str] = Counter()

    def count_invalid(self, entity: str, n: int = 1) -> None:
        with self._lock:
            self._invalid[entity] += n

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {"skipped_invalid": dict(self._invalid)}


# -- the standard's form of each entity ------------------------------------------------------------

def conform(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` with what the schema does not publish left out: keys an object schema with
    ``additionalProperties: false`` does not list (the API views add timestamps, names,
    counters) and null members, recursively through objects and arrays."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        closed = schema.get("additionalProperties") is False
        return {k: conform(v, props.get(k, {})) for k, v in value.items()
                if v is not None and (k in props or not closed)}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [conform(v, schema["items"]) for v in value]
    return value


def _number(value: Any) -> float | int | None:
    """A decimal amount (the views give ``"12.50"``) as the JSON number the schema wants."""
    if value is None:
        return None
    amount = Decimal(str(value))
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _volunteer_record(ctx: ServiceContext, volunteer: Volunteer) -> dict[str, Any]:
    view = registration.volunteer_view(ctx, volunteer)
    view["total_hours"] = _number(view.get("total_hours"))
    return view


def _project_record(ctx: ServiceContext, project: Project) -> dict[str, Any]:
    return activities.project_view(ctx, project)


def _service_record(ctx: ServiceContext, record: ServiceRecord) -> dict[str, Any]:
    # corrects/superseded_by are not published fields: "" spares the look-ups.
    view = hours.record_view(ctx, record, corrects="", superseded_by="")
    view["hours"] = _number(view.get("hours"))
    return view


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


def _certificate_record(ctx: ServiceContext, certificate: Certificate) -> dict[str, Any]:
    """The certificate as the published schema shapes it, from the signed content as issued
    (the ID number in it is always masked; the verification code is put back)."""
    content = certificates.signed_document(ctx.vault, certificate)["content"]
    vol, svc, iss = content["volunteer"], content["service"], content["issuer"]
    total = _number(svc.get("total_hours"))
    return {
        "certificate_no": content["certificate_no"],
        "verification_code": content["verification_code"],
        "volunteer": {"name": vol["name"], "id_type": certificate.volunteer.id_type,
                      "id_number": vol["id_number_masked"],
                      "volunteer_no": _blank_to_none(vol.get("volunteer_no"))},
        "service": {"kind": "1", "hours": total or None,
                    "period_from": _blank_to_none(svc.get("period_from")),
                    "period_to": _blank_to_none(svc.get("period_to")),
                    "items": [{"project_name": item["project_name"],
                               "team_name": _blank_to_none(item.get("team_name")),
                               "hours": _number(item.get("hours")),
                               "from": _blank_to_none(item.get("from")),
                               "to": _blank_to_none(item.get("to"))}
                              for item in svc.get("items") or ()]},
        "issuer": {"name": iss["name"], "team_no": _blank_to_none(iss.get("team_no")),
                   "responsible_person": iss.get("responsible_person"),
                   "handler": iss.get("handler"), "contact": iss.get("contact")},
        "issued_on": content["issued_on"],
        "notes": _blank_to_none(content.get("notes")),
        "status": certificate.status,
    }


@dataclass(frozen=True)
class _Entity:
    """How the feed finds, places and renders the current record of one entity."""

    name: str
    load: Callable[[ServiceContext, Sequence[str]], dict[str, Any]]
    place: Callable[[Any], tuple[str | None, str | None]]   # (area, team_no) now
    render: Callable[[ServiceContext, Any], dict[str, Any]]
    gone: Callable[[Any], bool] = lambda obj: False          # in a deleted state
    visible: Callable[[ServiceContext, Any], bool] = lambda ctx, obj: True
    personal: bool = True                                    # the render depends on pii access


def _by_number(model, column, *options) -> Callable[[ServiceContext, Sequence[str]], dict[str, Any]]:
    def load(ctx: ServiceContext, keys: Sequence[str]) -> dict[str, Any]:
        rows = ctx.session.execute(select(model).where(column.in_(list(keys))).options(*options)
                                   .execution_options(populate_existing=True)).scalars().all()
        return {getattr(row, column.key): row for row in rows}
    return load


def _project_visible(ctx: ServiceContext, project: Project) -> bool:
    # A not-public project (recruit_scope 4) is only for its organising team's side
    # (activities.read_project).
    return (project.recruit_scope != activities.SCOPE_CLOSED
            or ctx.caller.covers_team(project.team.team_no, project.team.area_code))


ENTITIES: dict[str, _Entity] = {e.name: e for e in (
    _Entity("volunteer", _by_number(Volunteer, Volunteer.volunteer_no, selectinload(Volunteer.sources)),
            place=lambda v: (v.area_code, None), render=_volunteer_record,
            # A person deleted through the exchange keeps the row, marked (migration 0004).
            gone=lambda v: v.deleted_at is not None),
    _Entity("team", _by_number(Team, Team.team_no, selectinload(Team.parent)),
            place=lambda t: (t.area_code, t.team_no), render=registration.team_view,
            gone=lambda t: t.status == TEAM_DELETED),
    _Entity("project", _by_number(Project, Project.project_no, selectinload(Project.team),
                                  selectinload(Project.posts)),
            place=lambda p: (p.area_code, p.team.team_no), render=_project_record,
            gone=lambda p: p.status == PROJECT_VOIDED, visible=_project_visible),
    _Entity("enrollment", _by_number(Enrollment, Enrollment.enrollment_no,
                                     selectinload(Enrollment.volunteer), selectinload(Enrollment.post),
                                     selectinload(Enrollment.project).selectinload(Project.team)),
            place=lambda e: (e.project.area_code, e.project.team.team_no),
            render=activities.enrollment_view, personal=False),
    _Entity("service_record", _by_number(ServiceRecord, ServiceRecord.record_no,
                                         joinedload(ServiceRecord.volunteer),
                                         joinedload(ServiceRecord.team),
                                         joinedload(ServiceRecord.project)),
            place=lambda r: (r.project.area_code, r.team.team_no), render=_service_record,
            gone=lambda r: r.status == hours.DELETED, personal=False),
    _Entity("certificate", _by_number(Certificate, Certificate.certificate_no,
                                      joinedload(Certificate.team), joinedload(Certificate.volunteer)),
            place=lambda c: (c.team.area_code, c.team.team_no), render=_certificate_record,
            personal=False),
)}
assert set(ENTITIES) == set(FEED_ENTITIES)


# -- reading -------------------------------------------------------------------------------------

def _covers(caller: Caller, area: str | None, team_no: str | None) -> bool:
    return caller.covers_region(area) and (not caller.team_nos or team_no in caller.team_nos)


def _entities_for(caller: Caller, entity: str | None) -> list[str]:
    if entity is not None:
        if entity not in ENTITIES:
            raise ServiceError(f"the feed has no entity {entity!r}; it has "
                               + ", ".join(FEED_ENTITIES))
        caller.require(entity, "read")
        return [entity]
    readable = [name for name in FEED_ENTITIES if caller.can(name, "read")]
    if not readable:
        raise OutOfScope(f"client {caller.client_id!r} may read none of the feed's entities "
                         f"({', '.join(FEED_ENTITIES)})", permission="read")
    return readable


def pg_horizon(connection: Session | Connection) -> int | None:
    """PostgreSQL: a transaction id below which every transaction of this database has ended.

    A snapshot's ``xmin`` is the oldest transaction running anywhere on the server, so a
    long transaction in another database (another application, another test run) would hold
    the feed back although it can never write here. This narrows it to this database:

    1. take a snapshot S: every transaction with an id below its ``xmax`` either had ended
       or is listed as running (``xip``);
    2. *then* read which backends of this database have a transaction id now
       (``pg_stat_activity``, read fresh; a transaction's id is published before it can
       appear in any snapshot and withdrawn when it ends);
    3. the horizon is the smallest running id of S that still runs in this database, or
       S's ``xmax`` when there is none. A running transaction of S missing from step 2
       either belongs to another database (it cannot write here) or has ended before step 2;
       both are settled for a snapshot taken after step 2.

    So the caller must read the changes in a *later* statement, under READ COMMITTED (a new
    snapshot per statement). Under another isolation level the snapshot is the
    transaction's, taken before step 2: then None is returned and the caller uses the
    server-wide ``pg_snapshot_xmin`` inside its own statement, which is always safe.
    """
    snapshot, isolation = connection.execute(_SNAPSHOT).one()
    if isolation != "read committed":
        return None
    _xmin, xmax, xip = snapshot.split(":")
    running = [int(x) for x in xip.split(",") if x]
    if not running:
        return int(xmax)
    connection.execute(_CLEAR_STATS)  # pg_stat_activity as of now, not as first read
    here = set(connection.execute(_DATABASE_XIDS).scalars())
    return min([x for x in running if x % 2 ** 32 in here] + [int(xmax)])


def _rows(ctx: ServiceContext, since: Cursor, entities: Iterable[str], limit: int) -> list[Any]:
    """Up to ``limit`` change rows after ``since`` that the caller's scope may cover, in feed
    order (a row without region or team is decided later, by the record's own)."""
    caller = ctx.caller
    if caller.team_nos:
        entities = [e for e in entities if e != "volunteer"]  # volunteers belong to no team
    stmt = select(Change.id, Change.txid, Change.entity, Change.entity_no, Change.action,
                  Change.at, Change.area_code, Change.team_no, Change.actor
                  ).where(Change.entity.in_(list(entities)))
    if caller.region_prefix:
        stmt = stmt.where(or_(Change.area_code.startswith(caller.region_prefix, autoescape=True),
                              Change.area_code.is_(None)))
    if caller.team_nos:
        stmt = stmt.where(or_(Change.team_no.in_(sorted(caller.team_nos)), Change.team_no.is_(None)))
    if ctx.session.get_bind().dialect.name == "postgresql":
        horizon = pg_horizon(ctx.session)
        stmt = (stmt.where(Change.txid < (_SERVER_HORIZON if horizon is None else horizon),
                           tuple_(Change.txid, Change.id) > tuple_(since.txid, since.id))
                .order_by(Change.txid, Change.id))
    else:
        stmt = stmt.where(Change.id > since.id).order_by(Change.id)
    return list(ctx.session.execute(stmt.limit(limit)).all())


_SKIP = object()


@dataclass
class _Renderer:
    """Renders (once per page) and checks the current record behind each change."""

    ctx: ServiceContext
    rule_ctx: RuleContext
    full_ctx: ServiceContext
    version: str = "1"
    current: dict[tuple[str, str], Any] = field(default_factory=dict)
    done: dict[tuple[str, str], Any] = field(default_factory=dict)
    out_of_scope: set[tuple[str, str]] = field(default_factory=set)

    def load(self, rows: Sequence[Any]) -> None:
        keys: dict[str, set[str]] = {}
        for row in rows:
            keys.setdefault(row.entity, set()).add(row.entity_no)
        for entity, numbers in keys.items():
            found = ENTITIES[entity].load(self.ctx, sorted(numbers))
            for number in numbers:
                self.current[(entity, number)] = found.get(number)

    def render(self, entity: str, key: str) -> Any:
        """``(op, data, in_scope)`` for the record now — ``("upsert", data, True)`` or
        ``("delete", None, whether the deleted record is in the caller's scope)`` — or _SKIP."""
        if (entity, key) not in self.done:
            self.done[(entity, key)] = self._render(ENTITIES[entity], key)
        return self.done[(entity, key)]

    def _render(self, spec: _Entity, key: str) -> Any:
        obj = self.current.get((spec.name, key))
        if obj is None:
            return ("delete", None, False)
        area, team_no = spec.place(obj)
        if spec.gone(obj):
            return ("delete", None, _covers(self.ctx.caller, area, team_no))
        if not _covers(self.ctx.caller, area, team_no) or not spec.visible(self.ctx, obj):
            self.out_of_scope.add((spec.name, key))
            return _SKIP
        return self.record(spec, key, obj)

    def record(self, spec: _Entity, key: str, obj: Any) -> Any:
        """``("upsert", data, True)`` for the current record ``obj`` in the renderer's version,
        checked and masked, or _SKIP when it fails the published schema or rules (logged)."""
        schema = self.ctx.engine.schema(spec.name)
        checked = conform(spec.render(self.full_ctx if spec.personal else self.ctx, obj), schema)
        report = self.ctx.engine.validate(spec.name, checked, ctx=self.rule_ctx)
        if not report.valid:
            # Numbers and rule ids only: never a value (it may be personal data).
            log.warning("change feed: %s %s not sent: it fails the published schema or rules "
                        "(%s)", spec.name, key,
                        ", ".join(f"{i.pointer or '/'} {i.rule}" for i in report.issues[:10]))
            return _SKIP
        if self.version != "1":
            return self._in_version(spec, key, obj, checked)
        if spec.personal and self.full_ctx is not self.ctx:
            checked = conform(spec.render(self.ctx, obj), schema)  # masked the service's way
        return ("upsert", checked, True)

    def _in_version(self, spec: _Entity, key: str, obj: Any, checked: dict[str, Any]) -> Any:
        """The record (valid in v1) in v2's form: the kept v2 members put back
        (:mod:`gateway.exchange.national`), checked against v2 without asking what only the
        national forms require (records kept before may lack it), then masked: the personal
        v2 members go only to a client with full personal-data access."""
        schema = self.ctx.engine.schema(spec.name, self.version)
        record = conform(national.as_v2(self.ctx.vault, spec.name, checked, obj), schema)
        report = self.ctx.engine.validate(spec.name, record, self.version, ctx=self.rule_ctx,
                                          lenient=True)
        unfit = _unfit_members(record, report.issues,
                               self.ctx.engine.lenient_schema(spec.name, self.version))
        if unfit:
            # A v1 value that v2 gives another form (a free-text registration authority where
            # v2 has the 18-digit area id) is left out of the v2 rendering, never sent wrong.
            record = {k: v for k, v in record.items() if k not in unfit}
            report = self.ctx.engine.validate(spec.name, record, self.version,
                                              ctx=self.rule_ctx, lenient=True)
        if not report.valid:
            log.warning("change feed: %s %s not sent in schema v%s: it fails the published "
                        "schema or rules (%s)", spec.name, key, self.version,
                        ", ".join(f"{i.pointer or '/'} {i.rule}" for i in report.issues[:10]))
            return _SKIP
        if self.full_ctx is not self.ctx:
            masked = (conform(spec.render(self.ctx, obj), self.ctx.engine.schema(spec.name))
                      if spec.personal else checked)
            record = {k: v for k, v in conform(national.as_v2(
                self.ctx.vault, spec.name, masked, obj, personal=False), schema).items()
                if k not in unfit}
        return ("upsert", record, True)


def _unfit_members(record: Mapping[str, Any], issues: Sequence[Any], schema: Mapping[str, Any]
                   ) -> set[str]:
    """The optional top-level members of ``record`` that v2's schema refuses (by the issues'
    pointers); none when anything else is wrong (the record is then not sent at all)."""
    if not issues or any(not i.pointer or not i.rule.startswith(("schema.", "code."))
                         for i in issues):
        return set()
    members = {i.pointer.split("/")[1] for i in issues}
    if members & set(schema.get("required", ())) or not members <= set(record):
        return set()
    return members


def _changed_at(ctx: ServiceContext, at: datetime | None) -> str | None:
    return timefmt.iso(at, ctx.tz, timespec="auto")


def render_records(ctx: ServiceContext, entity: str, keys: Sequence[str],
                   version: str = "1") -> dict[str, dict[str, Any] | None]:
    """The current records ``keys`` of ``entity`` exactly as the feed renders them in schema
    ``version`` for ``ctx.caller`` (checked, masked by its personal-data access): the
    services' API (``GET /api/v1/volunteers/<no>?schema_version=2`` …) answers with this, so
    that there is one rendering of each version. None for a record the feed would not send as
    an upsert: gone (deleted), or failing the published schema or rules. Scope is not looked
    at here: the API has read the record through its service first (404 / 403 as in v1)."""
    if version not in FEED_VERSIONS:
        raise ServiceError(f"schema_version must be one of {', '.join(FEED_VERSIONS)}")
    spec = ENTITIES[entity]
    caller = ctx.caller
    full_ctx = ctx if caller.pii_full else dataclasses.replace(
        ctx, caller=dataclasses.replace(caller, pii_full=True))
    renderer = _Renderer(ctx, ctx.rule_context(), full_ctx, version)
    found = spec.load(ctx, sorted(set(keys)))
    out: dict[str, dict[str, Any] | None] = {}
    for key in keys:
        obj = found.get(key)
        result: Any = _SKIP if obj is None or spec.gone(obj) else renderer.record(spec, key, obj)
        out[key] = None if result is _SKIP else result[1]
    return out


def read_changes(ctx: ServiceContext, since: str | None = None, entity: str | None = None,
                 limit: int = DEFAULT_LIMIT, stats: FeedStats | None = None,
                 version: str = "1") -> FeedPage:
    """One page of the feed for ``ctx.caller``: changes after ``since`` (an opaque cursor;
    None = from the start), of ``entity`` or of every entity the caller may read, each
    record in schema ``version`` (1, or 2: the kept national members put back). Cursors do
    not depend on the version: a reader may change versions between pages.

    ``next_cursor`` is the cursor of the last change *read*, sent or skipped (so a page
    whose records were all skipped still moves on), or ``since`` when nothing was read.
    ``has_more`` says that further changes could be read at once; a client that got
    ``has_more: false`` asks again later with ``next_cursor``.
    """
    start = Cursor.decode(since) if since is not None else START
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ServiceError(f"limit must be between 1 and {MAX_LIMIT}")
    if version not in FEED_VERSIONS:
        raise ServiceError(f"schema_version must be one of {', '.join(FEED_VERSIONS)}")
    caller = ctx.caller
    entities = _entities_for(caller, entity)

    rows = _rows(ctx, start, entities, limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    full_ctx = ctx if caller.pii_full else dataclasses.replace(
        ctx, caller=dataclasses.replace(caller, pii_full=True))
    renderer = _Renderer(ctx, ctx.rule_context(), full_ctx, version)
    renderer.load(rows)

    changes: list[dict[str, Any]] = []
    invalid = out_of_scope = 0
    for row in rows:
        cursor = Cursor(row.txid or 0, row.id).encode()
        result = renderer.render(row.entity, row.entity_no)
        if result is _SKIP:
            if (row.entity, row.entity_no) in renderer.out_of_scope:
                out_of_scope += 1
            else:
                invalid += 1
                if stats is not None:
                    stats.count_invalid(row.entity)
            continue
        op, data, in_scope = result
        if row.action in DELETE_ACTIONS:
            op, data = "delete", None
        if not in_scope and not _covers(caller, row.area_code, row.team_no):
            out_of_scope += 1  # a tombstone the caller's scope cannot be shown to cover
            continue
        changes.append({"cursor": cursor, "entity": row.entity, "op": op, "key": row.entity_no,
                        "changed_at": _changed_at(ctx, row.at), "origin": row.actor,
                        "data": data})
    homes.feed_homes(ctx, changes)
    next_cursor = Cursor(rows[-1].txid or 0, rows[-1].id).encode() if rows else (
        since if since is not None else START.encode())
    return FeedPage(changes, next_cursor, has_more, scanned=len(rows), skipped_invalid=invalid,
                    skipped_out_of_scope=out_of_scope)
