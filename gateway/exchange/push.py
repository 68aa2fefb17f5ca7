"""Receiving a pushed batch: read it from the spooled body, keep the evidence, apply each record
under the idempotency key, and write the answer to a file that is signed and streamed back.

The HTTP view (gateway/api/exchange.py) authenticates and spools the body
(:func:`gateway.exchange.signatures.verify_streamed_request`: the Content-Digest has been
checked against the spooled bytes before anything here runs), then calls :func:`receive`.

1. **Header.** NDJSON: the first line is ``{schema_version, sender, batch_id, generated_at}``.
   JSON: one streaming pass (ijson) over the envelope reads its top-level members and checks
   the whole document is well-formed, without building it in memory (an envelope of up to
   :data:`_PARSE_WHOLE_BYTES` is parsed at once instead, in C: :func:`_whole_json`). The
   header is checked against schemas/v1/batch.schema.json (422 ``invalid-envelope``);
   ``sender`` must be the authenticated client (403 ``sender-mismatch``).
2. **Evidence.** The request goes into the message log with its signature, key snapshot and
   body (gateway.exchange.message_log) before any record is applied, whatever the outcome.
3. **Idempotency.** ``(client, Idempotency-Key)`` is reserved in its own committed
   transaction before processing. Same key and same body digest → the stored answer, byte
   for byte, nothing reprocessed; same key, other body → 409 ``idempotency-key-reused``;
   still being processed → 409 ``idempotency-in-progress`` (with Retry-After) — unless its
   worker stopped touching the reservation for IDEMPOTENCY_LEASE_SECONDS (it died), in which
   case this request takes the batch over. A batch that fails in its worker (an exception,
   gunicorn's timeout) gives its reservation back at once, so a retry proceeds.
4. **Records** are read back one at a time (NDJSON line by line, JSON items streamed by
   ijson) and gathered into groups, each applied by
   :func:`gateway.exchange.upserts.apply_records`: new volunteers and volunteers sent again
   unchanged with set-based writes (:mod:`gateway.exchange.bulk`), everything else record
   by record in its own SAVEPOINT, with the same outcome as one record at a time. Each
   transaction (one group) holds at most :data:`COMMIT_EVERY` records and as many as
   should be applied within :data:`COMMIT_SECONDS`, by the time records took lately
   (:class:`_Pace`); the heartbeat is its first write. So a large batch neither holds locks
   for long nor keeps more than one group of records in memory; on SQLite the worker
   pauses after each commit (:data:`SQLITE_YIELD_SECONDS`) so that other writers get the
   lock.
5. **Answer.** One result per record, in input order, written to a temporary file while its
   sha-256 is computed: JSON ``{batch_id, idempotency_key, received_at, results: […],
   summary}``, or NDJSON (one result per line, then ``{summary, batch_id, idempotency_key,
   received_at}``). It is stored (compressed) under the idempotency key, then signed and
   streamed.

**Limits.** Before any parser sees the body, one linear pass over its bytes refuses a
value longer than MAX_VALUE_BYTES and an NDJSON line longer than MAX_LINE_BYTES (400
``value-too-long`` / ``line-too-long``); an envelope with more than MAX_OBJECT_KEYS members
is refused (400 ``too-many-keys``), a record breaking a limit is rejected on its own. (An
envelope parsed at once without an escaped quote has had every string held to the limit by
that pass: its records are walked for depth and members only.)

**Crash semantics.** Chunks committed before a crash stay; the one in progress is rolled
back whole. A worker killed outright leaves the reservation ``in_progress`` without
heartbeat; once the lease has passed, a retry with the same key and body processes the whole batch again: records
already written are found by their source id (or document) and answer ``unchanged``, so
the store converges to exactly one copy of each record. Only the answer differs from an
uninterrupted run (``unchanged`` where it would have said ``created``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, Iterator, Mapping

import ijson
import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway import jsonio, logs, metrics, timefmt
from gateway.caller import Caller
from gateway.adapter import with_home
from gateway.errors import Problem, input_problem
from gateway.exchange import homes, message_log, national
from gateway.exchange.signatures import SignedRequest, SpooledBody
from gateway.exchange.upserts import Outcome, Source, SourcePriority, apply_records
from gateway.services.context import ServiceContext
from gateway.standard.engine import BATCH, Engine
from gateway.standard.issues import Issue, pointer
from gateway.store.models import ClientKey, IdempotencyKey, utcnow

__all__ = ["COMMIT_EVERY", "LEASE_SECONDS", "Answer", "Incoming", "JSON", "NDJSON", "receive",
           "replay_answer"]

log = logging.getLogger("gateway.exchange.push")

JSON, NDJSON = "application/json", "application/x-ndjson"
#: Records applied per transaction, at most …
COMMIT_EVERY = 500
#: … and seconds a transaction stays open, at most: on SQLite (one writer at a time) every
#: other writer waits for the commit, so a chunk of slow records must not hold it for long.
COMMIT_SECONDS = 1.0
#: After each commit on SQLite, pause this long before taking the write lock again: a writer
#: waiting in SQLite's busy handler polls only every 100 ms once it has waited a while, and
#: would otherwise never find the lock free between two chunks.
SQLITE_YIELD_SECONDS = 0.11
#: A reservation whose worker has not touched it for this long belongs to a dead worker
#: (the default of the setting IDEMPOTENCY_LEASE_SECONDS, which the app uses).
LEASE_SECONDS = 30
RETRY_AFTER_SECONDS = 5
_CHUNK = 1 << 16
#: JSON envelopes up to this size are parsed at once (:func:`_whole_json`), larger ones streamed.
_PARSE_WHOLE_BYTES = 4 << 20
_SPOOL_IN_MEMORY = 1 << 20
#: The sender's own number for a record, per entity (answered as ``source_id`` without one).
_OWN_NUMBER = {"volunteer": "volunteer_no", "team": "team_no", "project": "project_no",
               "service_record": "record_no", "enrollment": "enrollment_no",
               "training": "training_no", "commendation": "commendation_no",
               "evaluation": "evaluation_no", "complaint": "complaint_no",
               "certificate": "certificate_no"}
_SUMMARY_KEYS = ("total", "created", "updated", "unchanged", "deleted", "rejected")


@dataclass
class Incoming:
    """An authenticated push whose body has been spooled (and its digest checked)."""

    caller: Caller
    signed: SignedRequest | None
    body: SpooledBody
    media_type: str                 # JSON or NDJSON
    idempotency_key: str
    method: str
    target_uri: str
    headers: Mapping[str, str]      # lower-case names
    received_at: dt.datetime


@dataclass
class Answer:
    """A response body in a temporary file (position 0), with what signing it needs."""

    status: int
    content_type: str
    file: IO[bytes]
    size: int
    content_digest: str
    replayed: bool = False

    def chunks(self) -> Iterator[bytes]:
        try:
            while chunk := self.file.read(_CHUNK):
                yield chunk
        finally:
            self.file.close()


class _Writer:
    """Writes the answer to a spooled temporary file while hashing it."""

    def __init__(self) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.hasher.update(data)
        self.size += len(data)

    def answer(self, status: int, content_type: str) -> Answer:
        self.file.seek(0)
        digest = "sha-256=:" + base64.b64encode(self.hasher.digest()).decode("ascii") + ":"
        return Answer(status, content_type, self.file, self.size, digest)


# -- reading the batch -------------------------------------------------------------------------

def _ndjson_header(body: IO[bytes], limits: jsonio.Limits) -> tuple[Any, int]:
    """The first non-blank line's value and its line number (the stream is left after it)."""
    for number, raw in enumerate(body, start=1):
        if raw.strip():
            try:  # depth, members and string lengths read from the line's text
                value = jsonio.loads(raw, limits.max_depth, number, limits)
            except jsonio.InputError as exc:
                raise input_problem(exc) from None
            return value, number
    raise Problem(422, "invalid-envelope", "Invalid batch envelope",
                  "the body is empty: line 1 must be the batch header "
                  "{schema_version, sender, batch_id, generated_at}",
                  errors=[Issue("", "exchange.header", "缺少批次头（第一行）",
                                "the batch header (line 1) is missing")])


