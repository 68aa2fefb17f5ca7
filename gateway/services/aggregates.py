"""Keep the statistics aggregates (stat_volunteers, stat_hours) in step with every write.

Call these in the same transaction as the change they count: registering or removing a
volunteer, and a service record entering or leaving the effective status (2). The delta is
appended to ``stat_pending`` (a plain INSERT: concurrent writers counting into the same cell
never wait for each other's row lock, and a rolled-back write leaves no delta); readers call
:func:`fold` first, which moves every committed delta into the cells (DELETE … RETURNING,
summed per cell, one upsert per table), so each answer counts each committed write exactly
once. Two folds at once take disjoint deltas (a row one deletes the other skips). Each
change is counted twice: in
the county-level cell (``county`` = the most precise code known: county, else city, else
province, else '') and in the province-level roll-up that national answers read
(gateway.store.models.stats); ``vgw stats rebuild`` recomputes both from the base tables.
"""

from __future__ import annotations

import functools
from collections import Counter
from decimal import Decimal
from typing import Iterable, cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from gateway.services.context import upsert_rows
from gateway.store.models import (HoursProvinceTotal, HoursTotal, PendingAggregate, Project,
                                  ServiceRecord, Volunteer, VolunteerCount, VolunteerProvinceCount)
from gateway.store.rowsets import json_rows, rows_json

#: the aggregate tables: name → (model, its key columns, its delta columns)
CELLS = {model.__tablename__: (model, key, deltas) for model, key, deltas in (
    (VolunteerCount, ("county", "birth_year", "gender", "month"), ("count",)),
    (VolunteerProvinceCount, ("province", "birth_year", "gender", "month"), ("count",)),
    (HoursTotal, ("county", "month", "service_category"), ("hours", "records")),
    (HoursProvinceTotal, ("province", "month", "service_category"), ("hours", "records")))}
_DELTAS = ("count", "hours", "records")


def _add(session: Session, table, key: dict, deltas: dict) -> None:
    """Add ``deltas`` to the cell ``key`` of ``table`` (once this transaction commits)."""
    _add_many(session, table, [{**key, **deltas}], list(key), list(deltas))


def _add_many(session: Session, table, rows: list[dict], key: list[str], deltas: list[str]) -> None:
    """:func:`_add` for several cells in one statement: their pending rows."""
    _insert_pending(session, _pending(table, rows, key))


def _pending(table, rows: list[dict], key: list[str]) -> list[dict]:
    """The ``stat_pending`` rows adding ``rows`` (key and delta values) to ``table``'s cells."""
    place = key[0]
    return [
        {"cell_table": table.__tablename__, "place": row[place], "birth_year": row.get("birth_year"),
         "gender": row.get("gender"), "month": row["month"],
         "service_category": row.get("service_category"), "count": row.get("count", 0),
         "hours": row.get("hours", 0), "records": row.get("records", 0)} for row in rows]


#: the columns of a pending row, in the order :func:`_pending` gives them
_PENDING_COLUMNS = ("cell_table", "place", "birth_year", "gender", "month", "service_category",
                    "count", "hours", "records")


def _insert_pending(session: Session, pending: list[dict]) -> None:
    """Append ``pending`` rows. Several on PostgreSQL: ONE statement, the rows as one JSON
    parameter (gateway/store/rowsets.py) — an executemany is a statement per row on the
    server (psycopg pipelines them, but each is still bound and executed: two rows per new
    person of a push, the largest statement count of a chunk). Elsewhere (SQLite, in
    process): an executemany."""
    if not pending:
        return
    # (through the session, which flushes first, as before)
    if len(pending) > 1 and session.get_bind().dialect.name == "postgresql":
        session.execute(_pending_from_json(), {"rows": rows_json(
            [row[name] for name in _PENDING_COLUMNS] for row in pending)})
        return
    session.execute(insert(cast(Table, PendingAggregate.__table__)), pending)


