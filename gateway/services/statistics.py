"""Statistics: volunteers, teams, projects and effective hours, inside the caller's region.

Where the figures come from
    Volunteers and effective hours are read from the aggregate tables ``stat_volunteers``
    (county x birth year x gender x registration month) and ``stat_hours`` (project county x
    month of service x service category) — a primary-key range of them for a province and
    below — and from their province roll-ups ``stat_volunteers_province`` /
    ``stat_hours_province`` for the whole country (at 10 million records the county-level
    hours table holds over 2 million cells, too many to sum within a second; the roll-up a
    few ten thousand). The registration and hours services keep all four in step in their
    own write transactions (``gateway.services.aggregates``); :func:`rebuild` recomputes them
    from the base tables (``vgw stats rebuild``). Teams and projects are counted in their own
    tables with group-bys on the indexed province / city / county columns.

Regions and drill-down
    Every answer is for one region: the ``region`` asked for, or the caller's own region
    prefix when none is given (the whole country for an unscoped caller). A region outside the
    caller's prefix is refused (OutOfScope). Breakdowns by region go one level down: the
    country into provinces, a province (2 digits) into its cities, a city (4 digits) into its
    counties, and a county (6 digits) is shown alone. Only regions with data are listed. Rows
    whose region is not known down to the level shown (e.g. a team registered at city level
    when counties are listed) are gathered in one item with ``code`` null, so the items always
    add up to the total.

Age bands (codes/age_band.csv, lower bounds 0, 8, 14, 18, 28, 35, 40, 45, 60)
    The statistical convention chosen here is the *age reached in the reference year*:
    ``age = reference year - birth year``, with the reference date being today in the
    gateway's time zone. The aggregate keeps the birth year, not the birth date (a date per
    cell would make the table as large as the volunteers table), so an exact age on the
    reference day cannot be known; counting by year of birth is also how population
    statistics are commonly tabulated, and it keeps every band boundary at a calendar year,
    so the same birth cohort stays in one band for the whole year. A volunteer born in
    (this year - 18) is in band 18 all year, even before the birthday. Volunteers without a
    birth year are counted in an item with ``code`` null.

Population share
    With the POPULATION_FILE setting, regions that have a figure also answer ``population``
    and ``share`` = volunteers / population, rounded to 6 decimals. Regions without a figure
    get neither (no estimate, no zero), nor does an answer limited to some registration months.
"""

from __future__ import annotations

import logging
import os
from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (ColumnElement, Integer, and_, case, cast, delete, extract, func, insert,
                        literal_column, select, text)
from sqlalchemy.orm import Session

import schemas
from gateway.services import aggregates
from gateway.services.context import ServiceContext
from gateway.services.errors import NotFound, OutOfScope
from gateway.settings import read_population_file
from gateway.standard.regions import COUNTY, LEVEL_NAMES, Regions
from gateway.store.models import (HoursProvinceTotal, HoursTotal, PendingAggregate, Project,
                                  ServiceRecord, Team, Volunteer, VolunteerCount,
                                  VolunteerProvinceCount)

log = logging.getLogger(__name__)

ENTITY = "statistics"
EFFECTIVE = "2"          # hours_status 已生效: the only status that counts
APPROVED_TEAM = "1"      # team_status 已审团体
UNSPECIFIED = "未细分地区"
UNKNOWN_BIRTH_YEAR = "出生年份未知"

VOLUNTEERS_BY = ("region", "age_band", "month", "gender")
HOURS_BY = ("region", "month", "service_category")
TEAMS_BY = ("region", "status")
PROJECTS_BY = ("region", "status", "service_category")


# -- the region an answer is about ---------------------------------------------------------------

@dataclass(frozen=True)
class Area:
    """The region of an answer: '' for the whole country, else a 2/4/6-digit code."""

    code: str
    name: str
    level: str

    @property
    def child_length(self) -> int:
        """Digits of the codes one level down (a county is shown as itself)."""
        return {0: 2, 2: 4, 4: 6, 6: 6}[len(self.code)]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code or None, "name": self.name, "level": self.level}


COUNTRY = Area("", "全国", "country")


