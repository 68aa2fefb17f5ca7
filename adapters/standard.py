"""The gateway's own exchange protocol as an adapter: gateways federate.

A county gateway syncs up into a provincial one, or pulls from one, through the same signed
protocol a local system uses (docs/protocol.md): this adapter is a client of the *remote*
gateway, registered there like any local system, with its own client id, Ed25519 (or
ECDSA P-256) key and scope. It is a thin layer over
:class:`gateway.exchange.client.GatewayClient`, which signs every request (RFC 9421),
verifies every answer that carries records against the remote's JWK set, derives
idempotency keys from content and retries transient failures: nothing of that is
re-implemented here.

Reading: one page of the remote's change feed
    ``read(entity, cursor, page_size)`` is one ``GET /api/v1/exchange/changes?since=cursor&
    entity=…&limit=min(page_size, 1000)``; the feed's opaque ``next_cursor`` and ``has_more``
    are the page's. Each change becomes a :class:`~gateway.adapter.NativeItem` whose
    ``native`` is the record as the remote publishes it (already a standard record), or
    ``{"key": …}`` for a tombstone (``op = "delete"``), and whose ``source_id`` is the
    change's ``key``: the remote store's own number for the record. Which entities can be
    read is the remote's to say (today's feed: volunteer, team, project, enrollment,
    service_record, certificate); asking for another is refused by the remote (422) and
    raised as :class:`RemoteError`.

No echo: what came from us is not read back
    Each change of the feed says who wrote it at the remote (``origin``). Changes written
    by this gateway — its pushes there, under ``client_id``, and the pulls of the remote's
    sync source that reads our feed, named ``peer_source_name`` — are left out of the page
    (the cursor still moves past them); a page of nothing but echoes is followed by the
    next, up to :data:`ECHO_PAGES` pages per read. The other way round,
    :meth:`StandardAdapter.receiver_origins` names ``peer_client_id``, the client the
    remote pushes into this gateway with: push runs do not send its changes back.

Writing: a push of upserts
    ``write(entity, records)`` pushes ``{"entity", "op": "upsert", "data"}`` items in batches
    of ``batch_size``; the remote validates and stores each on its own and answers one result
    per record. ``ok`` unless the remote says ``rejected``; ``native_id`` is the remote's key;
    ``errors`` are the remote's issues, their pointers re-based from the pushed item
    (``/data/mobile``) onto the record (``/mobile``) as R9 asks. ``delete(entity, keys)``
    pushes ``op: "delete"`` items naming each record by our number (the ``source_id`` the
    remote knows it by); a record the remote does not hold (``exchange.not_found``) is
    already gone: ``ok`` (R15). Certificates are issued by
    each gateway and never pushed (the remote would refuse them with
    ``exchange.not_pushable``): ``write("certificate", …)`` raises
    :class:`~gateway.adapter.ReadOnlyAdapter` before anything is sent.

Identity, both ways
    The receiving store takes a record's ``source_id`` as *the sender's* id for it (falling
    back on the sender's own number, ``volunteer_no``, ``team_no``, ``record_no`` …, when
    there is none), and finds the record again by it. Between gateways the sender's id for a
    record is its store number, so:

    * :meth:`StandardAdapter.from_standard` sets ``source_id`` to the record's own number.
      The remote keeps it as our id (a second write finds the same record: idempotent) and
      translates links given as our numbers (a service record's ``volunteer_no``,
      ``project_no``, ``team_no``) into its own.
    * :meth:`StandardAdapter.to_standard` drops ``source_id`` from a record that has its own
      number: the receiving store then uses the item's ``source_id`` (the remote's number),
      the same id its tombstones carry.

    A ``source_id`` that differs from the record's number (the id an *earlier* sender — a
    local system of the county — gave it, which a feed publishes for projects and service
    records) does not cross: ids of two local systems may collide, and a tombstone could not
    find a record stored under it. The mapping is loss free for every record whose
    ``source_id`` is absent or its own number (the only identity a gateway can send); a
    record without a number keeps its ``source_id`` both ways.

Errors
    Connection failures, timeouts, 5xx and 429 after the client's retries (``retries``), and
    409 ``idempotency-in-progress`` once the client stopped waiting:
    :class:`RemoteUnavailable` (an :class:`~gateway.adapter.AdapterUnavailable`). Any other
    refusal of a whole request (401 signature problems, 403 scope, 422 …) and an answer that
    is unsigned, does not verify or cannot be read: :class:`RemoteError` (permanent), with
    the problem's ``type`` and ``detail``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import requests

from gateway.adapter import (HOME, NUMBER_KEYS, Adapter, AdapterError, AdapterSettingsError,
                             AdapterUnavailable, CheckResult, Issue, MappingError, NativeItem, Page,
                             ReadOnlyAdapter, WriteResult, pointer)
from gateway.exchange.client import (ChangesPage, GatewayClient, GatewayClientError,
                                     GatewayProblem, PushError, PushResult,
                                     ResponseSignatureError, TransportError)
from gateway.exchange.client_auth import jwk_public_key

__all__ = ["ENTITIES", "NUMBER_KEYS", "READ_ONLY_ENTITIES", "RemoteError", "RemoteUnavailable",
           "StandardAdapter"]

ENTITIES: tuple[str, ...] = tuple(NUMBER_KEYS)
#: Published by the feed, never accepted by a push (each gateway issues its own).
READ_ONLY_ENTITIES = frozenset({"certificate"})
FEED_MAX_LIMIT = 1000          # the feed's largest page (docs/protocol.md, Pull)
MAX_BATCH_SIZE = 5000
OPS = ("upsert", "delete")
#: Pages of the remote's feed one ``read`` goes through while every change read is an echo.
ECHO_PAGES = 10
NOT_FOUND = "exchange.not_found"
IN_PROGRESS = "/problems/idempotency-in-progress"
OUT_OF_SCOPE = "/problems/out-of-scope"

_T = TypeVar("_T")

_SIGNED = "requests signed (RFC 9421) with this gateway's key; "
_VERIFICATION = {
    "fetch": _SIGNED + "the remote's answers verified against its JWK set as it publishes it "
                       "(/.well-known/jwks.json; RFC 9421 response signatures, Content-Digest)",
    "given": _SIGNED + "the remote's answers verified against its JWK set given in the settings "
                       "(RFC 9421 response signatures, Content-Digest)",
    None: _SIGNED + "the remote's answers NOT verified (gateway_jwks is null: for tests only)",
}


# -- errors -------------------------------------------------------------------------------

class RemoteError(AdapterError):
    """The remote gateway refused a request as a whole, or answered something unusable.

    ``status`` is the HTTP status and ``type`` the problem type (``/problems/…``) when the
    remote answered with problem+json, else ``None``; ``detail`` says what went wrong.
    """

    def __init__(self, message: str, *, status: int | None = None, type: str | None = None,
                 detail: str = ""):
        self.status = status
        self.type = type
        self.detail = detail or message
        super().__init__(message)


class RemoteUnavailable(RemoteError, AdapterUnavailable):
    """The remote could not be reached or failed in transport (after retries): retry later."""


# -- the adapter --------------------------------------------------------------------------

class StandardAdapter(Adapter):
    """Another gateway, over the exchange protocol (signed pushes, signed change feed)."""

    name = "standard"
    entities = ENTITIES
    can_delete = True
    federates = True
    verification = _VERIFICATION["fetch"]     # the default; each instance says its own
    settings_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Another gateway, over the exchange protocol",
        "type": "object",
        "additionalProperties": False,
        "required": ["base_url", "client_id", "key_id"],
        "oneOf": [{"required": ["private_key_pem"]}, {"required": ["private_key_file"]}],
        "properties": {
            "base_url": {"type": "string", "pattern": "^https?://[^\\s/]+(/\\S*)?$",
                         "description": "The remote gateway, e.g. https://gateway.province.example "
                                        "(…/api/v1/exchange/… is below it)."},
            "client_id": {"type": "string", "minLength": 1, "maxLength": 64,
                          "description": "The client id the remote gateway registered for this "
                                         "gateway (`vgw clients add` there)."},
            "key_id": {"type": "string", "minLength": 1, "maxLength": 128,
                       "description": "The key id the public key is registered under at the "
                                      "remote (`vgw keys add` there prints it)."},
            "private_key_pem": {"type": "string", "pattern": "-----BEGIN [A-Z ]*PRIVATE KEY-----",
                                "description": "The private key itself, PEM (Ed25519 or ECDSA "
                                               "P-256). Settings are stored and shown: prefer "
                                               "private_key_file. Give exactly one of the two."},
            "private_key_file": {"type": "string", "minLength": 1,
                                 "description": "Path of the private key's PEM file (Ed25519 or "
                                                "ECDSA P-256; keep it 0600), read when the "
                                                "adapter is built. Give exactly one of "
                                                "private_key_pem and private_key_file."},
            "gateway_jwks": {
                "default": "fetch",
                "description": "How the remote's signed answers are verified: \"fetch\" (its "
                               "/.well-known/jwks.json, fetched once and again for a new key), "
                               "or its JWK set itself ({\"keys\": [...]}, obtained out of band: "
                               "the strongest choice), or null: answers are NOT verified — for "
                               "tests only, never against a real gateway.",
                "oneOf": [
                    {"const": "fetch"},
                    {"type": "object", "required": ["keys"],
                     "properties": {"keys": {"type": "array", "minItems": 1,
                                             "items": {"type": "object", "required": ["kid"]}}}},
                    {"type": "null"},
                ],
            },
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600, "default": 60,
                        "description": "Seconds to wait for each answer (the remote answers a "
                                       "push once the whole batch is stored)."},
            "retries": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3,
                        "description": "Attempts per request, the first included, for connection "
                                       "failures, timeouts, 5xx and 429 (exponential backoff)."},
            "entities": {"type": "array", "minItems": 1, "uniqueItems": True,
                         "items": {"enum": list(ENTITIES)},
                         "description": "The entities this source exchanges (default: all). "
                                        "The remote's feed publishes volunteer, team, project, "
                                        "enrollment, service_record and certificate; a push "
                                        "takes all but certificate."},
            "batch_size": {"type": "integer", "minimum": 1, "maximum": MAX_BATCH_SIZE,
                           "default": 500, "description": "Records per pushed batch."},
            "peer_client_id": {"type": "string", "minLength": 1, "maxLength": 64,
                               "description": "The client id the remote gateway pushes into "
                                              "THIS gateway with, if it does (`vgw clients add` "
                                              "here): push runs never send back what it wrote "
                                              "here (no echo)."},
            "read_own_writes": {"type": "boolean", "default": False,
                                "description": "Read back what this gateway wrote at the remote "
                                               "too (default false: reads leave out the changes "
                                               "whose origin is client_id or peer_source_name, "
                                               "so that nothing echoes). True only for a source "
                                               "that never pushes (or for tests)."},
            "send_homes": {"type": "boolean", "default": True,
                           "description": "Send each record's home (docs/protocol.md, Federation "
                                          "identity) with pushes (default true). False only for "
                                          "a remote gateway too old to know the member (it "
                                          "refuses items carrying it)."},
            "peer_source_name": {"type": "string", "minLength": 1, "maxLength": 64,
                                 "description": "The name of the remote gateway's sync source "
                                                "that pulls THIS gateway's feed, if it has one: "
                                                "reads leave out what it brought there (no "
                                                "echo). What this gateway pushed there "
                                                "(client_id) is always left out."},
        },
    }

    def __init__(self, settings: Mapping[str, Any], *, http: requests.Session | None = None):
        super().__init__(settings, http=http)
        s = self.settings
        self._entities = frozenset(s.get("entities", ENTITIES))
        self._batch_size = s.get("batch_size", 500)
        self._send_homes = s.get("send_homes", True)
        # Who we are in the remote's feed: what we pushed there, what its source pulled from us.
        self._own_origins = frozenset() if s.get("read_own_writes") else frozenset(
            filter(None, (s["client_id"], s.get("peer_source_name"))))
        jwks = s.get("gateway_jwks", "fetch")
        if isinstance(jwks, dict):
            _check_jwks(jwks)
        # The message log records this with every batch read: say exactly what was checked.
        self.verification = _VERIFICATION[jwks if jwks in (None, "fetch") else "given"]
        key, where = _private_key(s)
        try:
            self.client = GatewayClient(s["base_url"], s["client_id"], s["key_id"], key,
                                        gateway_jwks=jwks, timeout=s.get("timeout", 60),
                                        session=self.http, retries=s.get("retries", 3))
        except (ValueError, TypeError) as exc:
            # Never the key's text in the message: only what is wrong with it.
            raise AdapterSettingsError(self.name, where, "not a usable private key (PEM, Ed25519 "
                                       f"or ECDSA P-256): {type(exc).__name__}") from None

    @classmethod
    def validate_settings(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The schema's checks, with "exactly one private key" named by field first (the
        schema's ``oneOf`` alone would point at the whole object)."""
        if isinstance(settings, Mapping):
            given = [k for k in ("private_key_pem", "private_key_file") if k in settings]
            if len(given) != 1:
                raise AdapterSettingsError(
                    cls.name, pointer(given[1] if given else "private_key_file"),
                    "give exactly one of private_key_pem and private_key_file")
        return super().validate_settings(settings)

    def require_entity(self, entity: str) -> None:
        """Also refuse an entity the settings' ``entities`` leave out."""
        super().require_entity(entity)
        if entity not in self._entities:
            raise AdapterError(f"{entity!r} is not among this source's entities "
                               f"({', '.join(e for e in ENTITIES if e in self._entities)})")

    # -- R4 ------------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """A signed read of one change: the key is accepted and the answer verifies.

        A client that may read none of the feed's entities (one that only pushes) gets 403
        ``out-of-scope``, which still proves the signature was accepted: that is a pass.
        """
        base = self.settings["base_url"]
        try:
            self._remote("check", lambda: self.client.changes_page(None, None, 1))
        except RemoteError as exc:
            if exc.type == OUT_OF_SCOPE:
                return CheckResult(True, f"{base}: signed request accepted; this client may read "
                                         "none of the feed's entities (writes only)")
            return CheckResult(False, str(exc))
        except Exception as exc:  # noqa: BLE001 - check() never raises (R4)
            return CheckResult(False, f"{base}: {type(exc).__name__}: {exc}")
        verified = "answer verified" if self.settings.get("gateway_jwks", "fetch") is not None \
            else "answer NOT verified (gateway_jwks is null)"
        return CheckResult(True, f"{base}: signed request accepted, {verified}")

    # -- R5, R6: one page of the remote's change feed -------------------------------------

    def read(self, entity: str, cursor: str | None, page_size: int) -> Page:
        """One page of the remote's feed after ``cursor``, without the changes this gateway
        wrote there (echoes); while a page holds nothing else, the next one (at most
        :data:`ECHO_PAGES`)."""
        self.require_entity(entity)
        limit = max(1, min(page_size, FEED_MAX_LIMIT))
        for _ in range(ECHO_PAGES):
            page = self._feed_page(entity, cursor, limit)
            items = [_native_item(entity, n, change) for n, change in enumerate(page.changes)
                     if not self._echo(change)]
            cursor = page.next_cursor
            if items or not page.has_more:
                break
        return Page(items, cursor, page.has_more)

    def _feed_page(self, entity: str, cursor: str | None, limit: int) -> ChangesPage:
        page: ChangesPage = self._remote("read", lambda: self.client.changes_page(cursor, entity, limit))
        if len(page.changes) > limit:
            raise RemoteError(f"standard read: {len(page.changes)} changes for limit={limit}")
        if not isinstance(page.next_cursor, str) or not page.next_cursor:
            raise RemoteError("standard read: the feed's answer has no next_cursor")
        if page.has_more and page.next_cursor == cursor:
            raise RemoteError("standard read: the feed says it has more but its cursor did not move")
        return page

    def _echo(self, change: Any) -> bool:
        """Whether this change of the remote's feed was written there by this gateway."""
        return isinstance(change, dict) and change.get("origin") in self._own_origins

    def receiver_origins(self) -> frozenset[str]:
        """The remote's client in this gateway (``peer_client_id``): not sent back to it."""
        peer = self.settings.get("peer_client_id")
        return frozenset({peer}) if peer else frozenset()

    # -- R7, R8: the records are standard already -------------------------------------------

    def to_standard(self, entity: str, native: dict[str, Any]) -> dict[str, Any]:
        """The remote's record as it is, without ``source_id`` when it has its own number
        (the item's ``source_id``, that number, is its identity here)."""
        self.require_entity(entity)
        record, number = _record_and_number(entity, native)
        if number is not None:
            record.pop("source_id", None)
        return record

    def from_standard(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        """The record as it is, with ``source_id`` = its own number (our id for it)."""
        self.require_entity(entity)
        native, number = _record_and_number(entity, record)
        if number is not None:
            native["source_id"] = number
        return native

    # -- R9, R10: a push of upserts ---------------------------------------------------------

    def write(self, entity: str, records: list[dict[str, Any]]) -> list[WriteResult]:
        self.require_entity(entity)
        if entity in READ_ONLY_ENTITIES:
            raise ReadOnlyAdapter(f"{entity} records are issued by each gateway and cannot be "
                                  "pushed to another (exchange.not_pushable)")
        results: list[WriteResult | None] = [None] * len(records)
        items: list[dict[str, Any]] = []
        positions: list[int] = []
        for n, record in enumerate(records):
            home = record.get(HOME) if isinstance(record, dict) else None
            if home is not None:
                record = {k: v for k, v in record.items() if k != HOME}
            try:
                data = self.from_standard(entity, record)
            except MappingError as err:
                results[n] = WriteResult(False, None, err.issues)
                continue
            items.append({"entity": entity, "op": "upsert", "data": data,
                          **({"home": home} if home is not None and self._send_homes else {})})
            positions.append(n)
        if items:
            pushed: PushResult = self._remote(
                "write", lambda: self.client.push(items, batch_size=self._batch_size))
            for n, answer in zip(positions, _in_order(pushed, len(items))):
                results[n] = _write_result(answer)
        return results  # type: ignore[return-value]  # every position is filled above

    def delete(self, entity: str, keys: list[str],
               homes: list[dict[str, Any] | None] | None = None) -> list[WriteResult]:
        """Push a delete of each record, named by our number (the remote's ``source_id`` for
        it) and by its home when ``homes`` gives one; one the remote does not hold is already
        gone (``ok``, no ``native_id``)."""
        self.require_entity(entity)
        if entity in READ_ONLY_ENTITIES:
            raise ReadOnlyAdapter(f"{entity} records are issued by each gateway and cannot be "
                                  "deleted in another (exchange.not_pushable)")
        if not keys:
            return []
        homes = homes if homes is not None and self._send_homes else [None] * len(keys)
        items = [{"entity": entity, "op": "delete", "data": {"source_id": key},
                  **({"home": home} if home is not None else {})}
                 for key, home in zip(keys, homes)]
        pushed: PushResult = self._remote(
            "delete", lambda: self.client.push(items, batch_size=self._batch_size))
        results = []
        for answer in _in_order(pushed, len(items)):
            errors = answer.get("errors") if isinstance(answer.get("errors"), list) else []
            if answer.get("status") == "rejected" and errors and all(
                    isinstance(e, dict) and e.get("rule") == NOT_FOUND for e in errors):
                results.append(WriteResult(True, None))
            else:
                results.append(_write_result(answer))
        return results

    # -- transport errors -------------------------------------------------------------------

    def _remote(self, what: str, call: Callable[[], _T]) -> _T:
        """``call()``, with the client's failures raised as the adapter's errors."""
        try:
            return call()
        except PushError as exc:
            raise _adapter_error(what, exc.cause) from exc
        except (GatewayClientError, requests.RequestException) as exc:
            raise _adapter_error(what, exc) from exc


# -- helpers ----------------------------------------------------------------------------------

def _private_key(settings: dict[str, Any]) -> tuple[str | bytes, str]:
    """The private key's PEM and the settings pointer it came from."""
    if "private_key_pem" in settings:
        return settings["private_key_pem"], "/private_key_pem"
    path = Path(settings["private_key_file"]).expanduser()
    try:
        return path.read_bytes(), "/private_key_file"
    except OSError as exc:
        raise AdapterSettingsError(StandardAdapter.name, "/private_key_file",
                                   f"cannot read {path}: {exc.strerror or exc}") from None


def _check_jwks(jwks: dict[str, Any]) -> None:
    """Every JWK of a given set is a public Ed25519 / P-256 key (a typo fails now, not later)."""
    for n, jwk in enumerate(jwks["keys"]):
        try:
            jwk_public_key(jwk)
        except (KeyError, ValueError, TypeError) as exc:
            reason = str(exc) if isinstance(exc, ValueError) else f"missing or bad member {exc}"
            raise AdapterSettingsError(StandardAdapter.name, pointer("gateway_jwks", "keys", n),
                                       f"not a usable public key: {reason}") from None


def _adapter_error(what: str, exc: Exception) -> RemoteError:
    """The adapter's error for a failure of the gateway client (or of requests under it)."""
    if isinstance(exc, TransportError):
        return RemoteUnavailable(f"standard {what}: {exc}")
    if isinstance(exc, GatewayProblem):
        detail = str(exc.problem.get("detail") or exc.problem.get("title") or "")
        transient = exc.status >= 500 or exc.status == 429 or exc.type == IN_PROGRESS
        kind = RemoteUnavailable if transient else RemoteError
        return kind(f"standard {what}: the remote gateway answered {exc}", status=exc.status,
                    type=exc.type, detail=detail)
    if isinstance(exc, ResponseSignatureError):
        return RemoteError(f"standard {what}: refused, the remote's answer is unsigned or does "
                           f"not verify: {exc}")
    return RemoteError(f"standard {what}: {type(exc).__name__}: {exc}")


def _record_and_number(entity: str, record: Any) -> tuple[dict[str, Any], str | None]:
    """A deep copy of ``record`` and its own number (``None`` when it has none)."""
    if not isinstance(record, dict):
        raise MappingError([Issue("", "mapping.invalid", "记录应为 JSON 对象",
                                  "a record must be a JSON object")])
    key = NUMBER_KEYS[entity]
    number = record.get(key)
    if number is not None and (not isinstance(number, str) or not number):
        raise MappingError([Issue(pointer(key), "mapping.invalid",
                                  f"{key}（记录的编号）应为非空文本",
                                  f"{key} (the record's number) must be non-empty text")])
    return copy.deepcopy(record), number


def _malformed(what: str) -> RemoteError:
    return RemoteError(f"standard read: the feed's answer is malformed: {what}")


def _native_item(entity: str, n: int, change: Any) -> NativeItem:
    """One change of the feed as a NativeItem; anything unexpected is a malformed answer."""
    if not isinstance(change, dict):
        raise _malformed(f"change {n} is not an object")
    if change.get("entity") != entity:
        raise _malformed(f"change {n} is of another entity than the {entity} asked for")
    op, key, data = change.get("op"), change.get("key"), change.get("data")
    if op not in OPS or not isinstance(key, str) or not key:
        raise _malformed(f"change {n} has no op upsert/delete or no key")
    if op == "upsert" and not isinstance(data, dict):
        raise _malformed(f"change {n} is an upsert without its record")
    native = data if op == "upsert" else {"key": key}
    home = change.get("home")
    if home is not None and not isinstance(home, dict):
        raise _malformed(f"change {n} has a home that is not an object")
    return NativeItem(native, key, op, f"{entity} {key}", home)


def _in_order(pushed: PushResult, count: int) -> list[dict[str, Any]]:
    """The push's results in input order, checked to answer every record exactly once."""
    by_index: dict[int, dict[str, Any]] = {}
    for answer in pushed.results:
        index = answer.get("index")
        if not isinstance(index, int) or not 0 <= index < count or index in by_index:
            raise RemoteError("standard write: the remote's answer does not match the records "
                              "sent (a result with a missing, repeated or unknown index)")
        by_index[index] = answer
    if len(by_index) != count:
        raise RemoteError(f"standard write: the remote answered {len(by_index)} of {count} "
                          "records")
    return [by_index[n] for n in range(count)]


def _write_result(answer: dict[str, Any]) -> WriteResult:
    if answer.get("status") == "rejected":
        errors = answer.get("errors")
        return WriteResult(False, None, [_issue(e) for e in errors] if isinstance(errors, list)
                           and errors else [_issue(None)])
    key = answer.get("key")
    if not isinstance(key, str) or not key:
        raise RemoteError(f"standard write: the remote answered {answer.get('status')!r} "
                          "without the record's key")
    return WriteResult(True, key)


def _issue(error: Any) -> Issue:
    """A remote issue, its pointer re-based from the pushed item onto the record."""
    if not isinstance(error, dict):
        return Issue("", "exchange.rejected", "远端网关拒收该记录", "the remote gateway refused the record")
    where = str(error.get("pointer") or "")
    if where == "/data" or where.startswith("/data/"):
        where = where[len("/data"):]
    return Issue(where, str(error.get("rule") or "exchange.rejected"),
                 str(error.get("message_zh") or ""), str(error.get("message_en") or ""))
