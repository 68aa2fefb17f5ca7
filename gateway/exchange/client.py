"""The integrator's Python client for the exchange protocol: sign, push, pull, verify.

    client = GatewayClient("https://gateway.example", "city-01", key_id,
                           Path("client.private.pem").read_bytes(), gateway_jwks="fetch")
    result = client.push(records, entity="volunteer")          # JSON envelopes of 500
    result = client.push_ndjson("volunteers.ndjson", entity="volunteer")   # big files
    for change in client.pull(since=saved_cursor):             # every page, oldest first
        ...
    saved_cursor = client.last_cursor

Every request is signed by :class:`gateway.exchange.client_auth.GatewayAuth` (RFC 9421,
a fresh nonce each time, so a retry is signed anew); with ``gateway_jwks`` every answer
that carries records is verified against the gateway's JWK set before it is read.

**Idempotent retries.** Each batch's body is deterministic (no timestamps are added), and
its ``Idempotency-Key`` is derived from the body's SHA-256: a batch sent again, whether
by the retry loop after a dropped connection or by a rerun of the whole job, carries the
same key, so the gateway answers with the stored result instead of processing it twice.
Transient failures (connection errors and timeouts, 5xx, 429 honouring ``Retry-After``,
409 ``idempotency-in-progress``) are retried with bounded exponential backoff and jitter
(tenacity).

**Flat memory.** :meth:`GatewayClient.push` consumes its records lazily, one batch at a
time; :meth:`GatewayClient.push_ndjson` spools each chunk of the file to a temporary file
while it is hashed (the Content-Digest must be known before the body is sent) and streams
it from there.

Only ``requests``, ``tenacity``, ``orjson`` and :mod:`gateway.exchange.client_auth` are used:
nothing here needs the gateway's app, settings or store.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import hashlib
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Literal

import orjson
import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential

from gateway.exchange.client_auth import (GatewayAuth, GatewayResponseVerifier, InvalidSignature,
                                          verify_response)

__all__ = [
    "BatchOutcome",
    "ChangesPage",
    "GatewayClient",
    "GatewayClientError",
    "GatewayProblem",
    "InputError",
    "PushError",
    "PushResult",
    "ResponseSignatureError",
    "TransportError",
    "idempotency_key_for",
]

PUSH_PATH = "/api/v1/exchange/batches"
CHANGES_PATH = "/api/v1/exchange/changes"
JWKS_PATH = "/.well-known/jwks.json"
SCHEMA_VERSION = "1"
DEFAULT_BATCH_SIZE = 500
DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024
MAX_BATCH_ID = 64          # schemas/v1/batch.schema.json
MAX_IDEMPOTENCY_KEY = 128  # the wire contract: 1..128 visible ASCII (U+0021-U+007E)
SUMMARY_KEYS = ("total", "created", "updated", "unchanged", "deleted", "rejected")
JSON = "application/json"
NDJSON = "application/x-ndjson"
IN_PROGRESS = "/problems/idempotency-in-progress"


# -- errors ---------------------------------------------------------------------------------------

class GatewayClientError(Exception):
    """Anything that stopped a push or pull (the subclasses say what)."""


class InputError(GatewayClientError, ValueError):
    """The records given cannot be sent (not JSON, not an object, wrong sender …)."""


class TransportError(GatewayClientError):
    """The gateway could not be reached or the connection failed, after every retry."""


class GatewayProblem(GatewayClientError):
    """The gateway refused the request: its status and problem+json (``type``, ``detail`` …)."""

    def __init__(self, response: requests.Response):
        self.response = response
        self.status = response.status_code
        try:
            problem = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            problem = None
        if not isinstance(problem, dict):
            problem = {"title": response.reason or "", "detail": response.text[:500]}
        self.problem: dict[str, Any] = problem
        self.type: str = str(problem.get("type", "about:blank"))
        detail = problem.get("detail") or problem.get("title") or ""
        super().__init__(f"{self.status} {self.type}: {detail}".rstrip(": "))


class ResponseSignatureError(GatewayClientError, InvalidSignature):
    """The gateway's answer is unsigned, or its signature or digest does not verify."""


