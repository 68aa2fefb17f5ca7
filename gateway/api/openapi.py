"""What the OpenAPI document says about answers, in one place.

Every error the gateway answers is RFC 9457 problem+json (gateway/errors.py). Rather than
each operation repeating that, :class:`ProblemResponses` (an apispec plugin) rewrites every
4xx/5xx and ``default`` response of every operation to ``application/problem+json`` with the
:class:`ProblemSchema`, and :func:`register_problem_responses` does the same for the shared
response components flask-smorest registers (``UNPROCESSABLE_ENTITY``, ``DEFAULT_ERROR`` …).
An operation documents an error with just ``blp.alt_response(status, description=...)``.

:class:`IdempotencyKeys` declares the services' optional ``Idempotency-Key`` header
(gateway/api/idempotency.py) on exactly the operations the key is honoured on — decided by
the same rule the requests are (``idempotency.accepts_key``) — with its pattern, the
``Idempotent-Replayed`` header of a replayed success and the 409 problems of a reused key
or one still in progress.
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


REPLAYED_HEADER = {
    "description": "Present (``true``) when this is the stored answer of an earlier request "
                   "with the same Idempotency-Key, method, path and body: nothing was done again.",
    "schema": {"type": "string", "enum": ["true"]},
}


def idempotency_key_parameter() -> dict[str, Any]:
    """The optional header, with the pattern and alphabet of a push's key."""
    from gateway.api.exchange import IDEMPOTENCY_KEY, KEY_ALPHABET

    return {"in": "header", "name": "Idempotency-Key", "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 128,
                       "pattern": IDEMPOTENCY_KEY.pattern},
            "description": f"Optional, {KEY_ALPHABET}, the client's own. The same key again for "
                           "the same method, path and body gets the first (successful) answer "
                           "again with Idempotent-Replayed: true, nothing done twice; with another "
                           "method, path or body it is refused (409 /problems/idempotency-key-reused); "
                           "a malformed key is refused (400 /problems/idempotency-key-required). "
                           "docs/protocol.md, \"Idempotency-Key on the services' API\"."}


class IdempotencyKeys(BasePlugin):
    """apispec plugin: the services' optional Idempotency-Key where it is honoured."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        from gateway.api.idempotency import accepts_key

        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict) or not accepts_key(method, path or ""):
                continue
            operation.setdefault("parameters", []).append(idempotency_key_parameter())
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():
                if str(code).startswith("2") and isinstance(response, dict) and "$ref" not in response:
                    response.setdefault("headers", {})["Idempotent-Replayed"] = dict(REPLAYED_HEADER)
            reused = ("The Idempotency-Key was used with another method, path or body "
                      "(/problems/idempotency-key-reused), or its first request is still being "
                      "processed (/problems/idempotency-in-progress, with Retry-After)")
            if "409" in responses and isinstance(responses["409"], dict):
                responses["409"]["description"] = f"{responses['409'].get('description', '')}; or: {reused}".lstrip("; ")
            else:
                responses["409"] = {"description": reused}
            bad = responses.get("400")
            if isinstance(bad, dict) and "idempotency" not in bad.get("description", "").lower():
                bad["description"] = f"{bad.get('description', '')}; or a malformed Idempotency-Key".lstrip("; ")
            elif bad is None:
                responses["400"] = {"description": "A malformed Idempotency-Key "
                                                   "(/problems/idempotency-key-required)"}


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
