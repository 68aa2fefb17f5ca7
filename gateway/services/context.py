"""What every service call needs: the session, the caller, the engine, the vault, the clock."""

from __future__ import annotations

import functools
import itertools
import logging
import operator
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, and_, create_engine, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine as DatabaseEngine
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, SessionTransaction
from stdnum.iso7064 import mod_37_36

from gateway.caller import Caller
from gateway.privacy import Vault, mask_id_number, mask_mobile
from gateway.services.errors import Invalid
from gateway.standard.engine import Engine
from gateway.standard.issues import Report
from gateway.standard.rules import RuleContext
from gateway.store.models import Change, NumberSequence
from gateway.store.rowsets import json_rows, rows_json

log = logging.getLogger(__name__)

def _mask_guardian(guardian: Any) -> Any:
    """A volunteer's guardian block with the guardian's mobile masked."""
    if not isinstance(guardian, Mapping):
        return guardian
    return {k: mask_mobile(v) if k == "mobile" and v is not None else v for k, v in guardian.items()}


@dataclass(frozen=True)
class Valid:
    """A record the engine found valid as ``entity`` (:meth:`ServiceContext.valid`).

    Validated once and handed on: a service given a ``Valid`` in place of the plain record
    does not validate it again (ingestion validates a pushed or pulled record when it screens
    it, then passes this on to the services that store it). It holds a reference, not a copy:
    whoever makes one leaves the record alone afterwards.
    """

    entity: str
    record: dict[str, Any]


T = TypeVar("T")
_YYMM = operator.methodcaller("strftime", "%y%m")

# Fields whose values are personal data: history keeps them masked.
PERSONAL_FIELDS = {"id_number": mask_id_number, "mobile": mask_mobile,
                   "contact_mobile": mask_mobile, "guardian": _mask_guardian}


