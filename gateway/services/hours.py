"""Service hours (志愿服务时间): team entry, applications, corrections, deletion and totals.

Who may do what (``service_record`` permissions of the caller):

* **Team entry** (:func:`record_hours`): ``write``, covering the project's organising team
  (region and, if the client lists teams, that team). The record is effective at once.
* **Application** (:func:`apply_hours`): ``write``, covering the *volunteer's* region (the
  volunteer's own app, or a platform acting for them). The record waits (status 0).
* **Decision** (:func:`approve_hours`, :func:`reject_hours`): ``review``, covering the
  project's team. Approving is a decision on someone else's submission, like reviewing a
  team's registration, so it is the review permission and not write; a team's own client
  is normally given both.
* **Correction and deletion** (:func:`correct_hours`, :func:`delete_hours`): ``write``,
  covering the team that recorded the record ("谁记录谁更正").
* **Error report** (:func:`gateway.services.disputes.raise_dispute`): ``write``, covering the
  volunteer's region; the recording team answers it (办法 2020 Art. 13, services/disputes.py).
* **Reading**: ``read``; a record is visible when the caller covers its team, or, for a
  client not limited to a list of teams, when the volunteer is in the caller's region.

Rules across records (docs/rules.md, "Rules across records (store)") are checked whenever a
record becomes (or is about to become) effective, and again when an application is made:
``service_record.enrolled``, ``.within_project``, ``.no_overlap``, ``.open_checkin``,
``.team_matches``. The per-record rules (not in the future, hours within or equal to the
duration, optionally same day: the policies SERVICE_HOURS_POLICY and SERVICE_RECORD_SAME_DAY)
come from the validation engine; nothing here re-judges them.

Concurrency: every change to a volunteer's service records first locks the volunteer's
row (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite, which has no row locks, a no-op
write that takes the database's single write lock), then checks and writes. Two
overlapping entries for one volunteer therefore run one after the other and the second
sees the first. The volunteer's totals (``total_hours``, ``star_level``) are recomputed
from the effective records under that lock, never taken from input.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Mapping

from sqlalchemy import and_, func, or_, select, text, true
from sqlalchemy.orm import aliased, joinedload

import schemas
from gateway import timefmt
from gateway.services import aggregates, lookups
from gateway.services.registration import require_team_active
from gateway.services.context import ServiceContext
from gateway.services.errors import Conflict, Invalid, NotFound
from gateway.standard import workdays
from gateway.standard.issues import Issue
from gateway.standard.rules.common import parse_date, parse_local_datetime
from gateway.store.models import (Change, Enrollment, Project, ServiceRecord, Team, Volunteer)

ENTITY = "service_record"

# hours_status codes (schemas/codes/hours_status.csv)
APPLYING, OPEN_CHECKIN, EFFECTIVE, DELETED, REJECTED = "0", "1", "2", "3", "4"
# hours_source codes (schemas/codes/hours_source.csv)
SOURCE_TEAM, SOURCE_APPLICATION = "1", "2"
# enrollment_status codes that hold a place in the project: 2 审批加入, 3 邀请加入,
# 5 免审加入, 6 本团体加入 (see gateway.store.models.Enrollment).
ADMITTED_ENROLLMENT = ("2", "3", "5", "6")
# recruit_scope 5 补录项目: the team records service after the fact, without enrolments.
RECRUIT_SCOPE_BACKFILL = "5"

# Star levels (星级) from cumulative effective hours, per the standard (spec/README.md,
# "Star levels": 100 / 300 / 600 / 1000 / 1500 hours → 1–5 stars; albp0026 星级 is derived
# from hours and never trusted from input). Below the first threshold: 0 (no star).
STAR_THRESHOLDS: tuple[Decimal, ...] = (Decimal(100), Decimal(300), Decimal(600),
                                        Decimal(1000), Decimal(1500))

CENT = Decimal("0.01")
_TINY = timedelta(microseconds=1)


def star_level(total_hours: Decimal | int | float | str) -> int:
    """Stars (0–5) for ``total_hours`` cumulative effective hours (:data:`STAR_THRESHOLDS`)."""
    return bisect_right(STAR_THRESHOLDS, Decimal(str(total_hours)))


def star_label(level: int) -> str | None:
    """The code table's label of a star level (一星级 …); None for 0 (no star)."""
    return schemas.code_table("star_level").get(str(level)) if level else None


def _hours(value: Any) -> Decimal:
    """Hours as given (int or float from JSON) as a Decimal to the hundredth."""
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


