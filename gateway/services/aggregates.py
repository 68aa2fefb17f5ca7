"""Keep the statistics aggregates (stat_volunteers, stat_hours) in step with every write.

Call these in the same transaction as the change they count: registering or removing a
volunteer, and a service record entering or leaving the effective status (2). An upsert
adds the delta, so concurrent writers never lose a count. Each change is counted twice: in
the county-level cell (``county`` = the most precise code known: county, else city, else
province, else '') and in the province-level roll-up that national answers read
(gateway.store.models.stats); ``vgw stats rebuild`` recomputes both from the base tables.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.store.models import (HoursProvinceTotal, HoursTotal, Project, ServiceRecord, Volunteer,
                                  VolunteerCount, VolunteerProvinceCount)


def _insert(session: Session):
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _add(session: Session, table, key: dict, deltas: dict) -> None:
    """Upsert: create the cell with ``deltas`` or add them to it."""
    stmt = _insert(session)(table).values(**key, **deltas)
    stmt = stmt.on_conflict_do_update(index_elements=list(key),
                                      set_={name: getattr(table, name) + value for name, value in deltas.items()})
    session.execute(stmt)


def count_volunteer(session: Session, volunteer: Volunteer, delta: int) -> None:
    """Add ``delta`` (+1 registered, -1 removed) to the volunteer's aggregate cells.

    Reads only ``county``, ``birth_date``, ``gender``, ``registered_at`` and ``created_at``.
    """
    month = volunteer.registered_at.strftime("%Y-%m") if volunteer.registered_at else \
        volunteer.created_at.strftime("%Y-%m")
    county = volunteer.county or ""
    cell = {"birth_year": volunteer.birth_date.year if volunteer.birth_date else 0,
            "gender": volunteer.gender, "month": month}
    _add(session, VolunteerCount, {"county": county, **cell}, {"count": delta})
    _add(session, VolunteerProvinceCount, {"province": county[:2], **cell}, {"count": delta})


def count_hours(session: Session, record: ServiceRecord, project: Project, sign: int) -> None:
    """Add (sign=+1) or remove (sign=-1) an effective record's hours in its project's cells."""
    hours = Decimal(record.hours) * sign
    area = project.county or project.city or project.province or ""
    cell = {"month": record.local_date.strftime("%Y-%m"), "service_category": project.service_category}
    deltas = {"hours": hours, "records": sign}
    _add(session, HoursTotal, {"county": area, **cell}, deltas)
    _add(session, HoursProvinceTotal, {"province": area[:2], **cell}, deltas)
