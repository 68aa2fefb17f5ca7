"""``GET /api/v1/sync/status``: every sync source's state, as ``vgw sync status --json`` prints
it (for the administrators' console). Needs the ``sync:read`` permission; a source's settings
(credentials) are never part of it."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from gateway.api.common import BEARER, service_context
from gateway.services import sync_status

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