def _issue(pointer: str, rule: str, zh: str, en: str) -> Issue:
    return Issue(pointer, rule, zh, en)


def _invalid(issues: list[Issue]) -> Invalid:
    return Invalid(f"the service record breaks {len(issues)} rule(s) across records", issues)


# -- locking -----------------------------------------------------------------------------------

def lock_volunteer(ctx: ServiceContext, volunteer_no: str) -> Volunteer:
    """Lock the volunteer's row for the rest of the transaction (every hours change does this
    first, so checks across a volunteer's records and the write that follows are atomic).

    PostgreSQL: ``SELECT … FOR UPDATE``. SQLite ignores FOR UPDATE and runs plain SELECTs
    outside any transaction, so a no-op UPDATE of the row opens the transaction and takes
    the database's write lock; a concurrent writer waits (busy timeout) and then reads fresh.
    """
    volunteer = lookups.get_volunteer(ctx, volunteer_no, in_scope=False, for_update=True)
    if ctx.session.get_bind().dialect.name == "sqlite":
        ctx.session.execute(text("UPDATE volunteers SET id = id WHERE id = :id"), {"id": volunteer.id})
    # The row may have been loaded before the lock (identity map): read it again under it.
    ctx.session.refresh(volunteer)
    return volunteer


def _find_volunteer(ctx: ServiceContext, volunteer_no: Any) -> Volunteer | None:
    if not isinstance(volunteer_no, str):
        return None
    return ctx.session.execute(select(Volunteer).where(Volunteer.volunteer_no == volunteer_no)
                               ).scalar_one_or_none()


def _find_project(ctx: ServiceContext, project_no: Any) -> Project | None:
    if not isinstance(project_no, str):
        return None
    return ctx.session.execute(select(Project).options(joinedload(Project.team))
                               .where(Project.project_no == project_no)).scalar_one_or_none()


def _unknown(pointer: str, what_zh: str, what_en: str, rule: str) -> Invalid:
    return _invalid([_issue(pointer, rule, f"{what_zh}不存在或尚未登记到数据中心",
                            f"no such {what_en} is registered in the store")])


# -- rules across records ---------------------------------------------------------------------

def _service_days(started: datetime, ended: datetime, tz) -> tuple[date, date]:
    """Local days (gateway zone) of the start and of the end; an end at exactly 00:00 belongs
    to the day before (20:00–24:00 is service on one day, as service_record.same_day counts it)."""
    return started.astimezone(tz).date(), (ended - _TINY).astimezone(tz).date()


def cross_record_issues(ctx: ServiceContext, *, volunteer: Volunteer, project: Project,
                        started: datetime, ended: datetime, team_no: str | None = None,
                        exclude_id: int | None = None) -> list[Issue]:
    """Every rule across records the service broken by a record of ``volunteer`` in ``project``
    from ``started`` to ``ended`` (aware). ``exclude_id``: a record the new one replaces."""
    session = ctx.session
    issues: list[Issue] = []
    if team_no is not None and team_no != project.team.team_no:
        issues.append(_issue("/team_no", "service_record.team_matches",
                             "队伍编号与项目的组织队伍不一致：服务时间由组织项目的队伍记录",
                             "team_no is not the team that organises the project: service time "
                             "is recorded by the project's organising team"))
    if project.recruit_scope != RECRUIT_SCOPE_BACKFILL:
        enrolled = session.execute(
            select(Enrollment.id).where(Enrollment.volunteer_id == volunteer.id,
                                        Enrollment.project_id == project.id,
                                        Enrollment.status.in_(ADMITTED_ENROLLMENT)).limit(1)
        ).first()
        if enrolled is None:
            issues.append(_issue("/volunteer_no", "service_record.enrolled",
                                 "志愿者未被录用参加该项目，不能记录服务时间（补录项目除外）",
                                 "the volunteer is not admitted to the project, so no service "
                                 "time can be recorded (except in a back-filling project, "
                                 "recruit_scope 5)"))
    first_day, last_day = _service_days(started, ended, ctx.tz)
    if first_day < project.starts_on or last_day > project.ends_on:
        issues.append(_issue("/started_at", "service_record.within_project",
                             f"服务时间不在项目日期内（{project.starts_on.isoformat()} 至 "
                             f"{project.ends_on.isoformat()}）",
                             f"the service is outside the project's dates "
                             f"({project.starts_on.isoformat()} to {project.ends_on.isoformat()})"))
    overlap = select(ServiceRecord.record_no).where(
        ServiceRecord.volunteer_id == volunteer.id, ServiceRecord.status == EFFECTIVE,
        ServiceRecord.started_at < ended, ServiceRecord.ended_at > started)
    if exclude_id is not None:
        overlap = overlap.where(ServiceRecord.id != exclude_id)
    other = session.execute(overlap.order_by(ServiceRecord.started_at).limit(1)).scalar_one_or_none()
    if other is not None:
        issues.append(_issue("/started_at", "service_record.no_overlap",
                             f"与该志愿者已生效的服务时间记录 {other} 时间重叠",
                             f"overlaps the volunteer's effective service record {other}"))
    open_checkin = session.execute(
        select(ServiceRecord.id).where(ServiceRecord.volunteer_id == volunteer.id,
                                       ServiceRecord.status == OPEN_CHECKIN).limit(1)).first()
    if open_checkin is not None:
        issues.append(_issue("/volunteer_no", "service_record.open_checkin",
                             "该志愿者有未签退的签到记录，签退前不能录入服务时间",
                             "the volunteer has an open check-in (not yet checked out); no "
                             "service time can be entered until it is closed"))
    return issues


