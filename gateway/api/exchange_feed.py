"""``GET /api/v1/exchange/changes``: the change feed a local system pulls (gateway.exchange.feed).

The answer is signed by the gateway (RFC 9421, :func:`gateway.exchange.signatures.sign_response`)
and kept, as sent, in the message log (:func:`gateway.exchange.message_log.record_outbound`,
direction "out", batch id ``feed-<uuid>``, summary with the page's counts and cursors).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import http_sf
from cryptography.hazmat.primitives import serialization
from flask import Response, current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from gateway.api.common import Blueprint, SIGNED, service_context
from gateway.exchange import feed, message_log
from gateway.exchange.signatures import sign_response, target_uri

log = logging.getLogger("gateway.exchange.feed")

blp = Blueprint("exchange_feed", __name__, url_prefix="/api/v1/exchange",
                description="The change feed: every change the client may see since a cursor, "
                            "oldest first, in pages; deletions as tombstones; answers signed "
                            "by the gateway (docs/protocol.md).")

STATS_KEY = "exchange.feed.stats"


def feed_stats() -> feed.FeedStats:
    """This app's counters of records the feed refused to send."""
    return current_app.extensions.setdefault(STATS_KEY, feed.FeedStats())


class ChangesArgs(Schema):
    since = fields.String(load_default=None, metadata={"keep_blank": True,  # 400 invalid-cursor
        "description": "Opaque cursor: the `next_cursor` (or an entry's `cursor`) of an earlier "
                       "answer. Leave it out to read from the start."})
    entity = fields.String(load_default=None, validate=validate.OneOf(feed.FEED_ENTITIES), metadata={
        "description": "Only changes of this entity (default: every entity the client may read)."})
    schema_version = fields.String(load_default="1", validate=validate.OneOf(feed.FEED_VERSIONS),
                                   metadata={"description": "The schema version the records "
                                             "are rendered in: 1 (default) or 2 (every national "
                                             "field code the record carries). Cursors are the "
                                             "same in both."})
    limit = fields.Integer(load_default=feed.DEFAULT_LIMIT,
                           validate=validate.Range(min=1, max=feed.MAX_LIMIT),
                           metadata={"description": f"Most changes in the page (1–{feed.MAX_LIMIT})."})


class ChangeSchema(Schema):
    cursor = fields.String(metadata={"description": "Opaque cursor right after this change"})
    entity = fields.String(metadata={"description": ", ".join(feed.FEED_ENTITIES)})
    op = fields.String(metadata={"description": "`upsert` (data: the record now) or `delete` "
                                                "(a tombstone, data null)"})
    key = fields.String(metadata={"description": "The record's store number (volunteer_no, "
                                                 "team_no, project_no, …)"})
    changed_at = fields.String(metadata={"description": "When the change was made (local time, "
                                                        "with offset)"})
    origin = fields.String(allow_none=True, metadata={
        "description": "Who wrote the change in this gateway: the client id of the exchange "
                       "client whose push or API call made it, or the name of the sync source "
                       "whose pull brought it. A gateway federating both ways skips what it "
                       "wrote itself (no echo)"})
    home = fields.Dict(metadata={
        "description": "Optional (docs/protocol.md, Federation identity): the gateway the record "
                       "was first written in (its GATEWAY_ID) and its number there, `{gateway, "
                       "key}`, with `links` (the homes of the records it links to, "
                       "`[{field, gateway, key}]`) and, on a service record's tombstone superseded by a correction, "
                       "`replaced: true`. Sent for volunteers, teams, projects and service "
                       "records when this gateway has a GATEWAY_ID or the record came from "
                       "another gateway that named its home"})
    data = fields.Dict(allow_none=True, metadata={
        "description": "The record as it is now, in the standard's form (schemas/v1/<entity>, "
                       "or schemas/v2/<entity> with schema_version=2), "
                       "personal data masked unless the client's pii_access is full; null for a "
                       "delete"})


class ChangesPageSchema(Schema):
    changes = fields.List(fields.Nested(ChangeSchema))
    next_cursor = fields.String(metadata={"description": "Where to go on from: the cursor of the "
                                                         "last change read, or `since` when none"})
    has_more = fields.Boolean(metadata={"description": "More changes can be read at once"})


def _signing_key(response: Response) -> tuple[str | None, str | None]:
    """The kid and public key (PEM) of the gateway key that signed ``response``."""
    try:
        parsed = http_sf.parse(response.headers["Signature-Input"].encode("latin-1"),
                               tltype="dictionary")
        (_members, params), = parsed.values()
        kid = params["keyid"]
    except (KeyError, ValueError, TypeError):
        return None, None
    for key in current_app.extensions["signing.keyring"].keys:
        if key.kid == kid:
            pem = key.private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            return kid, pem.decode("ascii")
    return kid, None


def _log_outbound(ctx, response: Response, page: feed.FeedPage, args: dict[str, Any]) -> None:
    """Keep the signed page, as sent, in the message log (direction "out")."""
    kid, pem = _signing_key(response)
    message_log.record_outbound(
        ctx.session, client_id=ctx.caller.client_id, method=request.method,
        target_uri=target_uri(request), http_status=response.status_code,
        content_type=response.content_type, body=response.get_data(),
        response_headers=response.headers, batch_id=f"feed-{uuid.uuid4().hex}",
        key_id=kid, public_key_pem=pem,
        summary={"kind": "feed-page", "changes": len(page.changes), "scanned": page.scanned,
                 "skipped_invalid": page.skipped_invalid,
                 "skipped_out_of_scope": page.skipped_out_of_scope,
                 "since": args.get("since"), "entity": args.get("entity"),
                 "limit": args.get("limit"), "schema_version": args.get("schema_version"),
                 "next_cursor": page.next_cursor,
                 "has_more": page.has_more})


@blp.route("/changes")
class Changes(MethodView):
    @blp.doc(security=SIGNED)
    @blp.arguments(ChangesArgs, location="query")
    @blp.response(200, ChangesPageSchema, description="One page of changes, oldest first; signed "
                                                      "(Signature-Input, Signature, Content-Digest)")
    @blp.alt_response(400, description="since is not a cursor the gateway handed out "
                                       "(/problems/invalid-cursor)")
    @blp.alt_response(401, description="Not signed, or the signature is refused (problem+json)")
    @blp.alt_response(403, description="The client may read none of the asked entities "
                                       "(/problems/out-of-scope)")
    @blp.alt_response(422, description="entity or limit out of range (problem+json)")
    def get(self, args: dict[str, Any]):
        """The changes this client may see since a cursor (region, teams, read permissions)."""
        ctx = service_context()
        page = feed.read_changes(ctx, since=args["since"], entity=args["entity"],
                                 limit=args["limit"], stats=feed_stats(),
                                 version=args["schema_version"])
        if page.skipped_invalid:
            log.warning("change feed: %d change(s) for client %s not sent (records failing the "
                        "published schema)", page.skipped_invalid, ctx.caller.client_id)
        response = sign_response(current_app.json.response(page.as_dict()))
        _log_outbound(ctx, response, page, args)
        ctx.session.commit()
        return response
