"""An optional ``Idempotency-Key`` on the services' POSTs (issue 12, item 5).

A POST under /api/v1/ (registering a volunteer, an enrolment and its approval, service time,
a certificate, …) may carry an ``Idempotency-Key``, with the alphabet of a push's
(docs/protocol.md, Push, "Idempotency and retries"). The first such request is processed and,
if it succeeds (2xx), its answer is kept under (client id, key) — in the same table, sealed
and compressed the same way, and purged with the same retention as the pushes' answers. The
same key again, for the same method, path and body, gets that answer again (with
``Idempotent-Replayed: true``) without anything being done twice; with another method, path
or body it is refused, 409 ``/problems/idempotency-key-reused``; while the first is still
being processed, 409 ``/problems/idempotency-in-progress``. An answer that is not a success
is not kept: the same request may be sent again and is processed anew. Without the field
nothing changes. Pushes (/api/v1/exchange/batches) keep their own, required key
(gateway/exchange/push.py); validation stores nothing and ignores the field.

So a client — or the README's tour, run twice — can send the same request again safely.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gateway import store
from gateway.api.auth import current_caller
from gateway.api.exchange import IDEMPOTENCY_KEY, KEY_ALPHABET
from gateway.errors import Problem, problem_response
from gateway.exchange import message_log
from gateway.store.models import IdempotencyKey, utcnow

log = logging.getLogger(__name__)

PREFIX = "/api/v1/"
NOT_HERE = ("/api/v1/exchange/", "/api/v1/validate")
FIELD = "Idempotency-Key"
RETRY_AFTER_SECONDS = 2


def accepts_key(method: str, path: str) -> bool:
    """Whether a request (or an operation of the OpenAPI document, by its path template)
    honours the optional key: the one rule, for the requests and for the document
    (gateway/api/openapi.py IdempotencyKeys)."""
    return method.upper() == "POST" and path.startswith(PREFIX) and not path.startswith(NOT_HERE)


def _applies() -> bool:
    return FIELD in request.headers and accepts_key(request.method, request.path)


def _digest() -> str:
    """What a key names: the method, the path with its query, and the body's bytes."""
    h = hashlib.sha256(f"{request.method} {request.full_path.rstrip('?')}\n".encode())
    h.update(request.get_data(cache=True))
    return h.hexdigest()


def _sessions():
    return current_app.extensions["store.sessionmaker"]


def _before() -> Response | None:
    if not _applies():
        return None
    key = request.headers[FIELD]
    if not IDEMPOTENCY_KEY.match(key):
        return problem_response(Problem(
            400, "idempotency-key-required", "Idempotency-Key malformed",
            f"an Idempotency-Key is {KEY_ALPHABET}; "
            "leave the field out to have the request processed without one"))
    try:
        caller = current_caller()
    except Exception:  # noqa: BLE001 - not authenticated: the operation itself answers (401)
        return None
    g.caller = caller  # a signature's nonce is spent once: the operation reads the caller from g
    digest = _digest()
    with _sessions()() as session:
        row = session.execute(select(IdempotencyKey).where(
            IdempotencyKey.client_id == caller.client_id, IdempotencyKey.key == key)).scalar_one_or_none()
        if row is None:
            row = IdempotencyKey(client_id=caller.client_id, key=key, request_digest=digest,
                                 status="in_progress")
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # another request took the key a moment ago
                session.rollback()
                return _in_progress(key)
            g.idempotency_row = row.id
            return None
        if row.request_digest != digest:
            return problem_response(Problem(
                409, "idempotency-key-reused", "Idempotency key reused",
                "this Idempotency-Key was already used with another method, path or body; use a "
                "new key for a new request", idempotency_key=key))
        if row.status != "done" or row.response_blob is None:
            return _in_progress(key)
        body = b"".join(message_log.read_blob(session, row.response_blob))
        response = current_app.response_class(body, status=row.response_status,
                                              content_type=row.response_content_type)
        response.headers["Idempotent-Replayed"] = "true"
        return response


def _in_progress(key: str) -> Response:
    response = problem_response(Problem(
        409, "idempotency-in-progress", "Request still being processed",
        "a request with this Idempotency-Key is being processed; retry later with the same key "
        "and body to get its answer", idempotency_key=key, retry_after=RETRY_AFTER_SECONDS))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _after(response: Response) -> Response:
    row_id = g.pop("idempotency_row", None)
    if row_id is None:
        return response
    if not response.is_streamed:
        # the handler has committed what it did, or failed: its session's open transaction
        # (on SQLite, the write lock a refused request still holds) must not outlive it
        store.end_request_session()
    with _sessions()() as session:
        if 200 <= response.status_code < 300 and not response.is_streamed:
            blob, _size = message_log.write_blob(session, [response.get_data()])
            row = session.get(IdempotencyKey, row_id)
            if row is not None:
                row.status, row.response_status = "done", response.status_code
                row.response_content_type, row.response_blob = response.content_type, blob
                row.completed_at = utcnow()
        else:
            session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
        session.commit()
    return response


def _teardown(_exc: Any) -> None:
    """A request that ended in an exception gives its key back."""
    row_id = g.pop("idempotency_row", None)
    if row_id is None:
        return
    store.end_request_session()
    try:
        with _sessions()() as session:
            session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id,
                                                         IdempotencyKey.status == "in_progress"))
            session.commit()
    except Exception:  # noqa: BLE001 - the original failure is the one to report
        log.warning("could not release idempotency key row %s", row_id, exc_info=True)


def init_app(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)
