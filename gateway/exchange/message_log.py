"""The message log: every batch that crosses the boundary, kept as evidence of who sent what.

An inbound batch is logged with everything needed to prove, later and to a third party, that
a given client sent exactly these bytes: the method and target URI, the header fields its
signature covers, ``Signature-Input`` and ``Signature``, the key id and a copy of the
client's public key as it was when the batch arrived (so the evidence outlives the key's
revocation or deletion), the body, its digest, and the outcome. :func:`verify_entry`
rebuilds the signed message from the log alone and verifies it again, and checks the stored
body against the signed Content-Digest: ``vgw log show BATCH_ID`` prints VERIFIED or FAILED.
An outbound batch (:func:`record_outbound`, e.g. a page of the change feed) is kept the
same way, signed by the gateway's key.

**Bodies** are stored compressed (one zlib stream per body) in ``blob_chunks`` rows of about
1 MiB, each row encrypted under the personal-data keys (:meth:`gateway.privacy.Vault.seal`:
AES-256-GCM, the token names its key; the row's blob key and number are authenticated, so
rows cannot be swapped) and decrypted on reading; ``vgw pii rotate`` re-encrypts them. Rows
written before encryption (plain zlib) are still read, and encrypted by the rotation. They
are written and read in pieces, so a 200 MB batch costs a few MiB of memory at most and
stays in the store (backed up, reachable from every worker and host) instead of in files.

**Retention.** :func:`purge` drops the bodies older than MESSAGE_LOG_RETENTION_DAYS (and the
stored answers of idempotency keys as old); what stays is the evidence summary: digest,
size, signature, signature input, key id and public key, counts and outcome. A purged
entry's signature still verifies; only the body check is no longer possible.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
import zlib
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Iterator, Mapping

import http_sf
from http_message_signatures import HTTPMessageVerifier, InvalidSignature
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_message_signatures.structures import CaseInsensitiveDict
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from gateway.exchange import keys as client_keys
from gateway.exchange.signatures import (ALGORITHM_CLASSES, DIGEST_HASHERS, SignedRequest,
                                         _OneKey, _RequestMessage, digest_matches)
from gateway.store.models import BlobChunk, IdempotencyKey, MessageLog, utcnow

__all__ = [
    "ADAPTER_SIGNATURE_INPUT", "BLOB_CHUNK_BYTES", "adapter_evidence", "record_adapter_batch", "Verification", "delete_blob", "entries_for_batch", "purge",
    "read_blob", "record_inbound", "record_outbound", "signed_header_values", "verify_entry",
    "write_blob",
]

#: Compressed bytes per blob_chunks row.
BLOB_CHUNK_BYTES = 1 << 20
_READ_BYTES = 1 << 16
_COMPRESS_LEVEL = 3  # JSON compresses ~6x at this level, at well over 100 MB/s


# -- bodies ----------------------------------------------------------------------------------

def _vault(session: Session):
    """The personal-data vault: the session's (gateway.privacy.init_app), else the app's."""
    found = session.info.get("vault")
    if found is None:
        from flask import current_app

        found = current_app.extensions["privacy.vault"]
    return found


def chunk_aad(key: str, seq: int) -> bytes:
    """What a blob row's encryption authenticates: which blob and which piece it is."""
    return f"blob_chunks:{key}:{seq}".encode("ascii")


def open_chunk(vault: Any, key: str, seq: int, data: bytes) -> bytes:
    """A stored row's compressed bytes (decrypted; a row from before encryption as it is)."""
    from gateway.privacy import SEAL_PREFIX

    data = bytes(data)
    return vault.open(data, chunk_aad(key, seq)) if data.startswith(SEAL_PREFIX) else data


def write_blob(session: Session, source: IO[bytes] | Iterable[bytes]) -> tuple[str, int]:
    """Store ``source`` (a binary file read to its end, or an iterable of bytes) compressed;
    return the blob key and the number of uncompressed bytes. Flat memory: one chunk at a time."""
    key = uuid.uuid4().hex
    vault = _vault(session)
    compressor = zlib.compressobj(_COMPRESS_LEVEL)
    pending = bytearray()
    seq = size = 0

    def pieces() -> Iterator[bytes]:
        if hasattr(source, "read"):
            while chunk := source.read(_READ_BYTES):  # type: ignore[union-attr]
                yield chunk
        else:
            yield from source  # type: ignore[misc]

    def flush_row(data: bytes) -> None:
        nonlocal seq
        # Core INSERT: nothing lingers in the session's identity map.
        session.execute(insert(BlobChunk).values(blob_key=key, seq=seq,
                                                 data=vault.seal(data, chunk_aad(key, seq))))
        seq += 1

    for chunk in pieces():
        size += len(chunk)
        pending += compressor.compress(chunk)
        while len(pending) >= BLOB_CHUNK_BYTES:
            flush_row(bytes(pending[:BLOB_CHUNK_BYTES]))
            del pending[:BLOB_CHUNK_BYTES]
    pending += compressor.flush()
    flush_row(bytes(pending))
    return key, size


