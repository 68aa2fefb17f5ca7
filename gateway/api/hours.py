"""Service hours over HTTP: team entry, applications and decisions, corrections, error
reports, deletion, listings and a volunteer's totals (gateway.services.hours does the work)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from gateway.api.common import (Blueprint, BEARER, read_json_object, DecisionSchema, PageArgs, PageMeta,
                                service_context, VersionArgs, page_in_version, record_in_version, schema_version_field, versioned)
from gateway.services import disputes, hours
from gateway.exchange import national

PROBLEMS = {403: "Outside the caller's scope (problem+json)",
            404: "No such record visible to the caller (problem+json)",
            409: "The record's status does not allow this (problem+json)",
            422: "A rule is broken: errors list pointer, rule id, messages (problem+json)"}

blp = Blueprint("hours", __name__, url_prefix="/api/v1", problems=PROBLEMS,
                description="Service hours (志愿服务时间): entry, applications, corrections, totals.")

STATUS = validate.OneOf(["0", "1", "2", "3", "4", "5"])

_RECORD_BODY = {
    "required": True,
    "description": "A service_record of the published schema (GET /api/v1/schemas/1/service_record). "
                   "The store assigns record_no (a sender's own number is kept as source_id) "
                   "and the status.",
    "content": {"application/json": {"schema": {"type": "object"}}},
}


# -- schemas ---------------------------------------------------------------------------------

class ServiceRecordHistorySchema(Schema):
    action = fields.String(metadata={"description": "create, apply, approve, reject, correct, "
                                                    "delete, dispute"})
    actor = fields.String(allow_none=True, metadata={"description": "client that made the change"})
    source_system = fields.String(allow_none=True)
    at = fields.String(metadata={"description": "local date-time with offset"})
    changes = fields.Dict(metadata={"description": "field → {old, new}"})
    note = fields.String(allow_none=True)


class ServiceRecordSchema(Schema):
    record_no = fields.String()
    volunteer_no = fields.String()
    project_no = fields.String()
    project_name = fields.String()
    team_no = fields.String()
    started_at = fields.String(metadata={"description": "local date-time with offset"})
    ended_at = fields.String()
    local_date = fields.String(metadata={"description": "day of service in the gateway's zone"})
    hours = fields.String(metadata={"description": "decimal, 2 places, e.g. \"3.50\""})
    source = fields.String(metadata={"description": "codes/hours_source"})
    status = fields.String(metadata={"description": "codes/hours_status; only 2 counts"})
    status_label = fields.String(allow_none=True)
    kind = fields.String()
    recorded_at = fields.String(allow_none=True)
    applied_at = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    place = fields.String(allow_none=True, metadata={"description": "服务地点 (办法 2020 Art. 7)"})
    person_in_charge = fields.String(allow_none=True, metadata={
        "description": "活动负责人 (办法 2020 Art. 7)"})
    source_system = fields.String(allow_none=True)
    source_id = fields.String(allow_none=True)
    corrects = fields.String(allow_none=True, metadata={"description": "record this one corrects"})
    superseded_by = fields.String(allow_none=True, metadata={"description": "record that corrected this one"})
    decided_by = fields.String(allow_none=True)
    created_at = fields.String()
    late_working_days = fields.Integer(allow_none=True, metadata={
        "description": "recorded this many working days after the activity ended, more than "
                       "RECORDING_DEADLINE_DAYS (办法 2020 Art. 11: within 10); null: in time"})


class DisputeSchema(Schema):
    dispute_no = fields.String()
    record_no = fields.String(metadata={"description": "the disputed service record"})
    status = fields.String(metadata={"description": "open, corrected or upheld"})
    reason = fields.String()
    raised_by = fields.String(allow_none=True)
    raised_at = fields.String(metadata={"description": "local date-time with offset"})
    due_on = fields.String(metadata={
        "description": "the answer is due by this day (DISPUTE_ANSWER_DAYS working days)"})
    overdue = fields.Boolean(metadata={"description": "still open after due_on"})
    answer = fields.String(allow_none=True)
    answered_by = fields.String(allow_none=True)
    answered_at = fields.String(allow_none=True)
    corrected_by = fields.String(allow_none=True, metadata={
        "description": "the record that corrected the disputed one"})


class DisputeAnswerSchema(Schema):
    outcome = fields.String(required=True, metadata={
        "description": "corrected (the record was corrected or deleted first) or upheld"})
    answer = fields.String(required=True, validate=validate.Length(max=2000), metadata={
        "description": "what the verification found, and why"})


class ServiceRecordDetailSchema(ServiceRecordSchema):
    history = fields.List(fields.Nested(ServiceRecordHistorySchema))
    disputes = fields.List(fields.Nested(DisputeSchema), metadata={
        "description": "objections raised against this record (办法 2020 Art. 13)"})
    national = fields.Dict(metadata={"description": national.NATIONAL_FIELD})


class ServiceRecordPageSchema(PageMeta):
    items = fields.List(fields.Nested(ServiceRecordSchema))


class ServiceRecordListArgs(PageArgs):
    team_no = fields.String()
    volunteer_no = fields.String()
    status = fields.String(validate=STATUS)
    date_from = fields.Date(data_key="from", metadata={"description": "first local day of service"})
    date_to = fields.Date(data_key="to", metadata={"description": "last local day of service"})
    schema_version = schema_version_field()


class VolunteerHoursArgs(PageArgs):
    status = fields.String(validate=STATUS, metadata={"description": "filter the records listed"})


class ProjectHoursSchema(Schema):
    project_no = fields.String()
    project_name = fields.String()
    team_no = fields.String()
    hours = fields.String()
    records = fields.Integer()


class VolunteerHoursSchema(Schema):
    volunteer_no = fields.String()
    total_hours = fields.String(metadata={"description": "effective hours, derived by the store"})
    star_level = fields.String(allow_none=True, metadata={
        "description": "code star_level \"1\"–\"5\" from total_hours (100/300/600/1000/1500), "
                       "null below one star: the same value as the volunteer's star_level"})
    star_label = fields.String(allow_none=True, metadata={"description": "codes/star_level label; null for 0"})
    effective_records = fields.Integer()
    by_project = fields.List(fields.Nested(ProjectHoursSchema))
    records = fields.Nested(ServiceRecordPageSchema)


class HoursCorrectionSchema(Schema):
    started_at = fields.String(required=True, metadata={"description": "local date-time"})
    ended_at = fields.String(required=True)
    hours = fields.Float(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    description = fields.String(validate=validate.Length(min=1, max=2000))
    place = fields.String(validate=validate.Length(min=1, max=200))
    person_in_charge = fields.String(validate=validate.Length(min=1, max=20))


class HoursReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


# -- helpers ---------------------------------------------------------------------------------

def _detail(ctx, record) -> dict[str, Any]:
    view = hours.record_view(ctx, record, history=True)
    view["disputes"] = [disputes.dispute_view(ctx, d) for d in disputes.record_disputes(ctx, record)]
    return view


#: What most operations document: every problem of the table.
_alt = blp.problems(*PROBLEMS)


# -- resources -------------------------------------------------------------------------------

@blp.route("/service-records")
class ServiceRecords(MethodView):
    @blp.doc(security=BEARER, **versioned(ServiceRecordPageSchema, "service_record", page=True))
    @blp.arguments(ServiceRecordListArgs, location="query")
    @blp.response(200, ServiceRecordPageSchema)
    def get(self, args):
        """Service records visible to the caller, newest first (filters: team, volunteer,
        status, from/to local day)."""
        ctx = service_context()
        version = args.pop("schema_version", "1")
        answer = hours.list_records(ctx, **args)
        if version != "1":
            return page_in_version(ctx, "service_record", [r["record_no"] for r in answer["items"]],
                                   answer["page"], answer["per_page"], answer["total"], version)
        return answer

    @blp.doc(security=BEARER, requestBody=_RECORD_BODY)
    @blp.response(201, ServiceRecordDetailSchema)
    @_alt
    def post(self):
        """The team records service time: effective at once (status 2, source 1 unless given)."""
        ctx = service_context()
        record = hours.record_hours(ctx, read_json_object("service_record"))
        answer = _detail(ctx, record)
        ctx.session.commit()
        return answer


@blp.route("/service-records/applications")
class Applications(MethodView):
    @blp.doc(security=BEARER, requestBody=_RECORD_BODY)
    @blp.response(201, ServiceRecordDetailSchema)
    @_alt
    def post(self):
        """A volunteer applies for service time (status 0 申请中, source 2 个人申请)."""
        ctx = service_context()
        record = hours.apply_hours(ctx, read_json_object("service_record"))
        answer = _detail(ctx, record)
        ctx.session.commit()
        return answer


@blp.route("/service-records/<string:record_no>")
class ServiceRecord(MethodView):
    @blp.doc(security=BEARER, **versioned(ServiceRecordDetailSchema, "service_record"))
    @blp.arguments(VersionArgs, location="query", as_kwargs=True)
    @blp.response(200, ServiceRecordDetailSchema)
    @blp.problems(404)
    @blp.alt_response(409, description="schema_version=2 and the record fails v2's published "
                                       "schema or rules: `/problems/not-renderable` (problem+json)")
    def get(self, record_no: str, schema_version: str = "1"):
        """One record with its correction chain (corrects / superseded_by), history and disputes."""
        ctx = service_context()
        ctx.caller.require(hours.ENTITY, "read")
        record = hours.load_record(ctx, record_no)
        if schema_version != "1":
            return record_in_version(ctx, "service_record", record_no, schema_version)
        view = _detail(ctx, record)
        return national.with_national(ctx, "service_record", record_no, view)

    @blp.doc(security=BEARER)
    @blp.arguments(HoursReasonSchema)
    @blp.response(200, ServiceRecordDetailSchema)
    @_alt
    def delete(self, args, record_no: str):
        """The recording team deletes a record (status 3 已删除, kept with its history)."""
        ctx = service_context()
        record = hours.delete_hours(ctx, record_no, args["reason"])
        answer = _detail(ctx, record)
        ctx.session.commit()
        return answer


@blp.route("/service-records/<string:record_no>/approve")
class Approve(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(DecisionSchema)
    @blp.response(200, ServiceRecordDetailSchema)
    @_alt
    def post(self, args, record_no: str):
        """The team approves an application (review permission): checked against every rule
        across records now, then effective."""
        ctx = service_context()
        record = hours.approve_hours(ctx, record_no, args.get("note"))
        answer = _detail(ctx, record)
        ctx.session.commit()
        return answer


@blp.route("/service-records/<string:record_no>/reject")
class Reject(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(DecisionSchema)
    @blp.response(200, ServiceRecordDetailSchema)
    @_alt
    def post(self, args, record_no: str):
        """The team rejects an application (status 4 已拒绝; review permission)."""
        ctx = service_context()
        record = hours.reject_hours(ctx, record_no, args.get("note"))
        answer = _detail(ctx, record)
        ctx.session.commit()
        return answer


@blp.route("/service-records/<string:record_no>/corrections")
class Corrections(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(HoursCorrectionSchema)
    @blp.response(201, ServiceRecordDetailSchema)
    @_alt
    def post(self, args, record_no: str):
        """The recording team corrects an effective record: the original is kept (status 3,
        superseded_by) and the answer is the new record (corrects → the original)."""
        ctx = service_context()
        record = hours.correct_hours(ctx, record_no, args)
        answer = _detail(ctx, record)
        ctx.session.commit()
        return answer


@blp.route("/service-records/<string:record_no>/disputes")
class Disputes(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(HoursReasonSchema)
    @blp.response(201, ServiceRecordDetailSchema)
    @_alt
    def post(self, args, record_no: str):
        """The volunteer reports an error in a record (history action "dispute"): an open
        dispute, due DISPUTE_ANSWER_DAYS working days later, that the recording team answers
        (POST /disputes/{dispute_no}/answer). The answer is the record with its disputes."""
        ctx = service_context()
        dispute = disputes.raise_dispute(ctx, record_no, args["reason"])
        answer = _detail(ctx, dispute.record)
        ctx.session.commit()
        return answer


@blp.route("/disputes/<string:dispute_no>")
class DisputeItem(MethodView):
    @blp.doc(security=BEARER)
    @blp.response(200, DisputeSchema)
    @_alt
    def get(self, dispute_no: str):
        """A dispute: its status, deadline and answer (read, as its service record)."""
        ctx = service_context()
        return disputes.dispute_view(ctx, disputes.get_dispute(ctx, dispute_no))


@blp.route("/disputes/<string:dispute_no>/answer")
class DisputeAnswer(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(DisputeAnswerSchema)
    @blp.response(200, DisputeSchema)
    @_alt
    def post(self, args, dispute_no: str):
        """The recording team answers a dispute once: corrected (after correcting or deleting
        the record) or upheld, with its answer (办法 2020 Art. 13)."""
        ctx = service_context()
        dispute = disputes.answer_dispute(ctx, dispute_no, args["outcome"], args["answer"])
        answer = disputes.dispute_view(ctx, dispute)
        ctx.session.commit()
        return answer


@blp.route("/volunteers/<string:volunteer_no>/hours")
class VolunteerHours(MethodView):
    @blp.doc(security=BEARER)
    @blp.arguments(VolunteerHoursArgs, location="query")
    @blp.response(200, VolunteerHoursSchema)
    @blp.alt_response(404, description="No such volunteer in the caller's region (problem+json)")
    def get(self, args, volunteer_no: str):
        """A volunteer's total effective hours and star level (derived by the store), hours by
        project, and their records (paged, optional status filter)."""
        return hours.volunteer_hours(service_context(), volunteer_no, **args)
