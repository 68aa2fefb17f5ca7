"""Pieces every resource blueprint uses: the service context, paging, masking choices."""

from __future__ import annotations

from typing import Any, Iterable

from flask import current_app, request
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import Schema, ValidationError, fields, validate
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser

from gateway import jsonio
from gateway.api.auth import current_caller
from gateway.errors import Problem, input_problem
from gateway.privacy import vault
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store import get_session

# OpenAPI: protected operations declare this scheme (dev tokens now, signatures later).
BEARER = [{"bearerAuth": []}]
# The exchange's operations: a signed request (RFC 9421), or a development token.
SIGNED = [{"httpSignature": []}, {"bearerAuth": []}]


def service_context() -> ServiceContext:
    """A context for one request: authenticates the caller first (401 when unknown)."""
    return ServiceContext(session=get_session(), caller=current_caller(), engine=engine(),
                          vault=vault(), config=current_app.config)


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PageMeta(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


def page_of(items: Iterable[Any], page: int, per_page: int, total: int) -> dict[str, Any]:
    return {"items": list(items), "page": page, "per_page": per_page, "total": total}


class DecisionSchema(Schema):
    """A reviewer's decision with an optional note."""

    note = fields.String(load_default=None, validate=validate.Length(max=500))


# -- strict input: one reader of JSON bodies and one parser of arguments for every blueprint ------

BLANK_FILTER = "must not be blank (empty or only white space): leave the filter out instead"


def is_json_media_type(mimetype: str) -> bool:
    """``application/json`` or any ``application/*+json`` (merge patch, problem+json …)."""
    return mimetype == "application/json" or (mimetype.startswith("application/")
                                              and mimetype.endswith("+json"))


def unsupported_media_type(expected: str = "application/json") -> Problem:
    return Problem(415, "unsupported-media-type", "Unsupported media type",
                   f"send the body as {expected} (Content-Type: "
                   f"{request.mimetype or 'none'} was sent)",
                   message_zh=f"请求体须为 {expected}")


def read_json_body(empty_detail: str = "send a JSON object") -> Any:
    """The request body as JSON: 415 unless it is declared JSON, 400 if empty or unreadable.

    Read through :func:`gateway.jsonio.loads` (strict UTF-8, bounded depth, no repeated keys),
    like every other way JSON comes in.
    """
    body = request.get_data(cache=False)
    if not body.strip():
        raise Problem(400, "empty-body", "Empty body", empty_detail)
    if not is_json_media_type(request.mimetype):
        raise unsupported_media_type()
    try:
        return jsonio.loads(body, current_app.config["MAX_JSON_DEPTH"])
    except jsonio.InputError as exc:
        raise input_problem(exc) from None


class StrictParser(FlaskParser):
    """webargs' Flask parser, held to the gateway's rules on input.

    - A JSON body is read by :func:`read_json_body` (415 for another Content-Type; repeated
      keys, bad UTF-8 and deep nesting 400) instead of Flask's lenient ``get_json``.
    - A query argument that is present but blank (empty, or only white space such as
      ``%20``, ``%0A``, ``%09``, ``%C2%85``, ``%C2%A0``) is refused (422, pointer to the
      argument) rather than matched as a value: leave a filter out to not filter. A field
      whose view gives blank values an answer of its own (the feed's ``since``: 400
      ``invalid-cursor``) says so with ``metadata={"keep_blank": True}``.
    """

    def _raw_load_json(self, req) -> Any:
        if not req.get_data(cache=True).strip():
            return webargs_core.missing
        return read_json_body()

    def pre_load(self, location_data, *, schema, req, location):
        if location == "query":
            blank = {name: [BLANK_FILTER] for name, values in req.args.lists()
                     if name in schema.fields and not schema.fields[name].metadata.get("keep_blank")
                     and any(not v.strip() for v in values)}
            if blank:
                raise ValidationError(blank)
        return location_data


class Blueprint(SmorestBlueprint):
    """flask-smorest's Blueprint with :class:`StrictParser`: every API blueprint is one of these."""

    ARGUMENTS_PARSER = StrictParser()
