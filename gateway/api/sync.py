"""The scheduled syncs over HTTP.

``GET /api/v1/sync/status``: every sync source's state, as ``vgw sync status --json`` prints
it (for the administrators' console). Needs the ``sync:read`` permission; a source's settings
(credentials) are never part of it.

``PUT /api/v1/sync/sources/{name}/files/{filename}``: upload a file for a source whose adapter
reads files (a team's spreadsheet); the source's next run reads it. Signed like a push (or a
development token), ``sync:write`` permission, a region scope that covers the source's; the
upload is kept in the message log like any batch, accepted or not."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from flask import current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy import select

from gateway.adapter import AdapterError, MappingError, UploadsNotAccepted, load_adapter
from gateway.api.common import Blueprint, BEARER, service_context
from gateway.api.exchange import _authenticate
from gateway.errors import Problem
from gateway.exchange import message_log, signatures
from gateway.privacy import vault
from gateway.services import sync_status
from gateway.store import get_session
from gateway.store.models import ClientKey, SyncSource

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync",
                description="State of the scheduled syncs with local systems (sources, runs, "
                            "lag, failures, dead letters).")


class SyncRunSchema(Schema):
    id = fields.Integer()
    direction = fields.String(metadata={"description": "pull or push"})
    trigger = fields.String(metadata={"description": "schedule, manual or replay"})
    status = fields.String(metadata={"description": "running, succeeded, partial (some records "
                                                    "dead-lettered), failed or interrupted"})
    started_at = fields.String()
    finished_at = fields.String(allow_none=True)
    worker = fields.String(metadata={"description": "host:pid of the process that ran it"})
    pages = fields.Integer()
    read = fields.Integer()
    written = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()
    dead_lettered = fields.Integer()
    retries = fields.Integer()
    skipped = fields.Integer(metadata={"description": "changes the target did not get although "
                                                      "the source takes their entity (tombstones "
                                                      "for an adapter that cannot delete)"})
    skipped_reasons = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "why, by rule: {\"adapter.cannot_delete\": {\"count\": 3, \"message\": …}}"})
    lag_seconds = fields.Integer(allow_none=True, metadata={"description": "0: caught up"})
    caught_up = fields.Boolean()
    errors = fields.List(fields.Dict())


class SyncSourceStatusSchema(Schema):
    name = fields.String()
    adapter = fields.String()
    direction = fields.String()
    entities = fields.List(fields.String())
    schedule = fields.String()
    status = fields.String(metadata={"description": "active or paused"})
    flagged = fields.Boolean(metadata={"description": "paused by the engine after repeated failures"})
    paused_reason = fields.String(allow_none=True)
    consecutive_failures = fields.Integer()
    last_run = fields.Nested(SyncRunSchema, allow_none=True)
    last_success_at = fields.String(allow_none=True)
    lag_seconds = fields.Integer(allow_none=True)
    dead_letters_pending = fields.Integer()
    cursors = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True))


class SyncStatusSchema(Schema):
    generated_at = fields.String()
    retries = fields.String(metadata={"description": "on, or off (vgw sync retries off)"})
    sources = fields.List(fields.Nested(SyncSourceStatusSchema))


@blp.route("/status")
class Status(MethodView):
    @blp.response(200, SyncStatusSchema)
    @blp.alt_response(401, description="No valid credentials (problem+json)")
    @blp.alt_response(403, description="No sync:read permission (problem+json)")
    @blp.doc(security=BEARER)
    def get(self):
        """Every source: state, last run, last success, lag, failures, pending dead letters."""
        ctx = service_context()
        ctx.caller.require("sync", "read")
        return sync_status.status(ctx.session)


class UploadAnswer(Schema):
    source = fields.String()
    file = fields.String(metadata={"description": "the name the file is kept under"})
    bytes = fields.Integer()
    sha256 = fields.String()
    batch_id = fields.String(metadata={"description": "the upload's message-log batch id"})


@blp.route("/sources/<name>/files/<path:filename>")
class Upload(MethodView):
    @blp.response(201, UploadAnswer)
    @blp.alt_response(401, description="No valid signature or credentials (problem+json)")
    @blp.alt_response(403, description="No sync:write permission, or the source is outside the "
                                        "caller's region (problem+json)")
    @blp.alt_response(404, description="No such source (problem+json)")
    @blp.alt_response(409, description="The source's adapter does not take files (problem+json)")
    @blp.alt_response(413, description="Body over MAX_PUSH_BYTES (problem+json)")
    @blp.alt_response(422, description="A file name the source would not read (problem+json)")
    @blp.doc(security=BEARER, requestBody={
        "required": True, "description": "The file's bytes (xlsx or csv), at most MAX_PUSH_BYTES.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}})
    def put(self, name, filename):
        """Upload a file (a spreadsheet) for a source; its next run reads it."""
        caller, body = _authenticate(current_app.config["MAX_PUSH_BYTES"])
        try:
            return _upload(caller, body, name, filename)
        finally:
            body.close()


def _upload(caller, body, name: str, filename: str) -> tuple[dict, int]:
    caller.require("sync", "write")
    session = get_session()
    source = session.execute(select(SyncSource).where(SyncSource.name == name)).scalar_one_or_none()
    if source is None:
        raise Problem(404, "not-found", "Not found", f"no source named {name!r}")
    prefix = (source.scope or {}).get("region_prefix") or ""
    if not prefix.startswith(caller.region_prefix):
        raise Problem(403, "out-of-scope", "Outside the caller's scope",
                      f"source {name!r} serves region {prefix or '(all)'}, outside the caller's "
                      f"region {caller.region_prefix!r}")
    signed = signatures.current_signature()
    key_pem = (session.execute(select(ClientKey.public_key_pem).where(ClientKey.key_id == signed.key_id))
               .scalar_one_or_none() if signed is not None else None)
    batch_id = f"upload-{uuid.uuid4().hex[:16]}"
    entry = message_log.record_inbound(
        session, client_id=caller.client_id, signed=signed, public_key_pem=key_pem,
        method=request.method, target_uri=request.url,
        headers={k.lower(): v for k, v in request.headers.items()},
        content_type=request.content_type, body=body.file, body_sha256=body.sha256_hex,
        received_at=dt.datetime.now(dt.timezone.utc), batch_id=batch_id)
    entry_id = entry.id
    body.file.seek(0)
    settings = json.loads(vault().decrypt(source.settings_enc))
    failure: Problem | None = None
    kept = None
    try:
        with load_adapter(source.adapter, settings, sealer=vault()) as adapter:  # kept sealed
            kept = adapter.accept_file(filename, body.file)
    except UploadsNotAccepted as exc:
        failure = Problem(409, "uploads-not-accepted", "The source takes no files", str(exc))
    except MappingError as exc:
        failure = Problem(422, "invalid-upload", "File not accepted",
                          "the file name is not one the source reads", errors=exc.issues)
    except (AdapterError, OSError) as exc:
        failure = Problem(503, "upload-failed", "The file could not be kept",
                          f"{type(exc).__name__}: the source's folder is not writable or unavailable")
    size = body.size
    message_log.finish(session, entry_id, status="rejected" if failure else "done",
                       http_status=failure.status if failure else 201,
                       summary={"source": name, "file": kept, "bytes": size})
    session.commit()
    if failure is not None:
        raise failure
    return {"source": name, "file": kept, "bytes": size, "sha256": body.sha256_hex,
            "batch_id": batch_id}, 201