def resolve_area(ctx: ServiceContext, region: str | None) -> Area:
    """The region asked for (default: the caller's own), checked against the caller's scope."""
    ctx.caller.require(ENTITY, "read")
    prefix = ctx.caller.region_prefix
    code = region if region else prefix
    if not code:
        return COUNTRY
    found = ctx.regions.lookup(code)
    # A padded form (440000, 440100) means the province or city it pads.
    canonical = found.code if found is not None and found.level <= COUNTY else code
    if prefix and not canonical.startswith(prefix):
        raise OutOfScope(f"region {code} is outside the region {prefix} of client "
                         f"{ctx.caller.client_id!r}", region_prefix=prefix)
    if found is None or found.level > COUNTY or len(canonical) not in (2, 4, 6):
        raise NotFound(f"{code!r} is not a current province, city or county code")
    return Area(canonical, found.name, LEVEL_NAMES[found.level])


def _next_code(code: str) -> str | None:
    """The smallest code of the same length after every code starting with ``code``."""
    bumped = str(int(code) + 1).zfill(len(code))
    return bumped if len(bumped) == len(code) else None


def _under(column, code: str) -> ColumnElement[bool] | None:
    """``column`` starts with ``code``, as a range the primary-key index can serve."""
    if not code:
        return None
    upper = _next_code(code)
    return and_(column >= code, column < upper) if upper else column >= code


def _digits(column, length: int):
    # Literal positions: the same expression then renders identically in SELECT and GROUP BY
    # (bound parameters would not, and PostgreSQL would refuse the grouping).
    return func.substr(column, literal_column("1"), literal_column(str(length)))


def _region_columns(model, area: Area):
    """(filter, group-by column) on a table with province/city/county columns."""
    where = {0: None, 2: model.province == area.code, 4: model.city == area.code,
             6: model.county == area.code}[len(area.code)]
    group = {2: model.province, 4: model.city, 6: model.county}[area.child_length]
    return where, group


def _region_item(regions: Regions, code: str | None, length: int) -> dict[str, Any]:
    if not code or len(code) < length:
        return {"code": None, "name": UNSPECIFIED}
    region = regions.lookup(code)
    return {"code": code, "name": region.name if region else None}


def _label(table: str, code: str | None) -> str | None:
    return schemas.code_table(table).get(code) if code is not None else None


# -- population ----------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _population(path: str, _mtime_ns: int, regions: Regions) -> dict[str, int]:
    figures: dict[str, int] = {}
    for code, population in read_population_file(path).items():
        region = regions.lookup(code)
        if region is None or region.level > COUNTY:
            log.warning("population file %s: %s is not a current province, city or county; ignored",
                        path, code)
            continue
        figures[region.code] = population
    return figures


def population_figures(ctx: ServiceContext) -> dict[str, int]:
    """``{canonical region code: population}`` from POPULATION_FILE (re-read when it changes)."""
    path = ctx.config.get("POPULATION_FILE") or ""
    if not path:
        return {}
    return _population(path, os.stat(path).st_mtime_ns, ctx.regions)


def _with_share(item: dict[str, Any], count: int, figures: dict[str, int], code: str | None) -> dict[str, Any]:
    population = figures.get(code) if code else None
    if population:
        item["population"] = population
        item["share"] = round(count / population, 6)
    return item


# -- the queries ---------------------------------------------------------------------------------

def _month_filters(column, month_from: str | None, month_to: str | None) -> list:
    filters = []
    if month_from:
        filters.append(column >= month_from)
    if month_to:
        filters.append(column <= month_to)
    return filters


def _aggregate(area: Area, volunteers: bool):
    """(table, its region column) answering for ``area``: the province roll-up for the whole
    country (a few ten thousand cells), the county-level table for a province and below
    (a primary-key range of it)."""
    if volunteers:
        return (VolunteerProvinceCount, VolunteerProvinceCount.province) if not area.code else \
            (VolunteerCount, VolunteerCount.county)
    return (HoursProvinceTotal, HoursProvinceTotal.province) if not area.code else \
        (HoursTotal, HoursTotal.county)


def _key(table, region_column, area: Area, key: str | None):
    if key is None:
        return None
    if key == "region":
        return region_column if not area.code else _digits(region_column, area.child_length)
    return getattr(table, key)


