"""The HTTP layer's helpers, in one place: every blueprint of gateway/api takes them from here.

- the service context of a request (the caller authenticated first) and the security each
  operation declares in the OpenAPI document (:data:`BEARER`, :data:`SIGNED`);
- paging arguments and answers, the region-prefix argument;
- reading bodies: :func:`read_json_body` / :func:`read_json_object`, and :class:`StrictParser`
  for webargs' arguments (415 / 400 / 422 as problem+json);
- documenting problem+json answers: :meth:`Blueprint.problems` with the blueprint's own
  descriptions of each status;
- the app-wide refusal of personal data in URLs.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, TypeVar

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
from gateway.standard.issues import Issue
from gateway.standard import engine
from gateway.store import get_session

# OpenAPI: what the resource operations declare, a development token (gateway/api/auth.py
# takes a signed request on them too; the document names only the token for them).
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


#: A region prefix argument: province (2 digits), city (4) or county (6).
REGION_PREFIX_PATTERN = r"^([0-9]{2}|[0-9]{4}|[0-9]{6})$"
REGION = validate.Regexp(REGION_PREFIX_PATTERN, error="a region prefix of 2, 4 or 6 digits")


def page_of(items: Iterable[Any], page: int, per_page: int, total: int) -> dict[str, Any]:
    return {"items": list(items), "page": page, "per_page": per_page, "total": total}


class DecisionSchema(Schema):
    """A reviewer's decision with an optional note."""

    note = fields.String(load_default=None, validate=validate.Length(max=500))


# -- strict input: one reader of JSON bodies and one parser of arguments for every blueprint ------

class Bilingual(str):
    """An argument error message in English that carries its Chinese text (``.zh``)."""

    zh: str

    def __new__(cls, en: str, zh: str) -> "Bilingual":
        message = super().__new__(cls, en)
        message.zh = zh
        return message


BLANK_FILTER = Bilingual("must not be blank (empty or only white space): leave the filter out instead",
                         "参数不能为空（为空或只有空白字符）：不筛选时请省略该参数")


def not_blank(value: str) -> None:
    """A marshmallow validator: a filter sent in a body may not be blank either."""
    if not value.strip():
        raise ValidationError(BLANK_FILTER)


def is_json_media_type(mimetype: str) -> bool:
    """``application/json`` or any ``application/*+json`` (merge patch, problem+json …)."""
    return mimetype == "application/json" or (mimetype.startswith("application/")
                                              and mimetype.endswith("+json"))


def unsupported_media_type(*expected: str) -> Problem:
    """415 naming the media types a body may be sent as (application/json unless given)."""
    expected = expected or ("application/json",)
    return Problem(415, "unsupported-media-type", "Unsupported media type",
                   f"send the body as {' or '.join(expected)} (Content-Type: "
                   f"{request.mimetype or 'none'} was sent)",
                   message_zh=f"请求体的类型（Content-Type）须为 {' 或 '.join(expected)}")


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


def read_json_object(what: str) -> dict[str, Any]:
    """The request body as one JSON object (``what`` names it in the messages): as
    :func:`read_json_body`, and 400 ``not-an-object`` for any other JSON value."""
    value = read_json_body(f"send a {what} as a JSON object")
    if not isinstance(value, dict):
        raise Problem(400, "not-an-object", "Not a JSON object", f"send one {what} as a JSON object")
    return value


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


# -- personal data never travels in a URL (issue 11, finding 5) ----------------------------------

#: Query parameters that would put personal data in a URL (and so in access logs, proxies,
#: browser history): refused on every path, never silently ignored.
PERSONAL_QUERY_PARAMETERS = frozenset({"id_number", "mobile", "contact_mobile", "phone",
                                       "guardian_mobile"})
#: Where each path's look-ups by personal data go instead.
PERSONAL_LOOKUP_HOMES = {"/api/v1/volunteers": "POST /api/v1/volunteers/search (or POST "
                                               "/api/v1/volunteers/lookup for one document)"}


def refuse_personal_data_in_url() -> None:
    """``before_request`` of the app: 400 ``/problems/personal-data-in-url`` for a request
    whose query string names a personal-data parameter (whatever its value or encoding)."""
    named = sorted({name.strip().lower() for name in request.args} & PERSONAL_QUERY_PARAMETERS)
    if not named:
        return
    home = PERSONAL_LOOKUP_HOMES.get(request.path.rstrip("/"),
                                     "a POST body (see the operation in /api/openapi.json)")
    raise Problem(400, "personal-data-in-url", "Personal data in the URL",
                  f"personal data ({', '.join(named)}) must not be sent in a URL: send it in "
                  f"the body of {home}",
                  [Issue(f"/{name}", "request.personal_data_in_url", "个人信息（证件号码、手机号码）"
                         "不得放在网址中，请放在请求体中发送", "personal data must not be sent in a URL; "
                         "send it in the request body") for name in named],
                  use=home)


