"""The exchange protocol's security tables: clients' public keys and the nonces already seen.

A client may hold several active keys at once, so it can roll a new key out before it stops
using the old one (rotation without downtime). A revoked key is refused from the moment it is
revoked: verification reads the key's row on every request, nothing caches it.

``request_nonces`` is the replay guard shared by every server worker: the primary key
(key_id, nonce) makes the second INSERT of the same nonce fail, whichever process tries it.
Rows are kept until the signature they came with can no longer be accepted (``expires_at``)
and are then purged (see :mod:`gateway.exchange.nonces`).

Pushing batches adds ``idempotency_keys`` (a client's retry gets the stored answer),
``message_log`` (every batch that crossed the boundary, with its signature evidence) and
``blob_chunks`` (their bodies, compressed, in pieces). Migration 0004.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (BigInteger, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.store.base import Base
from gateway.store.models.clients import Client
from gateway.store.models.common import BigId, Json, UTCDateTime, utcnow

KEY_ALGORITHMS = ("ed25519", "ecdsa-p256-sha256")
KEY_STATUSES = ("active", "revoked")


class ClientKey(Base):
    """A client's public key for HTTP Message Signatures (RFC 9421), found by its key id."""

    __tablename__ = "client_keys"
    __table_args__ = (
        CheckConstraint(f"algorithm IN {KEY_ALGORITHMS!r}", name="algorithm"),
        CheckConstraint(f"status IN {KEY_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[str] = mapped_column(String(128), unique=True)
    algorithm: Mapped[str] = mapped_column(String(32))
    public_key_pem: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client: Mapped[Client] = relationship()

    @property
    def active(self) -> bool:
        return self.status == "active"


class RequestNonce(Base):
    """A signature nonce seen from one key; a second INSERT of the same pair is a replay."""

    __tablename__ = "request_nonces"

    key_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# -- push: idempotency keys, the message log and its stored bodies ------------------------------

IDEMPOTENCY_STATUSES = ("in_progress", "done")
MESSAGE_DIRECTIONS = ("in", "out")


class IdempotencyKey(Base):
    """A client's ``Idempotency-Key``: reserved before a push is processed, answer kept after.

    ``request_digest`` is the SHA-256 (hex) of the request body: the same key with another
    body is refused. While ``in_progress`` the worker processing the batch touches
    ``heartbeat_at`` after every committed chunk; a row whose heartbeat is older than the
    lease (gateway.exchange.push.LEASE_SECONDS) belongs to a worker that died, and the next
    retry takes the batch over. When ``done`` the answer is kept as it was sent: status,
    content type and the body, compressed in :class:`BlobChunk` rows (``response_blob``).
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("client_id", "key"),
        CheckConstraint(f"status IN {IDEMPOTENCY_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    request_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="in_progress")
    batch_id: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(BigId)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_content_type: Mapped[str | None] = mapped_column(String(100))
    response_blob: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MessageLog(Base):
    """One batch that crossed the boundary, with the evidence of who sent it (non-repudiation).

    Inbound (``direction`` "in"): the request as received — method, target URI, the header
    fields the signature covers (``signed_headers``), ``Signature-Input`` / ``Signature``,
    key id, nonce, the sender's public key as it was then (``public_key_pem``: the evidence
    survives the key's revocation) and the body, compressed in :class:`BlobChunk` rows
    (``body_blob``; NULL once purged by retention, ``body_purged_at`` says when). The
    digest (``content_digest`` as sent, ``body_sha256`` as computed), the size, the outcome
    (``status``, ``http_status``, ``summary``) stay for good. Outbound rows ("out") hold the
    same for what the gateway sent and signed.
    """

    __tablename__ = "message_log"
    __table_args__ = (
        CheckConstraint(f"direction IN {MESSAGE_DIRECTIONS!r}", name="direction"),
        Index("ix_message_log_batch", "batch_id", "id"),
        Index("ix_message_log_client", "client_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(3))
    batch_id: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(128))
    key_algorithm: Mapped[str | None] = mapped_column(String(32))
    public_key_pem: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(10))
    target_uri: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(100))
    content_digest: Mapped[str | None] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    body_bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    signed_headers: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    signature_input: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str | None] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    body_blob: Mapped[str | None] = mapped_column(String(40))
    body_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: batches moved by a sync run (sync_jobs): the adapter and the source's name
    adapter: Mapped[str | None] = mapped_column(String(64))
    source_name: Mapped[str | None] = mapped_column(String(64))


class BlobChunk(Base):
    """A piece of a compressed body (message log bodies, stored push answers).

    One zlib stream per blob, cut into pieces of about 1 MiB in ``seq`` order, so a body of
    any size is written and read back with flat memory (gateway.exchange.message_log).
    """

    __tablename__ = "blob_chunks"

    blob_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