# -- totals ----------------------------------------------------------------------------------

def refresh_totals(ctx: ServiceContext, volunteer: Volunteer) -> None:
    """Recompute the volunteer's total_hours (one SUM over effective records, on the
    volunteer/status index) and star_level; call with the volunteer locked."""
    total = ctx.session.execute(
        select(func.coalesce(func.sum(ServiceRecord.hours), 0))
        .where(ServiceRecord.volunteer_id == volunteer.id, ServiceRecord.status == EFFECTIVE)
    ).scalar_one()
    total = Decimal(total).quantize(CENT)
    level = star_level(total)
    before = {"total_hours": str(Decimal(volunteer.total_hours or 0).quantize(CENT)),
              "star_level": volunteer.star_level}
    after = {"total_hours": str(total), "star_level": level}
    if before != after:
        volunteer.total_hours = total
        volunteer.star_level = level
        ctx.record_change("volunteer", volunteer.volunteer_no, "hours_totals", before, after,
                          note="derived from effective service records", area=volunteer.area_code)


def _take_effect(ctx: ServiceContext, record: ServiceRecord, project: Project, sign: int) -> None:
    """Count (+1) or uncount (-1) an effective record in the statistics aggregates."""
    ctx.session.flush()
    aggregates.count_hours(ctx.session, record, project, sign)


# -- views -----------------------------------------------------------------------------------

def _iso(ctx: ServiceContext, value: datetime | None) -> str | None:
    return timefmt.iso(value, ctx.tz)


def _history_fields(ctx: ServiceContext, record: ServiceRecord, volunteer_no: str,
                    project_no: str, team_no: str) -> dict[str, Any]:
    return {"record_no": record.record_no, "volunteer_no": volunteer_no, "project_no": project_no,
            "team_no": team_no, "started_at": _iso(ctx, record.started_at),
            "ended_at": _iso(ctx, record.ended_at), "hours": f"{record.hours:.2f}",
            "status": record.status, "source": record.source, "kind": record.kind,
            **{key: getattr(record, key) for key in ("place", "person_in_charge")
               if getattr(record, key)}}


def record_view(ctx: ServiceContext, record: ServiceRecord, *, corrects: str | None = None,
                superseded_by: str | None = None, history: bool = False) -> dict[str, Any]:
    """The API's view of one record; ``corrects``/``superseded_by`` are looked up if not given."""
    session = ctx.session
    if corrects is None and record.corrects_id is not None:
        corrects = session.get(ServiceRecord, record.corrects_id).record_no
    if superseded_by is None and record.superseded_by_id is not None:
        superseded_by = session.get(ServiceRecord, record.superseded_by_id).record_no
    view = {
        "record_no": record.record_no,
        "volunteer_no": record.volunteer.volunteer_no,
        "project_no": record.project.project_no,
        "project_name": record.project.name,
        "team_no": record.team.team_no,
        "started_at": _iso(ctx, record.started_at),
        "ended_at": _iso(ctx, record.ended_at),
        "local_date": record.local_date.isoformat(),
        "hours": f"{record.hours:.2f}",
        "source": record.source,
        "status": record.status,
        "status_label": schemas.code_table("hours_status").get(record.status),
        "kind": record.kind,
        "recorded_at": record.recorded_at.isoformat() if record.recorded_at else None,
        "applied_at": _iso(ctx, record.applied_at),
        "description": record.description,
        "place": record.place,
        "person_in_charge": record.person_in_charge,
        "source_system": record.source_system,
        "source_id": record.source_id,
        "corrects": corrects,
        "superseded_by": superseded_by,
        "decided_by": record.decided_by,
        "created_at": _iso(ctx, record.created_at),
        "late_working_days": record.late_working_days,
    }
    if history:
        view["history"] = record_history(ctx, record.record_no)
    return view