_SCALAR_EVENTS = ("string", "number", "boolean", "null")


def _json_header(body: IO[bytes], max_depth: int,
                 max_keys: int) -> tuple[dict[str, Any], int | None]:
    """Top-level members of a JSON envelope other than ``records`` (scalars; other values as
    ``...`` placeholders for validation) and the number of records (None if not an array).

    One streaming pass over the whole document, so a malformed body is refused before any
    record is applied: a repeated key anywhere (two ``records`` arrays too) and nesting
    deeper than ``max_depth`` outside a record are the whole body's fault (400); a record
    that nests too deep is only that record's (rejected in its result).
    """
    header: dict[str, Any] = {}
    count: int | None = None
    depth = 0  # the root value is at depth 0
    try:
        for prefix, event, value in jsonio.check_unique_keys(
                ijson.parse(body, use_float=True, buf_size=jsonio.IJSON_BUF_SIZE)):
            # ``depth`` is the nesting of the value this event starts or is: 1 = a member of
            # the envelope, 2 = an item of one of its arrays.
            if event in ("end_map", "end_array"):
                depth -= 1
                continue
            if event == "map_key":
                continue
            if depth == 1 and prefix == "records":
                count = 0 if event == "start_array" else None
            elif depth == 1:
                header[prefix] = value if event in _SCALAR_EVENTS else (
                    {} if event == "start_map" else [])
                if len(header) >= max_keys:
                    raise input_problem(jsonio.too_many_keys(max_keys))
            elif depth == 2 and prefix == "records.item" and count is not None:
                count += 1
            if event in ("start_map", "start_array"):
                depth += 1
                if depth > max_depth and not (depth > 2 and prefix.startswith("records.item")):
                    raise jsonio.InputError("too-deep", f"JSON 嵌套超过 {max_depth} 层",
                                            f"JSON nests deeper than {max_depth} levels")
    except jsonio.InputError as exc:  # a repeated key, e.g. two ``records`` arrays
        raise input_problem(exc) from None
    except ijson.common.IncompleteJSONError as exc:
        raise input_problem(jsonio.InputError("invalid-json", f"JSON 格式错误：{exc}",
                                            f"malformed JSON: {exc}")) from None
    except UnicodeDecodeError as exc:
        raise input_problem(jsonio.InputError("invalid-encoding", "内容不是有效的 UTF-8 编码",
                                            f"input is not valid UTF-8: {exc}")) from None
    return header, count


