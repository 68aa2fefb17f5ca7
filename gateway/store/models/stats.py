"""Aggregate tables behind the statistics service, kept in step with every write.

Counting 1 million volunteers or summing 10 million service records on each request is too
slow; these small tables are updated in the same transaction as the rows they summarise, so
they are always exact, and ``vgw stats rebuild`` recomputes them from the base tables.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base

Count = BigInteger().with_variant(Integer(), "sqlite")


class VolunteerCount(Base):
    """Volunteers by service-area county, birth year, gender and registration month."""

    __tablename__ = "stat_volunteers"

    county: Mapped[str] = mapped_column(String(6), primary_key=True)   # '' when unknown
    birth_year: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0 when unknown
    gender: Mapped[str] = mapped_column(String(1), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)     # YYYY-MM registered
    count: Mapped[int] = mapped_column(Count, default=0)


class HoursTotal(Base):
    """Effective service hours by the project's county, month of service and category."""

    __tablename__ = "stat_hours"

    county: Mapped[str] = mapped_column(String(6), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    service_category: Mapped[str] = mapped_column(String(4), primary_key=True)
    hours: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal("0"))
    records: Mapped[int] = mapped_column(Count, default=0)
