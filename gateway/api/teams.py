"""``/api/v1/teams``: team registration, review by management departments, membership."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from gateway.api.common import (Blueprint, BEARER, REGION, DecisionSchema, PageArgs, PageMeta, page_of,
                                read_json_body, service_context, VersionArgs, page_in_version, record_in_version, schema_version_field, versioned)
from gateway.exchange import national
from gateway.services import registration as reg

PROBLEMS = {
    401: "No valid client credentials (problem+json)",
    403: "Outside the caller's permissions, region or teams (problem+json)",
    404: "No such team, volunteer or membership (problem+json)",
    409: "Conflicts with the store's state: duplicate, wrong status (problem+json)",
    422: "Invalid record or request: `errors` with pointer and rule id (problem+json)",
}

blp = Blueprint("teams", __name__, url_prefix="/api/v1", problems=PROBLEMS,
                description="Volunteer teams: registration, review (pending → approved / rejected "
                            "/ suspended) and membership (apply, approve, leave).")

TEAM_BODY = {
    "required": True,
    "description": "A team record of the standard (schemas/v1/team.schema.json, GET "
                   "/api/v1/schemas/1/team), plus an optional `join_password` member beside the "
                   "record's fields (not part of the standard; required for join policy 4, "
                   "stored hashed). The team waits for review (status 2) whatever `status` says; "
                   "the store assigns the team number.",
    "content": {"application/json": {"schema": {
        "type": "object",
        "properties": {"join_password": {"type": "string", "minLength": 4, "maxLength": 64,
                                         "writeOnly": True}}}}},
}


class TeamReviewInfoSchema(Schema):
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    note = fields.String(allow_none=True)


class TeamApprovingUnitSchema(Schema):
    name = fields.String()
    uscc = fields.String()
    contact = fields.String()
    phone = fields.String(metadata={"description": "a mobile is masked unless the caller has full PII access"})


class TeamSchema(Schema):
    team_no = fields.String(metadata={"description": "assigned by the store"})
    name = fields.String()
    team_type = fields.String()
    unit_type = fields.String()
    registration_dept = fields.String()
    registration_authority = fields.String()
    uscc = fields.String()
    approving_unit = fields.Nested(TeamApprovingUnitSchema)
    contact_name = fields.String()
    contact_mobile = fields.String(metadata={"description": "masked unless the caller has full PII access"})
    area = fields.String()
    address = fields.String()
    established_on = fields.String(metadata={"format": "date"})
    status = fields.String(metadata={"description": "team_status: 2 pending, 1 approved, 0 rejected, 3 suspended"})
    join_policy = fields.String()
    parent_team_no = fields.String()
    service_categories = fields.List(fields.String())
    source_team_no = fields.String(metadata={"description": "the sender's own number for the team"})
    has_join_password = fields.Boolean()
    review = fields.Nested(TeamReviewInfoSchema)
    dissolved_at = fields.String(metadata={"format": "date-time",
                                           "description": "when the team was dissolved"})
    successor_team_no = fields.String(metadata={
        "description": "the unit a dissolved team's records passed to"})
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})
    national = fields.Dict(metadata={"description": national.NATIONAL_FIELD})


class TeamPageSchema(PageMeta):
    items = fields.List(fields.Nested(TeamSchema))


class TeamListArgs(PageArgs):
    region = fields.String(validate=REGION, metadata={
        "description": "province (2), city (4) or county (6) code: the teams based in it"})
    status = fields.String(validate=validate.OneOf(["0", "1", "2", "3", "4", "5"]))
    name = fields.String(validate=validate.Length(min=1, max=100),
                         metadata={"description": "part of the name"})
    schema_version = schema_version_field()


class TeamReviewArgs(DecisionSchema):
    decision = fields.String(required=True, validate=validate.OneOf(list(reg.REVIEW_TRANSITIONS)),
                             metadata={"description": "approve / reject (pending teams), suspend "
                                                      "(approved), reinstate (suspended)"})


class TeamDissolveArgs(DecisionSchema):
    successor_team_no = fields.String(required=True, validate=validate.Length(min=1, max=32),
                                      metadata={"description": "the unit the team's records pass to"})


class TeamJoinArgs(Schema):
    volunteer_no = fields.String(required=True, validate=validate.Length(min=1, max=18))
    password = fields.String(load_default=None, validate=validate.Length(max=64),
                             metadata={"description": "the team's join password (join policy 4)",
                                       "writeOnly": True})


class TeamMembershipSchema(Schema):
    team_no = fields.String()
    volunteer_no = fields.String()
    name = fields.String()
    status = fields.String(metadata={"description": "team_membership: 1 member, 2 applied, 3 rejected"})
    current_member = fields.Boolean()
    applied_at = fields.String(metadata={"format": "date-time"})
    decided_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    left_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class TeamMembershipPageSchema(PageMeta):
    items = fields.List(fields.Nested(TeamMembershipSchema))


class TeamMemberListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(["1", "2", "3"]))
    current = fields.Boolean(metadata={"description": "true: not left; false: left"})


# -- teams and review ---------------------------------------------------------------------------

@blp.route("/teams")
class Teams(MethodView):
    @blp.doc(security=BEARER, **versioned(TeamPageSchema, "team", page=True))
    @blp.arguments(TeamListArgs, location="query", as_kwargs=True)
    @blp.response(200, TeamPageSchema)
    @blp.problems(401, 403)
    def get(self, page: int, per_page: int, schema_version: str = "1", **filters):
        """Teams in the caller's region, filtered by region, status and name."""
        ctx = service_context()
        rows, total = reg.list_teams(ctx, page=page, per_page=per_page, **filters)
        if schema_version != "1":
            return page_in_version(ctx, "team", [t.team_no for t in rows], page, per_page,
                                   total, schema_version)
        return page_of([reg.team_view(ctx, t) for t in rows], page, per_page, total)

    @blp.doc(security=BEARER, requestBody=TEAM_BODY)
    @blp.response(201, TeamSchema, headers={"Location": {
        "description": "the new team", "schema": {"type": "string"}}})
    @blp.problems(401, 403, 409, 422)
    def post(self):
        """Register a team; it waits for review by a management department of its region."""
        ctx = service_context()
        body = read_json_body()
        join_password = None
        if isinstance(body, dict):
            body = dict(body)
            join_password = body.pop("join_password", None)
        team = reg.register_team(ctx, body, join_password=join_password,
                                 source_system=ctx.caller.client_id)
        ctx.session.commit()
        return reg.team_view(ctx, team), 201, {"Location": f"{blp.url_prefix}/teams/{team.team_no}"}