@dataclass(frozen=True)
class _Parsed:
    """A JSON envelope parsed at once (:func:`_whole_json`)."""

    document: dict[str, Any]
    #: No string of the text is longer than the limit on one value: the body holds no
    #: escaped quote, so every string literal is a run between two quotes, which
    #: :func:`jsonio.check_runs` has held to the limit (and a string is never longer in UTF-8
    #: than its literal). Its records are then walked for depth and members only.
    strings_within_limits: bool


def _whole_json(body: IO[bytes], size: int, max_depth: int) -> _Parsed | None:
    """A small JSON envelope parsed at once by orjson, or None: stream it (with ijson).

    ijson hands every token of the document to Python, which costs more than applying the
    records; up to :data:`_PARSE_WHOLE_BYTES` the body is parsed in C instead (bounded
    memory still). Whatever orjson refuses or might read differently is streamed, so that
    both ways answer alike: malformed or undecodable bodies (the streaming reader words the
    problem), non-objects, and bodies naming ``records`` more than once or with escapes
    that could spell it (ijson would read every ``records`` array, orjson the last).
    """
    if size > _PARSE_WHOLE_BYTES:
        return None
    data = body.read()
    body.seek(0)
    if data.count(b'"records"') > 1 or b"\\u" in data:
        return None
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict) or jsonio.has_duplicate_keys(data, document):
        return None  # the streaming reader names the repeated key
    if any(jsonio.depth_exceeds(value, max_depth - 1) for key, value in document.items()
           if key != "records"):
        return None  # the streaming reader refuses the nesting
    return _Parsed(document, b'\\"' not in data)


