"""The fast path of :func:`gateway.exchange.upserts.apply_records`: a chunk of pushed records
with set-based writes wherever that gives the same result as applying them one by one.

Why
    One by one, a new volunteer costs about fifteen statements (a SAVEPOINT and its release,
    four look-ups, a counter, five inserts, two aggregate upserts, the provenance update) and
    the record is decrypted again for its history. Pushes and sync
    runs are mostly new people and people sent again unchanged: those are worth doing in sets.

What goes the fast way
    A volunteer upsert that passes the permission and validation checks and whose person
    (blind index of the document) and source key (``source_id``, else the sender's
    ``volunteer_no``) no earlier record of the chunk names. Two look-ups
    for the whole chunk find the stored people and the sender's source rows; then, in input
    order, each record is

    * **new** — no stored person, the key unused by the sender, the person in the caller's
      region: it joins the current *run* of new people;
    * **unchanged** — the stored person, not deleted and in scope, on whom the upsert would
      write nothing (no field changes, no provenance stamp changes, the source row already
      there: :func:`gateway.services.registration.upsert_writes_nothing` with the same field
      policy :func:`gateway.exchange.upserts.merge_volunteer`): answered ``unchanged`` with
      no write at all — unless a volunteer delete earlier in the chunk may have touched them;
    * anything else (other entities, deletes, changed people, repeats in the chunk): the
      run so far is written, then the record goes through
      :func:`~gateway.exchange.upserts.apply_record`, so it sees everything before it.

    Validated once: every volunteer upsert of the chunk is validated when it is screened;
    one the engine refuses is answered ``rejected`` then and there (what ``apply_record``
    would answer: permission and validation are its first checks, and it writes nothing),
    and one that passes is handed on as a :class:`~gateway.services.context.Valid` — to
    ``apply_record`` and the registration service too, which do not validate it again.

Writing a run
    Inside one SAVEPOINT: the volunteer numbers are reserved with one statement for all
    their counters (:meth:`ServiceContext.reserve_values`, in input order per counter, so the
    numbers are those one-by-one would give); then the people (rows built by
    :func:`registration.build_volunteer`, as one by one, on plain :class:`NewVolunteer`
    holders), their source rows (:func:`registration.source_row_values`) and their
    histories (:func:`registration.creation_change_values`; the plaintext just encrypted is
    remembered, not decrypted again) are written one table at a time — COPY on PostgreSQL,
    an executemany on SQLite — and each aggregate cell is added to once
    (:func:`aggregates.count_volunteers`). If the database refuses (a concurrent writer
    took a document or source id meanwhile, say), the savepoint is rolled back and the
    run's records go through ``apply_record`` one by one, whose outcomes are then the
    answer.

The result — outcomes, rows, history (in input order), numbers, aggregates — is the same as
``apply_record`` for each record in input order; tests/integration/exchange_push/
test_bulk_equivalence.py checks it on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import operator
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import orjson
from sqlalchemy import Connection, Select, Table, insert, literal_column, select, true
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import sqltypes

from gateway import store
from gateway.exchange import upserts
from gateway.exchange.upserts import (DERIVED, Outcome, Source, Stamp, apply_record,
                                      merge_volunteer, new_provenance)
from gateway.privacy import Vault
from gateway.services import registration
from gateway.services.aggregates import count_volunteers
from gateway.services.context import ServiceContext, Valid
from gateway.services.errors import ServiceError
from gateway.store.models import Change, Volunteer, VolunteerSource, utcnow
from gateway.store.models.common import RegionColumns
from gateway.store.rowsets import json_rows

__all__ = ["NewVolunteer", "RememberingVault", "apply_records", "keyed_lookup"]

log = logging.getLogger("gateway.exchange.bulk")

#: Values per IN (...) look-up: well under SQLite's and PostgreSQL's parameter limits.
_LOOKUP_SLICE = 1000


@dataclass
class _Person:
    """A volunteer upsert that passed every check that needs no store."""

    index: int                      # position in the chunk
    data: dict[str, Any]
    valid: Valid                    # the data without the derived fields, validated (once)
    id_index: str                   # blind index of the document
    key: str | None                 # the sender's id for the person (source_id, else its number)
    stamp: Stamp
    volunteer: NewVolunteer | None = None   # the row to insert, for a new person

    @property
    def record(self) -> dict[str, Any]:
        return self.valid.record


class RememberingVault:
    """The context's vault, remembering the plaintext of what it encrypts here, and the
    blind indexes it computes.

    A new person's history is built from the row just made (``volunteer_record``, which
    decrypts): decrypting a token made a moment ago would cost as much as making it. The
    document's blind index is computed when the record is screened and again when its row
    is built.
    """

    def __init__(self, vault: Vault):
        self._vault = vault
        self._plain: dict[str, str] = {}
        self._indexes: dict[tuple[str, str], str] = {}

    def encrypt(self, text: str) -> str:
        token = self._vault.encrypt(text)
        self._plain[token] = text
        return token

    def decrypt(self, token: str) -> str:
        text = self._plain.get(token)
        return text if text is not None else self._vault.decrypt(token)

    def blind_index(self, kind: str, value: str) -> str:
        index = self._indexes.get((kind, value))
        if index is None:
            index = self._indexes[(kind, value)] = self._vault.blind_index(kind, value)
        return index


class NewVolunteer:
    """A new person's row as plain attributes, filled by ``registration.build_volunteer``.

    The set is written with Core statements: an ORM instance's bookkeeping would cost more
    than its fields. A column never set reads None, as on a new model instance.
    """

    _columns = frozenset(column.key for column in Volunteer.__table__.columns)
    set_area = RegionColumns.set_area

    def __init__(self, **values: Any):
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        if name in NewVolunteer._columns:
            return None
        raise AttributeError(name)


def apply_records(ctx: ServiceContext, source: Source,
                  items: Sequence[tuple[Any, Any, Any]]) -> list[Outcome]:
    """One outcome per ``(entity, op, data)``, as :func:`apply_record` in order would give."""
    building = dataclasses.replace(ctx, vault=RememberingVault(ctx.vault))
    people = {}
    outcomes: list[Outcome | None] = [None] * len(items)
    for index, (entity, op, data) in enumerate(items):
        person = _screen(building, source, index, entity, op, data)
        if isinstance(person, Outcome):
            outcomes[index] = person  # refused by the validation: it writes nothing
        elif person is not None:
            people[index] = person
    if not people:
        return [outcome or apply_record(ctx, source, entity, op, data)
                for outcome, (entity, op, data) in zip(outcomes, items)]
    stored, source_rows = _look_up(ctx, source, people.values())

    paths = Counter()  # how the records went, for the debug log
    run: list[_Person] = []
    seen_people: set[str] = set()
    seen_keys: set[str] = set()
    deleted = False  # a volunteer delete ran: a person looked up before may have changed
    for index, (entity, op, data) in enumerate(items):
        if outcomes[index] is not None:
            paths["invalid"] += 1
            continue
        person = people.get(index)
        if person is not None:
            fresh = person.id_index not in seen_people and person.key not in seen_keys
            seen_people.add(person.id_index)
            if person.key is not None:
                seen_keys.add(person.key)
            if fresh:
                row = stored.get(person.id_index)
                if row is None:
                    if _new(building, source, person, source_rows):
                        run.append(person)
                        continue
                elif not deleted:
                    outcome = _unchanged(ctx, source, person, row, source_rows.get(person.key))
                    if outcome is not None:
                        outcomes[index] = outcome
                        paths["unchanged"] += 1
                        continue
        elif entity == "volunteer" and op == "delete":
            deleted = True
        _write(building, source, run, outcomes, paths)
        run = []
        outcomes[index] = apply_record(ctx, source, entity, op, data,
                                       valid=person.valid if person is not None else None)
        paths["one by one"] += 1
    _write(building, source, run, outcomes, paths)
    log.debug("apply_records: %d record(s): %d new in %d set(s), %d unchanged, %d invalid, "
              "%d one by one (%d of them after a refused set)", len(items), paths["new"],
              paths["sets"], paths["unchanged"], paths["invalid"], paths["one by one"],
              paths["refused"])
    return outcomes  # type: ignore[return-value]  # every position is set above


def _screen(ctx: ServiceContext, source: Source, index: int, entity: Any, op: Any,
            data: Any) -> _Person | Outcome | None:
    """A volunteer upsert the caller may write and the engine finds valid; the ``rejected``
    outcome of one the engine finds invalid (what ``apply_record`` would answer: the
    permission and the validation are its first checks); else None.

    The record is validated here, once: what passes is handed on as a :class:`Valid`.
    """
    if entity != "volunteer" or op != "upsert" or not isinstance(data, dict):
        return None
    if upserts.handler("volunteer", "upsert") is not upserts.upsert_volunteer:
        return None  # this path mirrors upsert_volunteer: not whatever replaced it
    try:
        ctx.caller.require("volunteer", "write")
    except ServiceError:
        return None  # apply_record answers it
    try:
        valid = ctx.valid("volunteer", {k: v for k, v in data.items() if k not in DERIVED})
    except ServiceError as exc:
        return upserts.rejection(exc)
    indexes = registration.find_volunteers_by_number(ctx, data["id_number"], data["id_type"])
    if not indexes:
        return None
    key = data.get("source_id") or data.get("volunteer_no")
    return _Person(index, data, valid, indexes[0], key or None, source.stamp(ctx, data))


def _look_up(ctx: ServiceContext, source: Source, people: Iterable[_Person]
             ) -> tuple[dict[str, Volunteer], dict[str, VolunteerSource]]:
    """The stored people (by blind index) and the sender's source rows (by key) of a chunk."""
    session = ctx.session
    people = list(people)
    indexes = sorted({p.id_index for p in people})
    keys = sorted({p.key for p in people if p.key is not None})
    stored: dict[str, Volunteer] = {}
    for part in _slices(indexes):
        stored.update((v.id_index, v) for v in session.scalars(
            keyed_lookup(session, Volunteer, Volunteer.id_index, part)))
    rows: dict[str, VolunteerSource] = {}
    for part in _slices(keys):
        rows.update((r.source_id, r) for r in session.scalars(keyed_lookup(
            session, VolunteerSource, VolunteerSource.source_id, part,
            VolunteerSource.source_system == source.client_id)))
    return stored, rows


