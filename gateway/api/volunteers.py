"""``/api/v1/volunteers``: real-name registration, look-up and history of volunteers.

ID and mobile numbers are masked in every answer unless the calling client's scope is
``pii_access = full``. Looking a person up by document number goes through the blind index
(``POST /volunteers/lookup`` for one document, ``POST /volunteers/search`` for the list's
filters): personal data never travels in a URL, where access logs, proxies and browser
histories keep it — ``?id_number=`` or ``?mobile=`` is refused (400 personal-data-in-url).
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from gateway.api.common import (Blueprint, BEARER, REGION, read_json_body, PageArgs, PageMeta,
                                VersionArgs, not_blank, page_in_version, page_of,
                                record_in_version, schema_version_field, service_context,
                                versioned)
from gateway.errors import Problem
from gateway.exchange import national
from gateway.services import registration as reg

PROBLEMS = {
    400: "`id_number`, `mobile` or another personal-data parameter in the query: "
         "`/problems/personal-data-in-url` (use POST /volunteers/search) (problem+json)",
    401: "No valid client credentials (problem+json)",
    403: "Outside the caller's permissions or region (problem+json)",
    404: "No such volunteer in the caller's region (problem+json)",
    409: "The person is already registered: `existing_volunteer_no` when they are inside the "
         "caller's region, nothing of theirs otherwise (problem+json)",
    422: "The record breaks the standard: `errors` with pointer and rule id (problem+json)",
}

blp = Blueprint("volunteers", __name__, url_prefix="/api/v1", problems=PROBLEMS,
                description="Real-name registration of volunteers (one per person, whichever "
                            "systems send them); personal data masked unless the caller's scope "
                            "allows more.")

VOLUNTEER_BODY = {
    "required": True,
    "description": "A volunteer record of the standard (schemas/v1/volunteer.schema.json, "
                   "GET /api/v1/schemas/1/volunteer). `volunteer_no` is the sender's own number "
                   "(kept as the source's); the store assigns its own. `total_hours` and "
                   "`star_level` are derived and ignored.",
    "content": {"application/json": {"schema": {"type": "object"}}},
}

PATCH_BODY = {
    "required": True,
    "description": "JSON Merge Patch (RFC 7396) of the volunteer record: members replace, "
                   "null removes; the whole result is validated again.",
    "content": {"application/json": {"schema": {"type": "object"}},
                "application/merge-patch+json": {"schema": {"type": "object"}}},
}



# -- schemas of the answers (the OpenAPI document is generated from these) --------------------

class VolunteerGuardianSchema(Schema):
    name = fields.String()
    relation = fields.String()
    mobile = fields.String(metadata={"description": "masked unless the caller has full PII access"})
    consent_at = fields.String()


class VolunteerSourceSchema(Schema):
    source_system = fields.String(metadata={"description": "the client that sent the person"})
    source_id = fields.String(allow_none=True, metadata={"description": "that system's id for the person"})
    source_volunteer_no = fields.String(allow_none=True,
                                        metadata={"description": "that system's own volunteer number"})


class VolunteerConsentSchema(Schema):
    given_at = fields.String(metadata={"description": "when the volunteer consented"})
    covers = fields.List(fields.String(), metadata={"description": "codes/consent_scope"})
    method = fields.String()


class VolunteerSchema(Schema):
    volunteer_no = fields.String(metadata={"description": "unified volunteer number assigned by the store"})
    name = fields.String()
    id_type = fields.String()
    id_number = fields.String(metadata={"description": "masked (110105********123X) unless the "
                                                       "caller has full PII access"})
    gender = fields.String()
    birth_date = fields.String(metadata={"format": "date"})
    nationality = fields.String()
    ethnicity = fields.String()
    political_status = fields.String()
    education = fields.String()
    employment_status = fields.String()
    mobile = fields.String(metadata={"description": "masked (138****8000) unless the caller has "
                                                    "full PII access"})
    email = fields.String()
    address = fields.String()
    residence_area = fields.String()
    service_area = fields.String()
    service_categories = fields.List(fields.String())
    skills = fields.List(fields.String())
    availability = fields.List(fields.String())
    languages = fields.List(fields.String())
    registered_at = fields.String(metadata={"format": "date"})
    registration_area = fields.String()
    real_name_status = fields.String()
    guardian = fields.Nested(VolunteerGuardianSchema)
    consent = fields.Nested(VolunteerConsentSchema, metadata={
        "description": "the volunteer's consent to their information being entered (办法 2020 Art. 6)"})
    star_level = fields.String(allow_none=True, metadata={"description": "derived from effective hours"})
    total_hours = fields.String(metadata={"description": "derived from effective hours, e.g. \"12.50\""})
    sources = fields.List(fields.Nested(VolunteerSourceSchema))
    created_at = fields.String(metadata={"format": "date-time"})
    updated_at = fields.String(metadata={"format": "date-time"})
    national = fields.Dict(metadata={"description": national.NATIONAL_FIELD})


class VolunteerPageSchema(PageMeta):
    items = fields.List(fields.Nested(VolunteerSchema))


class VolunteerListArgs(PageArgs):
    region = fields.String(validate=REGION, metadata={
        "description": "province (2), city (4) or county (6) code: the volunteers whose service "
                       "area lies in it"})
    name = fields.String(validate=validate.Length(min=1, max=20),
                         metadata={"description": "part of the name"})
    id_type = fields.String(validate=validate.OneOf(reg.ID_TYPES))
    schema_version = schema_version_field()


class VolunteerSearchArgs(Schema):
    """The body of POST /volunteers/search: the list's filters, personal ones included (they
    never travel in a URL: ``?id_number=`` or ``?mobile=`` is refused with 400
    ``/problems/personal-data-in-url``)."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    region = fields.String(validate=REGION, metadata={
        "description": "province (2), city (4) or county (6) code"})
    name = fields.String(validate=[validate.Length(min=1, max=20), not_blank],
                         metadata={"description": "part of the name"})
    id_type = fields.String(validate=validate.OneOf(reg.ID_TYPES))
    id_number = fields.String(validate=[validate.Length(min=1, max=32), not_blank], metadata={
        "description": "matched through the blind index, never in clear"})
    mobile = fields.String(validate=[validate.Length(min=1, max=11), not_blank],
                           metadata={"description": "matched through the blind index"})