def read_blob(session: Session, key: str) -> Iterator[bytes]:
    """The uncompressed bytes of a blob, piece by piece (one stored row in memory at a time)."""
    decompressor = zlib.decompressobj()
    vault = _vault(session)
    seq = 0
    while True:
        data = session.execute(select(BlobChunk.data).where(BlobChunk.blob_key == key,
                                                            BlobChunk.seq == seq)).scalar_one_or_none()
        if data is None:
            break
        out = decompressor.decompress(open_chunk(vault, key, seq, data))
        if out:
            yield out
        seq += 1
    if seq == 0:
        raise KeyError(f"no blob {key}")
    rest = decompressor.flush()
    if rest:
        yield rest


def delete_blob(session: Session, key: str) -> None:
    session.execute(delete(BlobChunk).where(BlobChunk.blob_key == key))


# -- writing entries ---------------------------------------------------------------------------

def signed_header_values(signature_input: str | None, headers: Mapping[str, str]) -> dict[str, str]:
    """The values of the header fields a signature covers (derived ``@…`` components excluded),
    by lower-case name, as they must be fed back to rebuild the signature base."""
    if not signature_input:
        return {}
    try:
        parsed = http_sf.parse(signature_input.encode("latin-1"), tltype="dictionary")
    except (ValueError, TypeError, UnicodeEncodeError):
        return {}
    values: dict[str, str] = {}
    for members, _params in parsed.values():  # type: ignore[union-attr]
        if not isinstance(members, list):
            continue
        for name, _component_params in members:
            if isinstance(name, str) and not name.startswith("@") and name in headers:
                values[name] = headers[name]
    return values


def record_inbound(session: Session, *, client_id: str, signed: SignedRequest | None,
                   public_key_pem: str | None, method: str, target_uri: str,
                   headers: Mapping[str, str], content_type: str | None, body: IO[bytes],
                   body_sha256: str, received_at: dt.datetime, batch_id: str | None = None,
                   idempotency_key: str | None = None, status: str = "received") -> MessageLog:
    """Log an inbound request with its evidence and body (read from ``body`` to its end)."""
    blob, size = write_blob(session, body)
    entry = MessageLog(
        direction="in", batch_id=batch_id, client_id=client_id,
        key_id=signed.key_id if signed else None,
        key_algorithm=signed.algorithm if signed else None,
        public_key_pem=public_key_pem, idempotency_key=idempotency_key, method=method,
        target_uri=target_uri, content_type=content_type,
        content_digest=headers.get("content-digest"), body_sha256=body_sha256, body_bytes=size,
        signed_headers=signed_header_values(signed.signature_input if signed else None, headers),
        signature_input=signed.signature_input if signed else None,
        signature=signed.signature if signed else None, nonce=signed.nonce if signed else None,
        received_at=received_at, body_blob=blob, status=status, summary={})
    session.add(entry)
    session.flush()
    return entry


def record_outbound(session: Session, *, client_id: str, method: str, target_uri: str,
                    http_status: int, content_type: str | None, body: bytes | IO[bytes],
                    response_headers: Mapping[str, str], batch_id: str | None = None,
                    summary: Mapping[str, Any] | None = None, key_id: str | None = None,
                    public_key_pem: str | None = None) -> MessageLog:
    """Log what the gateway sent (e.g. a change-feed page): its signed answer and body.

    ``response_headers`` carry the gateway's Content-Digest, Signature-Input and Signature;
    ``key_id`` / ``public_key_pem`` name the gateway key that signed (its JWK kid and PEM).
    """
    data = body if isinstance(body, (bytes, bytearray)) else None
    hasher = hashlib.sha256()

    def pieces() -> Iterator[bytes]:
        if data is not None:
            hasher.update(data)
            yield bytes(data)
            return
        while chunk := body.read(_READ_BYTES):  # type: ignore[union-attr]
            hasher.update(chunk)
            yield chunk

    blob, size = write_blob(session, pieces())
    signature_input = response_headers.get("Signature-Input")
    entry = MessageLog(
        direction="out", batch_id=batch_id, client_id=client_id, key_id=key_id,
        key_algorithm="ed25519" if key_id else None, public_key_pem=public_key_pem,
        method=method, target_uri=target_uri, content_type=content_type,
        content_digest=response_headers.get("Content-Digest"), body_sha256=hasher.hexdigest(),
        body_bytes=size, signed_headers=signed_header_values(signature_input, {
            k.lower(): v for k, v in response_headers.items()}),
        signature_input=signature_input, signature=response_headers.get("Signature"),
        received_at=utcnow(), body_blob=blob, status="sent", http_status=http_status,
        summary=dict(summary or {}), completed_at=utcnow())
    session.add(entry)
    session.flush()
    return entry