def keyed_lookup(session: Session, entity: Any, column: Any, values: list[str],
                 *where: Any) -> Select:
    """``SELECT entity WHERE *where AND column IN (values)`` (``entity``: a mapped class, or a
    tuple of columns) for a ``column`` that, with the
    equalities of ``where``, is a unique key — in a form whose plan does not depend on the
    table's statistics.

    PostgreSQL plans ``source_system = :s AND source_id = ANY(:keys)`` from the table's
    size and statistics. On a table loaded since its last ANALYZE (every fresh load; CI and
    many servers run without autovacuum) it takes the table for a few rows and picks an
    index scan on ``source_system`` alone with ``source_id`` as a *filter*; psycopg then
    prepares the statement (after 5 runs) and that generic plan is kept while the table
    grows, so each look-up reads every row the sender ever sent: cost grows with the square
    of the load. A join of ``unnest(:keys)`` against the table is no better (a hash join
    over the same scan). Here each key is a ``LATERAL (… WHERE key columns = k LIMIT 1)``:
    the only sensible plan of a LIMIT 1 equality on every column of a unique index is one
    descent of that index per key, whatever the planner believes about the table
    (tests/integration/exchange_push/test_lookup_plan.py reads the plan and the buffers on a
    table with no statistics). The keys go as one JSON parameter (gateway/store/rowsets.py:
    psycopg's array dumper costs about a microsecond a key). Elsewhere (SQLite, whose
    planner always uses the unique index for ``IN``): ``column IN (values)``.
    """
    columns = entity if isinstance(entity, tuple) else (entity,)
    if session.get_bind().dialect.name != "postgresql":
        return select(*columns).where(*where, column.in_(values))
    keys = json_rows([("key", column.type)], "k", rows=[(value,) for value in values])
    hit = select(*columns).where(*where, column == keys.c.key).limit(literal_column("1")).lateral(
        "hit")
    chosen = hit.c if isinstance(entity, tuple) else (aliased(entity, hit),)
    return select(*chosen).select_from(keys).join(hit, true())