def _aggregate_filters(table, region_column, area: Area, month_from: str | None,
                       month_to: str | None) -> list:
    under = _under(region_column, area.code)
    return ([under] if under is not None else []) + _month_filters(table.month, month_from, month_to)


def _volunteer_rows(ctx: ServiceContext, area: Area, key: str, month_from=None, month_to=None):
    """(key, volunteers) per non-empty value of ``key`` (region, birth_year, month, gender)."""
    aggregates.fold(ctx.session)
    table, region_column = _aggregate(area, volunteers=True)
    column = _key(table, region_column, area, key)
    total = func.sum(table.count)
    stmt = (select(column, total).where(*_aggregate_filters(table, region_column, area, month_from, month_to))
            .group_by(column).having(total != 0).order_by(column))
    return [(k, int(n)) for k, n in ctx.session.execute(stmt)]


def _volunteer_total(ctx: ServiceContext, area: Area) -> int:
    aggregates.fold(ctx.session)
    table, region_column = _aggregate(area, volunteers=True)
    stmt = select(func.sum(table.count)).where(*_aggregate_filters(table, region_column, area, None, None))
    return int(ctx.session.execute(stmt).scalar() or 0)


def _hours_rows(ctx: ServiceContext, area: Area, key: str, month_from=None, month_to=None):
    """(key, hours, records) per value of ``key`` (region, month, service_category) with records."""
    aggregates.fold(ctx.session)
    table, region_column = _aggregate(area, volunteers=False)
    column = _key(table, region_column, area, key)
    records = func.sum(table.records)
    stmt = (select(column, func.sum(table.hours), records)
            .where(*_aggregate_filters(table, region_column, area, month_from, month_to))
            .group_by(column).having(records != 0).order_by(column))
    return [(k, Decimal(h or 0), int(r)) for k, h, r in ctx.session.execute(stmt)]


def _hours_total(ctx: ServiceContext, area: Area) -> tuple[Decimal, int]:
    aggregates.fold(ctx.session)
    table, region_column = _aggregate(area, volunteers=False)
    stmt = (select(func.sum(table.hours), func.sum(table.records))
            .where(*_aggregate_filters(table, region_column, area, None, None)))
    hours_sum, records = ctx.session.execute(stmt).one()
    return Decimal(hours_sum or 0), int(records or 0)


def _count_rows(ctx: ServiceContext, where, key, *extra) -> list[tuple]:
    """(key, rows, *extra) from a base table, grouped on an indexed column."""
    stmt = select(key, func.count(), *extra)
    if where is not None:
        stmt = stmt.where(where)
    return [tuple(row) for row in ctx.session.execute(stmt.group_by(key).order_by(key))]


def _hours_number(value: Decimal) -> float:
    return float(round(value, 2))


def _merge_unspecified(items: list[dict[str, Any]], *fields: str) -> list[dict[str, Any]]:
    """Fold every item with a null code into one, placed last."""
    known = [item for item in items if item["code"] is not None]
    loose = [item for item in items if item["code"] is None]
    if not loose:
        return known
    merged = dict(loose[0])
    for item in loose[1:]:
        for name in fields:
            merged[name] = merged.get(name, 0) + item.get(name, 0)
    return known + [merged]


def age_band(age: int) -> str:
    """The national age band (codes/age_band.csv) of an age in whole years."""
    bounds = _age_bounds()
    return str(bounds[max(bisect_right(bounds, age) - 1, 0)])


@lru_cache(maxsize=1)
def _age_bounds() -> list[int]:
    return sorted(int(code) for code in schemas.code_table("age_band"))


# -- answers ---------------------------------------------------------------------------------------

def overview(ctx: ServiceContext, region: str | None = None) -> dict[str, Any]:
    """Totals for one region: volunteers (and share), teams, projects and effective hours."""
    area = resolve_area(ctx, region)
    volunteers_total = _volunteer_total(ctx, area)
    hours_sum, records = _hours_total(ctx, area)
    team_where, _ = _region_columns(Team, area)
    team_status = _count_rows(ctx, team_where, Team.status)
    project_where, _ = _region_columns(Project, area)
    project_status = _count_rows(ctx, project_where, Project.status)
    figures = population_figures(ctx)
    return {
        "region": area.as_dict(),
        "reference_date": ctx.now.date(),
        "volunteers": _with_share({"count": volunteers_total}, volunteers_total, figures, area.code),
        "teams": {"count": sum(n for _, n in team_status),
                  "approved": sum(n for s, n in team_status if s == APPROVED_TEAM),
                  "by_status": [{"code": s, "name": _label("team_status", s), "count": n}
                                for s, n in team_status]},
        "projects": {"count": sum(n for _, n in project_status),
                     "by_status": [{"code": s, "name": _label("project_status", s), "count": n}
                                   for s, n in project_status]},
        "hours": {"hours": _hours_number(hours_sum), "records": records,
                  "late_records": _late_records(ctx, project_where)},
    }


