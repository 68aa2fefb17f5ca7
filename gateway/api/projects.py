"""Projects, posts and enrolments over HTTP: publish, search, recruit, decide.

The service layer (:mod:`gateway.services.activities`) does the work; this module reads the
request, calls it, commits on success and describes everything for the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

import schemas
from gateway.api.common import Blueprint, BEARER, read_json_body, DecisionSchema, PageArgs, PageMeta, page_of, service_context, VersionArgs, page_in_version, record_in_version, schema_version_field, versioned
from gateway.exchange import national
from gateway.services import activities

blp = Blueprint("projects", __name__, url_prefix="/api/v1",
                description="Projects with posts, project search, and enrolment into posts.")


# -- arguments ----------------------------------------------------------------------------------

def _code_validator(table: str):
    """Check a value against a published code table (read on first use, not at import)."""

    def check(value: str) -> None:
        if value not in schemas.code_table(table):
            raise ValidationError(f"not a code of table {table}")

    return check


class CodeList(fields.List):
    """A repeatable query argument whose values may also be comma-separated codes."""

    def __init__(self, table: str, **kwargs: Any):
        super().__init__(fields.String(), **kwargs)
        self.table = table

    def _deserialize(self, value, attr, data, **kwargs):
        items = super()._deserialize(value, attr, data, **kwargs)
        codes = [part.strip() for item in items for part in item.split(",") if part.strip()]
        known = schemas.code_table(self.table)
        unknown = sorted({c for c in codes if c not in known})
        if unknown:
            raise ValidationError(f"unknown code(s) {', '.join(unknown)} of table {self.table}")
        return list(dict.fromkeys(codes))


REGION_PATTERN = r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3}([0-9]{6})?)?)?)?)?$"


class ProjectSearchArgs(PageArgs):
    region = fields.String(validate=validate.Regexp(REGION_PATTERN), metadata={
        "description": "Region code: 2 digits a province, 4 a city, 6 a county (or a province / "
                       "city in its 6-digit form, e.g. 440000), 9/12/18 digits a town or below. "
                       "A code finds every project in the regions below it."})
    service_category = CodeList("service_category", metadata={
        "description": "Service category code(s) (service_category); repeat or comma-separate"})
    date_from = fields.Date(data_key="from", metadata={
        "description": "Projects still running on or after this day (ends_on >= from)"})
    date_to = fields.Date(data_key="to", metadata={
        "description": "Projects starting on or before this day (starts_on <= to)"})
    status = CodeList("project_status", metadata={
        "description": "Project status code(s) (project_status); repeat or comma-separate"})
    q = fields.String(validate=validate.Length(min=1, max=50), metadata={
        "description": "Keyword in the project name (case-insensitive substring)"})
    sort = fields.String(load_default="-starts_on", validate=validate.OneOf(list(activities.SORTS)),
                         metadata={"description": "Order; ties broken by creation order"})
    schema_version = schema_version_field()

    @validates_schema
    def _range(self, data, **_kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("must not be before 'from'", "to")


class ProjectStatusArgs(Schema):
    status = fields.String(required=True, validate=_code_validator("project_status"),
                           metadata={"description": "New project status (project_status)"})
    note = fields.String(load_default=None, validate=validate.Length(max=500))


class EnrollmentApplyArgs(Schema):
    volunteer_no = fields.String(required=True, validate=validate.Length(min=1, max=18))
    password = fields.String(load_default=None, load_only=True, validate=validate.Length(max=128),
                             metadata={"description": "Recruitment password (recruit_scope 3)"})


class EnrollmentInviteArgs(Schema):
    volunteer_no = fields.String(required=True, validate=validate.Length(min=1, max=18))
    post_no = fields.String(required=True, validate=validate.Length(min=1, max=32))


class ProjectEnrollmentArgs(PageArgs):
    status = CodeList("enrollment_status", metadata={
        "description": "Enrolment status code(s); repeat or comma-separate"})
    post_no = fields.String(validate=validate.Length(min=1, max=32))
    schema_version = schema_version_field()


class VolunteerEnrollmentListArgs(PageArgs):
    status = CodeList("enrollment_status", metadata={
        "description": "Enrolment status code(s); repeat or comma-separate"})
    schema_version = schema_version_field()


# -- answers --------------------------------------------------------------------------------------

class ProjectPostSchema(Schema):
    post_no = fields.String()
    name = fields.String()
    headcount = fields.Integer()
    admitted = fields.Integer(metadata={"description": "places taken (enrolments 2/3/5/6)"})
    starts_at = fields.String(allow_none=True, metadata={"description": "local date-time with offset"})
    ends_at = fields.String(allow_none=True)
    description = fields.String(allow_none=True)


class ProjectSummarySchema(Schema):
    project_no = fields.String()
    name = fields.String()
    team_no = fields.String()
    team_name = fields.String()
    starts_on = fields.String()
    ends_on = fields.String()
    service_category = fields.String()
    area = fields.String()
    status = fields.String()
    recruit_scope = fields.String()


class ProjectViewSchema(ProjectSummarySchema):
    description = fields.String()
    service_objects = fields.List(fields.String())
    guarantees = fields.List(fields.String())
    address = fields.String()
    funding_source = fields.String()
    contact = fields.Dict(metadata={"description": "what the caller may see: the team sees all "
                                                   "(mobile masked), others only the public items"})
    checkin_points = fields.List(fields.Dict())
    posts = fields.List(fields.Nested(ProjectPostSchema))
    source_system = fields.String()
    source_id = fields.String()
    source_project_no = fields.String(metadata={"description": "the project_no the source sent"})
    created_at = fields.String()
    updated_at = fields.String()
    national = fields.Dict(metadata={"description": national.NATIONAL_FIELD})


class ProjectPageSchema(PageMeta):
    items = fields.List(fields.Nested(ProjectSummarySchema))


class EnrollmentSchema(Schema):
    enrollment_no = fields.String()
    volunteer_no = fields.String()
    volunteer_name = fields.String()
    project_no = fields.String()
    project_name = fields.String()
    post_no = fields.String()
    status = fields.String(metadata={"description": "enrollment_status code"})
    invited = fields.Boolean()
    applied_at = fields.String()
    decided_at = fields.String()
    decided_by = fields.String()
    national = fields.Dict(metadata={"description": national.NATIONAL_FIELD})


class EnrollmentPageSchema(PageMeta):
    items = fields.List(fields.Nested(EnrollmentSchema))


PROJECT_BODY = {
    "required": True,
    "description": "A project record of the standard (GET /api/v1/schemas/1/project) plus, for "
                   "recruit_scope 3, `recruit_password` (stored hashed, never returned).",
    "content": {"application/json": {"schema": {
        "type": "object",
        "properties": {"recruit_password": {"type": "string", "minLength": 4, "maxLength": 64}},
        "additionalProperties": True,
    }}},
}


# -- projects --------------------------------------------------------------------------------------

@blp.route("/projects")
class Projects(MethodView):
    @blp.doc(security=BEARER, requestBody=PROJECT_BODY)
    @blp.response(201, ProjectViewSchema)
    @blp.alt_response(403, description="The team is outside the caller's scope (problem+json)")
    @blp.alt_response(422, description="The record or a rule across records is broken (problem+json)")
    def post(self):
        """Publish a project with its posts for an approved team (project:write)."""
        ctx = service_context()
        record = read_json_body("send a project as a JSON object")
        password = record.pop(activities.RECRUIT_PASSWORD, None) if isinstance(record, dict) else None
        project = activities.publish_project(ctx, record, password)
        view = activities.project_view(ctx, project)
        ctx.session.commit()
        return view

    @blp.doc(security=BEARER, **versioned(ProjectPageSchema, "project", page=True))
    @blp.arguments(ProjectSearchArgs, location="query")
    @blp.response(200, ProjectPageSchema)
    def get(self, args):
        """Search projects by region, category, dates, status and keyword (project:read)."""
        ctx = service_context()
        search = activities.ProjectSearch(
            region=args.get("region"), service_categories=args.get("service_category") or [],
            date_from=args.get("date_from"), date_to=args.get("date_to"),
            statuses=args.get("status") or [], q=(args.get("q") or "").strip() or None,
            page=args["page"], per_page=args["per_page"], sort=args["sort"])
        rows, total = activities.search_projects(ctx, search)
        if args["schema_version"] != "1":
            return page_in_version(ctx, "project", [p.project_no for p in rows], search.page,
                                   search.per_page, total, args["schema_version"])
        return page_of((activities.project_summary(ctx, p) for p in rows), search.page,
                       search.per_page, total)


@blp.route("/projects/<string:project_no>")
class ProjectItem(MethodView):
    @blp.doc(security=BEARER, **versioned(ProjectViewSchema, "project"))
    @blp.arguments(VersionArgs, location="query", as_kwargs=True)
    @blp.response(200, ProjectViewSchema)
    @blp.alt_response(409, description="schema_version=2 and the record fails v2's published "
                                       "schema or rules: `/problems/not-renderable` (problem+json)")
    def get(self, project_no: str, schema_version: str = "1"):
        """One project with its posts, headcounts and places taken (project:read)."""
        ctx = service_context()
        project = activities.read_project(ctx, project_no)
        if schema_version != "1":
            return record_in_version(ctx, "project", project_no, schema_version)
        view = activities.project_view(ctx, project)
        return national.with_national(ctx, "project", project_no, view)


    @blp.doc(security=BEARER, requestBody={
        "required": True,
        "description": "An RFC 7396 JSON merge patch over the project's standard record (null "
                       "removes a field); the whole result is validated again. `posts` merge "
                       "by `post_no`: an item naming a stored post patches it, any other item "
                       "is a new post (numbered when it names none); posts not named stay. "
                       "`project_no`, `team_no` and `status` are fixed here (status: /status, "
                       "/cancel); `recruit_password` beside the fields sets a new one.",
        "content": {"application/merge-patch+json": {"schema": {"type": "object"}},
                    "application/json": {"schema": {"type": "object"}}}})
    @blp.response(200, ProjectViewSchema)
    @blp.alt_response(403, description="The team is outside the caller's scope (problem+json)")
    @blp.alt_response(404, description="No such project (problem+json)")
    @blp.alt_response(422, description="The patched record or a rule across records is broken: "
                                       "`errors` with pointer and rule id, nothing changed (problem+json)")
    def patch(self, project_no: str):
        """Change a project for its team (merge patch, project:write); history kept."""
        ctx = service_context()
        project = activities.update_project(ctx, project_no,
                                            read_json_body("send a merge patch as a JSON object"))
        view = activities.project_view(ctx, project)
        ctx.session.commit()
        return view


@blp.route("/projects/<string:project_no>/status")
class ProjectStatus(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(ProjectStatusArgs)
    @blp.response(200, ProjectViewSchema)
    def post(self, args, project_no: str):
        """Change the project's status (project:write for its team); history kept."""
        ctx = service_context()
        project = activities.set_project_status(ctx, project_no, args["status"], args["note"])
        view = activities.project_view(ctx, project)
        ctx.session.commit()
        return view