class VolunteerLookupArgs(Schema):
    id_type = fields.String(required=True, validate=validate.OneOf(reg.ID_TYPES))
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=32))


class VolunteerChangeSchema(Schema):
    id = fields.Integer()
    entity = fields.String()
    entity_no = fields.String()
    action = fields.String()
    actor = fields.String(allow_none=True, metadata={"description": "the client that made the change"})
    source_system = fields.String(allow_none=True)
    at = fields.String(metadata={"format": "date-time"})
    changes = fields.Dict(metadata={"description": "field -> {old, new}; personal data masked"})
    note = fields.String(allow_none=True)


class VolunteerChangePageSchema(PageMeta):
    items = fields.List(fields.Nested(VolunteerChangeSchema))


# -- resources ---------------------------------------------------------------------------------

def _location(volunteer_no: str) -> dict[str, str]:
    return {"Location": f"{blp.url_prefix}/volunteers/{volunteer_no}"}


@blp.route("/volunteers")
class Volunteers(MethodView):
    @blp.doc(security=BEARER, **versioned(VolunteerPageSchema, "volunteer", page=True))
    @blp.arguments(VolunteerListArgs, location="query", as_kwargs=True)
    @blp.response(200, VolunteerPageSchema)
    @blp.problems(400, 401, 403)
    def get(self, page: int, per_page: int, schema_version: str = "1", **filters):
        """Volunteers in the caller's region, filtered by region, name or document type.

        Filters by document or mobile number go in the body of POST /volunteers/search:
        ``id_number`` and ``mobile`` in the query are refused (400 personal-data-in-url)."""
        ctx = service_context()
        rows, total = reg.list_volunteers(ctx, page=page, per_page=per_page, **filters)
        if schema_version != "1":
            return page_in_version(ctx, "volunteer", [v.volunteer_no for v in rows], page,
                                   per_page, total, schema_version)
        return page_of([reg.volunteer_view(ctx, v) for v in rows], page, per_page, total)

    @blp.doc(security=BEARER, requestBody=VOLUNTEER_BODY)
    @blp.response(201, VolunteerSchema, headers={"Location": {
        "description": "the new volunteer", "schema": {"type": "string"}}})
    @blp.problems(401, 403, 409, 422)
    def post(self):
        """Register a volunteer (real name); the same person twice is refused with their number."""
        ctx = service_context()
        record = read_json_body()
        source_id = record.get("source_id") if isinstance(record, dict) else None
        volunteer = reg.register_volunteer(ctx, record, source_system=ctx.caller.client_id,
                                           source_id=source_id if isinstance(source_id, str) else None)
        ctx.session.commit()
        return reg.volunteer_view(ctx, volunteer), 201, _location(volunteer.volunteer_no)