@blp.route("/teams/<string:team_no>")
class TeamItem(MethodView):
    @blp.doc(security=BEARER, **versioned(TeamSchema, "team"))
    @blp.arguments(VersionArgs, location="query", as_kwargs=True)
    @blp.response(200, TeamSchema)
    @blp.problems(401, 403, 404)
    @blp.alt_response(409, description="schema_version=2 and the record fails v2's published "
                                       "schema or rules: `/problems/not-renderable` (problem+json)")
    def get(self, team_no: str, schema_version: str = "1"):
        """One team of the caller's region."""
        ctx = service_context()
        team = reg.get_team_for_read(ctx, team_no)
        if schema_version != "1":
            return record_in_version(ctx, "team", team_no, schema_version)
        view = reg.team_view(ctx, team)
        return national.with_national(ctx, "team", team_no, view)


    @blp.doc(security=BEARER, requestBody={
        "required": True,
        "description": "An RFC 7396 JSON merge patch over the team's standard record (null "
                       "removes a field); the whole result is validated again. `team_no` and "
                       "`status` are the store's (review, withdraw); `join_password` beside the "
                       "fields sets a new join password.",
        "content": {"application/merge-patch+json": {"schema": {"type": "object"}},
                    "application/json": {"schema": {"type": "object"}}}})
    @blp.response(200, TeamSchema)
    @blp.problems(401, 403, 404, 409, 422)
    def patch(self, team_no: str):
        """Change a team of the caller's scope (merge patch); history kept."""
        ctx = service_context()
        team = reg.update_team(ctx, team_no, read_json_body())
        ctx.session.commit()
        return reg.team_view(ctx, team)