def _whole_json_header(document: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """:func:`_json_header` of a parsed envelope."""
    header = {k: ({} if isinstance(v, dict) else [] if isinstance(v, list) else v)
              for k, v in document.items() if k != "records"}
    records = document.get("records")
    return header, len(records) if isinstance(records, list) else None


def _check_header(engine: Engine, header: Any, records: int | None, media_type: str) -> dict[str, Any]:
    """The envelope minus its records against batch.schema.json; 422 with every issue."""
    if not isinstance(header, dict):
        raise Problem(422, "invalid-envelope", "Invalid batch envelope",
                      "the batch header must be a JSON object",
                      errors=[Issue("", "schema.type", "批次头应为 JSON 对象", "the batch header must be an object")])
    probe = {k: v for k, v in header.items() if k != "records"}
    if media_type == JSON:
        if records is not None:
            probe["records"] = [{"entity": "volunteer", "op": "upsert", "data": {}}] * min(records, 1)
        elif "records" in header:
            probe["records"] = header["records"]
    else:
        probe["records"] = [{"entity": "volunteer", "op": "upsert", "data": {}}]
    version = probe.get("schema_version") if isinstance(probe.get("schema_version"), str) else "1"
    if version not in engine.versions:
        version = "1"
    report = engine.validate(BATCH, probe, version)
    if not report.valid:
        raise Problem(422, "invalid-envelope", "Invalid batch envelope",
                      f"the batch envelope breaks {len(report.issues)} rule(s) of "
                      "schemas/v1/batch.schema.json", errors=report.issues)
    return probe


@dataclass
class _Item:
    index: int
    line: int | None
    value: Any = None
    error: Issue | None = None


def _input_issue(exc: jsonio.InputError) -> Issue:
    return Issue("", f"input.{exc.slug}", exc.message_zh, exc.message_en)


def _items(body: IO[bytes], media_type: str, limits: jsonio.Limits, header_line: int,
           parsed: _Parsed | None = None) -> Iterator[_Item]:
    if media_type == NDJSON:
        index = 0
        for number, raw in enumerate(body, start=header_line + 1):
            if not raw.strip():
                continue
            try:  # depth, members and string lengths read from the line's text
                value = jsonio.loads(raw, limits.max_depth, number, limits)
            except jsonio.InputError as exc:
                yield _Item(index, number, error=_input_issue(exc))
            else:
                yield _Item(index, number, value)
            index += 1
        return
    strings = True  # strings to be held to the limit on one value, as they are met
    if parsed is not None:
        values = parsed.document.get("records")
        values = iter(values if isinstance(values, list) else ())
        strings = not parsed.strings_within_limits
    else:
        body.seek(0)
        values = ijson.items(body, "records.item", use_float=True, buf_size=jsonio.IJSON_BUF_SIZE)
    for index, value in enumerate(values):
        problem = jsonio.shape_error(value, limits, strings=strings)
        yield _Item(index, None, value) if problem is None else _Item(
            index, None, error=_input_issue(problem))


# -- the answer ----------------------------------------------------------------------------------

def _source_ref(entity: Any, data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    value = data.get("source_id") or data.get(_OWN_NUMBER.get(entity, ""), None)
    return value if isinstance(value, str) else None


def _result(item: _Item, outcome: Outcome) -> dict[str, Any]:
    value = item.value if isinstance(item.value, dict) else {}
    entity, data = value.get("entity"), value.get("data")
    result: dict[str, Any] = {"index": item.index}
    if item.line is not None:
        result["line"] = item.line
    result.update({"entity": entity if isinstance(entity, str) else None,
                   "op": value.get("op") if isinstance(value.get("op"), str) else None,
                   "status": outcome.status, "key": outcome.key,
                   "source_id": _source_ref(entity, data),
                   "errors": [issue.as_dict() for issue in outcome.errors]})
    if outcome.note:
        result["note"] = outcome.note
    return result


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


# -- idempotency ----------------------------------------------------------------------------------

def _reserve(sessions: sessionmaker[Session], incoming: Incoming, batch_id: str | None,
             message_id: int, lease_seconds: int = LEASE_SECONDS) -> tuple[str, IdempotencyKey]:
    """("new", row) to process the batch, or ("replay", row) for a stored answer; 409 otherwise."""
    client, key, digest = incoming.caller.client_id, incoming.idempotency_key, incoming.body.sha256_hex
    now = utcnow()
    with sessions() as session:
        row = session.execute(select(IdempotencyKey).where(IdempotencyKey.client_id == client,
                                                           IdempotencyKey.key == key)).scalar_one_or_none()
        if row is None:
            session.add(IdempotencyKey(client_id=client, key=key, request_digest=digest,
                                       status="in_progress", batch_id=batch_id,
                                       message_id=message_id, created_at=now, heartbeat_at=now))
            try:
                session.commit()
            except IntegrityError:  # a concurrent request reserved the key first
                session.rollback()
            row = session.execute(select(IdempotencyKey).where(
                IdempotencyKey.client_id == client, IdempotencyKey.key == key)).scalar_one()
            if row.message_id == message_id:
                return "new", row
        if row.request_digest != digest:
            raise Problem(409, "idempotency-key-reused", "Idempotency key reused",
                          "this Idempotency-Key was already used with another body; use a new key "
                          "for a new batch", idempotency_key=key)
        if row.status == "done":
            return "replay", row
        stale = now - dt.timedelta(seconds=lease_seconds)
        if row.heartbeat_at < stale:
            taken = session.execute(
                update(IdempotencyKey).where(IdempotencyKey.id == row.id,
                                             IdempotencyKey.status == "in_progress",
                                             IdempotencyKey.heartbeat_at == row.heartbeat_at)
                .values(heartbeat_at=now, message_id=message_id)
                .execution_options(synchronize_session=False)).rowcount
            session.commit()
            if taken == 1:
                log.warning("push: taking over batch %s of %s (idempotency key reservation had no "
                            "heartbeat for %s s)", batch_id, client, lease_seconds)
                return "new", row
        raise Problem(409, "idempotency-in-progress", "Batch still being processed",
                      "a request with this Idempotency-Key is being processed; retry later with "
                      "the same key and body to get its answer", idempotency_key=key,
                      retry_after=RETRY_AFTER_SECONDS)


def _release(sessions: sessionmaker[Session], row_id: int, entry_id: int) -> None:
    """After a failed batch: drop its reservation (the committed chunks stay, and a retry
    finds them) and mark its log entry failed. Best effort: when the database itself is
    gone, the reservation's lease lapses instead."""
    try:
        with sessions() as session:
            session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id,
                                                         IdempotencyKey.status == "in_progress"))
            message_log.finish(session, entry_id, status="failed", http_status=500)
            session.commit()
    except Exception:  # noqa: BLE001 - the original failure is the one to report
        log.warning("push: could not release idempotency reservation %s after a failure; "
                    "it lapses after its lease", row_id, exc_info=True)