@blp.route("/volunteers/search")
class VolunteerSearch(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(VolunteerSearchArgs)
    @blp.response(200, VolunteerPageSchema)
    @blp.problems(401, 403)
    def post(self, args):
        """Volunteers in the caller's region, filtered as the list is, and also by document
        or mobile number (blind index); the numbers travel in the body, never in a URL."""
        ctx = service_context()
        page, per_page = args.pop("page"), args.pop("per_page")
        rows, total = reg.list_volunteers(ctx, page=page, per_page=per_page, **args)
        return page_of([reg.volunteer_view(ctx, v) for v in rows], page, per_page, total)


@blp.route("/volunteers/lookup")
class VolunteerLookup(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(VolunteerLookupArgs)
    @blp.response(200, VolunteerSchema)
    @blp.problems(401, 403, 404)
    def post(self, args):
        """Find a volunteer by document type and number (blind index; the number stays out of URLs)."""
        ctx = service_context()
        ctx.caller.require("volunteer", "read")
        volunteer = reg.find_volunteer_by_document(ctx, args["id_type"], args["id_number"])
        if volunteer is None:
            raise Problem(404, "not-found", "Not found",
                          "no volunteer with this document in the caller's region")
        return reg.volunteer_view(ctx, volunteer)


@blp.route("/volunteers/<string:volunteer_no>")
class VolunteerItem(MethodView):
    @blp.doc(security=BEARER, **versioned(VolunteerSchema, "volunteer"))
    @blp.arguments(VersionArgs, location="query", as_kwargs=True)
    @blp.response(200, VolunteerSchema)
    @blp.problems(401, 403, 404)
    @blp.alt_response(409, description="schema_version=2 and the record fails v2's published "
                                       "schema or rules: `/problems/not-renderable` (problem+json)")
    def get(self, volunteer_no: str, schema_version: str = "1"):
        """One volunteer of the caller's region."""
        ctx = service_context()
        volunteer = reg.get_volunteer_for_read(ctx, volunteer_no)
        if schema_version != "1":
            return record_in_version(ctx, "volunteer", volunteer_no, schema_version)
        view = reg.volunteer_view(ctx, volunteer)
        return national.with_national(ctx, "volunteer", volunteer_no, view)

    @blp.doc(security=BEARER, requestBody=PATCH_BODY)
    @blp.response(200, VolunteerSchema)
    @blp.problems(401, 403, 404, 409, 422)
    def patch(self, volunteer_no: str):
        """Change a volunteer (merge patch); the result is validated as a whole."""
        ctx = service_context()
        changes = read_json_body()
        volunteer = reg.update_volunteer(ctx, volunteer_no, changes)
        ctx.session.commit()
        return reg.volunteer_view(ctx, volunteer)


@blp.route("/volunteers/<string:volunteer_no>/history")
class VolunteerHistory(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, VolunteerChangePageSchema)
    @blp.problems(401, 403, 404)
    def get(self, volunteer_no: str, page: int, per_page: int):
        """Every recorded change of the volunteer, oldest first; personal data masked."""
        ctx = service_context()
        rows, total = reg.volunteer_history(ctx, volunteer_no, page, per_page)
        return page_of([reg.change_view(ctx, c) for c in rows], page, per_page, total)
