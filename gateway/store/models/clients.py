"""Registered callers of the gateway and their scopes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.store.base import Base
from gateway.store.models.common import BigId, Json, UTCDateTime, utcnow


class Client(Base):
    """A local system, portal, management department or another gateway that calls the API.

    Scope: ``region_prefix`` ('' = whole country, '11' = Beijing, '110105' = one county);
    ``team_nos`` (empty = every team in the region); ``permissions`` maps an entity name (or
    ``*``) to a list of ``read`` / ``write`` / ``review``; ``pii_access`` 'full' lets the
    caller see unmasked ID and mobile numbers.
    """

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32), default="local_system")
    region_prefix: Mapped[str] = mapped_column(String(6), default="")
    team_nos: Mapped[list[str]] = mapped_column(Json, default=list)
    permissions: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    pii_access: Mapped[str] = mapped_column(String(8), default="masked")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tokens: Mapped[list["ClientToken"]] = relationship(back_populates="client")


class ClientToken(Base):
    """A development bearer token (only honoured with the DEV_TOKENS setting on); stored hashed."""

    __tablename__ = "client_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client: Mapped[Client] = relationship(back_populates="tokens")