def _heartbeat(session: Session, row_id: int) -> None:
    """Touch the reservation in the processing transaction, first thing in every chunk.

    Committed with the chunk, it tells a retry that a worker is alive. It is also the chunk's
    first write: on SQLite the driver begins the transaction only at a write, and a SAVEPOINT
    outside a transaction would make every record's RELEASE a commit of its own.
    """
    session.execute(update(IdempotencyKey).where(IdempotencyKey.id == row_id)
                    .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False))


def replay_answer(sessions: sessionmaker[Session], row: IdempotencyKey) -> Answer:
    """The stored answer of a done key, byte for byte, in a temporary file."""
    writer = _Writer()
    try:
        with sessions() as session:
            for piece in message_log.read_blob(session, row.response_blob):
                writer.write(piece)
    except BaseException:
        writer.file.close()
        raise
    answer = writer.answer(row.response_status or 200, row.response_content_type or JSON)
    answer.replayed = True
    return answer


# -- the whole request ----------------------------------------------------------------------------------

@dataclass
class _Counts:
    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_SUMMARY_KEYS, 0))

    def add(self, status: str) -> None:
        self.values["total"] += 1
        self.values[status] += 1


def _public_key(session: Session, signed: SignedRequest | None) -> str | None:
    if signed is None:
        return None
    return session.execute(select(ClientKey.public_key_pem).where(ClientKey.key_id == signed.key_id)
                           ).scalar_one_or_none()


