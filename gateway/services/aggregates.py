"""Keep the statistics aggregates (stat_volunteers, stat_hours) in step with every write.

Call these in the same transaction as the change they count: registering or removing a
volunteer, and a service record entering or leaving the effective status (2). An upsert
adds the delta, so concurrent writers never lose a count.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.store.models import HoursTotal, Project, ServiceRecord, Volunteer, VolunteerCount


def _insert(session: Session):
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def count_volunteer(session: Session, volunteer: Volunteer, delta: int) -> None:
    """Add ``delta`` (+1 registered, -1 removed) to the volunteer's aggregate cell."""
    insert = _insert(session)
    month = volunteer.registered_at.strftime("%Y-%m") if volunteer.registered_at else \
        volunteer.created_at.strftime("%Y-%m")
    row = {"county": volunteer.county or "", "birth_year": volunteer.birth_date.year if volunteer.birth_date else 0,
           "gender": volunteer.gender, "month": month, "count": delta}
    stmt = insert(VolunteerCount).values(**row)
    stmt = stmt.on_conflict_do_update(index_elements=["county", "birth_year", "gender", "month"],
                                      set_={"count": VolunteerCount.count + delta})
    session.execute(stmt)


def count_hours(session: Session, record: ServiceRecord, project: Project, sign: int) -> None:
    """Add (sign=+1) or remove (sign=-1) an effective record's hours in its project's cell."""
    insert = _insert(session)
    hours = Decimal(record.hours) * sign
    row = {"county": project.county or "", "month": record.local_date.strftime("%Y-%m"),
           "service_category": project.service_category, "hours": hours, "records": sign}
    stmt = insert(HoursTotal).values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["county", "month", "service_category"],
        set_={"hours": HoursTotal.hours + hours, "records": HoursTotal.records + sign})
    session.execute(stmt)