@dataclass
class ServiceContext:
    session: Session
    caller: Caller
    engine: Engine
    vault: Vault
    config: Mapping[str, Any]
    now: datetime = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.now is None:
            self.now = datetime.now(self.tz)

    @property
    def tz(self) -> ZoneInfo:
        return self.engine.tz

    @property
    def regions(self):
        return self.engine.regions

    # -- validation -------------------------------------------------------------------------

    def validate(self, entity: str, record: Any) -> Report:
        """Validate with the engine at this context's clock; raise Invalid with every issue."""
        report = self.engine.validate(entity, record, ctx=self.rule_context())
        if not report.valid:
            raise Invalid(f"the {entity} record breaks {len(report.issues)} rule(s) of the standard",
                          report.issues)
        return report

    def rule_context(self) -> RuleContext:
        """The engine's rule context at this context's clock, made once per clock reading (a
        chunk of records validated in one context shares it: it costs as much to make as the
        schema check of a record)."""
        return self._per_clock("_rule_ctx", self.engine.context)

    def _per_clock(self, key: str, make: Callable[[datetime], T]) -> T:
        """``make(self.now)``, made once per clock reading and kept on the context."""
        made = self.__dict__.get(key)
        if made is None or made[0] is not self.now:  # (a test may move the clock)
            made = self.__dict__[key] = (self.now, make(self.now))
        return made[1]

    def valid(self, entity: str, record: Any) -> Valid:
        """``record`` validated once as ``entity`` (:meth:`validate`); a :class:`Valid` of
        ``entity`` is taken as it is."""
        if isinstance(record, Valid):
            if record.entity != entity:
                raise ValueError(f"a valid {record.entity} record is not a {entity} record")
            return record
        self.validate(entity, record)
        return Valid(entity, record)

    # -- numbering ----------------------------------------------------------------------------

    def next_value(self, name: str) -> int:
        """The next value of counter ``name`` (:meth:`reserve_values`)."""
        return self.reserve_values({name: 1})[name]

    def reserve_values(self, counts: Mapping[str, int]) -> dict[str, int]:
        """Reserve ``counts[name]`` consecutive values of each counter; the first of each.

        One upsert for every counter (a counter's first use creates it), taken in name order.
        A chunk of records numbered at once costs one statement, not one per record.

        On PostgreSQL the upsert runs in a short transaction of its own on another connection
        of the engine (autocommit), so the counter row is locked for that one statement and
        not until the caller's transaction ends: concurrent writers of one area and month do
        not wait for each other. The values are remembered with the caller's (innermost)
        transaction; when it, or a savepoint around it, is rolled back — or the session
        closed uncommitted — they are given back (:func:`_give_back`) if nobody reserved
        after them, so one writer numbers exactly as if the counter were part of its
        transaction. If another writer reserved after them they stay unused: a gap
        (docs/rules.md, "Numbers"). On SQLite (one writer at a time; a second connection
        would wait for the open write transaction) the upsert stays in the caller's
        transaction.
        """
        if not counts:
            return {}
        rows = [{"name": name, "next_value": n + 1} for name, n in counts.items()]
        # A new counter starts at n + 1; a stored one moves on by n.
        connection = self.session.connection()
        if connection.dialect.name != "postgresql":
            after = dict(upsert_rows(self.session, NumberSequence.__table__, rows, ["name"],
                                     {"next_value": -1}, returning=("name", "next_value")))
            return {name: after[name] - counts[name] for name in counts}
        engine = connection.engine
        try:
            with _counter_engine(engine).connect() as own:
                after = dict(upsert_rows_on(own, NumberSequence.__table__, rows, ["name"],
                                            {"next_value": -1}, returning=("name", "next_value")))
        except (OperationalError, InterfaceError, PoolTimeout) as exc:
            # No second connection to be had (the server's connection limit, the pool
            # exhausted): reserve in the caller's transaction as SQLite does — correct, only
            # locking — rather than refuse the records. A database that is gone fails here
            # too, on the session's own connection, as the store being unavailable.
            log.warning("numbering in the caller's transaction: no connection of its own (%s)",
                        type(exc).__name__)
            after = dict(upsert_rows(self.session, NumberSequence.__table__, rows, ["name"],
                                     {"next_value": -1}, returning=("name", "next_value")))
            return {name: after[name] - counts[name] for name in counts}
        first = {name: after[name] - counts[name] for name in counts}
        held = self.session.get_nested_transaction() or self.session.get_transaction()
        reserved: dict[SessionTransaction, list[_Reserved]] = self.session.info.setdefault(
            _RESERVED, {})
        reserved.setdefault(held, []).extend(
            _Reserved(next(_ORDER), engine, name, first[name], counts[name])
            for name in sorted(counts))
        return first

    def _month(self) -> str:
        """YYMM of this context's clock (a chunk numbers every new person with it, twice)."""
        return self._per_clock("_yymm", _YYMM)

    def volunteer_counter(self, area: str | None) -> str:
        """The counter behind the volunteer numbers of ``area`` this month."""
        return f"volunteer:{(area or '000000')[:6]}:{self._month()}"

    def volunteer_no(self, area: str | None, seq: int | None = None) -> str:
        """V + 6-digit area + YYMM + 6-digit sequence + ISO 7064 MOD 37-36 check character.

        ``seq`` is a value already reserved from :meth:`volunteer_counter` (see
        :meth:`reserve_values`); without it the next one is taken.
        """
        if seq is None:
            seq = self.next_value(self.volunteer_counter(area))
        body = f"V{(area or '000000')[:6]}{self._month()}{seq:06d}"
        return body + mod_37_36.calc_check_digit(body[1:])

    def number(self, prefix: str, area: str | None = None) -> str:
        """A store-assigned number such as T110105000123 (prefix + area + sequence)."""
        area6 = (area or "")[:6]
        return f"{prefix}{area6}{self.next_value(f'{prefix}:{area6}'):06d}"

    # -- history ------------------------------------------------------------------------------

    def record_change(self, entity: str, entity_no: str, action: str,
                      before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None,
                      note: str | None = None, source_system: str | None = None,
                      area: str | None = None, team_no: str | None = None) -> Change:
        """Keep who changed what and when; personal fields are masked in the history.

        ``area`` is the changed record's region and ``team_no`` its team (where it has one):
        the change feed shows the change only to clients whose scope covers them.
        """
        change = Change(**self.change_row(entity, entity_no, action, before, after, note=note,
                                          source_system=source_system, area=area,
                                          team_no=team_no))
        self.session.add(change)
        return change

    def change_row(self, entity: str, entity_no: str, action: str,
                   before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None,
                   note: str | None = None, source_system: str | None = None,
                   area: str | None = None, team_no: str | None = None) -> dict[str, Any]:
        """The values of the history row :meth:`record_change` adds (for rows written in sets)."""
        return {"entity": entity, "entity_no": entity_no, "action": action,
                "actor": self.caller.client_id, "source_system": source_system, "at": self.now,
                "changes": diff(before or {}, after or {}), "note": note, "area_code": area,
                "team_no": team_no}