def receive(app, make_context, incoming: Incoming) -> Answer:
    """Handle one push (see the module docstring). ``make_context()`` gives the request's
    ServiceContext; refusals raise :class:`Problem` after being logged."""
    sessions: sessionmaker[Session] = app.extensions["store.sessionmaker"]
    config = app.config
    engine: Engine = app.extensions["standard.engine"]
    body = incoming.body.file
    limits = jsonio.Limits.from_config(config)

    # 1. the header (a refusal is still logged below, with whatever batch id could be read).
    # First the limits on one value and one line, in one linear pass over the raw bytes: no
    # parser ever sees a giant token (finding 1 of issue 11).
    header: Any = None
    records: int | None = None
    header_line = 0
    parsed: _Parsed | None = None
    refusal: Problem | None = None
    try:
        body.seek(0)
        try:
            jsonio.check_runs(body, limits, lines=incoming.media_type == NDJSON)
        except jsonio.InputError as exc:
            raise input_problem(exc) from None
        finally:
            body.seek(0)
        if incoming.media_type == NDJSON:
            header, header_line = _ndjson_header(body, limits)
        else:
            parsed = _whole_json(body, incoming.body.size, limits.max_depth)
            if parsed is not None and len(parsed.document) > limits.max_keys:
                raise input_problem(jsonio.too_many_keys(limits.max_keys))
            header, records = (_json_header(body, limits.max_depth, limits.max_keys)
                               if parsed is None
                               else _whole_json_header(parsed.document))
    except Problem as exc:
        refusal = exc
    batch_id = header.get("batch_id") if isinstance(header, dict) else None
    batch_id = batch_id if isinstance(batch_id, str) and len(batch_id) <= 64 else None
    logs.bind(batch_id=batch_id)

    # 2. the evidence
    position = body.tell()
    body.seek(0)
    with sessions() as session:
        entry = message_log.record_inbound(
            session, client_id=incoming.caller.client_id, signed=incoming.signed,
            public_key_pem=_public_key(session, incoming.signed), method=incoming.method,
            target_uri=incoming.target_uri, headers=incoming.headers,
            content_type=incoming.media_type, body=body, body_sha256=incoming.body.sha256_hex,
            received_at=incoming.received_at, batch_id=batch_id,
            idempotency_key=incoming.idempotency_key)
        entry_id = entry.id
        session.commit()
    body.seek(position)

    def refuse(problem: Problem) -> Problem:
        with sessions() as session:
            message_log.finish(session, entry_id, status="rejected", http_status=problem.status,
                               summary={"problem": f"/problems/{problem.slug}"})
            session.commit()
        return problem

    if refusal is not None:
        raise refuse(refusal)
    try:
        header = _check_header(engine, header, records, incoming.media_type)
    except Problem as exc:
        raise refuse(exc) from None
    if header["sender"] != incoming.caller.client_id:
        raise refuse(Problem(403, "sender-mismatch", "Sender mismatch",
                             f"the batch names sender {header['sender']!r}, but the request is "
                             f"authenticated as {incoming.caller.client_id!r}",
                             sender=header["sender"], client_id=incoming.caller.client_id))

    # 3. idempotency
    try:
        state, reservation = _reserve(sessions, incoming, batch_id, entry_id,
                                      config["IDEMPOTENCY_LEASE_SECONDS"])
    except Problem as exc:
        raise refuse(exc) from None
    if state == "replay":
        with sessions() as session:
            message_log.finish(session, entry_id, status="replayed",
                               http_status=reservation.response_status,
                               summary={"replay_of": reservation.message_id})
            session.commit()
        return replay_answer(sessions, reservation)

    # 4. the records
    ctx: ServiceContext = make_context()
    try:
        answer, summary = _process(app, ctx, incoming, header, header_line, reservation.id,
                                   parsed)
    except BaseException:
        # Give up the chunk in progress first: on SQLite its write lock would block the log.
        # Then give the key back, so that a retry proceeds at once instead of waiting for
        # the lease (a worker killed outright cannot, and its lease lapses instead).
        try:
            ctx.session.rollback()
        finally:  # a connection broken mid-statement must not keep the key reserved
            _release(sessions, reservation.id, entry_id)
        raise

    # 5. keep the answer, close the books
    try:
        with sessions() as session:
            blob, _size = message_log.write_blob(session, answer.file)
            session.execute(update(IdempotencyKey).where(IdempotencyKey.id == reservation.id).values(
                status="done", response_status=answer.status,
                response_content_type=answer.content_type, response_blob=blob,
                completed_at=utcnow(), heartbeat_at=utcnow()))
            message_log.finish(session, entry_id, status="done", http_status=answer.status,
                               summary=summary)
            session.commit()
    except BaseException:
        answer.file.close()
        raise
    answer.file.seek(0)
    return answer


