"""Log lines as JSON (LOG_FORMAT = json), each with the request id, client id and batch id.

Every request gets an id: the ``X-Request-Id`` it was sent with (1-128 characters of
``[A-Za-z0-9._:-]``), else a new random one; it is echoed in the response's ``X-Request-Id``.
What is known about the work in hand travels with the log records of that work:

* ``request_id``: the request's id (inside a request);
* ``client_id``: the authenticated client (once the request is authenticated);
* ``batch_id``: the pushed batch's id, or a sync page's batch id, where known (:func:`bind`);
* ``source`` and ``run_id``: in a sync run (sync_jobs.engine binds them).

With LOG_FORMAT = json every line on stderr is one JSON object (:class:`JsonFormatter`):
``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, the fields above that are known,
and ``exception`` (the traceback). In a request, one line per answered request
(``gateway.http``: method, route, status, duration_ms) ties them together. Personal data
stays out: the privacy filter (gateway.privacy.PiiLogFilter) runs on every record first, and
the formatter masks citizen ID and mobile numbers in every field it writes as well (a batch
id is the client's own text). The route is the URL rule (``/api/v1/volunteers/<volunteer_no>``),
never the URL with its values.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from gateway.privacy import install_log_filter, scrub_text

__all__ = ["FIELDS", "JsonFormatter", "bind", "configure", "context", "init_app", "reset"]

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: The context fields a JSON line may carry, in this order.
FIELDS = ("request_id", "client_id", "batch_id", "source", "run_id")

_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "vgw_log_fields", default=None)


def reset(**fields: Any) -> None:
    """Start a new unit of work (a request, a run) with these fields only."""
    _fields.set({k: v for k, v in fields.items() if v is not None})


def bind(**fields: Any) -> None:
    """Add fields to the current unit of work's log context (None values are left out)."""
    current = dict(_fields.get() or {})
    current.update({k: v for k, v in fields.items() if v is not None})
    _fields.set(current)


def context() -> dict[str, Any]:
    """The fields known now: bound ones, and the authenticated client of the request."""
    found = dict(_fields.get() or {})
    try:
        from flask import g, has_request_context

        if has_request_context():
            caller = g.get("caller")
            if caller is not None and "client_id" not in found:
                found["client_id"] = caller.client_id
    except Exception:  # noqa: BLE001 - context is best effort, logging must not fail
        pass
    return {k: found[k] for k in FIELDS if k in found}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return scrub_text(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring); every text field scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
                      .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": _clean(record.getMessage()),
        }
        stamped = getattr(record, "vgw_context", None)
        for key, value in (stamped if stamped is not None else context()).items():
            line[key] = _clean(value)
        for key in ("method", "route", "status", "duration_ms"):
            if hasattr(record, key):
                line[key] = _clean(getattr(record, key))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = scrub_text(record.exc_text)
        if record.stack_info:
            line["stack"] = scrub_text(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


class _Stamp(logging.Filter):
    """Fixes the context on the record when it is emitted (in the thread doing the work)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "vgw_context"):
            record.vgw_context = context()
        return True


_JSON_HANDLER = "vgw-json-stderr"


def configure(log_format: str, loggers: tuple[str, ...] = ()) -> None:
    """With ``json``: one JSON handler on stderr for the root logger (added once per
    process), and every handler of gunicorn's loggers formatting JSON too; ``loggers`` are
    let through at INFO. With ``text``: nothing changes."""
    if log_format != "json":
        return
    root = logging.getLogger()
    if not any(h.get_name() == _JSON_HANDLER for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_JSON_HANDLER)
        handler.setFormatter(JsonFormatter())
        handler.addFilter(_Stamp())
        root.addHandler(handler)
    for name in ("gunicorn.error", "gunicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(JsonFormatter())
    for name in loggers:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    install_log_filter([logging.getLogger(name) for name in loggers])


# -- Flask wiring -----------------------------------------------------------------------------------

_http_log = logging.getLogger("gateway.http")


def init_app(app) -> None:
    """Request ids in and out; JSON lines and a line per request when LOG_FORMAT is json."""
    from flask import g, request

    as_json = app.config["LOG_FORMAT"] == "json"
    configure(app.config["LOG_FORMAT"])

    @app.before_request
    def _start() -> None:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
        g.request_started = time.perf_counter()
        reset(request_id=g.request_id)

    @app.after_request
    def _finish(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        if as_json and request_id:
            started = g.get("request_started", time.perf_counter())
            rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
            _http_log.info("%s %s %d", request.method, rule, response.status_code, extra={
                "method": request.method, "route": rule, "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
        return response

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        reset()