# -- counter values reserved outside the caller's transaction (PostgreSQL) ---------------------

#: session.info key: the values :meth:`ServiceContext.reserve_values` reserved in their own
#: transaction, by the session transaction (or savepoint) that holds them, each list in the
#: order reserved (a savepoint released passes its list to its parent: no scan of the rest).
_RESERVED = "gateway.numbers.reserved"
#: session.info key: set while the session commits. A rollback then may follow a COMMIT the
#: server applied before the connection dropped: nothing is given back (a gap at worst),
#: since moving a counter back over numbers in use would have every later writer collide.
_COMMITTING = "gateway.numbers.committing"
_ORDER = itertools.count()


#: per store engine, the small pool of autocommit connections counters are reserved on: apart
#: from the sessions' pool, so that writers holding their session's connection never wait
#: for one another's to number (twenty concurrent requests exhausted a shared pool of 15).
_COUNTER_ENGINES: "weakref.WeakKeyDictionary[DatabaseEngine, DatabaseEngine]" = (
    weakref.WeakKeyDictionary())
_COUNTER_ENGINES_LOCK = threading.Lock()


def _counter_engine(engine: DatabaseEngine) -> DatabaseEngine:
    """The counters' engine beside ``engine``: one statement per checkout, so a few
    connections serve many writers; a checkout that waits over a second raises the pool's
    TimeoutError, and the caller numbers in its own transaction instead."""
    with _COUNTER_ENGINES_LOCK:
        counters = _COUNTER_ENGINES.get(engine)
        if counters is None:
            counters = create_engine(engine.url, pool_size=2, max_overflow=6, pool_timeout=1,
                                     pool_pre_ping=True, isolation_level="AUTOCOMMIT")
            _COUNTER_ENGINES[engine] = counters
            event.listen(engine, "engine_disposed", lambda _: counters.dispose())
        return counters


@dataclass(frozen=True)
class _Reserved:
    order: int
    engine: DatabaseEngine
    name: str
    first: int
    count: int


def _under(transaction: SessionTransaction, ancestor: SessionTransaction) -> bool:
    held: SessionTransaction | None = transaction
    while held is not None:
        if held is ancestor:
            return True
        held = held.parent
    return False


def _give_back(entries: list[_Reserved]) -> None:
    """Move each counter back over values nobody used, latest first — only where the
    counter still stands right after them (nobody reserved since); otherwise they stay a
    gap. In a transaction of its own; a failure (the database gone) leaves gaps, nothing
    worse."""
    table = NumberSequence.__table__
    by_engine: dict[DatabaseEngine, list[_Reserved]] = {}
    for entry in sorted(entries, key=lambda e: e.order):
        by_engine.setdefault(entry.engine, []).append(entry)
    for engine, own in by_engine.items():
        try:  # on the counters' own pool, as they were reserved (not the sessions' pool)
            with _counter_engine(engine).connect() as connection:
                for entry in reversed(own):
                    connection.execute(update(table).where(and_(
                        table.c.name == entry.name,
                        table.c.next_value == entry.first + entry.count)).values(
                        next_value=entry.first))
        except SQLAlchemyError as exc:
            log.warning("could not give back %d reserved number range(s) (%s): they stay unused",
                        len(own), type(exc).__name__)