# -- results --------------------------------------------------------------------------------------

def _zero_summary() -> dict[str, int]:
    return dict.fromkeys(SUMMARY_KEYS, 0)


@dataclass
class BatchOutcome:
    """One batch as the gateway answered it."""

    batch_id: str
    idempotency_key: str
    records: int
    first_index: int          # index of the batch's first record in the whole push
    summary: dict[str, int]
    received_at: str | None = None


@dataclass
class PushResult:
    """What a push did: totals, a result per record (input order) and the batches sent.

    Each result is the gateway's (``entity``, ``op``, ``status``, ``key``, ``source_id``,
    ``errors``) with ``index`` renumbered to the record's position in the whole push (from 0)
    and, for NDJSON files, the ``line`` it came from (from 1).
    """

    summary: dict[str, int] = field(default_factory=_zero_summary)
    results: list[dict[str, Any]] = field(default_factory=list)
    batches: list[BatchOutcome] = field(default_factory=list)

    @property
    def rejected(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r.get("status") == "rejected"]

    @property
    def all_accepted(self) -> bool:
        return self.summary["rejected"] == 0

    def _add(self, outcome: BatchOutcome, results: Iterable[dict[str, Any]]) -> None:
        self.batches.append(outcome)
        for key in SUMMARY_KEYS:
            self.summary[key] += int(outcome.summary.get(key, 0))
        self.results.extend(results)


class PushError(GatewayClientError):
    """A batch failed as a whole; ``partial`` holds what the batches before it did."""

    def __init__(self, cause: GatewayClientError, partial: PushResult, batch_id: str):
        super().__init__(f"batch {batch_id}: {cause}")
        self.cause = cause
        self.partial = partial
        self.batch_id = batch_id


@dataclass
class ChangesPage:
    """One page of the change feed."""

    changes: list[dict[str, Any]]
    next_cursor: str | None
    has_more: bool


# -- idempotency and batches ----------------------------------------------------------------------

