"""``POST /api/v1/validate/{entity}``: check one record, many, or a batch envelope."""

from __future__ import annotations

import io

from flask import current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields

from gateway import jsonio, standard
from gateway.api.common import Blueprint, is_json_media_type, unsupported_media_type
from gateway.errors import Problem, input_problem
from gateway.standard.engine import BATCH, UnknownEntity, UnsupportedVersion
from gateway.standard.issues import Issue, Report

blp = Blueprint("validate", __name__, url_prefix="/api/v1/validate",
                description="Validate records against the standard without storing them.")

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


class RecordErrorSchema(Schema):
    pointer = fields.String(metadata={"description": "JSON Pointer (RFC 6901) to the field"})
    rule = fields.String(metadata={"description": "stable rule id (docs/rules.md)"})
    message_zh = fields.String()
    message_en = fields.String()


class ResultSchema(Schema):
    index = fields.Integer(metadata={"description": "position of the record in the request, from 0"})
    line = fields.Integer(metadata={"description": "NDJSON line number, from 1"})
    entity = fields.String()
    valid = fields.Boolean()
    errors = fields.List(fields.Nested(RecordErrorSchema))
    warnings = fields.List(fields.Nested(RecordErrorSchema), metadata={
        "description": "findings that do not make the record invalid (schema v2 with "
                       "NATIONAL_REQUIRED = warn: rule national.required)"})


class SummarySchema(Schema):
    total = fields.Integer()
    valid = fields.Integer()
    invalid = fields.Integer()


class ValidationAnswerSchema(Schema):
    entity = fields.String()
    schema_version = fields.String()
    valid = fields.Boolean(metadata={"description": "true when every record (and the envelope) is valid"})
    summary = fields.Nested(SummarySchema)
    envelope = fields.Nested(ResultSchema, metadata={"description": "only for entity=batch"})
    results = fields.List(fields.Nested(ResultSchema))


class VersionArgs(Schema):
    version = fields.String(load_default="1", metadata={"description": "schema version"})


def _result(index: int, report: Report, line: int | None = None) -> dict:
    result = {"index": index, **report.as_dict()}
    if line is not None:
        result["line"] = line
    return result


def _too_many(count: int, limit: int) -> Problem:
    return Problem(413, "too-many-records", "Too many records",
                   f"{count} records exceed the limit of {limit} per request; split the batch "
                   "or push NDJSON through the exchange API",
                   message_zh=f"记录数 {count} 超过单次上限 {limit}")


@blp.route("/<string:entity>")
class Validate(MethodView):
    @blp.arguments(VersionArgs, location="query", as_kwargs=True)
    @blp.response(200, ValidationAnswerSchema)
    @blp.doc(requestBody={
        "required": True,
        "description": "One record (object), several records (array), NDJSON (one record per "
                       "line), or for entity `batch` a batch envelope.",
        "content": {"application/json": {"schema": {"type": ["object", "array"]}},
                    "application/x-ndjson": {"schema": {"type": "string"}}},
    })
    @blp.alt_response(400, description="The body cannot be read (problem+json)")
    @blp.alt_response(404, description="Unknown entity (problem+json)")
    @blp.alt_response(413, description="Body or record count over the limit (problem+json)")
    @blp.alt_response(415, description="Neither JSON nor NDJSON (problem+json)")
    def post(self, entity: str, version: str):
        """Validate records of ``entity``: a result per record, every error of each."""
        engine = standard.engine()
        config = current_app.config
        try:
            engine.schema(entity, version)
        except UnsupportedVersion:
            raise Problem(422, "unsupported-schema-version", "Unsupported schema version",
                          f"schema version {version!r} is not supported; supported: "
                          f"{', '.join(engine.versions)}", supported=list(engine.versions)) from None
        except UnknownEntity:
            raise Problem(404, "unknown-entity", "Unknown entity",
                          f"no schema named {entity!r}; known: {', '.join(engine.entities(version))}, batch",
                          entities=engine.entities(version) + [BATCH]) from None

        body = request.get_data(cache=False)
        max_depth, limit = config["MAX_JSON_DEPTH"], config["MAX_BATCH_RECORDS"]
        ctx = engine.context()
        results: list[dict] = []
        answer = {"entity": entity, "schema_version": version}
        if request.mimetype in NDJSON_TYPES:
            for index, line in enumerate(jsonio.iter_ndjson(io.BytesIO(body), max_depth)):
                if index >= limit:
                    raise _too_many(index + 1, limit)
                if line.error:
                    report = Report(entity, [Issue("", f"input.{line.error.slug}",
                                                   line.error.message_zh, line.error.message_en)])
                else:
                    report = engine.validate(entity, line.value, version, ctx)
                results.append(_result(index, report, line.number))
        else:
            if not body.strip():
                raise Problem(400, "empty-body", "Empty body", "send a JSON record, array or NDJSON")
            if not is_json_media_type(request.mimetype):
                raise unsupported_media_type("application/json", "application/x-ndjson")
            try:
                value = jsonio.loads(body, max_depth)
            except jsonio.InputError as exc:
                raise input_problem(exc) from None
            if entity == BATCH:
                header, reports = engine.validate_envelope(value, version, ctx)
                if len(reports) > limit:
                    raise _too_many(len(reports), limit)
                answer["envelope"] = {"index": -1, **header.as_dict()}
                results = [_result(i, r) for i, r in enumerate(reports)]
            elif isinstance(value, list):
                if len(value) > limit:
                    raise _too_many(len(value), limit)
                results = [_result(i, r) for i, r in
                           enumerate(engine.validate_many(entity, value, version, ctx))]
            else:
                results = [_result(0, engine.validate(entity, value, version, ctx))]
        invalid = sum(1 for r in results if not r["valid"])
        envelope_ok = answer.get("envelope", {}).get("valid", True)
        answer.update(valid=invalid == 0 and envelope_ok,
                      summary={"total": len(results), "valid": len(results) - invalid,
                               "invalid": invalid},
                      results=results)
        return answer