@blp.route("/teams/<string:team_no>/withdraw")
class TeamWithdraw(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(DecisionSchema)
    @blp.response(200, TeamSchema)
    @blp.problems(401, 403, 404)
    def post(self, args, team_no: str):
        """Withdraw (deregister) a team: status 4; it records no hours and issues no
        certificates any more, and the change feed carries a tombstone."""
        ctx = service_context()
        team = reg.withdraw_team(ctx, team_no, args.get("note"))
        ctx.session.commit()
        return reg.team_view(ctx, team)


@blp.route("/teams/<string:team_no>/dissolve")
class TeamDissolve(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(TeamDissolveArgs)
    @blp.response(200, TeamSchema)
    @blp.problems(401, 403, 404, 409, 422)
    def post(self, args, team_no: str):
        """The management department dissolves a team and names the unit its records pass to
        (team:review); the team, its records and their history are kept, the successor
        certifies them."""
        ctx = service_context()
        team = reg.dissolve_team(ctx, team_no, args["successor_team_no"], args.get("note"))
        ctx.session.commit()
        return reg.team_view(ctx, team)


@blp.route("/teams/<string:team_no>/review")
class TeamReview(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(TeamReviewArgs)
    @blp.response(200, TeamSchema)
    @blp.problems(401, 403, 404, 409)
    def post(self, args, team_no: str):
        """A management department's decision on a team of its region."""
        ctx = service_context()
        team = reg.review_team(ctx, team_no, args["decision"], args.get("note"))
        ctx.session.commit()
        return reg.team_view(ctx, team)


# -- membership ---------------------------------------------------------------------------------

@blp.route("/teams/<string:team_no>/members")
class Members(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(TeamMemberListArgs, location="query", as_kwargs=True)
    @blp.response(200, TeamMembershipPageSchema)
    @blp.problems(401, 403, 404)
    def get(self, team_no: str, page: int, per_page: int, **filters):
        """The team's members and applications, current and past."""
        ctx = service_context()
        rows, total = reg.list_members(ctx, team_no, page=page, per_page=per_page, **filters)
        return page_of([reg.membership_view(ctx, m) for m in rows], page, per_page, total)

    @blp.doc(security=BEARER)
    @blp.arguments(TeamJoinArgs)
    @blp.response(201, TeamMembershipSchema)
    @blp.problems(401, 403, 404, 409, 422)
    def post(self, args, team_no: str):
        """A volunteer applies to the team: pending review, member at once, or refused by the
        team's join policy (4: with the join password)."""
        ctx = service_context()
        row = reg.apply_membership(ctx, team_no, args["volunteer_no"], args.get("password"))
        ctx.session.commit()
        return reg.membership_view(ctx, row), 201, {
            "Location": f"{blp.url_prefix}/teams/{team_no}/members/{args['volunteer_no']}"}


@blp.route("/teams/<string:team_no>/members/<string:volunteer_no>")
class Member(MethodView):
    @blp.doc(security=BEARER)
    @blp.response(200, TeamMembershipSchema)
    @blp.problems(401, 403, 404)
    def delete(self, team_no: str, volunteer_no: str):
        """The volunteer leaves the team (or withdraws an application); the record stays."""
        ctx = service_context()
        row = reg.leave_membership(ctx, team_no, volunteer_no)
        ctx.session.commit()
        return reg.membership_view(ctx, row)


@blp.route("/teams/<string:team_no>/members/<string:volunteer_no>/approve")
class MemberApprove(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(DecisionSchema)
    @blp.response(200, TeamMembershipSchema)
    @blp.problems(401, 403, 404, 409)
    def post(self, args, team_no: str, volunteer_no: str):
        """The team admits a pending applicant."""
        ctx = service_context()
        row = reg.decide_membership(ctx, team_no, volunteer_no, "approve", args.get("note"))
        ctx.session.commit()
        return reg.membership_view(ctx, row)


@blp.route("/teams/<string:team_no>/members/<string:volunteer_no>/reject")
class MemberReject(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(DecisionSchema)
    @blp.response(200, TeamMembershipSchema)
    @blp.problems(401, 403, 404, 409)
    def post(self, args, team_no: str, volunteer_no: str):
        """The team turns a pending application down."""
        ctx = service_context()
        row = reg.decide_membership(ctx, team_no, volunteer_no, "reject", args.get("note"))
        ctx.session.commit()
        return reg.membership_view(ctx, row)