def _b64url(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def idempotency_key_for(body_sha256: bytes) -> str:
    """The Idempotency-Key of a batch body: ``sha256-`` + base64url of its SHA-256 (50 chars)."""
    return "sha256-" + _b64url(body_sha256)


def _content_digest(body_sha256: bytes) -> str:
    return "sha-256=:" + base64.b64encode(body_sha256).decode("ascii") + ":"


def _numbered(base: str, number: int, total: int | None) -> str:
    """``base`` for a single batch, ``base.N`` (N from 1) when there are several; ≤ 64 chars."""
    if total == 1:
        return base[:MAX_BATCH_ID]
    suffix = f".{number}"
    return base[:MAX_BATCH_ID - len(suffix)] + suffix


def _numbered_key(base: str, number: int, total: int | None) -> str:
    if total == 1:
        return base
    suffix = f".{number}"
    return base[:MAX_IDEMPOTENCY_KEY - len(suffix)] + suffix


def _check_key(key: str) -> str:
    if not (1 <= len(key) <= MAX_IDEMPOTENCY_KEY) or not all(0x20 < ord(c) < 0x7f for c in key):
        raise InputError("an Idempotency-Key is 1 to 128 visible ASCII characters")
    return key


def _is_item(value: Any) -> bool:
    """``{"entity", "data"[, "op"][, "home"]}``: a batch item rather than a bare record."""
    return (isinstance(value, Mapping) and "entity" in value and "data" in value
            and set(value) <= {"entity", "op", "data", "home"})


def _item(value: Any, entity: str | None, where: str) -> dict[str, Any]:
    if _is_item(value):
        item = {"entity": value["entity"], "op": value.get("op", "upsert"), "data": value["data"]}
        if "home" in value:  # between gateways: docs/protocol.md, Federation identity
            item["home"] = value["home"]
        return item
    if not isinstance(value, Mapping):
        raise InputError(f"{where}: a record must be a JSON object")
    if entity is None:
        raise InputError(f"{where}: a bare record needs entity=… (or give "
                         '{"entity", "op", "data"} items)')
    return {"entity": entity, "op": "upsert", "data": dict(value)}


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _with_last(iterable: Iterable[Any]) -> Iterator[tuple[Any, bool]]:
    """Each element with a flag: is it the last one? (reads one element ahead)."""
    iterator = iter(iterable)
    try:
        previous = next(iterator)
    except StopIteration:
        return
    for element in iterator:
        yield previous, False
        previous = element
    yield previous, True


class _Spool:
    """Header line + a temporary file of items, read as one body (seekable, known length)."""

    def __init__(self, header: bytes, items: IO[bytes], items_len: int):
        self.header, self.items, self.items_len = header, items, items_len
        self.pos = 0

    def __len__(self) -> int:
        return len(self.header) + self.items_len

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END:
            offset += len(self)
        elif whence == os.SEEK_CUR:
            offset += self.pos
        self.pos = max(0, min(offset, len(self)))
        if self.pos > len(self.header):
            self.items.seek(self.pos - len(self.header))
        else:
            self.items.seek(0)
        return self.pos

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = len(self) - self.pos
        out = b""
        if self.pos < len(self.header):
            out = self.header[self.pos:self.pos + size]
            self.pos += len(out)
            size -= len(out)
        if size > 0:
            data = self.items.read(size)
            self.pos += len(data)
            out += data
        return out


# -- retries --------------------------------------------------------------------------------------

@contextlib.contextmanager
def _closing_all(files: list[IO[bytes]]) -> Iterator[None]:
    try:
        yield
    finally:
        for file in files:
            file.close()


class _RetryableAnswer(Exception):
    def __init__(self, response: requests.Response):
        self.response = response


def _in_progress(response: requests.Response) -> bool:
    """409 idempotency-in-progress: the same batch is being processed (by an earlier attempt)."""
    if response.status_code != 409:
        return False
    try:
        return orjson.loads(response.content).get("type") == IN_PROGRESS
    except (orjson.JSONDecodeError, AttributeError):
        return False


def _transient(response: requests.Response) -> bool:
    status = response.status_code
    return status == 429 or (status >= 500 and status not in (501, 505)) or _in_progress(response)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError)


# -- the client -----------------------------------------------------------------------------------