def _slices(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _LOOKUP_SLICE):
        yield values[start:start + _LOOKUP_SLICE]


def _new(ctx: ServiceContext, source: Source, person: _Person,
         source_rows: dict[str, VolunteerSource]) -> bool:
    """Build the new person's row if it can be written with the run; False if not so."""
    if person.key is not None and person.key in source_rows:
        return False  # the sender uses the key for someone else: apply_record refuses it
    volunteer = registration.build_volunteer(
        ctx, person.record, source.client_id, person.data.get("source_id"), make=NewVolunteer,
        provenance=new_provenance(person.stamp, person.data))
    if not ctx.caller.covers_region(volunteer.area_code):
        return False
    person.volunteer = volunteer
    return True


def _unchanged(ctx: ServiceContext, source: Source, person: _Person, stored: Volunteer,
               source_row: VolunteerSource | None) -> Outcome | None:
    """``unchanged`` if upserting the stored person would write nothing, else None."""
    if stored.deleted_at is not None or not ctx.caller.covers_region(stored.area_code):
        return None
    old = registration.volunteer_record(ctx, stored)
    # What the upsert would store is validated only when it changes (update_from_source):
    # here nothing changes, so nothing more is validated.
    merge = merge_volunteer(source, person.stamp, person.record, old, stored.provenance)
    if not registration.upsert_writes_nothing(ctx, stored, old, merge.record, source.client_id,
                                              person.data.get("source_id"), source_row):
        return None
    if merge.provenance(stored.provenance, person.stamp) != stored.provenance:
        return None
    return Outcome("unchanged", stored.volunteer_no, [], merge.note)