#: ``signature_input`` of a batch a sync run moved: the gateway's Ed25519 signature over
#: :func:`adapter_evidence` (canonical JSON), made with its own key when the batch was logged.
ADAPTER_SIGNATURE_INPUT = "vgw-adapter-batch-v1"


def adapter_evidence(entry: MessageLog) -> bytes:
    """What the gateway signs for a batch moved through an adapter (RFC 8785 canonical JSON)."""
    from gateway.signing import canonical_json

    return canonical_json({"v": ADAPTER_SIGNATURE_INPUT, "direction": entry.direction,
                           "source": entry.source_name, "adapter": entry.adapter,
                           "target": entry.target_uri, "batch_id": entry.batch_id,
                           "body_sha256": entry.body_sha256, "body_bytes": entry.body_bytes,
                           "at": entry.received_at.astimezone(dt.timezone.utc).isoformat()})


def record_adapter_batch(session: Session, keyring: Any, *, direction: str, source_name: str,
                         adapter: str, target_uri: str, body: bytes, batch_id: str,
                         status: str, summary: Mapping[str, Any]) -> MessageLog:
    """Log a batch a sync run pulled (``direction`` "in") or pushed ("out") through an adapter.

    Local systems have their own transport security (HMAC-SHA1 request signatures for the
    zyh365-style platform, RFC 9421 for the standard adapter), checked by the adapter; what
    the log adds is the gateway's own signature over the batch's digest and context, so the
    entry is tamper-evident and ``vgw log show`` verifies it like any other.
    """
    from cryptography.hazmat.primitives import serialization

    from gateway.signing import b64url_encode

    blob, size = write_blob(session, [body])
    now = utcnow()
    entry = MessageLog(
        direction=direction, batch_id=batch_id, client_id=source_name, method=(
            "PULL" if direction == "in" else "PUSH"), target_uri=target_uri,
        content_type="application/json", content_digest=None,
        body_sha256=hashlib.sha256(body).hexdigest(), body_bytes=size, signed_headers={},
        signature_input=ADAPTER_SIGNATURE_INPUT, received_at=now, body_blob=blob, status=status,
        summary=dict(summary), completed_at=now, adapter=adapter, source_name=source_name)
    key = keyring.active
    entry.key_id, entry.key_algorithm = key.kid, "ed25519"
    entry.public_key_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    entry.signature = b64url_encode(key.private_key.sign(adapter_evidence(entry)))
    session.add(entry)
    session.flush()
    return entry


def finish(session: Session, entry_id: int, *, status: str, http_status: int | None,
           summary: Mapping[str, Any] | None = None, batch_id: str | None = None) -> None:
    """Record an inbound entry's outcome."""
    values: dict[str, Any] = {"status": status, "http_status": http_status,
                              "completed_at": utcnow()}
    if summary is not None:
        values["summary"] = dict(summary)
    if batch_id is not None:
        values["batch_id"] = batch_id
    session.execute(update(MessageLog).where(MessageLog.id == entry_id).values(**values))


def entries_for_batch(session: Session, batch_id: str) -> list[MessageLog]:
    """Every logged message of ``batch_id`` (any client, either direction), oldest first."""
    return list(session.execute(select(MessageLog).where(MessageLog.batch_id == batch_id)
                                .order_by(MessageLog.id)).scalars())


# -- verifying entries again ------------------------------------------------------------------------

class _EvidenceVerifier(HTTPMessageVerifier):
    """Verifies a stored signature as of when it was made: the time window was checked when
    the message arrived (and is part of what the signature covers); years later it has
    passed, which says nothing about who signed."""

    def validate_created_and_expires(self, sig_input, max_age=None):  # noqa: D102
        return None


@dataclass
class Verification:
    """The outcome of re-verifying a logged message."""

    signature_ok: bool
    body_ok: bool | None          # None: the body was purged (or never stored)
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.signature_ok and self.body_ok is not False


