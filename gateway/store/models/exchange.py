"""The exchange protocol's security tables: clients' public keys and the nonces already seen.

A client may hold several active keys at once, so it can roll a new key out before it stops
using the old one (rotation without downtime). A revoked key is refused from the moment it is
revoked: verification reads the key's row on every request, nothing caches it.

``request_nonces`` is the replay guard shared by every server worker: the primary key
(key_id, nonce) makes the second INSERT of the same nonce fail, whichever process tries it.
Rows are kept until the signature they came with can no longer be accepted (``expires_at``)
and are then purged (see :mod:`gateway.exchange.nonces`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.store.base import Base
from gateway.store.models.clients import Client
from gateway.store.models.common import BigId, UTCDateTime, utcnow

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
