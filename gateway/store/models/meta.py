"""Installation facts, number sequences and the history of every change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, FetchedValue, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base
from gateway.store.models.common import BigId, FieldChanges, UTCDateTime, utcnow


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
    only masked. ``area_code`` (the record's region) and ``team_no`` (its team, where it has
    one) let the change feed (gateway.exchange.feed) filter by a client's scope.

    ``txid`` is the id of the writing transaction on PostgreSQL (a server default,
    ``pg_current_xact_id()``; migration 0005), NULL on SQLite. Ids are taken at insert but
    transactions commit in another order, so the feed reads in (txid, id) order below the
    oldest running transaction instead of by id alone (docs/protocol.md, change feed).
    """

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_entity_no", "entity", "entity_no"),
                      Index("ix_changes_txid_id", "txid", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_no: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(64))
    source_system: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changes: Mapped[dict[str, Any]] = mapped_column(FieldChanges, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    area_code: Mapped[str | None] = mapped_column(String(18))
    team_no: Mapped[str | None] = mapped_column(String(32))
    # Filled by PostgreSQL (server default); never set it from Python.
    txid: Mapped[int | None] = mapped_column(BigInteger, server_default=FetchedValue())


class FederationHome(Base):
    """Where a record held here was first written: its home gateway and its number there.

    One row per record that came from another gateway (docs/protocol.md, "Federation
    identity"); a record without a row is at home here. Rows are kept after a deletion: a
    tombstone still names the home record.
    """

    __tablename__ = "federation_homes"
    __table_args__ = (Index("ix_federation_homes_home", "entity", "home_gateway", "home_key"),)

    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    home_gateway: Mapped[str] = mapped_column(String(64))
    home_key: Mapped[str] = mapped_column(String(64))
