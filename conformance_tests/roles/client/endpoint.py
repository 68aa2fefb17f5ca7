"""The suite's reference endpoint for the client role: it plays the gateway's exchange protocol.

A small HTTP server (the standard library's ``ThreadingHTTPServer``; nothing of the gateway)
on ``[client] host``/``port`` that

- takes signed pushes at ``/api/v1/exchange/batches`` (JSON envelopes), checks each request's
  signature against the keys ``[client] jwks`` registers for the system, validates the
  envelope and every record against the standard (the gateway at ``[data] validator_url``
  when one is configured, else the published JSON schemas of the copy of ``schemas/v1`` the suite ships), answers one
  result per record, and keeps every answer under its Idempotency-Key (same key and body:
  the stored bytes; same key, other body: 409);
- serves a change feed of records it generates at ``/api/v1/exchange/changes`` (opaque
  cursors, small pages so that paging is needed, tombstones);
- signs every answer with a key of its own (label ``gw``, docs/protocol.md §4) whose JWK set
  it serves at ``/.well-known/jwks.json``;
- can be told to answer the first attempt of a new batch with 503 + Retry-After or to drop
  its connection, and records every request (time, fields, body, what its signature showed)
  for the tests to examine.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ... import published, signing

PUSH_PATH = "/api/v1/exchange/batches"
FEED_PATH = "/api/v1/exchange/changes"
JWKS_PATH = "/.well-known/jwks.json"
PAGE_MAX = 3           # the feed's pages are small so that a client has to page
RETRY_AFTER = 2


@dataclass
class Received:
    """One request as it arrived, and what the endpoint made of it."""

    at: float                               # time.monotonic() when its body had been read
    method: str
    url: str                                # "@target-uri" as the endpoint rebuilt it
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    signature: signing.SignedRequestReport | None = None
    signature_error: str | None = None      # why it does not verify at all
    status: int | None = None               # None: the connection was dropped
    answer: dict[str, Any] | None = None    # the JSON answered (feed pages, push results)
    action: str = ""                        # "503", "drop", "processed", "replayed", …

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def nonce(self) -> Any:
        return self.signature.parameters.get("nonce") if self.signature else None


def _headers(message) -> dict[str, str]:
    """Header fields as a case-insensitive-enough dict (title-cased names, lines joined)."""
    out: dict[str, str] = {}
    for name, value in message.items():
        key = "-".join(part.capitalize() for part in name.split("-"))
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


class _Caseless(dict):
    def get(self, key, default=None):
        for k, v in self.items():
            if k.lower() == key.lower():
                return v
        return default

    def __contains__(self, key):
        return any(k.lower() == str(key).lower() for k in self.keys())

    def __getitem__(self, key):
        for k, v in self.items():
            if k.lower() == key.lower():
                return v
        raise KeyError(key)


class RecordValidator:
    """Checks an envelope and its records against the standard, the way the gateway would."""

    def __init__(self, validator_url: str = "", validate_path: str = "/api/v1/validate"):
        self.validator_url = validator_url.rstrip("/")
        self.validate_path = validate_path

    @property
    def how(self) -> str:
        return (f"the validation API of {self.validator_url}" if self.validator_url
                else "the published JSON schemas (schemas/v1, or schemas/v2 for a version 2 "
                     "envelope)")

    def check(self, envelope: Any) -> tuple[list[dict], list[list[dict]]]:
        """(errors of the envelope, errors of each record) — JSON Pointers and rule ids."""
        if self.validator_url:
            return self._remote(envelope)
        return self._schemas_check(envelope)

    def _remote(self, envelope: Any) -> tuple[list[dict], list[list[dict]]]:
        answer = requests.post(f"{self.validator_url}{self.validate_path}/batch", json=envelope,
                               timeout=60)
        if answer.status_code != 200:
            return ([{"pointer": "", "rule": "validator.refused",
                      "message_en": f"{answer.status_code} {answer.text[:200]}"}], [])
        result = answer.json()
        records = [r.get("errors", []) for r in result.get("results", [])]
        return (result.get("envelope") or {}).get("errors", []), records

    def _schemas_check(self, envelope: Any) -> tuple[list[dict], list[list[dict]]]:
        # the schemas of the envelope's own version (1 or 2); any other is v1's refusal
        version = envelope.get("schema_version") if isinstance(envelope, dict) else None
        version = version if version in published.VERSIONS else "1"
        envelope_errors = [e for e in published.issues("batch", envelope, version)
                           if not e["pointer"].startswith("/records/")]
        per_record = []
        for item in (envelope.get("records") or []) if isinstance(envelope, dict) else []:
            entity = item.get("entity") if isinstance(item, dict) else None
            if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
                per_record.append([{"pointer": "/data", "rule": "exchange.data",
                                    "message_en": "data must be a JSON object"}])
            elif item.get("op") == "delete":
                per_record.append([])   # a delete only names the record
            else:
                try:
                    per_record.append(published.issues(entity, item["data"], version,
                                                       prefix="/data"))
                except FileNotFoundError:
                    per_record.append([{"pointer": "/entity", "rule": "batch.unknown_entity",
                                        "message_en": f"unknown entity {entity!r}"}])
        return envelope_errors, per_record


class ReferenceEndpoint:
    """The reference endpoint; ``start()`` it, ``stop()`` it (one per host and port)."""

    def __init__(self, host: str, port: int, *, system_keys: signing.KeySet, client_id: str,
                 validator: RecordValidator, records: list[dict] | None = None, window: int = 300):
        self.host, self.port = host, port
        self.system_keys = system_keys
        self.client_id = client_id
        self.validator = validator
        self.window = window
        self.key = Ed25519PrivateKey.generate()
        self.key_id = "suite-" + signing.thumbprint(self.key)[:16]
        self.jwks = {"keys": [{**signing.public_jwk(self.key, self.key_id), "use": "sig",
                               "alg": "EdDSA"}]}
        self.received: list[Received] = []
        self.plan: list[str] = []            # what to do with the first attempt of new batches
        self.forge_feed = False              # sign feed pages with a key not in the JWK set
        self._answers: dict[str, tuple[str, int, bytes]] = {}   # key -> (body sha, status, bytes)
        self._changes: list[dict] = []
        self._epoch = secrets.token_hex(4)
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        for record in records or []:
            self.add_change(record)

    # -- life ----------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "ReferenceEndpoint":
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:   # no access log (records carry PII)
                return

            def do_GET(self) -> None:
                endpoint._handle(self)

            def do_POST(self) -> None:
                endpoint._handle(self)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name=f"conformance-endpoint-{self.port}").start()
        _RUNNING[self.port] = self
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        _RUNNING.pop(self.port, None)

    # -- the feed's content ----------------------------------------------------------------------
    def add_change(self, item: dict) -> None:
        """Append a change ({"entity", "op", "data"}; a delete becomes a tombstone)."""
        with self._lock:
            n = len(self._changes) + 1
            cursor = base64.urlsafe_b64encode(f"ref:{self._epoch}:{n}".encode()).rstrip(b"=").decode()
            data = None if item["op"] == "delete" else item["data"]
            key = item.get("key") or f"{item['entity'][:1].upper()}REF{self._epoch}{n:06d}"
            self._changes.append({"cursor": cursor, "entity": item["entity"], "op": item["op"],
                                  "key": key, "changed_at": _now(), "data": data})

    @property
    def changes(self) -> list[dict]:
        return list(self._changes)

    # -- waiting ---------------------------------------------------------------------------------
    def wait_for(self, predicate: Callable[[list[Received]], Any], timeout: float) -> Any:
        """Wait until ``predicate(received)`` is truthy; return it (or None after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = predicate(list(self.received))
                if value or time.monotonic() >= deadline:
                    return value
                self._lock.wait(timeout=min(0.5, max(0.0, deadline - time.monotonic())))

    # -- requests --------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        headers = _Caseless(_headers(handler.headers))
        host = headers.get("Host") or f"{self.host}:{self.port}"
        entry = Received(time.monotonic(), handler.command, f"http://{host}{handler.path}",
                         parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                         dict(headers), body)
        if parts.path == JWKS_PATH and handler.command == "GET":
            self._answer(handler, 200, self.jwks, sign=False)
            return
        if parts.path not in (PUSH_PATH, FEED_PATH):
            self._problem(handler, 404, "not-found", "no such endpoint")
            return
        try:
            entry.signature = signing.verify_request(handler.command, entry.url, headers, body,
                                                     self.system_keys, client_id=self.client_id,
                                                     window=self.window)
        except signing.InvalidSignature as exc:
            entry.signature_error = str(exc)
        with self._lock:
            self.received.append(entry)
        try:
            if entry.signature_error:
                entry.status = 401
                self._problem(handler, 401, "signature-invalid", entry.signature_error)
            elif parts.path == PUSH_PATH and handler.command == "POST":
                self._push(handler, entry)
            elif parts.path == FEED_PATH and handler.command == "GET":
                self._feed(handler, entry)
            else:
                entry.status = 405
                self._problem(handler, 405, "method-not-allowed", "method not allowed")
        finally:
            with self._lock:
                self._lock.notify_all()

    def _push(self, handler, entry: Received) -> None:
        key = entry.idempotency_key
        if not key:
            entry.status, entry.action = 400, "refused"
            self._problem(handler, 400, "idempotency-key-required", "send an Idempotency-Key")
            return
        stored = self._answers.get(key)
        if stored is not None:
            digest, status, raw = stored
            if digest != entry.body_sha256:
                entry.status, entry.action = 409, "refused"
                self._problem(handler, 409, "idempotency-key-reused",
                              "this Idempotency-Key was used with another body")
                return
            entry.status, entry.action = status, "replayed"
            entry.answer = json.loads(raw)
            self._send(handler, status, raw, "application/json", extra={"Idempotent-Replayed": "true"})
            return
        action = None
        with self._lock:
            if self.plan and not any(r.idempotency_key == key and r is not entry for r in self.received):
                action = self.plan.pop(0)
        if action == "503":
            entry.status, entry.action = 503, "503"
            self._problem(handler, 503, "unavailable", "try again later",
                          extra={"Retry-After": str(RETRY_AFTER)})
            return
        if action == "drop":
            entry.status, entry.action = None, "drop"
            handler.close_connection = True
            return
        if (entry.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            entry.status, entry.action = 415, "refused"
            self._problem(handler, 415, "unsupported-media-type",
                          "the reference endpoint takes application/json batch envelopes")
            return
        try:
            envelope = json.loads(entry.body)
        except ValueError as exc:
            entry.status, entry.action = 400, "refused"
            self._problem(handler, 400, "invalid-json", str(exc))
            return
        envelope_errors, record_errors = self.validator.check(envelope)
        if envelope_errors or not isinstance(envelope, dict):
            entry.status, entry.action = 422, "refused"
            entry.answer = {"errors": envelope_errors}
            self._problem(handler, 422, "invalid-envelope", "the envelope breaks batch.schema.json",
                          members={"errors": envelope_errors})
            return
        results = []
        for index, item in enumerate(envelope.get("records") or []):
            errors = record_errors[index] if index < len(record_errors) else []
            data = item.get("data") if isinstance(item, dict) else None
            results.append({"index": index, "entity": item.get("entity"), "op": item.get("op"),
                            "status": "rejected" if errors else
                            ("deleted" if item.get("op") == "delete" else "created"),
                            "key": None if errors else f"REF{secrets.token_hex(6)}",
                            "source_id": data.get("source_id") if isinstance(data, dict) else None,
                            "errors": errors})
        summary = {s: sum(1 for r in results if r["status"] == s)
                   for s in ("created", "updated", "unchanged", "deleted", "rejected")}
        answer = {"batch_id": envelope.get("batch_id"), "idempotency_key": key,
                  "received_at": _now(), "summary": {"total": len(results), **summary},
                  "results": results}
        raw = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        self._answers[key] = (entry.body_sha256, 200, raw)
        entry.status, entry.action, entry.answer = 200, "processed", answer
        self._send(handler, 200, raw, "application/json")

    def _feed(self, handler, entry: Received) -> None:
        changes = self.changes
        since = entry.query.get("since")
        start = 0
        if since:
            cursors = [c["cursor"] for c in changes]
            if since not in cursors:
                entry.status, entry.action = 400, "refused"
                self._problem(handler, 400, "invalid-cursor", "a cursor this endpoint did not hand out")
                return
            start = cursors.index(since) + 1
        try:
            limit = max(1, min(int(entry.query.get("limit", 500)), 1000))
        except ValueError:
            entry.status, entry.action = 400, "refused"
            self._problem(handler, 400, "invalid-parameter", "limit must be an integer")
            return
        entity = entry.query.get("entity")
        selected = [c for c in changes[start:] if not entity or c["entity"] == entity]
        page = selected[:min(limit, PAGE_MAX)]
        if page:
            next_cursor = page[-1]["cursor"]
        elif changes[start:]:   # only changes of other entities: the cursor moves past them
            next_cursor = changes[-1]["cursor"]
        else:
            next_cursor = since
        answer = {"changes": page, "next_cursor": next_cursor, "has_more": len(selected) > len(page)}
        entry.status, entry.action, entry.answer = 200, "forged" if self.forge_feed else "page", answer
        self._send(handler, 200, json.dumps(answer, ensure_ascii=False).encode("utf-8"),
                   "application/json", forged=self.forge_feed)

    # -- answers ---------------------------------------------------------------------------------
    def _problem(self, handler, status: int, slug: str, detail: str, *,
                 extra: dict[str, str] | None = None, members: dict | None = None) -> None:
        body = {"type": f"/problems/{slug}", "title": slug.replace("-", " "), "status": status,
                "detail": detail, **(members or {})}
        self._send(handler, status, json.dumps(body).encode(), "application/problem+json", extra=extra)

    def _answer(self, handler, status: int, value: Any, *, sign: bool = True) -> None:
        self._send(handler, status, json.dumps(value).encode(), "application/json", sign=sign)

    def _send(self, handler, status: int, body: bytes, content_type: str, *,
              extra: dict[str, str] | None = None, sign: bool = True, forged: bool = False) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        if sign:
            key = Ed25519PrivateKey.generate() if forged else self.key   # same kid, other key
            for name, value in signing.sign_response_headers(status, content_type, body, key=key,
                                                             key_id=self.key_id,
                                                             window=self.window).items():
                handler.send_header(name, value)
        for name, value in (extra or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)


_RUNNING: dict[int, ReferenceEndpoint] = {}


def stop_all() -> None:
    """Stop every reference endpoint this process started (e.g. at the end of a run)."""
    for endpoint in list(_RUNNING.values()):
        endpoint.stop()


def _now() -> str:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds")
