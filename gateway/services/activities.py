"""Activities and recruitment: projects with posts, project search, enrolment into posts.

Projects
    A team publishes a project (:func:`publish_project`): the record is validated by the
    standard's engine, then the rules across records are checked here (the team exists and is
    approved, each post's window lies inside the project's dates, post numbers are unique).
    The store always assigns its own project number (``P`` + 6-digit area + sequence); a
    ``project_no`` the source sends is its own number for the project and is kept as
    ``data["source_project_no"]`` (and as ``source_id`` when the record has none).

Search
    :func:`search_projects` filters on the indexed region columns (a province code finds every
    county in it through the ``province`` column, not a LIKE), service category, an
    overlapping date range, status and a keyword on the name (one or two characters by the
    name's grams in the table ``project_grams``, a short keyword alone counted and paged from
    its primary key without reading a project row; longer ones on PostgreSQL by ``ILIKE`` on
    the pg_trgm index ``ix_projects_name_trgm``; gateway/store/grams.py). Recruitment is public information: any
    caller with ``project:read`` finds every project except the not-public ones
    (recruit_scope 4), which only callers acting for the organising team see.

Enrolment (LBX02, enrollment_status codes)
    1 正常申请 pending, 2 审批加入 approved, 3 邀请加入 invitation accepted, 4 邀请中 invited,
    5 免审加入 admitted without review, 6 本团体加入 team member admitted, 7 拒绝 rejected,
    8 脱离 left. Statuses 2/3/5/6 hold a place in the post. A place is taken by one atomic
    ``UPDATE posts SET admitted = admitted + 1 WHERE id = … AND admitted < headcount``: the
    database serialises concurrent takers on the post's row (PostgreSQL re-checks the
    condition after the first taker commits; SQLite has one writer at a time), so a post is
    never over-filled. Status changes are conditional updates on the status that was read, so
    two concurrent decisions on one enrolment cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Select, and_, false, func, or_, select, true, update
from sqlalchemy.sql import operators
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from gateway import timefmt
from gateway.passwords import check_password, hash_password, needs_rehash
from gateway.privacy import mask_mobile
from gateway.services.context import ServiceContext
from gateway.services.errors import Conflict, Invalid, NotFound, OutOfScope
from gateway.services.lookups import get_project
from gateway.services.registration import merge_patch
from gateway.standard.issues import Issue, pointer
from gateway.standard.regions import CITY, PROVINCE
from gateway.standard.rules.common import parse_date, parse_local_datetime
from gateway.store.grams import keyword_gram
from gateway.store.models import Enrollment, Post, Project, ProjectGram, Team, Volunteer
from gateway.store.models.common import json_safe

__all__ = [
    "ADMITTED", "PENDING", "RECRUITING", "SORTS", "ProjectSearch",
    "publish_project", "project_view", "project_summary", "read_project", "set_project_status",
    "update_project", "cancel_project", "void_project", "project_state", "post_state",
    "project_history", "apply_project_changes", "post_numbers",
    "search_projects", "search_statements",
    "apply", "invite", "approve", "reject", "accept", "decline", "withdraw",
    "get_enrollment", "enrollment_view", "project_enrollments", "volunteer_enrollments",
    "admitted_enrollment", "take_place", "free_place",
    "reported_enrollment_state", "create_reported_enrollment", "change_reported_enrollment",
    "remove_reported_enrollment",
]

# -- codes ------------------------------------------------------------------------------------

RECRUITING = "3"                         # project_status 招募中
ADMITTED = frozenset({"2", "3", "5", "6"})  # enrollment statuses that hold a place
PENDING = frozenset({"1", "4"})
APPLIED, APPROVED, ACCEPTED, INVITED, SELF_ADMITTED, TEAM_ADMITTED, REJECTED, LEFT = \
    "1", "2", "3", "4", "5", "6", "7", "8"
SCOPE_OPEN, SCOPE_TEAM, SCOPE_PASSWORD, SCOPE_CLOSED, SCOPE_BACKFILL = "1", "2", "3", "4", "5"
PASSWORD_MAX = 64

# What the caller sends that is not part of the standard record.
RECRUIT_PASSWORD = "recruit_password"


# -- small helpers ------------------------------------------------------------------------------

def _conflict(detail: str, rule: str, zh: str, en: str, ptr: str = "") -> Conflict:
    return Conflict(detail, [Issue(ptr, rule, zh, en)])


def _local(ctx: ServiceContext, value: datetime | None) -> str | None:
    return timefmt.iso(value, ctx.tz)


def _covers_team(ctx: ServiceContext, team: Team) -> bool:
    return ctx.caller.covers_team(team.team_no, team.area_code)


def _require_team(ctx: ServiceContext, team: Team) -> None:
    ctx.caller.require_team(team.team_no, team.area_code)


# -- projects -----------------------------------------------------------------------------------

def publish_project(ctx: ServiceContext, record: Mapping[str, Any],
                    recruit_password: str | None = None) -> Project:
    """Store a new project with its posts for its (approved) team; returns the flushed row.

    ``recruit_password`` is the 免审密码 of a password-scope project (recruit_scope 3); it is
    not part of the standard record, required for that scope and refused for any other, and
    only its hash is stored.
    """
    ctx.caller.require("project", "write")
    ctx.validate("project", record)  # first: a body that is not an object is a 422, not a crash
    record = dict(record)

    team = ctx.session.execute(select(Team).where(Team.team_no == record["team_no"])).scalar_one_or_none()
    if team is None:
        raise Invalid("the organising team does not exist", [Issue(
            "/team_no", "project.team_exists", "发起队伍不存在（team_no）",
            "the organising team (team_no) does not exist in the store")])
    _require_team(ctx, team)

    issues: list[Issue] = []
    if team.status != "1":
        issues.append(Issue("/team_no", "project.team_approved",
                             "发起队伍尚未通过审核，不能发布项目",
                             "the organising team is not approved (team status 1) and cannot publish"))
    scope = record.get("recruit_scope", SCOPE_OPEN)
    issues.extend(_password_issues(scope, recruit_password))
    starts_on, ends_on = parse_date(record["starts_on"]), parse_date(record["ends_on"])
    posts = list(record.get("posts") or [])
    post_nos = post_numbers(posts, issues)
    issues.extend(_post_window_issues(ctx, posts, starts_on, ends_on))
    if issues:
        raise Invalid(f"the project breaks {len(issues)} rule(s) across records", issues)

    area = record["area"]
    given_no = record.get("project_no")
    project = Project(
        project_no=ctx.number("P", area), team_id=team.id, name=record["name"],
        starts_on=starts_on, ends_on=ends_on, service_category=record["service_category"],
        status=record.get("status", RECRUITING), recruit_scope=scope,
        recruit_password_hash=hash_password(recruit_password) if scope == SCOPE_PASSWORD else None,
        description=record.get("description"),
        data=_project_data(ctx, record, given_no),
        source_system=ctx.caller.client_id, source_id=record.get("source_id") or given_no,
        source_updated_at=parse_local_datetime(record.get("source_updated_at"), ctx.tz),
        created_at=ctx.now, updated_at=ctx.now,
    )
    project.team = team
    project.set_area(area, ctx.regions)
    for post, post_no in zip(posts, post_nos):
        project.posts.append(Post(
            post_no=post_no, name=post["name"], headcount=post["headcount"], admitted=0,
            starts_at=parse_local_datetime(post.get("starts_at"), ctx.tz),
            ends_at=parse_local_datetime(post.get("ends_at"), ctx.tz),
            description=post.get("description")))
    ctx.session.add(project)
    ctx.session.flush()
    ctx.record_change("project", project.project_no, "publish", None, _history(project, record),
                      source_system=project.source_system, area=project.area_code,
                      team_no=team.team_no)
    return project


def _password_issues(scope: str, password: str | None, stored: bool = False) -> Iterable[Issue]:
    """The recruit password's rule: scope 3 needs one (4–64 characters; ``stored``: the
    project has one already, kept when none is given), any other scope takes none."""
    if scope == SCOPE_PASSWORD:
        if password is None and stored:
            return
        if not isinstance(password, str) or not 4 <= len(password) <= PASSWORD_MAX:
            yield Issue(f"/{RECRUIT_PASSWORD}", "project.recruit_password",
                         f"免审密码招募（recruit_scope 3）须设置 4–{PASSWORD_MAX} 位的招募密码",
                         f"recruit_scope 3 needs a recruit_password of 4 to {PASSWORD_MAX} characters")
    elif password is not None:
        yield Issue(f"/{RECRUIT_PASSWORD}", "project.recruit_password",
                     "只有免审密码招募（recruit_scope 3）的项目可以设置招募密码",
                     "a recruit_password is only for projects with recruit_scope 3")


def post_numbers(posts: Sequence[Mapping[str, Any]], issues: list[Issue],
                 required: bool = False, taken: Iterable[str] = ()) -> list[str]:
    """Each post's number: as given, else the smallest of "1", "2", … not given to another
    (nor in ``taken``: the numbers of a project's stored posts, for an update).

    ``required`` (a project updated by a push: posts merge by number): every post names one.
    """
    given: dict[str, int] = {}
    for i, post in enumerate(posts):
        no = post.get("post_no")
        if no is None:
            if required:
                issues.append(Issue(pointer("posts", i, "post_no"), "exchange.post_no_required",
                                    "更新项目时每个岗位须有岗位编号",
                                    "when a project is updated every post needs its post_no"))
            continue
        if no in given:
            issues.append(Issue(pointer("posts", i, "post_no"), "project.post_no_unique",
                                 f"第 {i + 1} 个岗位的编号与第 {given[no] + 1} 个重复",
                                 f"post {i + 1} repeats the post_no of post {given[no] + 1}"))
        else:
            given[no] = i
    used = set(given) | set(taken)
    numbers, counter = [], 0
    for post in posts:
        if post.get("post_no") is not None:
            numbers.append(post["post_no"])
            continue
        counter += 1
        while str(counter) in used:
            counter += 1
        numbers.append(str(counter))
    return numbers


def _post_window_issues(ctx: ServiceContext, posts: Sequence[Mapping[str, Any]],
                        starts_on: date, ends_on: date) -> Iterable[Issue]:
    """Each post's window, where given, lies inside the project's days (local time)."""
    first = datetime.combine(starts_on, time.min, ctx.tz)
    after_last = datetime.combine(ends_on + timedelta(days=1), time.min, ctx.tz)
    for i, post in enumerate(posts):
        for key in ("starts_at", "ends_at"):
            value = parse_local_datetime(post.get(key), ctx.tz)
            if value is None:
                continue
            inside = first <= value < after_last if key == "starts_at" else first < value <= after_last
            if not inside:
                yield Issue(pointer("posts", i, key), "project.post_within_dates",
                             f"第 {i + 1} 个岗位的时间应在项目日期（starts_on–ends_on）之内",
                             f"post {i + 1}: {key} must fall within the project's dates "
                             "(starts_on to ends_on)")


def _sealed_contact(ctx: ServiceContext, contact: Mapping[str, Any]) -> dict[str, Any]:
    """A project's contact as stored: the mobile number sealed and masked, never in clear."""
    contact = dict(contact)
    mobile = contact.pop("mobile", None)
    if mobile is not None:
        contact["mobile_enc"] = ctx.vault.encrypt(mobile)
        contact["mobile_masked"] = mask_mobile(mobile)
    return contact


def _project_data(ctx: ServiceContext, record: Mapping[str, Any], given_no: str | None) -> dict[str, Any]:
    data = {key: record.get(key) for key in ("service_objects", "guarantees", "address",
                                             "funding_source", "checkin_points")}
    contact = record.get("contact")
    if contact:
        data["contact"] = _sealed_contact(ctx, contact)
    data["source_project_no"] = given_no
    return json_safe(data)


def _history(project: Project, record: Mapping[str, Any]) -> dict[str, Any]:
    """What a publish sets, for the change history (the contact mobile masked by ctx)."""
    return {
        "project_no": project.project_no, "name": project.name, "team_no": record["team_no"],
        "starts_on": record["starts_on"], "ends_on": record["ends_on"],
        "service_category": project.service_category, "status": project.status,
        "recruit_scope": project.recruit_scope, "area": project.area_code,
        "recruit_password": "set" if project.recruit_password_hash else None,
        "source_project_no": project.data.get("source_project_no"),
        "contact_mobile": (record.get("contact") or {}).get("mobile"),
        "posts": [{"post_no": p.post_no, "name": p.name, "headcount": p.headcount} for p in project.posts],
    }


def read_project(ctx: ServiceContext, project_no: str) -> Project:
    """A project any ``project:read`` caller may see (not-public ones only for their team)."""
    ctx.caller.require("project", "read")
    project = get_project(ctx, project_no, in_scope=False)
    if project.recruit_scope == SCOPE_CLOSED and not _covers_team(ctx, project.team):
        raise NotFound(f"no project {project_no}")
    return project


def _team_project(ctx: ServiceContext, project_no: str, entity: str, permission: str,
                  for_update: bool = False) -> Project:
    """A project the caller acts on for its organising team (403 outside the team's scope)."""
    ctx.caller.require(entity, permission)
    project = get_project(ctx, project_no, in_scope=False, for_update=for_update)
    _require_team(ctx, project.team)
    return project


def set_project_status(ctx: ServiceContext, project_no: str, status: str,
                       note: str | None = None) -> Project:
    """Change a project's status (project_status codes) for its team; history kept."""
    project = _team_project(ctx, project_no, "project", "write", for_update=True)
    old = project.status
    if old != status:
        project.status = status
        project.updated_at = ctx.now
        ctx.record_change("project", project.project_no, "status", {"status": old},
                          {"status": status}, note=note, area=project.area_code,
                          team_no=project.team.team_no)
        ctx.session.flush()
    return project


PROJECT_VOID = "9"  # project_status 作废


def void_project(ctx: ServiceContext, project: Project, note: str | None = None,
                 source_system: str | None = None) -> bool:
    """Status 9 (作废) with a ``delete`` change (the feed's tombstone); enrolments and hours
    stay. False (nothing written) if the project is void already. The caller checked scope."""
    if project.status == PROJECT_VOID:
        return False
    before = project.status
    project.status = PROJECT_VOID
    project.updated_at = ctx.now
    ctx.record_change("project", project.project_no, "delete", {"status": before},
                      {"status": PROJECT_VOID}, note=note, source_system=source_system,
                      area=project.area_code, team_no=project.team.team_no)
    ctx.session.flush()
    return True


def cancel_project(ctx: ServiceContext, project_no: str, note: str | None = None) -> Project:
    """Withdraw a project for its team (project:write): :func:`void_project`."""
    project = _team_project(ctx, project_no, "project", "write", for_update=True)
    void_project(ctx, project, note)
    return project


# -- project updates (PATCH here, pushes through gateway.exchange.upserts) ----------------------

_PROJECT_DATA = ("service_objects", "guarantees", "address", "funding_source", "checkin_points")
_PROJECT_COLUMNS = ("name", "service_category", "status", "recruit_scope", "description")
# What a PATCH may not set: (field, rule id, zh, en). The number is the store's, the team is
# fixed (void the project and publish a new one), the status changes by its own verbs.
_PROJECT_FIXED = (
    ("project_no", "project.number_assigned", "项目编号由中心库分配，不能修改",
     "the project number is assigned by the central store and cannot change"),
    ("team_no", "project.team_fixed", "项目的发起队伍不能更改",
     "the organising team of a project cannot change; cancel it and publish a new one"),
    ("status", "project.status_by_action", "项目状态只能通过状态变更或取消改变",
     "the project status changes only by POST /projects/{project_no}/status or /cancel"),
)


def _contact_state(ctx: ServiceContext, contact: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not contact:
        return None
    out = {k: v for k, v in contact.items() if k not in ("mobile_enc", "mobile_masked")}
    if contact.get("mobile_enc"):
        out["mobile"] = ctx.vault.decrypt(contact["mobile_enc"])
    return out


def post_state(ctx: ServiceContext, post: Mapping[str, Any] | Post) -> dict[str, Any]:
    """A post as comparable values (times as aware instants)."""
    if isinstance(post, Post):
        values = {"post_no": post.post_no, "name": post.name, "headcount": post.headcount,
                  "starts_at": post.starts_at, "ends_at": post.ends_at,
                  "description": post.description}
    else:
        values = {"post_no": post.get("post_no"), "name": post.get("name"),
                  "headcount": post.get("headcount"),
                  "starts_at": parse_local_datetime(post.get("starts_at"), ctx.tz),
                  "ends_at": parse_local_datetime(post.get("ends_at"), ctx.tz),
                  "description": post.get("description")}
    return json_safe(values)


def project_state(ctx: ServiceContext, project: Project) -> dict[str, Any]:
    """The stored project as comparable values: the standard's fields (contact mobile
    decrypted: never log it) and ``posts`` by post number."""
    data = project.data or {}
    state = {name: getattr(project, name) for name in _PROJECT_COLUMNS}
    state.update({name: data.get(name) for name in _PROJECT_DATA})
    state["contact"] = _contact_state(ctx, data.get("contact"))
    state["starts_on"] = project.starts_on.isoformat()
    state["ends_on"] = project.ends_on.isoformat()
    state["area"] = project.area_code
    state["posts"] = {p.post_no: post_state(ctx, p) for p in project.posts}
    return json_safe(state)


def project_history(ctx: ServiceContext, state: Mapping[str, Any]) -> dict[str, Any]:
    """A :func:`project_state` for the change history (the contact mobile masked by ctx)."""
    out = {k: v for k, v in state.items() if k not in ("contact", "posts")}
    contact = state.get("contact") or {}
    out["contact_mobile"] = contact.get("mobile")  # masked by record_change
    out["posts"] = [{"post_no": p["post_no"], "name": p.get("name"), "headcount": p.get("headcount"),
                     "starts_at": _local(ctx, p.get("starts_at")),
                     "ends_at": _local(ctx, p.get("ends_at"))}
                    for p in state.get("posts", {}).values()]
    return out


def apply_project_changes(ctx: ServiceContext, project: Project, old: Mapping[str, Any],
                          new: Mapping[str, Any], posts_in: Sequence[Mapping[str, Any]],
                          issues: list[Issue], recruit_password: str | None = None) -> None:
    """The project's rules across records, every issue at once (422, with ``issues`` the
    caller found already), then ``new`` (a whole valid :func:`project_state`) onto the row.

    ``posts_in``: the posts written (standard records, each with its number; pointers
    ``/posts/<i>`` index them): inside the project's days, a headcount not below the places
    taken; a stored post not among them stays and must still lie inside the (new) days.
    ``recruit_password``: a new one (scope 3); the stored one is kept when none is given.
    """
    starts_on, ends_on = parse_date(new["starts_on"]), parse_date(new["ends_on"])
    assert starts_on is not None and ends_on is not None  # required: the record was validated
    issues.extend(_post_window_issues(ctx, posts_in, starts_on, ends_on))
    stored = {p.post_no: p for p in project.posts}
    written = {post.get("post_no") for post in posts_in}
    kept = [{"starts_at": _local(ctx, p.starts_at), "ends_at": _local(ctx, p.ends_at)}
            for no, p in stored.items() if no not in written]
    for issue in _post_window_issues(ctx, kept, starts_on, ends_on):
        end = issue.pointer.endswith("/ends_at")
        issues.append(Issue("/ends_on" if end else "/starts_on", issue.rule,
                            "项目日期须包含其各岗位的时间", "the project's dates must hold the "
                            "time of each of its posts (a post not sent keeps its time)"))
    for i, post in enumerate(posts_in):
        row = stored.get(post.get("post_no"))
        if row is not None and isinstance(post.get("headcount"), int) and post["headcount"] < row.admitted:
            issues.append(Issue(pointer("posts", i, "headcount"), "project.headcount_below_admitted",
                                f"招募人数不能少于已录用的 {row.admitted} 人",
                                f"the headcount cannot be below the {row.admitted} volunteers "
                                "already admitted"))
    scope = new.get("recruit_scope")
    issues.extend(_password_issues(scope, recruit_password,
                                   stored=project.recruit_password_hash is not None))
    if issues:
        raise Invalid(f"the project breaks {len(issues)} rule(s) across records", issues)
    if new["area"] != old.get("area"):
        ctx.caller.require_region(new["area"], "the project's new area")
        project.set_area(new["area"], ctx.regions)
    for name in _PROJECT_COLUMNS:
        setattr(project, name, new.get(name))
    if scope != SCOPE_PASSWORD:
        project.recruit_password_hash = None
    elif recruit_password is not None:
        project.recruit_password_hash = hash_password(recruit_password)
    project.starts_on, project.ends_on = starts_on, ends_on
    stored_data = dict(project.data or {})
    for name in _PROJECT_DATA:
        stored_data[name] = new.get(name)
    contact = new.get("contact")
    if contact != old.get("contact"):
        stored_data["contact"] = _sealed_contact(ctx, contact) if contact else contact
    project.data = json_safe(stored_data)
    for post in posts_in:
        row = stored.get(post["post_no"])
        if row is None:
            row = Post(post_no=post["post_no"], admitted=0)
            project.posts.append(row)
        row.name = post["name"]
        row.headcount = post["headcount"]
        row.starts_at = parse_local_datetime(post.get("starts_at"), ctx.tz)
        row.ends_at = parse_local_datetime(post.get("ends_at"), ctx.tz)
        row.description = post.get("description")


def _post_record(ctx: ServiceContext, state: Mapping[str, Any]) -> dict[str, Any]:
    """A :func:`post_state` as the standard's post record (local date-times)."""
    return {**state, "starts_at": _local(ctx, state.get("starts_at")),
            "ends_at": _local(ctx, state.get("ends_at"))}


def update_project(ctx: ServiceContext, project_no: str, changes: Any, note: str | None = None) -> Project:
    """Change a project for its team (RFC 7396 merge patch over its standard record; the
    whole result is validated again), history kept.

    ``posts`` merge by number: an item naming a stored ``post_no`` is a merge patch over that
    post; any other item is a new post (numbered "1", "2", … skipping taken numbers when it
    names none); posts not named stay. The number, the team and the status are fixed here
    (status: ``/status``, ``/cancel``). ``recruit_password`` beside the fields sets a new
    one (recruit_scope 3).
    """
    project = _team_project(ctx, project_no, "project", "write", for_update=True)
    if not isinstance(changes, dict):
        raise Invalid("the changes must be a JSON object",
                      [Issue("", "schema.type", "修改内容必须是 JSON 对象", "the changes must be a JSON object")])
    changes = dict(changes)
    password = changes.pop(RECRUIT_PASSWORD, None)
    current = {"project_no": project.project_no, "team_no": project.team.team_no,
               "status": project.status}
    for key, rule, zh, en in _PROJECT_FIXED:
        if changes.get(key) is not None and changes[key] != current[key]:
            raise Invalid(en, [Issue(f"/{key}", rule, zh, en)])
        changes.pop(key, None)
    for key in ("source_id", "source_updated_at"):
        changes.pop(key, None)
    old = project_state(ctx, project)
    fields = merge_patch({k: v for k, v in old.items() if k != "posts"},
                          {k: v for k, v in changes.items() if k != "posts"})
    patch_posts = changes.get("posts") or []
    posts_in = ([merge_patch(_post_record(ctx, old["posts"][item["post_no"]]), item)
                 if isinstance(item, dict) and item.get("post_no") in old["posts"] else item
                 for item in patch_posts] if isinstance(patch_posts, list) else patch_posts)
    ctx.validate("project", {**fields, **current, "posts": posts_in})
    issues: list[Issue] = []
    numbers = post_numbers(posts_in, issues, taken=old["posts"])
    posts_in = [{**post, "post_no": no} for post, no in zip(posts_in, numbers)]
    new = {**fields, "posts": {**old["posts"], **{p["post_no"]: post_state(ctx, p) for p in posts_in}}}
    if new == old and password is None:
        return project
    apply_project_changes(ctx, project, old, new, posts_in, issues, password)
    project.updated_at = ctx.now
    ctx.session.flush()
    after = project_history(ctx, new)
    if password is not None:
        after["recruit_password"] = "changed"
    ctx.record_change("project", project.project_no, "update", project_history(ctx, old), after,
                      note=note, area=project.area_code, team_no=project.team.team_no)
    return project


def _contact_view(ctx: ServiceContext, contact: Mapping[str, Any] | None, team_side: bool) -> dict | None:
    """The contact as the caller may see it: the team sees everything (mobile masked unless
    the caller has full personal-data access); others only what the team made public."""
    if not contact:
        return None
    out = {k: v for k, v in contact.items() if k not in ("mobile_enc", "mobile_masked")}
    if "mobile_enc" in contact:
        if (team_side and ctx.caller.pii_full) or contact.get("mobile_public"):
            out["mobile"] = ctx.vault.decrypt(contact["mobile_enc"])
        elif team_side:
            out["mobile"] = contact.get("mobile_masked")
    if not team_side:
        for key in ("name", "landline"):
            if not contact.get(f"{key}_public"):
                out.pop(key, None)
    return out


def project_summary(ctx: ServiceContext, project: Project) -> dict[str, Any]:
    """The fields a search result shows."""
    return {
        "project_no": project.project_no, "name": project.name, "team_no": project.team.team_no,
        "team_name": project.team.name, "starts_on": project.starts_on.isoformat(),
        "ends_on": project.ends_on.isoformat(), "service_category": project.service_category,
        "area": project.area_code, "status": project.status, "recruit_scope": project.recruit_scope,
    }


def project_view(ctx: ServiceContext, project: Project) -> dict[str, Any]:
    """A project with its posts (headcount and admitted) as the caller may see it."""
    data = project.data or {}
    team_side = _covers_team(ctx, project.team)
    view = project_summary(ctx, project)
    view.update({
        "description": project.description,
        "service_objects": data.get("service_objects"), "guarantees": data.get("guarantees"),
        "address": data.get("address"), "funding_source": data.get("funding_source"),
        "contact": _contact_view(ctx, data.get("contact"), team_side),
        "checkin_points": data.get("checkin_points"),
        "posts": [{"post_no": p.post_no, "name": p.name, "headcount": p.headcount,
                   "admitted": p.admitted, "starts_at": _local(ctx, p.starts_at),
                   "ends_at": _local(ctx, p.ends_at), "description": p.description}
                  for p in project.posts],
        "source_system": project.source_system, "source_id": project.source_id,
        "source_project_no": data.get("source_project_no"),
        "created_at": _local(ctx, project.created_at), "updated_at": _local(ctx, project.updated_at),
    })
    return {k: v for k, v in view.items() if v is not None}


# -- search --------------------------------------------------------------------------------------

SORTS = {
    "-starts_on": (Project.starts_on.desc(), Project.id.desc()),
    "starts_on": (Project.starts_on.asc(), Project.id.asc()),
    "name": (Project.name.asc(), Project.id.asc()),
    "-created_at": (Project.created_at.desc(), Project.id.desc()),
}


@dataclass
class ProjectSearch:
    """Search filters; every one optional. ``region``: 2, 4, 6 or 9+ digits."""

    region: str | None = None
    service_categories: list[str] = field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    statuses: list[str] = field(default_factory=list)
    q: str | None = None
    page: int = 1
    per_page: int = 20
    sort: str = "-starts_on"


def _region_condition(ctx: ServiceContext, region: str):
    """One equality on an indexed region column (plus a prefix below county level)."""
    if len(region) == 2:
        return Project.province == region
    if len(region) == 4:
        return Project.city == region
    if len(region) == 6:
        found = ctx.regions.lookup(region)
        if found is not None and found.level == PROVINCE:
            return Project.province == region[:2]
        if found is not None and found.level == CITY:
            return Project.city == region[:4]
        return Project.county == region
    # 9, 12 or 18 digits: drop trailing all-zero groups (18 = 6+3+3+6) so that the prefix
    # names the town / village; the county equality lets the county index do the work.
    code = region
    for width in (6, 3, 3):
        if len(code) > 6 and set(code[-width:]) == {"0"}:
            code = code[:-width]
    if len(code) == 6:
        return Project.county == code
    return and_(Project.county == code[:6], Project.area_code.startswith(code, autoescape=True))


def _visibility_condition(ctx: ServiceContext):
    """Not-public projects (recruit_scope 4) only for callers acting for their team."""
    caller = ctx.caller
    if not caller.region_prefix and not caller.team_nos:
        return None
    teams = select(Team.id)
    prefix = caller.region_prefix
    if prefix:
        # The indexed region column of the prefix's level (same as area_code LIKE 'prefix%').
        column = {2: Team.province, 4: Team.city, 6: Team.county}.get(len(prefix))
        teams = teams.where(column == prefix if column is not None
                            else Team.area_code.startswith(prefix, autoescape=True))
    if caller.team_nos:
        teams = teams.where(Team.team_no.in_(sorted(caller.team_nos)))
    return or_(Project.recruit_scope != SCOPE_CLOSED, Project.team_id.in_(teams))


def _keyword_condition(dialect: str, keyword: str):
    """A keyword in the name, case-insensitive. One or two characters: the project is among
    the gram's entries in ``project_grams`` (both stores; pg_trgm extracts no trigram under
    three characters). Longer keywords: PostgreSQL ``ILIKE`` on the trigram index
    ``ix_projects_name_trgm``; SQLite ``LIKE`` (a scan; docs/operations.md)."""
    gram = keyword_gram(keyword)
    if gram is not None:
        return Project.id.in_(select(ProjectGram.project_id).where(ProjectGram.gram == gram))
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    if dialect == "postgresql":
        return Project.name.ilike(pattern, escape="\\")  # served by ix_projects_name_trgm
    return Project.name.like(pattern, escape="\\")  # SQLite: LIKE is case-insensitive for ASCII


#: Sorts a short keyword's page is read in from project_grams' primary key alone.
GRAM_SORTS = {
    "-starts_on": (ProjectGram.starts_on.desc(), ProjectGram.project_id.desc()),
    "starts_on": (ProjectGram.starts_on.asc(), ProjectGram.project_id.asc()),
}


def _gram_only(search: ProjectSearch, conditions: list, visible) -> str | None:
    """The gram when ``search`` is a short keyword and nothing else (no other filter, no
    visibility restriction, a sort by start date): then the count and the page's ids come
    from project_grams' primary key alone. Any other combination searches projects with the
    keyword as one condition among the others (the same matches)."""
    gram = keyword_gram(search.q) if search.q else None
    if gram is None or conditions or visible is not None or search.sort not in GRAM_SORTS:
        return None
    return gram


def search_statements(ctx: ServiceContext, search: ProjectSearch,
                      dialect: str | None = None) -> tuple[Select, Select]:
    """The page query and the count query for ``search`` (also used by the benchmark)."""
    page, count, _ = _statements(ctx, search, dialect)
    return page, count


def _statements(ctx: ServiceContext, search: ProjectSearch,
                dialect: str | None = None) -> tuple[Select, Select, Select | None]:
    """:func:`search_statements` and, for a short keyword (alone: both stores, from
    project_grams; with other filters: PostgreSQL), the page's ids with the total beside
    each (one pass over the matches instead of two)."""
    dialect = dialect or ctx.session.get_bind().dialect.name
    conditions = []
    if search.region:
        conditions.append(_region_condition(ctx, search.region))
    if search.service_categories:
        conditions.append(Project.service_category == search.service_categories[0]
                          if len(search.service_categories) == 1
                          else Project.service_category.in_(search.service_categories))
    if search.statuses:
        conditions.append(Project.status == search.statuses[0] if len(search.statuses) == 1
                          else Project.status.in_(search.statuses))
    # Overlapping [from, to]: starts no later than `to` and ends no earlier than `from`.
    if search.date_to is not None:
        conditions.append(Project.starts_on <= search.date_to)
    if search.date_from is not None:
        conditions.append(Project.ends_on >= search.date_from)
    visible = _visibility_condition(ctx)
    order = SORTS[search.sort]
    gram = _gram_only(search, conditions, visible)
    if gram is not None:
        # The gram's entries, in the page's order, from the primary key (an index-only scan
        # on PostgreSQL): the count, and the page's ids with the total beside each.
        entries = ProjectGram.gram == gram
        gram_order = GRAM_SORTS[search.sort]
        offset = (search.page - 1) * search.per_page
        ids = (select(ProjectGram.project_id).where(entries).order_by(*gram_order)
               .offset(offset).limit(search.per_page))
        counted: Select | None = (
            select(ProjectGram.project_id.label("id"), func.count().over().label("total"))
            .where(entries).order_by(*gram_order).offset(offset).limit(search.per_page))
        page = select(Project).where(Project.id.in_(ids)).order_by(*order)
        return page, select(func.count()).select_from(ProjectGram).where(entries), counted
    if search.q:
        conditions.append(_keyword_condition(dialect, search.q))
    if visible is not None:
        conditions.append(visible)
    where = and_(true(), *conditions)
    # Deferred join: the page's ids first, from the index alone (an index-only scan on
    # PostgreSQL even deep into the results), then only those rows.
    ids = (select(Project.id).where(where).order_by(*order)
           .offset((search.page - 1) * search.per_page).limit(search.per_page))
    if dialect == "postgresql" and search.q and keyword_gram(search.q) is not None:
        # A short keyword: its matches first, from the gram index (a materialised CTE), then
        # sorted. Left to itself the planner walks a date index backwards filtering every
        # row until the page is full, which for a rare keyword is most of the table; this
        # way the page never costs more than the count, which reads the same matches.
        hits = (select(Project.id, Project.starts_on, Project.name, Project.created_at)
                .where(where).cte("keyword_hits").prefix_with("MATERIALIZED"))
        columns = {"starts_on": hits.c.starts_on, "name": hits.c.name,
                   "created_at": hits.c.created_at, "id": hits.c.id}
        hit_order = [columns[key.element.name].desc() if key.modifier is operators.desc_op  # type: ignore[attr-defined]
                     else columns[key.element.name].asc() for key in order]
        ids = (select(hits.c.id).order_by(*hit_order)
               .offset((search.page - 1) * search.per_page).limit(search.per_page))
        # The window counts every match before the page is cut from them.
        counted = (select(hits.c.id, func.count().over().label("total")).order_by(*hit_order)
                   .offset((search.page - 1) * search.per_page).limit(search.per_page))
    else:
        counted = None
    page = select(Project).where(Project.id.in_(ids)).order_by(*order)
    count = select(func.count()).select_from(Project).where(where)
    return page, count, counted


def search_projects(ctx: ServiceContext, search: ProjectSearch) -> tuple[list[Project], int]:
    """One page of projects matching ``search`` and the total number of matches."""
    ctx.caller.require("project", "read")
    page, count, counted = _statements(ctx, search)
    if counted is not None:
        found = ctx.session.execute(counted).all()
        if not found:  # no match, or a page past the last one: the total alone
            return [], ctx.session.execute(count).scalar_one()
        page = (select(Project).where(Project.id.in_([row.id for row in found]))
                .order_by(*SORTS[search.sort]))
        total = found[0].total
    else:
        total = ctx.session.execute(count).scalar_one()
        if total <= (search.page - 1) * search.per_page:
            return [], total
    rows = ctx.session.execute(page.options(selectinload(Project.team))).scalars().all()
    return list(rows), total


# -- places in a post -----------------------------------------------------------------------------

def take_place(session: Session, post_id: int) -> bool:
    """Take one place in the post if one is free; atomic under concurrency."""
    result = session.execute(update(Post).where(Post.id == post_id, Post.admitted < Post.headcount)
                             .values(admitted=Post.admitted + 1)
                             .execution_options(synchronize_session=False))
    return result.rowcount == 1


def free_place(session: Session, post_id: int) -> None:
    """Give a place back (an admitted volunteer left)."""
    session.execute(update(Post).where(Post.id == post_id, Post.admitted > 0)
                    .values(admitted=Post.admitted - 1)
                    .execution_options(synchronize_session=False))


def take_place_or_conflict(ctx: ServiceContext, post: Post) -> None:
    """Take a place in the post, or 409 ``enrollment.post_full``."""
    if not take_place(ctx.session, post.id):
        raise _conflict(f"post {post.post_no} is full", "enrollment.post_full",
                        f"岗位已满（招募 {post.headcount} 人）",
                        f"the post is full ({post.headcount} places)", "/post_no")
    ctx.session.expire(post, ["admitted"])


def admitted_enrollment(session: Session, volunteer_id: int, project_id: int) -> Enrollment | None:
    """The volunteer's admitted enrolment (status 2/3/5/6) in any post of the project."""
    return session.execute(
        select(Enrollment).where(Enrollment.volunteer_id == volunteer_id,
                                 Enrollment.project_id == project_id,
                                 Enrollment.status.in_(sorted(ADMITTED)))
        .order_by(Enrollment.id).limit(1)
    ).scalar_one_or_none()


# -- enrolment -------------------------------------------------------------------------------------

def _is_member(session: Session, team_id: int, volunteer_id: int) -> bool:
    """Whether the volunteer is a current member of the team (registration's rule)."""
    from gateway.services.registration import is_member  # the registration service owns membership

    return is_member(session, team_id, volunteer_id)


def _post(ctx: ServiceContext, project: Project, post_no: str) -> Post:
    post = ctx.session.execute(select(Post).where(Post.project_id == project.id,
                                                  Post.post_no == post_no)).scalar_one_or_none()
    if post is None:
        raise NotFound(f"project {project.project_no} has no post {post_no}")
    return post


def _volunteer(ctx: ServiceContext, volunteer_no: str) -> Volunteer:
    volunteer = ctx.session.execute(select(Volunteer).where(Volunteer.volunteer_no == volunteer_no)
                                    ).scalar_one_or_none()
    if volunteer is None:
        raise NotFound(f"no volunteer {volunteer_no}")
    return volunteer


def _require_recruiting(project: Project) -> None:
    if project.status != RECRUITING:
        raise _conflict(f"project {project.project_no} is not recruiting (status {project.status})",
                        "enrollment.not_recruiting", "项目不在招募中（项目状态须为 3 招募中）",
                        "the project is not recruiting (project status must be 3)")


def _duplicate_enrollment(existing: str | None) -> Conflict:
    """The one answer to a second enrolment of a volunteer for a post (409)."""
    detail = (f"the volunteer already has enrolment {existing} for this post" if existing
              else "the volunteer already has an enrolment for this post")
    extra = {"enrollment_no": existing} if existing else {}
    return Conflict(detail, [Issue("/volunteer_no", "enrollment.duplicate", "该志愿者已报名（或受邀）此岗位",
                                   "the volunteer already has an enrolment for this post")], **extra)


def refuse_duplicate_enrollment(ctx: ServiceContext, volunteer: Volunteer, post: Post) -> None:
    """409 ``enrollment.duplicate`` if the volunteer has an enrolment for the post already."""
    existing = ctx.session.execute(select(Enrollment.enrollment_no).where(
        Enrollment.volunteer_id == volunteer.id, Enrollment.post_id == post.id)).scalar_one_or_none()
    if existing is not None:
        raise _duplicate_enrollment(existing)


def _insert_enrollment(ctx: ServiceContext, project: Project, post: Post, volunteer: Volunteer,
                       status: str, invited: bool) -> Enrollment:
    decided = status in ADMITTED
    enrollment = Enrollment(
        enrollment_no=ctx.number("E", project.area_code), volunteer_id=volunteer.id,
        project_id=project.id, post_id=post.id, status=status, invited=invited,
        applied_at=ctx.now, decided_at=ctx.now if decided else None,
        decided_by=ctx.caller.client_id if decided else None,
        source_system=ctx.caller.client_id, created_at=ctx.now, updated_at=ctx.now)
    enrollment.volunteer, enrollment.project, enrollment.post = volunteer, project, post
    ctx.session.add(enrollment)
    try:
        ctx.session.flush()
    except IntegrityError:
        # A concurrent request enrolled the same volunteer first (unique volunteer + post).
        raise _duplicate_enrollment(None) from None
    ctx.record_change("enrollment", enrollment.enrollment_no, "invite" if invited else "apply", None,
                      {"volunteer_no": volunteer.volunteer_no, "project_no": project.project_no,
                       "post_no": post.post_no, "status": status},
                      area=project.area_code, team_no=project.team.team_no)
    return enrollment


def apply(ctx: ServiceContext, project_no: str, post_no: str, volunteer_no: str,
          password: str | None = None) -> Enrollment:
    """A volunteer applies to a post; the recruitment scope decides what happens.

    1 open → pending (1); 2 team-only → members only, admitted at once (6); 3 password → the
    right password admits at once (5); 4 not public and 5 backfill → refused. The caller
    acts for the volunteer (covers their region) or for the organising team.
    """
    ctx.caller.require("enrollment", "write")
    project = get_project(ctx, project_no, in_scope=False)
    team_side = _covers_team(ctx, project.team)
    volunteer = _volunteer(ctx, volunteer_no)
    if not team_side and not _acts_for_volunteer(ctx, volunteer):
        # Neither the volunteer's system nor the team's: the volunteer reads as unknown.
        raise NotFound(f"no volunteer {volunteer_no}")
    if project.recruit_scope == SCOPE_CLOSED:
        raise _conflict(f"project {project_no} does not recruit publicly", "enrollment.closed",
                        "该项目不公开招募，只能由队伍邀请", "the project does not take applications "
                        "(recruit_scope 4): the team invites volunteers")
    if project.recruit_scope == SCOPE_BACKFILL:
        raise _conflict(f"project {project_no} is a backfill project", "enrollment.backfill_only",
                        "补录项目不接受报名，由队伍直接补录时长",
                        "a backfill project (recruit_scope 5) takes no applications; the team records the hours")
    _require_recruiting(project)
    post = _post(ctx, project, post_no)
    refuse_duplicate_enrollment(ctx, volunteer, post)

    status = APPLIED
    if project.recruit_scope == SCOPE_TEAM:
        if not _is_member(ctx.session, project.team_id, volunteer.id):
            raise Invalid("only members of the organising team may apply", [Issue(
                "/volunteer_no", "enrollment.team_only", "该项目只招募发起队伍的成员",
                "the project recruits members of the organising team only (recruit_scope 2)")])
        status = TEAM_ADMITTED
    elif project.recruit_scope == SCOPE_PASSWORD:
        if not (isinstance(password, str) and project.recruit_password_hash
                and check_password(project.recruit_password_hash, password)):
            raise Invalid("wrong or missing recruitment password", [Issue(
                "/password", "enrollment.password", "招募密码不正确",
                "the recruitment password is missing or wrong (recruit_scope 3)")])
        if needs_rehash(project.recruit_password_hash):
            project.recruit_password_hash = hash_password(password)  # older scheme: argon2id now
        status = SELF_ADMITTED
    if status in ADMITTED:
        take_place_or_conflict(ctx, post)
    return _insert_enrollment(ctx, project, post, volunteer, status, invited=False)


def invite(ctx: ServiceContext, project_no: str, post_no: str, volunteer_no: str) -> Enrollment:
    """The organising team invites a volunteer to a post (status 4 邀请中)."""
    project = _team_project(ctx, project_no, "enrollment", "write")
    _require_recruiting(project)
    post = _post(ctx, project, post_no)
    volunteer = _volunteer(ctx, volunteer_no)
    refuse_duplicate_enrollment(ctx, volunteer, post)
    return _insert_enrollment(ctx, project, post, volunteer, INVITED, invited=True)


def get_enrollment(ctx: ServiceContext, enrollment_no: str, permission: str = "read") -> Enrollment:
    """An enrolment seen from the volunteer's side or the team's; otherwise not found."""
    ctx.caller.require("enrollment", permission)
    enrollment = ctx.session.execute(
        select(Enrollment).where(Enrollment.enrollment_no == enrollment_no)
        .options(selectinload(Enrollment.volunteer), selectinload(Enrollment.post),
                 selectinload(Enrollment.project).selectinload(Project.team))).scalar_one_or_none()
    if enrollment is None or not (_covers_team(ctx, enrollment.project.team)
                                  or _acts_for_volunteer(ctx, enrollment.volunteer)):
        raise NotFound(f"no enrollment {enrollment_no}")
    return enrollment


def _change_status(ctx: ServiceContext, enrollment: Enrollment, allowed: frozenset[str] | set[str],
                   new: str, action: str, note: str | None) -> Enrollment:
    """Move the enrolment from its current status (one of ``allowed``) to ``new``, taking or
    freeing a place as the statuses say; a concurrent change to it is a conflict."""
    old = enrollment.status
    if old not in allowed:
        raise _conflict(f"enrollment {enrollment.enrollment_no} is in status {old}",
                        "enrollment.status", f"报名当前状态（{old}）不允许此操作",
                        f"the enrolment's status ({old}) does not allow '{action}'", "/status")
    changed = ctx.session.execute(
        update(Enrollment).where(Enrollment.id == enrollment.id, Enrollment.status == old)
        .values(status=new, decided_at=ctx.now, decided_by=ctx.caller.client_id, updated_at=ctx.now)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise _conflict(f"enrollment {enrollment.enrollment_no} changed meanwhile", "enrollment.status",
                        "报名状态已被他人修改，请刷新后重试",
                        "the enrolment changed meanwhile; reload and retry", "/status")
    if new in ADMITTED and old not in ADMITTED:
        take_place_or_conflict(ctx, enrollment.post)
    elif old in ADMITTED and new not in ADMITTED:
        free_place(ctx.session, enrollment.post_id)
        ctx.session.expire(enrollment.post, ["admitted"])
    ctx.session.expire(enrollment, ["status", "decided_at", "decided_by", "updated_at"])
    ctx.record_change("enrollment", enrollment.enrollment_no, action, {"status": old},
                      {"status": new}, note=note, area=enrollment.project.area_code,
                      team_no=enrollment.project.team.team_no)
    return enrollment


def _team_decision(ctx: ServiceContext, enrollment_no: str) -> Enrollment:
    enrollment = get_enrollment(ctx, enrollment_no, "write")
    _require_team(ctx, enrollment.project.team)
    return enrollment


def _acts_for_volunteer(ctx: ServiceContext, volunteer: Volunteer) -> bool:
    """Whether the caller is the volunteer's own system: their region covered, and not a
    client limited to certain teams (a team's system answers for the team, not for people)."""
    return not ctx.caller.team_nos and ctx.caller.covers_region(volunteer.area_code)


def _volunteer_decision(ctx: ServiceContext, enrollment_no: str) -> Enrollment:
    enrollment = get_enrollment(ctx, enrollment_no, "write")
    if not _acts_for_volunteer(ctx, enrollment.volunteer):
        raise OutOfScope(f"only the volunteer's own system acts for them on enrollment {enrollment_no}")
    return enrollment


def approve(ctx: ServiceContext, enrollment_no: str, note: str | None = None) -> Enrollment:
    """The team approves a pending application (1 → 2), taking a place."""
    return _change_status(ctx, _team_decision(ctx, enrollment_no), {APPLIED}, APPROVED, "approve", note)


def reject(ctx: ServiceContext, enrollment_no: str, note: str | None = None) -> Enrollment:
    """The team rejects a pending application or withdraws an open invitation (1/4 → 7)."""
    return _change_status(ctx, _team_decision(ctx, enrollment_no), PENDING, REJECTED, "reject", note)


def accept(ctx: ServiceContext, enrollment_no: str, note: str | None = None) -> Enrollment:
    """The volunteer accepts an invitation (4 → 3), taking a place while the project recruits."""
    enrollment = _volunteer_decision(ctx, enrollment_no)
    _require_recruiting(enrollment.project)
    return _change_status(ctx, enrollment, {INVITED}, ACCEPTED, "accept", note)


def decline(ctx: ServiceContext, enrollment_no: str, note: str | None = None) -> Enrollment:
    """The volunteer declines an invitation (4 → 7)."""
    return _change_status(ctx, _volunteer_decision(ctx, enrollment_no), {INVITED}, REJECTED, "decline", note)


def withdraw(ctx: ServiceContext, enrollment_no: str, note: str | None = None) -> Enrollment:
    """The volunteer withdraws an application or leaves the post (→ 8), freeing a held place."""
    return _change_status(ctx, _volunteer_decision(ctx, enrollment_no), {APPLIED} | ADMITTED, LEFT,
                          "withdraw", note)


# -- enrolments a local system reports (the exchange: pushed or pulled) -----------------------------

def reported_enrollment_state(enrollment: Enrollment) -> dict[str, Any]:
    """What a reported enrolment says, as comparable values (the exchange compares a record
    with it before deciding, by its conflict policy, whether to write)."""
    return json_safe({"status": enrollment.status, "invited": enrollment.invited,
                      "applied_at": enrollment.applied_at, "decided_at": enrollment.decided_at})


def create_reported_enrollment(ctx: ServiceContext, volunteer: Volunteer, project: Project,
                               post: Post, *, status: str, invited: bool, applied_at: datetime,
                               decided_at: datetime | None, source_system: str,
                               source_id: str | None, source_updated_at: datetime | None,
                               note: str | None = None) -> Enrollment:
    """An enrolment as a local system reports it, in ``status``: the system decided it, so
    no recruitment rule applies, but a volunteer enrols in a post once and the places follow
    the status (409 ``enrollment.duplicate`` / ``enrollment.post_full``). The caller checked
    the permission and that it acts for the volunteer or the team."""
    refuse_duplicate_enrollment(ctx, volunteer, post)
    if status in ADMITTED:
        take_place_or_conflict(ctx, post)
    row = Enrollment(enrollment_no=ctx.number("E", project.area_code), volunteer_id=volunteer.id,
                     project_id=project.id, post_id=post.id, status=status, invited=invited,
                     applied_at=applied_at, decided_at=decided_at,
                     decided_by=source_system if decided_at else None,
                     source_system=source_system, source_id=source_id,
                     source_updated_at=source_updated_at, created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.record_change("enrollment", row.enrollment_no, "create", None,
                      {"volunteer_no": volunteer.volunteer_no, "project_no": project.project_no,
                       "post_no": post.post_no, "status": status},
                      note=note, source_system=source_system,
                      area=project.area_code, team_no=project.team.team_no)
    return row


def change_reported_enrollment(ctx: ServiceContext, enrollment: Enrollment, post: Post,
                               state: Mapping[str, Any], *, source_system: str,
                               note: str | None = None) -> None:
    """Store a reported enrolment's new ``state`` (status, invited, applied_at, decided_at)
    over the stored one: a place is taken or given back as the status moves into or out of
    the admitted ones (409 ``enrollment.post_full``), and the history keeps the status."""
    status = state["status"]
    if status in ADMITTED and enrollment.status not in ADMITTED:
        take_place_or_conflict(ctx, post)
    elif enrollment.status in ADMITTED and status not in ADMITTED:
        free_place(ctx.session, post.id)
    old_status = enrollment.status
    enrollment.status, enrollment.invited = status, state["invited"]
    enrollment.applied_at, enrollment.decided_at = state["applied_at"], state["decided_at"]
    enrollment.updated_at = ctx.now
    project = enrollment.project
    ctx.record_change("enrollment", enrollment.enrollment_no, "update", {"status": old_status},
                      {"status": status}, note=note, source_system=source_system,
                      area=project.area_code, team_no=project.team.team_no)


def remove_reported_enrollment(ctx: ServiceContext, enrollment: Enrollment, *,
                               source_system: str, note: str | None = None) -> str:
    """Remove an enrolment a local system deleted (its place freed); its number."""
    if enrollment.status in ADMITTED:
        free_place(ctx.session, enrollment.post_id)
    number, project = enrollment.enrollment_no, enrollment.project
    ctx.session.delete(enrollment)
    ctx.record_change("enrollment", number, "delete", {"status": enrollment.status}, None,
                      note=note, source_system=source_system,
                      area=project.area_code, team_no=project.team.team_no)
    return number


def enrollment_view(ctx: ServiceContext, enrollment: Enrollment) -> dict[str, Any]:
    view = {
        "enrollment_no": enrollment.enrollment_no,
        "volunteer_no": enrollment.volunteer.volunteer_no, "volunteer_name": enrollment.volunteer.name,
        "project_no": enrollment.project.project_no, "project_name": enrollment.project.name,
        "post_no": enrollment.post.post_no, "status": enrollment.status,
        "invited": enrollment.invited, "applied_at": _local(ctx, enrollment.applied_at),
        "decided_at": _local(ctx, enrollment.decided_at), "decided_by": enrollment.decided_by,
    }
    return {k: v for k, v in view.items() if v is not None}


def _enrollment_page(ctx: ServiceContext, where: list, page: int, per_page: int
                     ) -> tuple[list[Enrollment], int]:
    total = ctx.session.execute(select(func.count()).select_from(Enrollment).where(*where)).scalar_one()
    rows = ctx.session.execute(
        select(Enrollment).where(*where).order_by(Enrollment.id)
        .offset((page - 1) * per_page).limit(per_page)
        .options(selectinload(Enrollment.volunteer), selectinload(Enrollment.post),
                 selectinload(Enrollment.project))).scalars().all()
    return list(rows), total


def project_enrollments(ctx: ServiceContext, project_no: str, statuses: Sequence[str] = (),
                        post_no: str | None = None, page: int = 1, per_page: int = 20
                        ) -> tuple[list[Enrollment], int]:
    """The team's view: enrolments of its project, optionally by status and post."""
    project = _team_project(ctx, project_no, "enrollment", "read")
    where = [Enrollment.project_id == project.id]
    if statuses:
        where.append(Enrollment.status.in_(list(statuses)))
    if post_no is not None:
        post = ctx.session.execute(select(Post.id).where(Post.project_id == project.id,
                                                         Post.post_no == post_no)).scalar_one_or_none()
        where.append(Enrollment.post_id == post if post is not None else false())
    return _enrollment_page(ctx, where, page, per_page)


def volunteer_enrollments(ctx: ServiceContext, volunteer_no: str, statuses: Sequence[str] = (),
                          page: int = 1, per_page: int = 20) -> tuple[list[Enrollment], int]:
    """The volunteer's own view (their system: the caller covers their region)."""
    ctx.caller.require("enrollment", "read")
    volunteer = _volunteer(ctx, volunteer_no)
    if not _acts_for_volunteer(ctx, volunteer):
        raise NotFound(f"no volunteer {volunteer_no}")
    where = [Enrollment.volunteer_id == volunteer.id]
    if statuses:
        where.append(Enrollment.status.in_(list(statuses)))
    return _enrollment_page(ctx, where, page, per_page)