def verify_entry(session: Session, entry: MessageLog) -> Verification:
    """Rebuild the signed message from the log and verify its signature with the stored public
    key; then check the stored body (if not purged) against the signed Content-Digest."""
    problems: list[str] = []
    signature_ok = _verify_signature(entry, problems)
    body_ok: bool | None = None
    if entry.body_blob is not None:
        body_ok = _verify_body(session, entry, problems)
    else:
        problems.append("body purged: only the signature (and the recorded digest) can be checked")
    return Verification(signature_ok, body_ok, problems)


def _verify_adapter_batch(entry: MessageLog, problems: list[str]) -> bool:
    from cryptography.exceptions import InvalidSignature as BadSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from gateway.signing import b64url_decode

    try:
        public_key = client_keys.load_public_key(entry.public_key_pem or "")
        if not isinstance(public_key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 key")
        public_key.verify(b64url_decode(entry.signature or ""), adapter_evidence(entry))
    except (BadSignature, ValueError) as exc:
        problems.append(f"the gateway's signature over the batch does not verify: {exc or 'mismatch'}")
        return False
    return True


def _verify_signature(entry: MessageLog, problems: list[str]) -> bool:
    if entry.signature_input == ADAPTER_SIGNATURE_INPUT:
        return _verify_adapter_batch(entry, problems)
    if not entry.signature or not entry.signature_input:
        problems.append("not signed (development token): there is no signature to verify")
        return False
    if not entry.public_key_pem or entry.key_algorithm not in ALGORITHM_CLASSES:
        problems.append("no public key was recorded for this message")
        return False
    headers = CaseInsensitiveDict({**(entry.signed_headers or {}),
                                   "Signature-Input": entry.signature_input,
                                   "Signature": entry.signature})
    if entry.direction == "in":
        message: Any = _RequestMessage(entry.method, entry.target_uri, headers)
    else:
        from gateway.exchange.signatures import _ResponseMessage

        message = _ResponseMessage(entry.http_status or 200, headers)
    try:
        public_key = client_keys.load_public_key(entry.public_key_pem)
        verifier = _EvidenceVerifier(signature_algorithm=ALGORITHM_CLASSES[entry.key_algorithm],
                                     key_resolver=_OneKey(entry.key_id, public_key))
        (result,) = verifier.verify(message)
    except (InvalidSignature, HTTPMessageSignaturesException, ValueError) as exc:
        problems.append(f"signature does not verify: {exc}")
        return False
    covered = result.covered_components
    if entry.direction == "in" and covered.get('"client-id"') != entry.client_id:
        problems.append("the signed Client-Id is not the logged client")
        return False
    if covered.get('"content-digest"') != entry.content_digest:
        problems.append("the signature does not cover the logged Content-Digest")
        return False
    return True


def _verify_body(session: Session, entry: MessageLog, problems: list[str]) -> bool:
    hashers = {name: make() for name, make in DIGEST_HASHERS.items()}
    size = 0
    try:
        for piece in read_blob(session, entry.body_blob):  # type: ignore[arg-type]
            size += len(piece)
            for hasher in hashers.values():
                hasher.update(piece)
    except (KeyError, zlib.error) as exc:
        problems.append(f"stored body unreadable: {exc}")
        return False
    digests = {name: h.digest() for name, h in hashers.items()}
    ok = True
    if digests["sha-256"].hex() != entry.body_sha256 or size != entry.body_bytes:
        problems.append("stored body differs from the digest recorded on receipt")
        ok = False
    if entry.content_digest and not digest_matches(entry.content_digest, digests):
        problems.append("stored body does not match the signed Content-Digest")
        ok = False
    return ok


# -- retention ------------------------------------------------------------------------------------

def purge(session: Session, *, older_than_days: int, now: dt.datetime | None = None) -> dict[str, int]:
    """Drop message bodies (and stored idempotent answers) older than ``older_than_days``.

    The entries stay with their evidence summary. Returns counts of what was dropped.
    """
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=older_than_days)
    bodies = 0
    old = session.execute(select(MessageLog.id, MessageLog.body_blob).where(
        MessageLog.received_at < cutoff, MessageLog.body_blob.is_not(None))).all()
    for entry_id, blob in old:
        delete_blob(session, blob)
        session.execute(update(MessageLog).where(MessageLog.id == entry_id)
                        .values(body_blob=None, body_purged_at=now))
        bodies += 1
    answers = 0
    keys = session.execute(select(IdempotencyKey.id, IdempotencyKey.response_blob).where(
        IdempotencyKey.created_at < cutoff, IdempotencyKey.status == "done")).all()
    for key_id, blob in keys:
        if blob:
            delete_blob(session, blob)
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_id))
        answers += 1
    return {"bodies": bodies, "idempotency_keys": answers}
