"""What the OpenAPI document says about answers, in one place.

Every error the gateway answers is RFC 9457 problem+json (gateway/errors.py). Rather than
each operation repeating that, :class:`ProblemResponses` (an apispec plugin) rewrites every
4xx/5xx and ``default`` response of every operation to ``application/problem+json`` with the
:class:`ProblemSchema`, and :func:`register_problem_responses` does the same for the shared
response components flask-smorest registers (``UNPROCESSABLE_ENTITY``, ``DEFAULT_ERROR`` …).
An operation documents an error with just ``blp.alt_response(status, description=...)``.
"""

from __future__ import annotations

import http
from typing import Any

from apispec import BasePlugin
from flask_smorest.utils import prepare_response
from marshmallow import INCLUDE, Schema, fields

from gateway.errors import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


class ProblemIssueSchema(Schema):
    pointer = fields.String(required=True, metadata={"description": "JSON Pointer (RFC 6901) to the field"})
    rule = fields.String(required=True, metadata={"description": "stable rule id (docs/rules.md)"})
    message_zh = fields.String(required=True)
    message_en = fields.String(required=True)


class ProblemSchema(Schema):
    """An RFC 9457 problem; problems may carry further members (``line``, ``supported`` …)."""

    class Meta:
        unknown = INCLUDE  # documented as additionalProperties: true

    type = fields.String(required=True, metadata={
        "description": "stable relative URI /problems/<slug> (docs/protocol.md)"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    message_zh = fields.String(metadata={"description": "the detail in Chinese"})
    errors = fields.List(fields.Nested(ProblemIssueSchema), metadata={
        "description": "validation problems: one entry per broken rule"})


def _is_error(code: Any) -> bool:
    text = str(code)
    return text == "default" or (text.isdigit() and int(text) >= 400)


def problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": dict(PROBLEM_REF)}}


class ProblemResponses(BasePlugin):
    """apispec plugin: every error response of every operation is problem+json."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for operation in (operations or {}).values():
            if not isinstance(operation, dict):
                continue
            for code, response in (operation.get("responses") or {}).items():
                # References (strings / $ref) point at components rewritten below.
                if _is_error(code) and isinstance(response, dict) and "$ref" not in response:
                    response["content"] = problem_content()


def register_problem_responses(api) -> None:
    """flask-smorest's shared error responses, registered as problem+json instead of JSON."""
    api.spec.components.schema("Problem", schema=ProblemSchema)
    for status in http.HTTPStatus:
        response: dict[str, Any] = {"description": status.phrase}
        if status >= 400:
            response["content"] = problem_content()
        elif not (100 <= status < 200) and status not in (204, 304):
            continue  # success answers are documented by each operation
        prepare_response(response, api.spec, PROBLEM_JSON)
        api.spec.components.response(status.name, response, lazy=True)
    api.spec.components.response(api.DEFAULT_ERROR_RESPONSE_NAME or "DEFAULT_ERROR",
                                 {"description": "Default error response (problem+json)",
                                  "content": problem_content()}, lazy=True)