def _late_records(ctx: ServiceContext, project_where) -> int:
    """Effective records made later than the 2020 办法 Art. 11 allows (``late_working_days``
    set), in the region's projects: read through the partial index on late records only."""
    stmt = (select(func.count()).select_from(ServiceRecord)
            .join(Project, ServiceRecord.project_id == Project.id)
            .where(ServiceRecord.late_working_days.is_not(None), ServiceRecord.status == "2"))
    if project_where is not None:
        stmt = stmt.where(project_where)
    return int(ctx.session.execute(stmt).scalar_one())


def volunteers(ctx: ServiceContext, region: str | None = None, by: str = "region",
               month_from: str | None = None, month_to: str | None = None) -> dict[str, Any]:
    """Registered volunteers in a region, broken down ``by`` region, age band, month or gender.

    ``month_from`` / ``month_to`` (YYYY-MM, inclusive) limit the registration month.
    """
    if by not in VOLUNTEERS_BY:
        raise ValueError(f"by must be one of {VOLUNTEERS_BY}")
    area = resolve_area(ctx, region)
    answer: dict[str, Any] = {"region": area.as_dict(), "by": by}
    # A share of population is about every registered volunteer, not those of some months.
    figures = population_figures(ctx) if not (month_from or month_to) else {}
    if month_from or month_to:
        answer.update({"from": month_from, "to": month_to})
    if by == "region":
        length = area.child_length
        rows = _volunteer_rows(ctx, area, "region", month_from, month_to)
        items = [_with_share({**_region_item(ctx.regions, code, length), "count": n}, n, figures,
                             code if code and len(code) == length else None)
                 for code, n in rows]
        items = _merge_unspecified(items, "count")
    elif by == "age_band":
        ref_year = ctx.now.year
        answer["reference_date"] = ctx.now.date()
        counts: dict[str | None, int] = {}
        for birth_year, n in _volunteer_rows(ctx, area, "birth_year", month_from, month_to):
            age = ref_year - birth_year
            band = age_band(age) if birth_year and age >= 0 else None
            counts[band] = counts.get(band, 0) + n
        items = [{"code": band, "name": label, "count": counts[band]}
                 for band, label in schemas.code_table("age_band").items() if counts.get(band)]
        if counts.get(None):
            items.append({"code": None, "name": UNKNOWN_BIRTH_YEAR, "count": counts[None]})
    elif by == "month":
        items = [{"code": month, "name": month, "count": n} for month, n in
                 _volunteer_rows(ctx, area, "month", month_from, month_to)]
    else:
        items = [{"code": g, "name": _label("gender", g), "count": n} for g, n in
                 _volunteer_rows(ctx, area, "gender", month_from, month_to)]
    total = sum(item["count"] for item in items)
    answer.update(_with_share({"count": total}, total, figures, area.code))
    answer["items"] = items
    return answer


def hours(ctx: ServiceContext, region: str | None = None, by: str = "region",
          month_from: str | None = None, month_to: str | None = None) -> dict[str, Any]:
    """Effective service hours (sum and record count) by region, month or service category.

    Hours count where the project takes place, in the month the service was given.
    """
    if by not in HOURS_BY:
        raise ValueError(f"by must be one of {HOURS_BY}")
    area = resolve_area(ctx, region)
    answer: dict[str, Any] = {"region": area.as_dict(), "by": by}
    if month_from or month_to:
        answer.update({"from": month_from, "to": month_to})
    if by == "region":
        length = area.child_length
        rows = _hours_rows(ctx, area, "region", month_from, month_to)
        items = [{**_region_item(ctx.regions, code, length), "hours": h, "records": r}
                 for code, h, r in rows]
        items = _merge_unspecified(items, "hours", "records")
    elif by == "month":
        items = [{"code": m, "name": m, "hours": h, "records": r} for m, h, r in
                 _hours_rows(ctx, area, "month", month_from, month_to)]
    else:
        items = [{"code": c, "name": _label("service_category", c), "hours": h, "records": r}
                 for c, h, r in _hours_rows(ctx, area, "service_category", month_from, month_to)]
    answer["hours"] = _hours_number(sum((item["hours"] for item in items), Decimal(0)))
    answer["records"] = sum(item["records"] for item in items)
    for item in items:
        item["hours"] = _hours_number(item["hours"])
    answer["items"] = items
    return answer