def record_history(ctx: ServiceContext, record_no: str) -> list[dict[str, Any]]:
    rows = ctx.session.execute(select(Change).where(Change.entity == ENTITY, Change.entity_no == record_no)
                               .order_by(Change.id)).scalars()
    return [{"action": c.action, "actor": c.actor, "source_system": c.source_system,
             "at": _iso(ctx, c.at), "changes": c.changes, "note": c.note} for c in rows]


# -- reading ---------------------------------------------------------------------------------

def _visible(ctx: ServiceContext):
    """SQL condition: the caller may read the record (joined to its Team and Volunteer)."""
    caller = ctx.caller
    prefix = caller.region_prefix
    team_ok = Team.area_code.startswith(prefix, autoescape=True) if prefix else true()
    if caller.team_nos:
        return and_(team_ok, Team.team_no.in_(sorted(caller.team_nos)))
    volunteer_ok = Volunteer.area_code.startswith(prefix, autoescape=True) if prefix else true()
    return or_(team_ok, volunteer_ok)


def can_read(ctx: ServiceContext, record: ServiceRecord) -> bool:
    caller = ctx.caller
    if caller.covers_team(record.team.team_no, record.team.area_code):
        return True
    return not caller.team_nos and caller.covers_region(record.volunteer.area_code)