@functools.lru_cache(maxsize=1)
def _pending_from_json():
    table = cast(Table, PendingAggregate.__table__)
    source = json_rows([(name, table.c[name].type) for name in _PENDING_COLUMNS], "new_rows",
                       key="rows")
    return insert(table).from_select(list(_PENDING_COLUMNS),
                                     select(*[source.c[name] for name in _PENDING_COLUMNS]))


def fold(session: Session) -> int:
    """Move every committed pending delta into its cell, in the session's transaction (the
    caller commits; rolled back, the deltas stay pending and still count). Returns the
    pending rows folded."""
    table = cast(Table, PendingAggregate.__table__)
    pending = session.execute(delete(table).returning(
        table.c.cell_table, table.c.place, table.c.birth_year, table.c.gender, table.c.month,
        table.c.service_category, table.c.count, table.c.hours, table.c.records)).all()
    if not pending:
        return 0
    sums: dict[str, dict[tuple, list]] = {}
    for row in pending:
        _model, key, _deltas = CELLS[row.cell_table]
        cell = (row.place, *(getattr(row, k) for k in key[1:]))
        total = sums.setdefault(row.cell_table, {}).setdefault(cell, [0, Decimal(0), 0])
        total[0] += row.count
        total[1] += Decimal(row.hours)
        total[2] += row.records
    for name in sorted(sums):
        model, key, deltas = CELLS[name]
        rows = [{**dict(zip(key, cell)), **{d: value for d, value in zip(_DELTAS, totals) if d in deltas}}
                for cell, totals in sorted(sums[name].items())]
        upsert_rows(session, cast(Table, model.__table__), rows, list(key), dict.fromkeys(deltas, 0))
    return len(pending)


def _volunteer_cell(volunteer: Volunteer) -> tuple[str, int, str, str]:
    """(county, birth year, gender, month registered): the volunteer's aggregate cell."""
    month = volunteer.registered_at.strftime("%Y-%m") if volunteer.registered_at else \
        volunteer.created_at.strftime("%Y-%m")
    return (volunteer.county or "", volunteer.birth_date.year if volunteer.birth_date else 0,
            volunteer.gender, month)


def count_volunteer(session: Session, volunteer: Volunteer, delta: int) -> None:
    """Add ``delta`` (+1 registered, -1 removed) to the volunteer's aggregate cells.

    Reads only ``county``, ``birth_date``, ``gender``, ``registered_at`` and ``created_at``.
    """
    count_volunteers(session, [volunteer], delta)


def count_volunteers(session: Session, volunteers: Iterable[Volunteer], delta: int = 1) -> None:
    """:func:`count_volunteer` for many volunteers: each cell is added to once (a chunk of
    new people written together costs two statements, not two per person)."""
    cells = Counter(_volunteer_cell(volunteer) for volunteer in volunteers)
    provinces: Counter = Counter()
    for (county, *cell), n in cells.items():
        provinces[(county[:2], *cell)] += n
    columns = ("birth_year", "gender", "month")
    pending: list[dict] = []  # both tables' rows, appended with one statement
    for table, first, counts in ((VolunteerCount, "county", cells),
                                 (VolunteerProvinceCount, "province", provinces)):
        rows = [{first: place, **dict(zip(columns, cell)), "count": n * delta}
                for (place, *cell), n in counts.items()]
        pending += _pending(table, rows, [first, *columns])
    _insert_pending(session, pending)


def count_hours(session: Session, record: ServiceRecord, project: Project, sign: int) -> None:
    """Add (sign=+1) or remove (sign=-1) an effective record's hours in its project's cells."""
    hours = Decimal(record.hours) * sign
    area = project.county or project.city or project.province or ""
    cell = {"month": record.local_date.strftime("%Y-%m"), "service_category": project.service_category}
    deltas = {"hours": hours, "records": sign}
    _add(session, HoursTotal, {"county": area, **cell}, deltas)
    _add(session, HoursProvinceTotal, {"province": area[:2], **cell}, deltas)
