"""Sources the gateway syncs with, their cursors, runs and dead letters (used by sync_jobs/).

A *source* is one existing local system reached through an adapter (gateway/adapter.py):
which adapter, its settings (encrypted at rest: they hold credentials), the direction
(pull, push or both), the entities, the schedule and the scope the source may write and
see. The sync-run engine (sync_jobs/engine.py) keeps one *cursor* per source, direction
and entity, records every *run*, and puts records that keep failing into *dead letters*
(their payload encrypted: it is a local system's record with personal data).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base
from gateway.store.models.common import BigId, Json, UTCDateTime, utcnow

DIRECTIONS = ("pull", "push", "both")
SOURCE_STATUSES = ("active", "paused")
RUN_STATUSES = ("running", "succeeded", "partial", "failed", "interrupted")
DEAD_LETTER_STATUSES = ("pending", "replayed", "discarded")


class SyncSource(Base):
    """One local system the gateway syncs with (``vgw sources …``)."""

    __tablename__ = "sync_sources"
    __table_args__ = (
        CheckConstraint(f"direction IN {DIRECTIONS!r}", name="direction"),
        CheckConstraint(f"status IN {SOURCE_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: the source's name; also its id as a sender (source_system, provenance, SOURCE_PRIORITY)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    adapter: Mapped[str] = mapped_column(String(64))
    #: the adapter's settings as JSON, encrypted with the store's Fernet keys
    settings_enc: Mapped[str] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(String(4))
    entities: Mapped[list[str]] = mapped_column(Json, default=list)
    #: ``every 5m`` / ``every 30s`` / a five-field cron expression; empty: run by hand only
    schedule: Mapped[str] = mapped_column(String(100), default="")
    #: {"region_prefix": "3201", "teams": [...], "pii": "full"|"masked"}
    scope: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(String(8), default="active")
    #: paused by the engine after repeated failures (needs an operator's ``resume``)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    #: "cli" or the path of the sources file that declares it
    declared_in: Mapped[str] = mapped_column(String(255), default="cli")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the SQLite run lease (PostgreSQL uses advisory locks instead): who runs it, until when
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncCursor(Base):
    """Where a source's pull (per entity) or push (the change feed) has got to."""

    __tablename__ = "sync_cursors"
    __table_args__ = (UniqueConstraint("source_id", "direction", "entity"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sync_sources.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(4))     # pull | push
    entity: Mapped[str] = mapped_column(String(32))        # an entity, or "*" for the feed
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncRun(Base):
    """One run of one source: when, how it ended, what it moved, how far behind it is."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUSES!r}", name="status"),
        Index("ix_sync_runs_source_started", "source_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sync_sources.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(4))      # pull | push
    trigger: Mapped[str] = mapped_column(String(16))       # schedule | manual | replay
    status: Mapped[str] = mapped_column(String(12), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: host:pid of the process that ran it
    worker: Mapped[str] = mapped_column(String(128), default="")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    read: Mapped[int] = mapped_column(Integer, default=0)
    written: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    dead_lettered: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    #: changes the target did not get although the source takes their entity (tombstones
    #: for an adapter that cannot delete), and why: ``{rule: {"count", "message"}}``
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped_reasons: Mapped[dict[str, Any]] = mapped_column(Json, default=dict,
                                                            server_default=text("'{}'"))
    #: seconds behind the source when the run ended (0: caught up; NULL: unknown)
    lag_seconds: Mapped[int | None] = mapped_column(Integer)
    caught_up: Mapped[bool] = mapped_column(Boolean, default=False)
    #: [{"at", "kind", "message"}], the first few errors of the run
    errors: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)


class DeadLetter(Base):
    """A record that kept failing, kept with the reason until it is replayed or discarded."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        CheckConstraint(f"status IN {DEAD_LETTER_STATUSES!r}", name="status"),
        Index("ix_dead_letters_source_status", "source_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sync_sources.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(BigId)
    direction: Mapped[str] = mapped_column(String(4))      # pull | push
    entity: Mapped[str] = mapped_column(String(32))
    op: Mapped[str] = mapped_column(String(8), default="upsert")
    #: the record's id at the source (pull) or the store's number (push)
    record_key: Mapped[str | None] = mapped_column(String(128))
    #: pull: the native record; push: the standard record — JSON, encrypted
    payload_enc: Mapped[str] = mapped_column(Text)
    #: the record's home (docs/protocol.md, Federation identity) as the failed attempt had it
    #: — a pulled item's, a pushed tombstone's — for the replay; None: none (no personal data)
    home: Mapped[dict[str, Any] | None] = mapped_column(Json)
    #: the first rule id of the reason, for filtering (``exchange.link_unknown``, …)
    rule: Mapped[str | None] = mapped_column(String(64), index=True)
    #: [{"pointer", "rule", "message_zh", "message_en"}] or [{"rule": "adapter.error", …}]
    reason: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncFlag(Base):
    """Gateway-wide switches of the sync engine (``retries``: on/off), read at every use."""

    __tablename__ = "sync_flags"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