def teams(ctx: ServiceContext, region: str | None = None, by: str = "region") -> dict[str, Any]:
    """Teams in a region (every status, and how many are approved) by region or status."""
    if by not in TEAMS_BY:
        raise ValueError(f"by must be one of {TEAMS_BY}")
    area = resolve_area(ctx, region)
    where, group = _region_columns(Team, area)
    if by == "region":
        approved = func.sum(case((Team.status == APPROVED_TEAM, 1), else_=0))
        items = [{**_region_item(ctx.regions, code, area.child_length), "count": n,
                  "approved": int(a or 0)}
                 for code, n, a in _count_rows(ctx, where, group, approved)]
        items = _merge_unspecified(items, "count", "approved")
        approved_total = sum(item["approved"] for item in items)
    else:
        items = [{"code": s, "name": _label("team_status", s), "count": n}
                 for s, n in _count_rows(ctx, where, Team.status)]
        approved_total = sum(item["count"] for item in items if item["code"] == APPROVED_TEAM)
    return {"region": area.as_dict(), "by": by, "count": sum(i["count"] for i in items),
            "approved": approved_total, "items": items}


def projects(ctx: ServiceContext, region: str | None = None, by: str = "region") -> dict[str, Any]:
    """Projects in a region (every status) by region, status or service category."""
    if by not in PROJECTS_BY:
        raise ValueError(f"by must be one of {PROJECTS_BY}")
    area = resolve_area(ctx, region)
    where, group = _region_columns(Project, area)
    if by == "region":
        items = [{**_region_item(ctx.regions, code, area.child_length), "count": n}
                 for code, n in _count_rows(ctx, where, group)]
        items = _merge_unspecified(items, "count")
    elif by == "status":
        items = [{"code": s, "name": _label("project_status", s), "count": n}
                 for s, n in _count_rows(ctx, where, Project.status)]
    else:
        items = [{"code": c, "name": _label("service_category", c), "count": n}
                 for c, n in _count_rows(ctx, where, Project.service_category)]
    return {"region": area.as_dict(), "by": by, "count": sum(i["count"] for i in items),
            "items": items}


# -- rebuilding the aggregates ---------------------------------------------------------------------

def _month_of(column, dialect: str):
    """'YYYY-MM' of a DATE column."""
    if dialect == "postgresql":
        return func.to_char(column, literal_column("'YYYY-MM'"))
    return func.substr(column, literal_column("1"), literal_column("7"))