def _write(ctx: ServiceContext, source: Source, run: list[_Person],
           outcomes: list[Outcome | None], paths: Counter) -> None:
    """Write a run of new people together; one by one if the database refuses the set."""
    if not run:
        return
    session = ctx.session
    try:
        with session.begin_nested():
            _insert_run(ctx, source, run)
    except SQLAlchemyError as exc:
        if store.connection_lost(exc):  # the database went away: not these records' fault
            raise
        # A concurrent writer, most likely. The message may hold record values: kind only.
        log.warning("apply_records: a set of %d new volunteers was refused by the database (%s); "
                    "applying them one by one", len(run), type(exc).__name__)
        for person in run:
            outcomes[person.index] = apply_record(ctx, source, "volunteer", "upsert", person.data,
                                                  valid=person.valid)
        paths["one by one"] += len(run)
        paths["refused"] += len(run)
        return
    for person in run:
        volunteer: NewVolunteer = person.volunteer  # type: ignore[assignment]
        outcomes[person.index] = Outcome("created", volunteer.volunteer_no)
    paths["new"] += len(run)
    paths["sets"] += 1


def _insert_run(ctx: ServiceContext, source: Source, run: list[_Person]) -> None:
    connection = ctx.session.connection()
    volunteers: list[NewVolunteer] = [person.volunteer for person in run]  # type: ignore[misc]
    counters = [ctx.volunteer_counter(v.area_code) for v in volunteers]
    following = ctx.reserve_values(Counter(counters))
    now = utcnow()
    for volunteer, counter in zip(volunteers, counters):
        volunteer.volunteer_no = ctx.volunteer_no(volunteer.area_code, following[counter])
        following[counter] += 1
        volunteer.created_at = volunteer.updated_at = now
    table = Volunteer.__table__
    if connection.dialect.name == "postgresql":
        # The ids the rows would take from their sequence, taken first (ascending, in input
        # order, as the COPY would give them), so the rows carry them: no look-up after.
        for volunteer, id_ in zip(volunteers, _next_ids(connection, table, len(volunteers))):
            volunteer.id = id_
        _insert_rows(connection, table, [{"id": v.id, **_values(table, v)} for v in volunteers])
    else:
        _insert_rows(connection, table, [_values(table, v) for v in volunteers])
        ids: dict[str, int] = {}
        for part in _slices([v.volunteer_no for v in volunteers]):
            ids.update((number, id_) for number, id_ in connection.execute(keyed_lookup(
                ctx.session, (table.c.volunteer_no, table.c.id), table.c.volunteer_no, part)))
        for volunteer in volunteers:
            volunteer.id = ids[volunteer.volunteer_no]
    sources, changes = [], []
    for person, volunteer in zip(run, volunteers):
        source_no = person.record.get("volunteer_no")
        sources.append(registration.source_row_values(ctx, volunteer, source.client_id,
                                                      person.data.get("source_id"), source_no))
        changes.append(registration.creation_change_values(ctx, volunteer, source.client_id,
                                                           source_no))
    _insert_rows(connection, VolunteerSource.__table__, sources)
    _insert_rows(connection, Change.__table__, changes)
    count_volunteers(ctx.session, volunteers, +1)