def _process(app, ctx: ServiceContext, incoming: Incoming, header: Mapping[str, Any],
             header_line: int, reservation_id: int, parsed: _Parsed | None
             ) -> tuple[Answer, dict[str, int]]:
    source = Source(incoming.caller.client_id, incoming.received_at,
                    SourcePriority.from_setting(app.config["SOURCE_PRIORITY"]), header["batch_id"])
    received = timefmt.iso(incoming.received_at, ctx.tz)
    meta = {"batch_id": header["batch_id"], "idempotency_key": incoming.idempotency_key,
            "received_at": received}
    writer = _Writer()
    try:
        return _apply_all(app, ctx, source, incoming, header_line, reservation_id, writer, meta,
                          parsed, header.get("schema_version", "1"))
    except BaseException:
        writer.file.close()
        raise


def _item_problem(item: _Item) -> Outcome | None:
    """The outcome of an item that is not a readable ``{entity, op, data}`` object, else None."""
    if item.error is not None:
        return Outcome("rejected", None, [item.error])
    if not isinstance(item.value, dict):
        return Outcome("rejected", None, [Issue("", "exchange.item", "每条记录应为 JSON 对象 "
                                                "{entity, op, data}",
                                                "each item must be an object {entity, op, data}")])
    unknown = sorted(set(item.value) - {"entity", "op", "data", "home"})
    if unknown:
        return Outcome("rejected", None, [
            Issue(pointer(name), "schema.additionalProperties", f"未知字段 {name}",
                  f"unknown member {name!r}") for name in unknown])
    if "home" in item.value:
        issues = homes.shape_issues(item.value["home"])
        if issues:
            return Outcome("rejected", None, issues)
    return None


def _record_of(value: dict[str, Any]) -> tuple[Any, Any, Any]:
    """``(entity, op, data)`` of an item; a ``home`` member goes with the data (homes.HOME)."""
    # Only the member says it: a HOME inside data is dropped (gateway.adapter.with_home).
    return value.get("entity"), value.get("op"), with_home(value.get("data"), value.get("home"))


def _from_version(ctx: ServiceContext, version: str, item: _Item
                  ) -> tuple[Outcome | None, str | None, dict[str, Any] | None]:
    """A record of a batch in schema ``version`` (2): validated against that version, then
    turned into the store's form (v1) in place; a rejection, the note naming the warnings,
    and the v2 members the v1 form cannot hold (kept by :func:`national.keep` once the
    record is applied)."""
    value = item.value
    entity, data = value.get("entity"), value.get("data")
    if value.get("op") != "upsert" or not isinstance(data, dict) or not isinstance(entity, str):
        return None, None, None
    report = ctx.engine.validate_item(value, version, ctx.rule_context())
    if not report.valid:
        return Outcome("rejected", None, report.issues), None, None
    projected, remainder = national.split_v2(entity, data)
    item.value = {**value, "data": projected}
    note = None
    if report.warnings:
        note = "schema v2 warnings: " + ", ".join(
            f"{w.pointer} ({w.rule})" for w in report.warnings)
    return None, note, remainder