@event.listens_for(Session, "before_commit")
def _committing(session: Session) -> None:
    if session.info.get(_RESERVED):
        session.info[_COMMITTING] = True


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    """A rollback (of the transaction or of a savepoint): the values reserved under it return
    — unless it follows a commit that failed (see ``_COMMITTING``)."""
    reserved: dict[SessionTransaction, list[_Reserved]] | None = session.info.get(_RESERVED)
    if session.info.pop(_COMMITTING, False):
        if reserved:
            reserved.clear()
        return
    if not reserved:
        return
    undone = session.get_nested_transaction() or session.get_transaction()
    if undone is None:
        returned = [entry for entries in reserved.values() for entry in entries]
        reserved.clear()
    else:
        returned = []
        for held in [held for held in reserved if _under(held, undone)]:
            returned.extend(reserved.pop(held))
    _give_back(returned)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    """The transaction committed (not a savepoint released): its values are used for good."""
    session.info.pop(_COMMITTING, None)
    if session.get_nested_transaction() is None and session.info.get(_RESERVED):
        session.info[_RESERVED].clear()


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    """A savepoint released: its values pass to the enclosing transaction. The transaction
    ended neither committed nor rolled back (the session closed): they return."""
    reserved: dict[SessionTransaction, list[_Reserved]] | None = session.info.get(_RESERVED)
    if not reserved:
        return
    mine = reserved.pop(transaction, None)
    if not mine:
        return
    if transaction.parent is not None:
        reserved.setdefault(transaction.parent, []).extend(mine)
        return
    session.info.pop(_COMMITTING, None)
    _give_back(mine)


def upsert_rows(session: Session, table: Table, rows: list[dict[str, Any]], key: Sequence[str],
                add: Mapping[str, int], returning: Sequence[str] = ()) -> list[tuple]:
    """INSERT ``rows`` (the same columns in each, distinct ``key`` values); where a row with
    that key exists, add the new row's value of each column of ``add`` to the stored one
    (plus the offset given for it) instead. Returns the ``returning`` columns of every row
    written. Rows are taken in key order, so concurrent writers lock in one order.

    The statements are built once per shape. One row: a plain INSERT … ON CONFLICT. Several
    on PostgreSQL: one statement whatever their number — the rows go as one JSON parameter
    (gateway/store/rowsets.py; compiled and parsed once), where a multi-row VALUES or a
    statement per row costs more than the rows do. Several on SQLite (in
    process, nothing to save): a statement per row.
    """
    return upsert_rows_on(session.connection(), table, rows, key, add, returning)


def upsert_rows_on(connection: Connection, table: Table, rows: list[dict[str, Any]],
                   key: Sequence[str], add: Mapping[str, int],
                   returning: Sequence[str] = ()) -> list[tuple]:
    """:func:`upsert_rows` on ``connection`` (a session's, or one of its own)."""
    if not rows:
        return []
    rows = sorted(rows, key=lambda row: tuple(row[name] for name in key))
    names = tuple(rows[0])
    dialect = connection.dialect.name
    many = len(rows) > 1
    stmt = _upsert_statement(dialect, table, names, tuple(key), tuple(sorted(add.items())),
                             tuple(returning), many and dialect == "postgresql")
    if many and dialect == "postgresql":
        result = connection.execute(stmt, {"rows": rows_json([row[n] for n in names]
                                                             for row in rows)})
        return [tuple(row) for row in result] if returning else []
    if returning:
        return [tuple(written) for row in rows for written in connection.execute(stmt, row)]
    connection.execute(stmt, rows)
    return []


@functools.lru_cache(maxsize=64)
def _upsert_statement(dialect: str, table: Table, names: tuple[str, ...], key: tuple[str, ...],
                      add: tuple[tuple[str, int], ...], returning: tuple[str, ...],
                      one_parameter: bool):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    if one_parameter:  # the rows as one JSON parameter
        source = json_rows([(name, table.c[name].type) for name in names], "new_rows", key="rows")
        stmt = insert(table).from_select(list(names), select(*[source.c[n] for n in names]))
    else:
        stmt = insert(table)
    added = {name: table.c[name] + stmt.excluded[name] for name, _ in add}
    stmt = stmt.on_conflict_do_update(index_elements=list(key), set_={
        name: added[name] + offset if offset else added[name] for name, offset in add})
    if returning:
        stmt = stmt.returning(*[table.c[name] for name in returning])
    return stmt


def _masked(key: str, value: Any) -> Any:
    masker = PERSONAL_FIELDS.get(key)
    return masker(value) if masker and value is not None else value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Changed fields as ``{field: {"old": …, "new": …}}`` with personal data masked."""
    if not before:
        # A creation (every new person of a push): each field set is a change from None.
        return {key: {"old": None, "new": _masked(key, new) if key in PERSONAL_FIELDS else new}
                for key in sorted(after) if (new := after[key]) is not None}
    out = {}
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old != new:
            if key in PERSONAL_FIELDS:  # (a test on the key first: history is a hot path)
                old, new = _masked(key, old), _masked(key, new)
            out[key] = {"old": old, "new": new}
    return out