def _next_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` values of the sequence behind ``table``'s id column (PostgreSQL), ascending."""
    key = (str(connection.engine.url), table.name)
    sequence = _SEQUENCES.get(key)
    if sequence is None:
        sequence = _SEQUENCES[key] = connection.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%(table)s, 'id')", {"table": table.name}).scalar_one()
    return sorted(connection.exec_driver_sql(
        "SELECT nextval(%(sequence)s::regclass) FROM generate_series(1, %(count)s)",
        {"sequence": sequence, "count": count}).scalars())


#: (engine URL, table) → the sequence of its id column
_SEQUENCES: dict[tuple[str, str], str] = {}


def _values(table: Table, obj: Any) -> dict[str, Any]:
    """What the ORM would insert for ``obj`` (built, never added): every column but the key
    and those the database fills, a column the object left unset at its default."""
    state = obj.__dict__
    return {key: state[key] if key in state else default() for key, default in _defaults(table)}


@functools.lru_cache(maxsize=None)
def _defaults(table: Table) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """(column key, its default when unset) of the columns an INSERT of ``table`` gives."""
    out = []
    for column in table.columns:
        if column.primary_key or column.server_default is not None:
            continue
        default = column.default
        if default is None:
            out.append((column.key, lambda: None))
        elif default.is_callable:
            out.append((column.key, functools.partial(default.arg, None)))  # type: ignore[attr-defined]
        else:
            out.append((column.key, lambda value=default.arg: value))  # type: ignore[attr-defined]
    return tuple(out)


def _copy_processor(column: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """How a value of ``column`` goes into a binary COPY: as into an INSERT (the column type's
    bind processor), except JSON documents, which go as they are: psycopg's binary jsonb
    dumper writes them (with orjson, several times faster than the standard library, set on
    the COPY's cursor) and the server stores them without parsing text."""
    impl = column.type.dialect_impl(dialect)
    if isinstance(impl, sqltypes.JSON):
        return None
    return impl.bind_processor(dialect)


def _column_oids(connection: Connection, table: Table, columns: list[Any]) -> tuple[int, ...]:
    """The server's type oid of each column, in order (what a binary COPY needs to be told)."""
    names = tuple(column.name for column in columns)
    key = (str(connection.engine.url), table.name, names)
    cached = _OIDS.get(key)
    if cached is None:
        found = dict(connection.exec_driver_sql(
            "SELECT attname::text, atttypid::int FROM pg_attribute "
            "WHERE attrelid = %(table)s::regclass AND attnum > 0 AND NOT attisdropped",
            {"table": table.name}).all())
        cached = _OIDS[key] = tuple(found[name] for name in names)
    return cached


#: (engine URL, table, columns) → the columns' type oids (a migration changing a type needs
#: a restart, as it does for the models)
_OIDS: dict[tuple, tuple[int, ...]] = {}


def _insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` at once.

    PostgreSQL: ``COPY … FROM STDIN (FORMAT BINARY)``, one stream the server loads without a
    statement per row — about twice as fast as an executemany of INSERTs, and a multi-row
    INSERT costs more to build and parse on the client than the rows do. Binary, so the
    server parses no text: numbers, times and above all ``jsonb`` documents arrive in their
    wire form (jsonb sent as text was a fifth of the server's COPY time). The values go
    through the columns' bind processors first, as in an INSERT (:func:`_copy_processor`);
    the columns' types are the server's own (pg_attribute, read once per table). Elsewhere
    (SQLite, in process): an executemany.
    """
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = [table.c[name] for name in rows[0]]
    keys = [column.key for column in columns]
    values = operator.itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
    processed = [(i, process) for i, process in
                 enumerate(_copy_processor(column, dialect) for column in columns) if process]
    oids = _column_oids(connection, table, columns)
    quote = dialect.identifier_preparer.quote
    copy_sql = (f"COPY {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
                "FROM STDIN (FORMAT BINARY)")
    from psycopg.types.json import set_json_dumps  # PostgreSQL only

    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    set_json_dumps(orjson.dumps, cursor)
    try:
        with cursor.copy(copy_sql) as copy:
            copy.set_types(oids)
            for row in rows:
                line = list(values(row))
                for i, process in processed:
                    line[i] = process(line[i])
                copy.write_row(line)
    except dialect.loaded_dbapi.Error as exc:  # type: ignore[attr-defined]
        raise DBAPIError.instance(copy_sql, None, exc, dialect.loaded_dbapi.Error,
                                  hide_parameters=True, dialect=dialect) from exc
    finally:
        cursor.close()
