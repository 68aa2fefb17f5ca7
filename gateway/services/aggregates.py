"""Keep the statistics aggregates (stat_volunteers, stat_hours) in step with every write.

Call these in the same transaction as the change they count: registering or removing a
volunteer, and a service record entering or leaving the effective status (2). An upsert
adds the delta, so concurrent writers never lose a count. Each change is counted twice: in
the county-level cell (``county`` = the most precise code known: county, else city, else
province, else '') and in the province-level roll-up that national answers read
(gateway.store.models.stats); ``vgw stats rebuild`` recomputes both from the base tables.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Iterable

from sqlalchemy.orm import Session

from gateway.services.context import upsert_rows
from gateway.store.models import (HoursProvinceTotal, HoursTotal, Project, ServiceRecord, Volunteer,
                                  VolunteerCount, VolunteerProvinceCount)


def _add(session: Session, table, key: dict, deltas: dict) -> None:
    """Upsert: create the cell with ``deltas`` or add them to it."""
    _add_many(session, table, [{**key, **deltas}], list(key), list(deltas))


def _add_many(session: Session, table, rows: list[dict], key: list[str], deltas: list[str]) -> None:
    """:func:`_add` for several cells (distinct keys) in one statement, taken in key order."""
    upsert_rows(session, table.__table__, rows, key, dict.fromkeys(deltas, 0))


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
    for table, first, counts in ((VolunteerCount, "county", cells),
                                 (VolunteerProvinceCount, "province", provinces)):
        rows = [{first: place, **dict(zip(columns, cell)), "count": n * delta}
                for (place, *cell), n in counts.items()]
        _add_many(session, table, rows, [first, *columns], ["count"])


def count_hours(session: Session, record: ServiceRecord, project: Project, sign: int) -> None:
    """Add (sign=+1) or remove (sign=-1) an effective record's hours in its project's cells."""
    hours = Decimal(record.hours) * sign
    area = project.county or project.city or project.province or ""
    cell = {"month": record.local_date.strftime("%Y-%m"), "service_category": project.service_category}
    deltas = {"hours": hours, "records": sign}
    _add(session, HoursTotal, {"county": area, **cell}, deltas)
    _add(session, HoursProvinceTotal, {"province": area[:2], **cell}, deltas)