_View = TypeVar("_View", bound=Callable[..., Any])


class Blueprint(SmorestBlueprint):
    """flask-smorest's Blueprint with :class:`StrictParser`: every API blueprint is one of these.

    ``problems`` maps a status to how this blueprint's operations describe their problem+json
    answer of that status; ``@blp.problems(401, 403)`` documents an operation's with them.
    """

    ARGUMENTS_PARSER = StrictParser()

    def __init__(self, *args: Any, problems: Mapping[int, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.problem_descriptions: dict[int, str] = dict(problems or {})

    def problems(self, *statuses: int) -> Callable[[_View], _View]:
        """Document the operation's problem+json answers of ``statuses`` (in that order)."""
        def decorate(func: _View) -> _View:
            for status in statuses:
                func = self.alt_response(status, description=self.problem_descriptions[status])(func)
            return func
        return decorate


# -- schema v2 through the services' API: the change feed's rendering, one place -----------------

#: ``?schema_version=`` of the services' item and list GETs (the feed's versions, default 1).
SCHEMA_VERSION_DESCRIPTION = (
    "The schema version of the answer: 1 (default, the API's own view, with v2's extra members "
    "under `national`) or 2: the record exactly as the change feed renders it with "
    "schema_version=2 (schemas/v2/<entity>, GET /api/v1/schemas/2/<entity>), personal data "
    "masked by the caller's personal-data access as in v1 (docs/protocol.md, \"Schema version "
    "2 through the services' API\").")


def schema_version_field() -> fields.String:
    from gateway.exchange import feed  # the feed builds on the services, as this layer does

    return fields.String(load_default="1", validate=validate.OneOf(feed.FEED_VERSIONS),
                         metadata={"description": SCHEMA_VERSION_DESCRIPTION})


class VersionArgs(Schema):
    """The query of an item GET that can answer in schema v2."""

    schema_version = schema_version_field()


def _v2_record(entity: str) -> dict[str, Any]:
    return {"type": "object", "description": f"With schema_version=2: the {entity} record in "
            f"schemas/v2/{entity}.schema.json, as the change feed renders it"}


def versioned(v1_schema: type[Schema], entity: str, page: bool = False) -> dict[str, Any]:
    """``blp.doc`` of a GET whose 200 answer is ``v1_schema`` or, with ``schema_version=2``,
    the v2 record (a page of them with ``page``)."""
    v2: dict[str, Any] = _v2_record(entity)
    if page:
        v2 = {"type": "object", "required": ["items", "page", "per_page", "total"], "properties": {
            "items": {"type": "array", "items": _v2_record(entity)},
            "page": {"type": "integer"}, "per_page": {"type": "integer"},
            "total": {"type": "integer"},
            "not_rendered": {"type": "array", "items": {"type": "string"}, "description":
                             "numbers of records on the page that the feed would not send "
                             "(deleted, or failing the published schema): left out of items"}}}
    return {"responses": {200: {"content": {"application/json": {
        "schema": {"anyOf": [v1_schema, v2]}}}}}}


def _rendered(ctx: ServiceContext, entity: str, keys: list[str], version: str
              ) -> dict[str, dict[str, Any] | None]:
    from gateway.exchange import feed

    return feed.render_records(ctx, entity, keys, version)


def record_in_version(ctx: ServiceContext, entity: str, key: str, version: str,
                      headers: Mapping[str, str] | None = None) -> Any:
    """The answer of an item GET with ``schema_version=version`` (not 1): the record the
    service has just read for the caller (access and 404 as in v1), rendered by the change
    feed (:func:`gateway.exchange.feed.render_records`), as JSON; 409
    ``/problems/not-renderable`` when the feed would not send it (it fails the published
    schema or rules in that version: logged there by rule ids, never values)."""
    record = _rendered(ctx, entity, [key], version)[key]
    if record is None:
        raise Problem(409, "not-renderable", "Not renderable in this schema version",
                      f"{entity} {key} cannot be rendered in schema version {version}: it fails "
                      f"the published schema or rules (the change feed does not send it either)",
                      message_zh=f"该记录不符合第 {version} 版数据标准，无法按该版本输出",
                      schema_version=version)
    response = current_app.json.response(record)
    response.headers.update(headers or {})
    return response


def page_in_version(ctx: ServiceContext, entity: str, keys: list[str], page: int, per_page: int,
                    total: int, version: str) -> Any:
    """A list GET's page with ``schema_version=version``: each record of ``keys`` as the feed
    renders it; a record the feed would not send is left out of ``items`` and named in
    ``not_rendered``."""
    rendered = _rendered(ctx, entity, keys, version)
    body = page_of((rendered[k] for k in keys if rendered[k] is not None), page, per_page, total)
    missing = [k for k in keys if rendered[k] is None]
    if missing:
        body["not_rendered"] = missing
    return current_app.json.response(body)