class GatewayClient:
    """A signed client of one gateway, for one client id and key.

    :param base_url: the gateway, e.g. ``https://gateway.example`` (no path).
    :param client_id: the client id the gateway registered for this system.
    :param key_id: the key id the public key was registered under.
    :param private_key_pem: the private key (PEM bytes or str; Ed25519 or ECDSA P-256).
    :param gateway_jwks: ``None`` (do not verify answers), ``"fetch"`` (fetch
        ``/.well-known/jwks.json`` from the gateway once, again when an answer names a new
        key), or a JWK set (``{"keys": [...]}``) obtained out of band — the strongest choice.
    :param timeout: seconds for connecting and for each read, or a ``(connect, read)`` pair
        (requests' timeout). The gateway answers a push once the whole batch is processed:
        give big batches a longer read timeout. (After a read timeout the retry, with the
        same key, waits for the first attempt to finish and gets its stored answer.)
    :param session: a ``requests.Session`` to send with (connection pooling, proxies, TLS).
    :param retries: attempts per request, the first included, for connection failures,
        timeouts, 5xx and 429.
    :param backoff: base of the exponential backoff, seconds (random jitter up to it × 2^n).
    :param max_backoff: the longest wait between attempts, seconds (also caps Retry-After).
    :param in_progress_wait: how long, in seconds, to keep waiting while the gateway says
        the batch is still being processed (409 ``idempotency-in-progress``); those answers
        do not use up ``retries``.
    """

    def __init__(self, base_url: str, client_id: str, key_id: str, private_key_pem: bytes | str, *,
                 gateway_jwks: None | Literal["fetch"] | Mapping[str, Any] = None,
                 timeout: float = 30, session: requests.Session | None = None,
                 retries: int = 5, backoff: float = 0.5, max_backoff: float = 30,
                 in_progress_wait: float = 900, sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.auth = GatewayAuth(client_id, key_id, private_key_pem)
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retries, self.backoff, self.max_backoff = max(1, retries), backoff, max_backoff
        self.in_progress_wait = in_progress_wait
        self._sleep = sleep
        self._backoff_wait = wait_random_exponential(multiplier=backoff, max=max_backoff)
        if gateway_jwks is None:
            self._verify: Callable[[requests.Response], Any] | None = None
        elif gateway_jwks == "fetch":
            self._verifier = GatewayResponseVerifier(self.base_url, session=self.session)
            self._verify = self._verifier.verify
        elif isinstance(gateway_jwks, Mapping):
            jwks = gateway_jwks
            self._verify = lambda response: verify_response(response, jwks)
        else:
            raise ValueError('gateway_jwks must be None, "fetch" or a JWK set')
        #: Where to resume the feed: see :meth:`pull`.
        self.last_cursor: str | None = None

    # -- plumbing ---------------------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        wait = self._backoff_wait(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableAnswer):
            after = _retry_after(exc.response)
            if after is not None:
                wait = max(wait, min(after, self.max_backoff))
        return wait

    def _send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              body: bytes | _Spool | None = None,
              headers: Mapping[str, str] | None = None) -> requests.Response:
        """Send (signed anew on every attempt), retrying transient failures; the last answer."""
        url = self.base_url + path
        failures = 0  # attempts that failed, not counting "still being processed" answers

        def stop(state: RetryCallState) -> bool:
            nonlocal failures
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _RetryableAnswer) and _in_progress(exc.response):
                return state.seconds_since_start is not None and \
                    state.seconds_since_start >= self.in_progress_wait
            failures += 1
            return failures >= self.retries

        retrying = Retrying(stop=stop, wait=self._wait,
                            retry=retry_if_exception_type((_RetryableAnswer, *TRANSIENT_ERRORS)),
                            sleep=self._sleep, reraise=True)
        # No compression: the signature covers the bytes as sent.
        all_headers = {"Accept-Encoding": "identity", **(headers or {})}
        try:
            for attempt in retrying:
                with attempt:
                    if isinstance(body, _Spool):
                        body.seek(0)
                    response = self.session.request(method, url, params=params, data=body,
                                                    headers=all_headers, auth=self.auth,
                                                    timeout=self.timeout)
                    if _transient(response):
                        raise _RetryableAnswer(response)
                    return response
        except _RetryableAnswer as exc:
            return exc.response
        except TRANSIENT_ERRORS as exc:
            raise TransportError(f"{method} {url}: {exc} (after {failures} attempt(s))") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _verified_body(self, response: requests.Response) -> bytes:
        """The body of a successful answer, its signature checked when asked to."""
        if response.status_code != 200:
            raise GatewayProblem(response)
        if self._verify is None:
            return response.content
        try:
            result = self._verify(response)
        except InvalidSignature as exc:
            raise ResponseSignatureError(f"the gateway's answer to {response.request.method} "
                                         f"{response.url} does not verify: {exc}") from exc
        except requests.RequestException as exc:  # fetching the JWK set failed
            raise TransportError(f"cannot fetch the gateway's JWK set: {exc}") from exc
        return result.body if result.body is not None else response.content

    def jwks(self) -> dict[str, Any]:
        """The gateway's public JWK set (``/.well-known/jwks.json``; unsigned, no auth)."""
        try:
            response = self.session.get(self.base_url + JWKS_PATH, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransportError(f"GET {self.base_url + JWKS_PATH}: {exc}") from exc
        if response.status_code != 200:
            raise GatewayProblem(response)
        return response.json()

    # -- push -------------------------------------------------------------------------------------

    def push(self, records: Iterable[Mapping[str, Any]] | Mapping[str, Any], *,
             entity: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
             idempotency_key: str | None = None, batch_id: str | None = None) -> PushResult:
        """Push records in JSON envelopes of ``batch_size``; a result per record.

        ``records`` is a batch envelope (``{"records": [...], "batch_id"?, "generated_at"?}``),
        or an iterable (consumed lazily) of items ``{"entity", "op", "data"}`` and/or bare
        records of ``entity`` (pushed as upserts). ``batch_id`` (else the envelope's) names
        the batches ``ID`` or ``ID.1``, ``ID.2`` …; without one it is derived from the
        content. ``idempotency_key`` replaces the derived keys the same way (``KEY.1`` …);
        use a new one to have identical content processed again.

        Raises :class:`PushError` (with ``partial``) when a batch fails as a whole.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        header: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "sender": self.client_id}
        if isinstance(records, Mapping):
            envelope = records
            sender = envelope.get("sender", self.client_id)
            if sender != self.client_id:
                raise InputError(f"the envelope's sender {sender!r} is not this client "
                                 f"({self.client_id!r}); the gateway would refuse it")
            header["schema_version"] = envelope.get("schema_version", SCHEMA_VERSION)
            batch_id = batch_id or envelope.get("batch_id")
            if envelope.get("generated_at"):
                header["generated_at"] = envelope["generated_at"]
            records = envelope.get("records") or []
        items = (_item(value, entity, f"record {n}") for n, value in enumerate(records))

        result = PushResult()
        first = 0
        total: int | None = None
        for number, (batch, last) in enumerate(_with_last(_chunks(items, batch_size)), start=1):
            if number == 1 and last:
                total = 1
            if batch_id:
                this_id = _numbered(batch_id, number, total)
            else:
                this_id = "b-" + _b64url(hashlib.sha256(orjson.dumps(batch)).digest())[:32]
            envelope = {**header, "batch_id": this_id, "records": batch}
            body = orjson.dumps(envelope)
            sha = hashlib.sha256(body).digest()
            key = (_numbered_key(_check_key(idempotency_key), number, total) if idempotency_key
                   else idempotency_key_for(sha))
            try:
                response = self._send("POST", PUSH_PATH, body=body, headers={
                    "Content-Type": JSON, "Idempotency-Key": key,
                    "Content-Digest": _content_digest(sha)})
                answer = orjson.loads(self._verified_body(response))
            except GatewayClientError as exc:
                raise PushError(exc, result, this_id) from exc
            except orjson.JSONDecodeError as exc:
                raise PushError(GatewayClientError(f"the answer is not JSON: {exc}"), result,
                                this_id) from exc
            outcome = BatchOutcome(this_id, key, len(batch), first,
                                   {**_zero_summary(), **answer.get("summary", {})},
                                   answer.get("received_at"))
            results = []
            for item in answer.get("results", []):
                item = dict(item)
                item["index"] = first + int(item.get("index", len(results)))
                results.append(item)
            result._add(outcome, results)
            first += len(batch)
        return result

    # -- push: NDJSON -----------------------------------------------------------------------------

    def push_ndjson(self, path: str | os.PathLike[str], *, entity: str | None = None,
                    chunk_bytes: int = DEFAULT_CHUNK_BYTES, batch_size: int | None = None,
                    idempotency_key: str | None = None,
                    keep: Literal["all", "rejected"] = "all") -> PushResult:
        """Stream an NDJSON file to the gateway as NDJSON batches, without loading it whole.

        Each line is an item ``{"entity", "op", "data"}`` or a bare record of ``entity``; an
        optional first line without ``data`` and with ``batch_id`` / ``schema_version`` is
        the file's header (its ``batch_id`` names the batches, its ``sender`` must be this
        client). Lines are gathered into batches of at most ``chunk_bytes`` (and
        ``batch_size`` records, if given); each is spooled to a temporary file while it is
        hashed, then streamed with its Content-Digest. ``keep="rejected"`` keeps only the
        rejected records' results (for files of millions of records).
        """
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be positive")
        header: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "sender": self.client_id}
        result = PushResult()
        first = 0
        spools: list[IO[bytes]] = []  # closed at the end, whatever happens (one is read ahead)
        with Path(path).open("rb") as source, _closing_all(spools):
            chunks = self._ndjson_chunks(source, entity, chunk_bytes, batch_size, header, spools)
            base_id: str | None = None
            for number, ((spool_file, size, lines), last) in enumerate(_with_last(chunks), start=1):
                if number == 1:  # the file's header line, if any, has been read by now
                    base_id = header.pop("batch_id", None)
                total = 1 if number == 1 and last else None
                try:
                    outcome, results = self._push_chunk(spool_file, size, lines, header, base_id,
                                                        number, total, idempotency_key, first)
                except PushError as exc:
                    raise PushError(exc.cause, result, exc.batch_id) from exc.cause
                finally:
                    spool_file.close()
                if keep == "rejected":
                    results = [r for r in results if r.get("status") == "rejected"]
                result._add(outcome, results)
                first += len(lines)
        return result

    def _ndjson_chunks(self, source: IO[bytes], entity: str | None, chunk_bytes: int,
                       batch_size: int | None, header: dict[str, Any], spools: list[IO[bytes]]
                       ) -> Iterator[tuple[IO[bytes], int, list[int]]]:
        """(temporary file of item lines, its size, their source line numbers) per batch.

        ``header`` is filled from the file's header line, if it has one; every temporary file
        made is also put in ``spools`` (for the caller to close).
        """
        prefix = b'{"entity":' + orjson.dumps(entity) + b',"op":"upsert","data":' if entity else b""
        spool: IO[bytes] | None = None
        size = 0
        lines: list[int] = []
        seen_content = False
        try:
            for number, raw in enumerate(source, start=1):
                line = raw.strip()
                if not line:
                    continue
                try:
                    value = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InputError(f"line {number}: not JSON: {exc}") from None
                if not isinstance(value, dict):
                    raise InputError(f"line {number}: a line must be a JSON object")
                if not seen_content and "data" not in value and (
                        "batch_id" in value or "schema_version" in value):
                    sender = value.get("sender", self.client_id)
                    if sender != self.client_id:
                        raise InputError(f"line {number}: the header's sender {sender!r} is not "
                                         f"this client ({self.client_id!r})")
                    for name in ("schema_version", "batch_id", "generated_at"):
                        if value.get(name):
                            header[name] = value[name]
                    seen_content = True
                    continue
                seen_content = True
                if _is_item(value):
                    if "op" not in value:
                        line = orjson.dumps(_item(value, entity, f"line {number}"))
                elif entity:
                    line = prefix + line + b"}"
                else:
                    raise InputError(f"line {number}: a bare record needs --entity / entity=… "
                                     '(or give {"entity", "op", "data"} lines)')
                if spool is not None and (size + len(line) + 1 > chunk_bytes
                                          or (batch_size is not None and len(lines) >= batch_size)):
                    full, spool = spool, None
                    yield full, size, lines
                    size, lines = 0, []
                if spool is None:
                    spool = tempfile.TemporaryFile()
                    spools.append(spool)
                spool.write(line)
                spool.write(b"\n")
                size += len(line) + 1
                lines.append(number)
            if spool is not None:
                full, spool = spool, None
                yield full, size, lines
        finally:
            if spool is not None:
                spool.close()

    def _push_chunk(self, spool_file: IO[bytes], size: int, lines: list[int],
                    header: Mapping[str, Any], base_id: str | None, number: int,
                    total: int | None, idempotency_key: str | None, first: int
                    ) -> tuple[BatchOutcome, list[dict[str, Any]]]:
        spool_file.seek(0)
        if base_id:
            batch_id = _numbered(base_id, number, total)
        else:
            content = hashlib.sha256()
            while block := spool_file.read(1 << 20):
                content.update(block)
            batch_id = "b-" + _b64url(content.digest())[:32]
        head = orjson.dumps({**header, "batch_id": batch_id}) + b"\n"
        digest = hashlib.sha256(head)
        spool_file.seek(0)
        while block := spool_file.read(1 << 20):
            digest.update(block)
        sha = digest.digest()
        key = (_numbered_key(_check_key(idempotency_key), number, total) if idempotency_key
               else idempotency_key_for(sha))
        body = _Spool(head, spool_file, size)
        try:
            response = self._send("POST", PUSH_PATH, body=body, headers={
                "Content-Type": NDJSON, "Accept": NDJSON, "Idempotency-Key": key,
                "Content-Digest": _content_digest(sha)})
            answer = self._verified_body(response)
        except GatewayClientError as exc:
            raise PushError(exc, PushResult(), batch_id) from exc
        summary: dict[str, Any] = {}
        received_at = None
        results: list[dict[str, Any]] = []
        try:
            if response.headers.get("Content-Type", "").startswith(JSON):
                whole = orjson.loads(answer)       # a gateway may answer JSON all the same
                rows = whole.get("results", [])
                summary, received_at = whole.get("summary", {}), whole.get("received_at")
            else:
                rows = []
                for raw in answer.splitlines():
                    if raw.strip():
                        row = orjson.loads(raw)
                        if "summary" in row and "status" not in row:
                            summary, received_at = row["summary"], row.get("received_at")
                        else:
                            rows.append(row)
        except (orjson.JSONDecodeError, AttributeError) as exc:
            raise PushError(GatewayClientError(f"the answer cannot be read: {exc}"), PushResult(),
                            batch_id) from exc
        for row in rows:
            row = dict(row)
            index = int(row.get("index", len(results)))
            row["index"] = first + index
            if 0 <= index < len(lines):
                row["line"] = lines[index]
            results.append(row)
        outcome = BatchOutcome(batch_id, key, len(lines), first, {**_zero_summary(), **summary},
                               received_at)
        return outcome, results

    # -- pull -------------------------------------------------------------------------------------

    def changes_page(self, since: str | None = None, entity: str | None = None,
                     limit: int = 500, schema_version: str = "1") -> ChangesPage:
        """One page of the change feed after ``since`` (the building block of :meth:`pull_pages`;
        a caller that stores the cursor itself, such as an adapter, reads page by page), its
        records in ``schema_version`` (1 by default, or 2)."""
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        params: dict[str, Any] = {"limit": limit}
        if since is not None:
            params["since"] = since
        if entity:
            params["entity"] = entity
        if schema_version != "1":  # left out by default: exactly the request of before
            params["schema_version"] = schema_version
        response = self._send("GET", CHANGES_PATH, params=params)
        try:
            answer = orjson.loads(self._verified_body(response))
            return ChangesPage(list(answer["changes"]), answer.get("next_cursor"),
                               bool(answer.get("has_more")))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise GatewayClientError(f"the change feed's answer cannot be read: {exc}") from exc

    def pull_pages(self, since: str | None = None, entity: str | None = None,
                   limit: int = 500, schema_version: str = "1") -> Iterator[ChangesPage]:
        """Pages of the change feed from ``since`` until ``has_more`` is false."""
        cursor = since
        self.last_cursor = since
        while True:
            page = self.changes_page(cursor, entity, limit, schema_version)
            yield page
            if page.next_cursor is not None:
                self.last_cursor = page.next_cursor
            if not page.has_more:
                return
            if page.next_cursor is None or page.next_cursor == cursor:
                raise GatewayClientError("the change feed says it has more but its cursor did not "
                                         f"move from {cursor!r}")
            cursor = page.next_cursor

    def pull(self, since: str | None = None, entity: str | None = None,
             limit: int = 500, schema_version: str = "1") -> Iterator[dict[str, Any]]:
        """Every change after ``since`` (oldest first), page after page.

        :attr:`last_cursor` follows the changes you are done with: it moves to a change's
        cursor when you ask for the next one, and to the last page's ``next_cursor`` at the
        end. Save it and pass it as ``since`` next time (if you stop in the middle, the change
        you stopped at comes again: at least once, never skipped).
        """
        for page in self.pull_pages(since, entity, limit, schema_version):
            for change in page.changes:
                yield change
                if change.get("cursor") is not None:
                    self.last_cursor = change["cursor"]
