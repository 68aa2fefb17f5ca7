"""Installation facts, number sequences and the history of every change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base
from gateway.store.models.common import BigId, Json, UTCDateTime, utcnow


class GatewayMeta(Base):
    """Key/value facts about this installation (e.g. when the store was created)."""

    __tablename__ = "gateway_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NumberSequence(Base):
    """Counters behind the numbers the store assigns (volunteer, team, project, certificate)."""

    __tablename__ = "number_sequences"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), default=1)


class Change(Base):
    """One change to one record: who, when, from which source, what changed.

    ``changes`` maps each changed field to ``{"old": …, "new": …}``; personal data appears
    only masked. The id is monotonic, so the table is also the order of changes.
    """

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_entity_no", "entity", "entity_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_no: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(64))
    source_system: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changes: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
