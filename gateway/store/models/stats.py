"""Aggregate tables behind the statistics service, kept in step with every write.

Counting 1 million volunteers or summing 10 million service records on each request is too
slow; these small tables are updated in the same transaction as the rows they summarise, so
they are always exact, and ``vgw stats rebuild`` recomputes them from the base tables.

Two levels: by county (``county`` holds the most precise code known — 6 digits, or 4 / 2
when the record's region stops at city / province, '' when unknown) for answers about a
province and below, and by province for answers about the whole country. At national sizes
the county-level tables hold millions of cells (2,978 counties x months x categories or birth
years), too many to sum within a second; the province-level ones hold a few ten thousand.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base
from gateway.store.models.common import BigId

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


class VolunteerProvinceCount(Base):
    """stat_volunteers rolled up to the province ('' when unknown), for national answers."""

    __tablename__ = "stat_volunteers_province"

    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    birth_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    gender: Mapped[str] = mapped_column(String(1), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    count: Mapped[int] = mapped_column(Count, default=0)


class HoursProvinceTotal(Base):
    """stat_hours rolled up to the project's province ('' when unknown), for national answers."""

    __tablename__ = "stat_hours_province"

    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    service_category: Mapped[str] = mapped_column(String(4), primary_key=True)
    hours: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal("0"))
    records: Mapped[int] = mapped_column(Count, default=0)


class PendingAggregate(Base):
    """What one transaction added to the aggregate cells, not folded into them yet.

    Writers append these rows (a plain INSERT: no cell row is locked, so concurrent writers
    counting into the same cell never wait for each other); readers fold them into the
    cells first (``gateway.services.aggregates.fold``: DELETE … RETURNING, summed, added
    with one upsert per table), so every answer counts every committed write exactly once.
    ``cell_table`` names the aggregate table; ``place`` is its county or province column;
    the other key columns are those of that table (NULL where it has none).
    """

    __tablename__ = "stat_pending"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cell_table: Mapped[str] = mapped_column(String(32))
    place: Mapped[str] = mapped_column(String(6))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    gender: Mapped[str | None] = mapped_column(String(1))
    month: Mapped[str] = mapped_column(String(7))
    service_category: Mapped[str | None] = mapped_column(String(4))
    count: Mapped[int] = mapped_column(Count, default=0)
    hours: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal("0"))
    records: Mapped[int] = mapped_column(Count, default=0)