@blp.route("/projects/<string:project_no>/cancel")
class ProjectCancel(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(DecisionSchema)
    @blp.response(200, ProjectViewSchema)
    def post(self, args, project_no: str):
        """Withdraw the project (status 9 作废) for its team; enrolments and hours stay, the
        change feed carries a tombstone. Cancelling a void project changes nothing."""
        ctx = service_context()
        project = activities.cancel_project(ctx, project_no, args["note"])
        view = activities.project_view(ctx, project)
        ctx.session.commit()
        return view


# -- enrolment -------------------------------------------------------------------------------------

def _enrollment_answer(ctx, enrollment) -> dict:
    view = activities.enrollment_view(ctx, enrollment)
    ctx.session.commit()
    return view


@blp.route("/projects/<string:project_no>/posts/<string:post_no>/enrollments")
class PostEnrollments(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(EnrollmentApplyArgs)
    @blp.response(201, EnrollmentSchema)
    @blp.alt_response(409, description="Not recruiting, closed, already enrolled or the post is full")
    @blp.alt_response(422, description="Team-only project or wrong password (problem+json)")
    def post(self, args, project_no: str, post_no: str):
        """Apply to a post for a volunteer (enrollment:write, the volunteer's system or the team)."""
        ctx = service_context()
        enrollment = activities.apply(ctx, project_no, post_no, args["volunteer_no"], args["password"])
        return _enrollment_answer(ctx, enrollment)


@blp.route("/projects/<string:project_no>/invitations")
class Invitations(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(EnrollmentInviteArgs)
    @blp.response(201, EnrollmentSchema)
    def post(self, args, project_no: str):
        """The organising team invites a volunteer to a post (status 4)."""
        ctx = service_context()
        enrollment = activities.invite(ctx, project_no, args["post_no"], args["volunteer_no"])
        return _enrollment_answer(ctx, enrollment)


@blp.route("/projects/<string:project_no>/enrollments")
class ProjectEnrollments(MethodView):
    @blp.doc(security=BEARER, **versioned(EnrollmentPageSchema, "enrollment", page=True))
    @blp.arguments(ProjectEnrollmentArgs, location="query")
    @blp.response(200, EnrollmentPageSchema)
    def get(self, args, project_no: str):
        """The team's view of its project's enrolments (enrollment:read for the team)."""
        ctx = service_context()
        rows, total = activities.project_enrollments(ctx, project_no, args.get("status") or [],
                                                     args.get("post_no"), args["page"], args["per_page"])
        if args["schema_version"] != "1":
            return page_in_version(ctx, "enrollment", [e.enrollment_no for e in rows],
                                   args["page"], args["per_page"], total, args["schema_version"])
        return page_of((activities.enrollment_view(ctx, e) for e in rows), args["page"],
                       args["per_page"], total)


@blp.route("/volunteers/<string:volunteer_no>/enrollments")
class VolunteerEnrollments(MethodView):
    @blp.doc(security=BEARER, **versioned(EnrollmentPageSchema, "enrollment", page=True))
    @blp.arguments(VolunteerEnrollmentListArgs, location="query")
    @blp.response(200, EnrollmentPageSchema)
    def get(self, args, volunteer_no: str):
        """A volunteer's enrolments (enrollment:read, the volunteer's region)."""
        ctx = service_context()
        rows, total = activities.volunteer_enrollments(ctx, volunteer_no, args.get("status") or [],
                                                       args["page"], args["per_page"])
        if args["schema_version"] != "1":
            return page_in_version(ctx, "enrollment", [e.enrollment_no for e in rows],
                                   args["page"], args["per_page"], total, args["schema_version"])
        return page_of((activities.enrollment_view(ctx, e) for e in rows), args["page"],
                       args["per_page"], total)


@blp.route("/enrollments/<string:enrollment_no>")
class EnrollmentItem(MethodView):
    @blp.doc(security=BEARER, **versioned(EnrollmentSchema, "enrollment"))
    @blp.arguments(VersionArgs, location="query", as_kwargs=True)
    @blp.response(200, EnrollmentSchema)
    @blp.alt_response(409, description="schema_version=2 and the record fails v2's published "
                                       "schema or rules: `/problems/not-renderable` (problem+json)")
    def get(self, enrollment_no: str, schema_version: str = "1"):
        """One enrolment, for the volunteer's system or the team (enrollment:read)."""
        ctx = service_context()
        enrollment = activities.get_enrollment(ctx, enrollment_no)
        if schema_version != "1":
            return record_in_version(ctx, "enrollment", enrollment_no, schema_version)
        view = activities.enrollment_view(ctx, enrollment)
        return national.with_national(ctx, "enrollment", enrollment_no, view)


_ACTIONS = {
    "approve": (activities.approve, "The team approves an application (1 → 2), taking a place."),
    "reject": (activities.reject, "The team rejects an application or withdraws an invitation (→ 7)."),
    "accept": (activities.accept, "The volunteer accepts an invitation (4 → 3), taking a place."),
    "decline": (activities.decline, "The volunteer declines an invitation (4 → 7)."),
    "withdraw": (activities.withdraw, "The volunteer withdraws or leaves (→ 8), freeing a held place."),
}


def _action_view(action: str):
    service, summary = _ACTIONS[action]

    class EnrollmentAction(MethodView):
        @blp.doc(security=BEARER, summary=summary)
        @blp.arguments(DecisionSchema)
        @blp.response(200, EnrollmentSchema)
        @blp.alt_response(409, description="Not allowed from the current status, or the post is full")
        def post(self, args, enrollment_no: str):
            ctx = service_context()
            return _enrollment_answer(ctx, service(ctx, enrollment_no, args["note"]))

    EnrollmentAction.__name__ = f"Enrollment{action.capitalize()}"
    EnrollmentAction.post.__doc__ = summary
    return EnrollmentAction


for _action in _ACTIONS:
    blp.route(f"/enrollments/<string:enrollment_no>/{_action}", endpoint=f"enrollment_{_action}")(
        _action_view(_action))