def _utc_month_of(column, dialect: str):
    """'YYYY-MM' of a UTC timestamp column, in UTC (as count_volunteer formats created_at)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone(literal_column("'UTC'"), column), literal_column("'YYYY-MM'"))
    return func.substr(column, literal_column("1"), literal_column("7"))


def _year_of(column, dialect: str):
    if dialect == "postgresql":
        return cast(extract("year", column), Integer)
    return cast(func.strftime(literal_column("'%Y'"), column), Integer)


AGGREGATE_TABLES = ("stat_volunteers", "stat_volunteers_province", "stat_hours", "stat_hours_province",
                    "stat_pending")


def rebuild(session: Session) -> dict[str, Any]:
    """Recompute the aggregate tables from the base tables, in the session's transaction.

    The same definitions as ``gateway.services.aggregates``: volunteers by service-area county
    ('' when unknown), birth year (0 when unknown), gender and registration month (the
    creation month in UTC when no registration date is known); effective (status 2) service
    records by their project's most precise region code (county, else city, else province,
    else ''), the month of ``local_date`` and the project's service category; then both
    rolled up to the province. Every statement is INSERT … SELECT … GROUP BY in the database.

    On PostgreSQL the four tables and ``stat_pending`` are locked first (EXCLUSIVE: readers
    go on with the old figures, writers that count wait until this commits, and a writer
    still open when the lock was asked for commits first), so no write made meanwhile is
    lost or counted twice; the pending deltas are dropped (the base tables hold what they
    counted). SQLite's single writer lock does the same. Returns the rows written
    and the totals they hold.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text(f"LOCK TABLE {', '.join(AGGREGATE_TABLES)} IN EXCLUSIVE MODE"))
    for table in (VolunteerProvinceCount, VolunteerCount, HoursProvinceTotal, HoursTotal,
                  PendingAggregate):
        session.execute(delete(table))

    county = func.coalesce(Volunteer.county, literal_column("''"))
    birth_year = func.coalesce(_year_of(Volunteer.birth_date, dialect), literal_column("0"))
    month = func.coalesce(_month_of(Volunteer.registered_at, dialect),
                          _utc_month_of(Volunteer.created_at, dialect))
    session.execute(insert(VolunteerCount).from_select(
        ["county", "birth_year", "gender", "month", "count"],
        select(county, birth_year, Volunteer.gender, month, func.count())
        .group_by(county, birth_year, Volunteer.gender, month)))

    area = func.coalesce(Project.county, Project.city, Project.province, literal_column("''"))
    service_month = _month_of(ServiceRecord.local_date, dialect)
    session.execute(insert(HoursTotal).from_select(
        ["county", "month", "service_category", "hours", "records"],
        select(area, service_month, Project.service_category, func.sum(ServiceRecord.hours), func.count())
        .select_from(ServiceRecord).join(Project, Project.id == ServiceRecord.project_id)
        .where(ServiceRecord.status == EFFECTIVE)
        .group_by(area, service_month, Project.service_category)))

    province = _digits(VolunteerCount.county, 2)
    session.execute(insert(VolunteerProvinceCount).from_select(
        ["province", "birth_year", "gender", "month", "count"],
        select(province, VolunteerCount.birth_year, VolunteerCount.gender, VolunteerCount.month,
               func.sum(VolunteerCount.count))
        .group_by(province, VolunteerCount.birth_year, VolunteerCount.gender, VolunteerCount.month)))
    province = _digits(HoursTotal.county, 2)
    session.execute(insert(HoursProvinceTotal).from_select(
        ["province", "month", "service_category", "hours", "records"],
        select(province, HoursTotal.month, HoursTotal.service_category, func.sum(HoursTotal.hours),
               func.sum(HoursTotal.records))
        .group_by(province, HoursTotal.month, HoursTotal.service_category)))

    if dialect == "postgresql":
        # Fresh planner statistics for the rewritten tables (allowed inside a transaction).
        session.execute(text(f"ANALYZE {', '.join(AGGREGATE_TABLES)}"))
    counts: dict[str, Any] = {}
    for name, table in (("stat_volunteers", VolunteerCount),
                        ("stat_volunteers_province", VolunteerProvinceCount)):
        counts[name], counts["volunteers"] = session.execute(
            select(func.count(), func.coalesce(func.sum(table.count), 0))).one()
    for name, table in (("stat_hours", HoursTotal), ("stat_hours_province", HoursProvinceTotal)):
        counts[name], counts["records"], counts["hours"] = session.execute(
            select(func.count(), func.coalesce(func.sum(table.records), 0),
                   func.coalesce(func.sum(table.hours), 0))).one()
    return {k: Decimal(v) if k == "hours" else int(v) for k, v in counts.items()}


def stat_rows(session: Session) -> dict[str, list[tuple]]:
    """Every non-empty row of the four aggregate tables, sorted (for comparisons)."""
    aggregates.fold(session)
    rows = {}
    for table, nonzero in ((VolunteerCount, VolunteerCount.count), (HoursTotal, HoursTotal.records),
                           (VolunteerProvinceCount, VolunteerProvinceCount.count),
                           (HoursProvinceTotal, HoursProvinceTotal.records)):
        columns = table.__table__.columns
        rows[table.__tablename__] = [tuple(r) for r in session.execute(
            select(*columns).where(nonzero != 0).order_by(*table.__table__.primary_key.columns))]
    return rows
