"""``POST /api/v1/exchange/batches``: a local system pushes a batch of records (docs/protocol.md).

The body is never read into memory: the signature is verified over the header fields, then
the body is spooled to a temporary file while it is hashed and its Content-Digest checked
(:func:`gateway.exchange.signatures.verify_streamed_request`), before the batch is read
record by record (:mod:`gateway.exchange.push`). The answer, one result per record, is
written to a temporary file, signed by the gateway and streamed back.
"""

from __future__ import annotations

import re
import time

from flask import Response, current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields

from gateway import metrics
from gateway.api.auth import current_caller
from gateway.api.common import Blueprint, SIGNED, service_context
from gateway.errors import Problem, problem_response
from gateway.exchange import push, signatures
from gateway.store.models import utcnow

blp = Blueprint("exchange", __name__, url_prefix="/api/v1/exchange",
                description="The exchange protocol: signed batches pushed by local systems "
                            "(docs/protocol.md).")

JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
#: 1-128 visible ASCII characters, U+0021-U+007E (docs/protocol.md, Push, "Idempotency and
#: retries"); the client (gateway/exchange/client.py) and vgw-conformance check the same.
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
#: The alphabet of IDEMPOTENCY_KEY, as problems describe it.
KEY_ALPHABET = "1-128 visible ASCII characters (U+0021-U+007E, no spaces)"


class PushErrorSchema(Schema):
    pointer = fields.String(metadata={"description": "JSON Pointer into the item ({entity, op, data})"})
    rule = fields.String(metadata={"description": "stable rule id (docs/rules.md)"})
    message_zh = fields.String()
    message_en = fields.String()


class PushResultSchema(Schema):
    index = fields.Integer(metadata={"description": "position of the record in the batch, from 0"})
    line = fields.Integer(metadata={"description": "NDJSON only: the line number, from 1 (line 1 is "
                                                   "the header)"})
    entity = fields.String(allow_none=True)
    op = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "created, updated, unchanged, deleted or rejected"})
    key = fields.String(allow_none=True, metadata={
        "description": "the store's number of the record (volunteer_no, team_no, project_no, …)"})
    source_id = fields.String(allow_none=True, metadata={
        "description": "the sender's id of the record: its source_id, else its own number"})
    errors = fields.List(fields.Nested(PushErrorSchema))
    note = fields.String(metadata={"description": "why a record answers unchanged (stale, or "
                                                  "fields kept from a higher-priority source)"})


class PushSummarySchema(Schema):
    total = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    deleted = fields.Integer()
    rejected = fields.Integer()


class PushAnswerSchema(Schema):
    batch_id = fields.String()
    idempotency_key = fields.String()
    received_at = fields.String(metadata={"description": "when the gateway received the batch "
                                                         "(local time with offset)"})
    results = fields.List(fields.Nested(PushResultSchema))
    summary = fields.Nested(PushSummarySchema)


# The envelope is published as schemas/v1/batch.schema.json (GET /api/v1/schemas/1/batch).
_BATCH_BODY = {"type": "object", "required": ["schema_version", "sender", "batch_id", "records"]}


def _media_type() -> str:
    mimetype = request.mimetype
    if mimetype in JSON_TYPES:
        return push.JSON
    if mimetype in NDJSON_TYPES:
        return push.NDJSON
    raise Problem(415, "unsupported-media-type", "Unsupported media type",
                  "send the batch as application/json (an envelope) or application/x-ndjson "
                  "(a header line, then one record per line)")


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None or not IDEMPOTENCY_KEY.match(key):
        raise Problem(400, "idempotency-key-required", "Idempotency-Key required",
                      f"a push needs an Idempotency-Key field of {KEY_ALPHABET}; "
                      "send the same key (and the same body) to retry safely")
    return key


def _authenticate(limit: int):
    """The caller and the spooled body (digest checked): a signature, or a development token."""
    if "Signature" in request.headers or "Signature-Input" in request.headers:
        return signatures.verify_streamed_request(request, limit=limit)
    caller = current_caller()  # a development token (tests, local development), else 401
    body = signatures.spool_body(request, limit=limit)
    digest = request.headers.get("Content-Digest")
    if digest is not None and not body.matches(digest):
        body.close()
        raise signatures.SignatureRejected("digest-mismatch", "Content-Digest does not match "
                                           "the message body")
    return caller, body


@blp.route("/batches")
class Batches(MethodView):
    @blp.doc(security=SIGNED, parameters=[{
        "in": "header", "name": "Idempotency-Key", "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
        "description": "The client's key for this batch: a retry with the same key and body "
                       "gets the stored answer; the same key with another body is refused (409)."},
    ], requestBody={
        "required": True,
        "description": "A batch envelope (schemas/v1/batch.schema.json), or NDJSON: line 1 the "
                       "header {schema_version, sender, batch_id, generated_at}, then one "
                       "{entity, op, data} per line (and, between gateways, an optional "
                       "`home`: docs/protocol.md, Federation identity). At most MAX_PUSH_BYTES.",
        "content": {"application/json": {"schema": _BATCH_BODY},
                    "application/x-ndjson": {"schema": {"type": "string"}}},
    })
    @blp.response(200, PushAnswerSchema, description="One result per record, in input order "
                  "(for an NDJSON push: NDJSON, one result per line, then the summary line). "
                  "Signed by the gateway.")
    @blp.alt_response(400, description="Idempotency-Key missing, or the body is not JSON (problem+json)")
    @blp.alt_response(401, description="Not signed, bad signature, digest mismatch, … (problem+json)")
    @blp.alt_response(403, description="The envelope's sender is not the client (problem+json)")
    @blp.alt_response(409, description="Idempotency-Key reused with another body, or still in "
                                       "progress (problem+json)")
    @blp.alt_response(413, description="Body over MAX_PUSH_BYTES (problem+json)")
    @blp.alt_response(415, description="Neither JSON nor NDJSON (problem+json)")
    @blp.alt_response(422, description="Invalid envelope (problem+json)")
    def post(self):
        """Push a batch: each record is validated and upserted (or deleted) on its own."""
        started, result = time.perf_counter(), "refused"
        try:
            response = self._push()
            if response.status_code == 200:
                result = "replayed" if response.headers.get("Idempotent-Replayed") else "done"
            return response
        finally:
            metrics.push_answered(result, time.perf_counter() - started)

    @staticmethod
    def _push() -> Response:
        config = current_app.config
        if not any(name in request.headers for name in ("Signature", "Signature-Input", "Authorization")):
            current_caller()  # no credentials at all: the 401 challenge comes before any 400/415
        media_type = _media_type()
        key = _idempotency_key()
        caller, body = _authenticate(config["MAX_PUSH_BYTES"])
        incoming = push.Incoming(
            caller=caller, signed=signatures.current_signature(), body=body, media_type=media_type,
            idempotency_key=key, method=request.method, target_uri=signatures.target_uri(request),
            headers={name.lower(): value for name, value in request.headers.items()},
            received_at=utcnow())
        try:
            answer = push.receive(current_app._get_current_object(), service_context, incoming)
        except Problem as problem:
            response = problem_response(problem)
            if "retry_after" in problem.extra:
                response.headers["Retry-After"] = str(problem.extra["retry_after"])
            return response
        finally:
            body.close()
        response = Response(answer.chunks(), status=answer.status, content_type=answer.content_type,
                            direct_passthrough=True)
        response.headers["Content-Length"] = str(answer.size)
        response.headers.update(signatures.streamed_response_headers(
            answer.status, answer.content_type, answer.content_digest))
        if answer.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response