class _Pace:
    """How many records the next transaction takes.

    Records are applied a group at a time (:func:`apply_records`) and each group is
    committed on its own: at most :data:`COMMIT_EVERY` records, and as many as the records
    lately applied in this process say fit in :data:`COMMIT_SECONDS` (the first group of a
    process, sized without a measure, is small). Concurrent pushes of new people do not
    wait for each other on the number counters (reserved in a transaction of their own on
    PostgreSQL) or the aggregate cells (deltas appended to ``stat_pending``).
    """

    FIRST = 20
    #: Seconds per record of the latest group applied in this process.
    recent: ClassVar[float | None] = None

    @classmethod
    def group_size(cls) -> int:
        if cls.recent is None:
            return max(1, min(COMMIT_EVERY, cls.FIRST))
        return max(1, min(COMMIT_EVERY, int(COMMIT_SECONDS / max(cls.recent, 1e-6))))

    @classmethod
    def applied(cls, records: int, seconds: float) -> None:
        if records:
            cls.recent = seconds / records


def _apply_all(app, ctx: ServiceContext, source: Source, incoming: Incoming, header_line: int,
               reservation_id: int, writer: _Writer, meta: Mapping[str, Any],
               parsed: _Parsed | None, version: str = "1") -> tuple[Answer, dict[str, int]]:
    ndjson = incoming.media_type == NDJSON
    if not ndjson:
        writer.write(_dumps(meta)[:-1] + b',"results":[')
    counts = _Counts()
    session = ctx.session
    sqlite = session.get_bind().dialect.name == "sqlite"
    group: list[tuple[_Item, Outcome | None]] = []
    # (entity, status, rule ids) of the records applied since the last commit: counted in the
    # metrics once they are committed, so a rolled-back chunk counts nothing.
    applied_since_commit: list[tuple[Any, str, list[str]]] = []

    def commit() -> None:
        session.commit()
        metrics.records("push", incoming.caller.client_id, applied_since_commit)
        applied_since_commit.clear()

    def apply_group() -> None:
        started = time.monotonic()
        notes: dict[int, str] = {}
        remainders: dict[int, dict[str, Any]] = {}
        if version != "1":
            for i, (item, outcome) in enumerate(group):
                if outcome is None:
                    outcome, note, remainder = _from_version(ctx, version, item)
                    group[i] = (item, outcome)
                    if note:
                        notes[i] = note
                    if remainder is not None:
                        remainders[i] = remainder
        records = [_record_of(item.value) for item, outcome in group if outcome is None]
        applied = iter(apply_records(ctx, source, records))
        _Pace.applied(len(group), time.monotonic() - started)
        for i, (item, outcome) in enumerate(group):
            outcome = outcome or next(applied)
            if i in remainders:
                outcome = national.keep_after(ctx, source, item.value["entity"], outcome,
                                             remainders[i], source.stamp(ctx, item.value["data"]))
            if i in notes and outcome.status != "rejected":
                outcome = outcome._replace(note="; ".join(n for n in (outcome.note, notes[i]) if n))
            counts.add(outcome.status)
            entity = item.value.get("entity") if isinstance(item.value, dict) else None
            applied_since_commit.append((entity, outcome.status,
                                         [issue.rule for issue in outcome.errors]))
            line = _dumps(_result(item, outcome))
            if ndjson:
                writer.write(line + b"\n")
            else:
                writer.write((b"," if counts.values["total"] > 1 else b"") + line)
        group.clear()

    _heartbeat(session, reservation_id)
    size = _Pace.group_size()
    for item in _items(incoming.body.file, incoming.media_type, jsonio.Limits.from_config(app.config),
                       header_line, parsed):
        group.append((item, _item_problem(item)))
        if len(group) >= size:
            apply_group()
            commit()
            if sqlite:
                time.sleep(SQLITE_YIELD_SECONDS)
            _heartbeat(session, reservation_id)
            size = _Pace.group_size()
    if group:
        apply_group()
    commit()
    summary = dict(counts.values)
    if ndjson:
        writer.write(_dumps({"summary": summary, **meta}) + b"\n")
    else:
        writer.write(b'],"summary":' + _dumps(summary) + b"}")
    return writer.answer(200, NDJSON if ndjson else JSON), summary
