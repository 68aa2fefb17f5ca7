"""RFC 9457 problem details: every error the HTTP API answers has this shape.

A problem's ``type`` is a stable relative URI (``/problems/<slug>``) documented in
docs/protocol.md; validation problems add ``errors``: a list of
``{pointer, rule, message_zh, message_en}``.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from gateway.standard.issues import Issue

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("gateway.errors")


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem+json document."""

    def __init__(self, status: int, slug: str, title: str, detail: str = "",
                 errors: Iterable[Issue] = (), **extra: Any):
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = list(errors)
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": f"/problems/{self.slug}", "title": self.title,
                                "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.errors:
            body["errors"] = [issue.as_dict() for issue in self.errors]
        body.update(self.extra)
        return body


def problem_response(problem: Problem) -> Response:
    return Response(json.dumps(problem.to_dict(), ensure_ascii=False), status=problem.status,
                    mimetype=PROBLEM_JSON)


# Werkzeug's HTTP errors, mapped to stable slugs so clients can branch on ``type``.
_HTTP_SLUGS = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 406: "not-acceptable", 409: "conflict", 411: "length-required",
    413: "body-too-large", 415: "unsupported-media-type", 422: "unprocessable",
    429: "too-many-requests",
}


def from_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    # flask-smorest attaches marshmallow messages for 422s on query/path arguments.
    messages = (getattr(exc, "data", None) or {}).get("messages")
    errors = list(_issues_from_marshmallow(messages)) if messages else []
    problem = Problem(status, _HTTP_SLUGS.get(status, "http-error"), exc.name,
                      exc.description or "", errors=errors)
    return problem_response(problem)


def _issues_from_marshmallow(messages: dict, prefix: str = "") -> Iterable[Issue]:
    for key, value in messages.items():
        here = f"{prefix}/{key}" if key not in ("json", "query", "view_args", "headers") else prefix
        if isinstance(value, dict):
            yield from _issues_from_marshmallow(value, here)
        else:
            for text in value:
                # a message the gateway wrote itself says it in Chinese too (Bilingual);
                # marshmallow's own messages are English only
                zh = getattr(text, "zh", None) or f"参数无效：{text}"
                yield Issue(here, "request.argument", zh, str(text))


def _from_unexpected(exc: Exception) -> Response:
    # Never echo the exception (it may hold personal data); log it with its traceback.
    log.exception("unhandled error")
    return problem_response(Problem(500, "internal-error", "Internal Server Error",
                                    "The gateway failed to handle the request; nothing was changed."))


#: Seconds a client is told to wait (``Retry-After``) when the store cannot be reached.
STORE_RETRY_AFTER_SECONDS = 5


def store_unavailable(exc: BaseException) -> bool:
    """The store out of reach (see :func:`gateway.store.unavailable`)."""
    from gateway import store

    return store.unavailable(exc)


def store_unavailable_problem() -> Problem:
    return Problem(503, "store-unavailable", "Store unavailable",
                   "The gateway cannot reach its database just now; nothing was changed by "
                   "the part that failed. Retry after the time in Retry-After (a push with "
                   "the same Idempotency-Key).", retry_after=STORE_RETRY_AFTER_SECONDS)


def _from_database_error(exc: Exception) -> Response:
    if not store_unavailable(exc):
        return _from_unexpected(exc)
    # The driver's message names host and port at most, never data; no traceback needed.
    log.warning("store unavailable: %s", type(getattr(exc, "orig", None) or exc).__name__)
    response = problem_response(store_unavailable_problem())
    response.headers["Retry-After"] = str(STORE_RETRY_AFTER_SECONDS)
    return response


def _from_service_error(exc) -> Response:
    return problem_response(Problem(exc.status, exc.slug, exc.title, exc.detail,
                                    errors=exc.issues, **exc.extra))


def init_app(app: Flask) -> None:
    from gateway.services.errors import ServiceError

    from sqlalchemy.exc import DBAPIError

    app.register_error_handler(ServiceError, _from_service_error)
    # The store down or restarting: 503 store-unavailable with Retry-After, not a 500.
    app.register_error_handler(DBAPIError, _from_database_error)
    app.register_error_handler(Problem, problem_response)
    app.register_error_handler(HTTPException, from_http_exception)
    app.register_error_handler(Exception, _from_unexpected)


_INPUT_TITLES = {"invalid-encoding": "Body is not valid UTF-8", "too-deep": "JSON nests too deeply",
                 "duplicate-key": "Duplicate key in a JSON object",
                 "value-too-long": "A value is too long", "line-too-long": "A line is too long",
                 "too-many-keys": "An object has too many members"}


def input_problem(exc) -> Problem:
    """The 400 answer to input that cannot be read as JSON (a :class:`gateway.jsonio.InputError`).

    One wording for every way in (API bodies, arguments, pushes), with the member's JSON
    Pointer in ``errors`` when the reader knows it (a repeated key).
    """
    errors = [Issue(exc.pointer, f"input.{exc.slug}", exc.message_zh, exc.message_en)] \
        if getattr(exc, "pointer", None) is not None else []
    return Problem(400, exc.slug, _INPUT_TITLES.get(exc.slug, "Malformed JSON"), exc.message_en,
                   errors=errors, message_zh=exc.message_zh, **({"line": exc.line} if exc.line else {}))