def load_record(ctx: ServiceContext, record_no: str) -> ServiceRecord:
    record = ctx.session.execute(
        select(ServiceRecord).options(joinedload(ServiceRecord.volunteer), joinedload(ServiceRecord.team),
                                      joinedload(ServiceRecord.project))
        .where(ServiceRecord.record_no == record_no).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if record is None or not can_read(ctx, record):
        raise NotFound(f"no service record {record_no}")
    return record


def get_record(ctx: ServiceContext, record_no: str) -> dict[str, Any]:
    """One record with its correction chain and history (read permission, visible to caller)."""
    ctx.caller.require(ENTITY, "read")
    return record_view(ctx, load_record(ctx, record_no), history=True)


def _page(ctx: ServiceContext, stmt, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """Run a select of ServiceRecord (already joined to Team and Volunteer) one page at a time."""
    total = ctx.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    corrects, superseded = aliased(ServiceRecord), aliased(ServiceRecord)
    rows = ctx.session.execute(
        stmt.add_columns(corrects.record_no, superseded.record_no)
        .outerjoin(corrects, corrects.id == ServiceRecord.corrects_id)
        .outerjoin(superseded, superseded.id == ServiceRecord.superseded_by_id)
        .options(joinedload(ServiceRecord.project), joinedload(ServiceRecord.team),
                 joinedload(ServiceRecord.volunteer))
        .order_by(ServiceRecord.started_at.desc(), ServiceRecord.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    items = [record_view(ctx, r, corrects=c or None, superseded_by=s or None) for r, c, s in rows]
    return items, total


def _base_select():
    return (select(ServiceRecord).join(Team, Team.id == ServiceRecord.team_id)
            .join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id))


def list_records(ctx: ServiceContext, *, team_no: str | None = None, volunteer_no: str | None = None,
                 status: str | None = None, date_from: date | None = None, date_to: date | None = None,
                 page: int = 1, per_page: int = 20) -> dict[str, Any]:
    """Records visible to the caller, newest service first, filtered by team, volunteer,
    status and the local day of service (from/to inclusive)."""
    ctx.caller.require(ENTITY, "read")
    stmt = _base_select().where(_visible(ctx))
    if team_no:
        stmt = stmt.where(Team.team_no == team_no)
    if volunteer_no:
        stmt = stmt.where(Volunteer.volunteer_no == volunteer_no)
    if status:
        stmt = stmt.where(ServiceRecord.status == status)
    if date_from:
        stmt = stmt.where(ServiceRecord.local_date >= date_from)
    if date_to:
        stmt = stmt.where(ServiceRecord.local_date <= date_to)
    items, total = _page(ctx, stmt, page, per_page)
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def volunteer_hours(ctx: ServiceContext, volunteer_no: str, *, status: str | None = None,
                    page: int = 1, per_page: int = 20) -> dict[str, Any]:
    """A volunteer's totals (from the store), hours by project, and their records, paged."""
    ctx.caller.require(ENTITY, "read")
    volunteer = lookups.get_volunteer(ctx, volunteer_no)
    by_project = ctx.session.execute(
        select(Project.project_no, Project.name, Team.team_no,
               func.sum(ServiceRecord.hours), func.count(ServiceRecord.id))
        .join(Project, Project.id == ServiceRecord.project_id).join(Team, Team.id == ServiceRecord.team_id)
        .where(ServiceRecord.volunteer_id == volunteer.id, ServiceRecord.status == EFFECTIVE)
        .group_by(Project.project_no, Project.name, Team.team_no).order_by(Project.project_no)
    ).all()
    stmt = _base_select().where(ServiceRecord.volunteer_id == volunteer.id)
    if status:
        stmt = stmt.where(ServiceRecord.status == status)
    items, total = _page(ctx, stmt, page, per_page)
    level = volunteer.star_level or 0
    return {
        "volunteer_no": volunteer.volunteer_no,
        "total_hours": f"{Decimal(volunteer.total_hours or 0):.2f}",
        # As on the volunteer (the standard's code, albp0026): "1"–"5", null below one star.
        "star_level": str(level) if level else None,
        "star_label": star_label(level),
        "effective_records": sum(row[4] for row in by_project),
        "by_project": [{"project_no": p, "project_name": n, "team_no": t,
                        "hours": f"{Decimal(h):.2f}", "records": c} for p, n, t, h, c in by_project],
        "records": {"items": items, "page": page, "per_page": per_page, "total": total},
    }


# -- writing ---------------------------------------------------------------------------------

def _expect_status(record: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The record with the status the store assigns; a different status given is refused."""
    given = record.get("status")
    if given is not None and given != status:
        raise Invalid("the status of a new service record is assigned by the store", [
            _issue("/status", "service_record.status_assigned",
                   f"时长状态由数据中心确定：此处新建的记录状态为 {status}",
                   f"the status is assigned by the store: a record made here has status {status}")])
    return {**record, "status": status}


def _new_record(ctx: ServiceContext, record: Mapping[str, Any], *, volunteer: Volunteer,
                project: Project, status: str, source: str, source_system: str | None) -> ServiceRecord:
    started = parse_local_datetime(record["started_at"], ctx.tz)
    ended = parse_local_datetime(record["ended_at"], ctx.tz)
    row = ServiceRecord(
        record_no=ctx.number("H", project.area_code),
        volunteer_id=volunteer.id, project_id=project.id, team_id=project.team_id,
        started_at=started, ended_at=ended, local_date=started.astimezone(ctx.tz).date(),
        hours=_hours(record["hours"]), source=source, status=status, kind=record.get("kind", "1"),
        recorded_at=parse_date(record.get("recorded_at")),
        applied_at=parse_local_datetime(record.get("applied_at"), ctx.tz),
        description=record.get("description"),
        place=record.get("place"), person_in_charge=record.get("person_in_charge"),
        source_system=source_system,
        # A sender's own number for the record is kept as its source id; the store numbers it.
        source_id=record.get("source_id") or record.get("record_no"),
        source_updated_at=parse_local_datetime(record.get("source_updated_at"), ctx.tz),
    )
    ctx.session.add(row)
    ctx.session.flush()
    return row


def _resolve(ctx: ServiceContext, record: Mapping[str, Any]) -> tuple[Volunteer, Project]:
    """The volunteer and the project a record names, whatever the caller's scope (which the
    caller checks next); 422 with a pointer when either is not in the store."""
    project = _find_project(ctx, record.get("project_no"))
    if project is None:
        raise _unknown("/project_no", "项目", "project", "service_record.project_known")
    volunteer = _find_volunteer(ctx, record.get("volunteer_no"))
    if volunteer is None:
        raise _unknown("/volunteer_no", "志愿者", "volunteer", "service_record.volunteer_known")
    return volunteer, project


def recording_lateness(ctx: ServiceContext, ended: datetime, recorded_on: date | None,
                       pointer: str = "/recorded_at") -> tuple[int | None, Issue | None]:
    """办法 (2020) Art. 11: “志愿服务组织应当在志愿服务活动结束后10个工作日内” record it.

    ``(late working days or None, issue or None)``: the working days (China's official
    calendar with its 调休 days, :mod:`gateway.standard.workdays`) from the activity's last
    local day to the day it was recorded, when more than RECORDING_DEADLINE_DAYS. With
    RECORDING_DEADLINE = refuse that is an issue ``service_record.recorded_late`` at
    ``pointer``; with report (the default), or when the count is an estimate (a year past
    the calendar package's), only the number, which the record keeps.

    The one place the limit is measured, for every way hours become effective: a team's
    entry (:func:`record_hours`: REST, pushes, sync pulls and uploads), an approved
    application (:func:`approve_hours`: recorded on the day of approval) and a correction
    (:func:`correct_hours`: the corrected end against the day the service was first
    recorded, :func:`first_recorded_on`). docs/rules.md, "The 2020 办法, article by article".
    """
    if recorded_on is None:
        return None, None
    limit = int(ctx.config.get("RECORDING_DEADLINE_DAYS", 10))
    # an end at exactly 00:00 belongs to the day before (as service_record.within_project)
    try:
        last_day = (ended.astimezone(ctx.tz) - timedelta(microseconds=1)).date()
    except OverflowError:  # an end at the calendar's very first instant: nothing to measure
        return None, None
    counted = workdays.working_days_between(last_day, recorded_on)
    if counted.count <= limit:
        return None, None
    if ctx.config.get("RECORDING_DEADLINE", "report") != "refuse" or counted.estimated:
        return counted.count, None
    return counted.count, _issue(
        pointer, "service_record.recorded_late",
        f"服务记录应在活动结束后{limit}个工作日内完成（本条记录晚了，为第{counted.count}个工作日）",
        f"a service record is made within {limit} working days after the activity ends; this "
        f"one was recorded on working day {counted.count}")


def first_recorded_on(ctx: ServiceContext, record: ServiceRecord) -> date | None:
    """The day the service of ``record`` was first recorded: the ``recorded_at`` of the
    first record of its correction chain (a correction is the same service recorded again,
    not a new entry); its creation day when an old record has none."""
    while record.corrects_id is not None:
        earlier = ctx.session.get(ServiceRecord, record.corrects_id)
        if earlier is None:
            break
        record = earlier
    if record.recorded_at is not None:
        return record.recorded_at
    return record.created_at.astimezone(ctx.tz).date() if record.created_at else None


def record_hours(ctx: ServiceContext, record: Mapping[str, Any], *,
                 source_system: str | None = None) -> ServiceRecord:
    """The team records service time: an effective record (status 2), counted at once.

    ``record`` is a service_record of the published schema. ``source_system`` is the system
    the record came from (default: the calling client). Raises Invalid (422) for any rule,
    OutOfScope (403) when the caller does not cover the project's team.
    """
    ctx.caller.require(ENTITY, "write")
    record = _expect_status(record, EFFECTIVE)
    ctx.validate(ENTITY, record)
    volunteer, project = _resolve(ctx, record)
    ctx.caller.require_team(project.team.team_no, project.team.area_code)
    require_team_active(project.team, "/project_no")
    volunteer = lock_volunteer(ctx, volunteer.volunteer_no)
    started = parse_local_datetime(record["started_at"], ctx.tz)
    ended = parse_local_datetime(record["ended_at"], ctx.tz)
    issues = cross_record_issues(ctx, volunteer=volunteer, project=project, started=started,
                                 ended=ended, team_no=record.get("team_no"))
    if "recorded_at" not in record:
        record = {**record, "recorded_at": ctx.now.date().isoformat()}
    late, late_issue = recording_lateness(ctx, ended, parse_date(record["recorded_at"]))
    if late_issue is not None:
        issues.append(late_issue)
    if issues:
        raise _invalid(issues)
    row = _new_record(ctx, record, volunteer=volunteer, project=project, status=EFFECTIVE,
                      source=record.get("source", SOURCE_TEAM),
                      source_system=source_system or ctx.caller.client_id)
    row.late_working_days = late
    _take_effect(ctx, row, project, +1)
    refresh_totals(ctx, volunteer)
    ctx.record_change(ENTITY, row.record_no, "create", None,
                      _history_fields(ctx, row, volunteer.volunteer_no, project.project_no,
                                      project.team.team_no),
                      source_system=row.source_system, area=project.area_code,
                      team_no=project.team.team_no)
    return row


def apply_hours(ctx: ServiceContext, record: Mapping[str, Any]) -> ServiceRecord:
    """The volunteer applies for service time (status 0 申请中, source 2 个人申请).

    The rules across records are checked now as well (early answer) and again on approval.
    """
    ctx.caller.require(ENTITY, "write")
    record = _expect_status(record, APPLYING)
    if record.get("source", SOURCE_APPLICATION) != SOURCE_APPLICATION:
        raise Invalid("an application's source is 2 (个人申请)", [
            _issue("/source", "service_record.source_assigned",
                   "个人申请的时长来源为 2（个人申请）", "an application's source is 2 (personal application)")])
    ctx.validate(ENTITY, record)
    volunteer, project = _resolve(ctx, record)
    if not ctx.caller.covers_region(volunteer.area_code):
        # Another region's person reads as unknown: a 403 would tell that the number exists.
        raise _unknown("/volunteer_no", "志愿者", "volunteer", "service_record.volunteer_known")
    volunteer = lock_volunteer(ctx, volunteer.volunteer_no)
    started = parse_local_datetime(record["started_at"], ctx.tz)
    ended = parse_local_datetime(record["ended_at"], ctx.tz)
    issues = cross_record_issues(ctx, volunteer=volunteer, project=project, started=started,
                                 ended=ended, team_no=record.get("team_no"))
    if issues:
        raise _invalid(issues)
    if "applied_at" not in record:
        record = {**record, "applied_at": ctx.now.isoformat(timespec="seconds")}
    row = _new_record(ctx, record, volunteer=volunteer, project=project, status=APPLYING,
                      source=SOURCE_APPLICATION, source_system=ctx.caller.client_id)
    ctx.record_change(ENTITY, row.record_no, "apply", None,
                      _history_fields(ctx, row, volunteer.volunteer_no, project.project_no,
                                      project.team.team_no),
                      source_system=row.source_system, area=project.area_code,
                      team_no=project.team.team_no)
    return row


def _for_change(ctx: ServiceContext, record_no: str) -> tuple[ServiceRecord, Volunteer]:
    """Load a visible record, lock its volunteer, and read the record again under the lock."""
    record = load_record(ctx, record_no)
    volunteer = lock_volunteer(ctx, record.volunteer.volunteer_no)
    return load_record(ctx, record_no), volunteer


def require_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("a reason is required", [
            _issue("/reason", "service_record.reason_required", "请填写原因（更正、删除或报错的理由）",
                   "a reason is required (why the record is corrected, deleted or disputed)")])
    return reason.strip()


def _require_team(ctx: ServiceContext, record: ServiceRecord) -> None:
    ctx.caller.require_team(record.team.team_no, record.team.area_code)


def _require_status(record: ServiceRecord, allowed: Iterable[str], doing: str) -> None:
    if record.status not in allowed:
        label = schemas.code_table("hours_status").get(record.status, record.status)
        raise Conflict(f"service record {record.record_no} has status {record.status} ({label}): "
                       f"cannot {doing}", record_status=record.status)


def approve_hours(ctx: ServiceContext, record_no: str, note: str | None = None) -> ServiceRecord:
    """The team approves an application: every rule across records is checked now, then the
    record is effective (status 2) and counted."""
    ctx.caller.require(ENTITY, "review")
    record, volunteer = _for_change(ctx, record_no)
    _require_team(ctx, record)
    _require_status(record, (APPLYING,), "approve")
    issues = cross_record_issues(ctx, volunteer=volunteer, project=record.project,
                                 started=record.started_at, ended=record.ended_at,
                                 exclude_id=record.id)
    # Art. 11 from the activity's end to today: the team records the service by approving it
    late, late_issue = recording_lateness(ctx, record.ended_at, ctx.now.date())
    if late_issue is not None:
        issues.append(late_issue)
    if issues:
        raise _invalid(issues)
    before = {"status": record.status}
    record.status = EFFECTIVE
    record.recorded_at = ctx.now.date()
    record.late_working_days = late
    record.decided_by = ctx.caller.client_id
    _take_effect(ctx, record, record.project, +1)
    refresh_totals(ctx, volunteer)
    ctx.record_change(ENTITY, record.record_no, "approve", before, {"status": record.status}, note=note,
                      area=record.project.area_code, team_no=record.team.team_no)
    return record


def reject_hours(ctx: ServiceContext, record_no: str, note: str | None = None) -> ServiceRecord:
    """The team rejects an application (status 4 已拒绝)."""
    ctx.caller.require(ENTITY, "review")
    record, _ = _for_change(ctx, record_no)
    _require_team(ctx, record)
    _require_status(record, (APPLYING,), "reject")
    before = {"status": record.status}
    record.status = REJECTED
    record.decided_by = ctx.caller.client_id
    ctx.record_change(ENTITY, record.record_no, "reject", before, {"status": record.status}, note=note,
                      area=record.project.area_code, team_no=record.team.team_no)
    return record


def correct_hours(ctx: ServiceContext, record_no: str, correction: Mapping[str, Any]) -> ServiceRecord:
    """The recording team corrects an effective record: the original is kept (status 3 已删除,
    superseded_by → the new record) and a new effective record (corrects → the original)
    carries the corrected times and hours. ``correction``: started_at, ended_at, hours,
    reason, optionally description, place, person_in_charge (else the original's). Returns
    the new record."""
    ctx.caller.require(ENTITY, "write")
    reason = require_reason(correction.get("reason"))
    original, volunteer = _for_change(ctx, record_no)
    _require_team(ctx, original)
    _require_status(original, (EFFECTIVE,), "correct")
    project, team = original.project, original.team
    wire = {"volunteer_no": volunteer.volunteer_no, "project_no": project.project_no,
            "team_no": team.team_no, "started_at": correction.get("started_at"),
            "ended_at": correction.get("ended_at"), "hours": correction.get("hours"),
            "status": EFFECTIVE, "kind": original.kind}
    if original.source:
        wire["source"] = original.source
    for key in ("description", "place", "person_in_charge"):
        value = correction.get(key) or getattr(original, key)
        if value:
            wire[key] = value
    ctx.validate(ENTITY, wire)
    started = parse_local_datetime(wire["started_at"], ctx.tz)
    ended = parse_local_datetime(wire["ended_at"], ctx.tz)
    issues = cross_record_issues(ctx, volunteer=volunteer, project=project, started=started,
                                 ended=ended, exclude_id=original.id)
    # Art. 11 for the corrected times, against the day the service was first recorded: a
    # correction neither makes a timely record late by its own date nor excuses a late one;
    # refused (under refuse) only when it makes the record later than it was
    late, late_issue = recording_lateness(ctx, ended, first_recorded_on(ctx, original), "/ended_at")
    if late_issue is not None and (original.late_working_days is None
                                   or late is None or late > original.late_working_days):
        issues.append(late_issue)
    if issues:
        raise _invalid(issues)
    _take_effect(ctx, original, project, -1)
    original.status = DELETED
    new = _new_record(ctx, {**wire, "recorded_at": ctx.now.date().isoformat()}, volunteer=volunteer,
                      project=project, status=EFFECTIVE, source=original.source or SOURCE_TEAM,
                      source_system=ctx.caller.client_id)
    new.corrects_id = original.id
    new.late_working_days = late
    original.superseded_by_id = new.id
    _take_effect(ctx, new, project, +1)
    refresh_totals(ctx, volunteer)
    ctx.record_change(ENTITY, original.record_no, "correct",
                      {"status": EFFECTIVE, "superseded_by": None},
                      {"status": DELETED, "superseded_by": new.record_no}, note=reason,
                      area=project.area_code, team_no=team.team_no)
    ctx.record_change(ENTITY, new.record_no, "create", None,
                      {**_history_fields(ctx, new, volunteer.volunteer_no, project.project_no, team.team_no),
                       "corrects": original.record_no}, note=reason,
                      area=project.area_code, team_no=team.team_no)
    return new


def delete_hours(ctx: ServiceContext, record_no: str, reason: str) -> ServiceRecord:
    """The recording team deletes a record (status 3 已删除); an effective one stops counting."""
    ctx.caller.require(ENTITY, "write")
    reason = require_reason(reason)
    record, volunteer = _for_change(ctx, record_no)
    _require_team(ctx, record)
    if record.status == DELETED:
        raise Conflict(f"service record {record.record_no} is already deleted", record_status=record.status)
    before = {"status": record.status}
    if record.status == EFFECTIVE:
        _take_effect(ctx, record, record.project, -1)
    record.status = DELETED
    refresh_totals(ctx, volunteer)
    ctx.record_change(ENTITY, record.record_no, "delete", before, {"status": DELETED}, note=reason,
                      area=record.project.area_code, team_no=record.team.team_no)
    return record


__all__ = [
    "ADMITTED_ENROLLMENT", "STAR_THRESHOLDS", "apply_hours", "approve_hours", "correct_hours",
    "can_read", "cross_record_issues", "delete_hours", "get_record", "list_records", "load_record",
    "require_reason",
    "first_recorded_on", "recording_lateness",
    "lock_volunteer", "record_hours", "record_view", "refresh_totals", "reject_hours",
    "star_label", "star_level", "volunteer_hours",
]
