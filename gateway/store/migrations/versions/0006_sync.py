"""Sync with local systems: sources, cursors, runs, dead letters, switches; adapter batches
in the message log.

Tables of gateway/store/models/sync.py (read and written by sync_jobs/), and two columns of
``message_log``: ``adapter`` and ``source_name`` for the batches a sync run moves.

Hand-written; runs on SQLite and PostgreSQL (constraint names follow gateway.store.base.NAMING).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sync_sources",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("adapter", sa.String(64), nullable=False),
        sa.Column("settings_enc", sa.Text(), nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("entities", JSON, nullable=False),
        sa.Column("schedule", sa.String(100), nullable=False),
        sa.Column("scope", JSON, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("declared_in", sa.String(255), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.CheckConstraint("direction IN ('pull', 'push', 'both')", name=op.f("ck_sync_sources_direction")),
        sa.CheckConstraint("status IN ('active', 'paused')", name=op.f("ck_sync_sources_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_sync_sources_name")),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source_id", BIG_ID, nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sync_sources.id"], ondelete="CASCADE",
                                name=op.f("fk_sync_cursors_source_id_sync_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_cursors")),
        sa.UniqueConstraint("source_id", "direction", "entity", name=op.f("uq_sync_cursors_source_id")),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source_id", BIG_ID, nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("heartbeat_at", WHEN, nullable=False),
        sa.Column("worker", sa.String(128), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("read", sa.Integer(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("dead_lettered", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("lag_seconds", sa.Integer(), nullable=True),
        sa.Column("caught_up", sa.Boolean(), nullable=False),
        sa.Column("errors", JSON, nullable=False),
        sa.CheckConstraint("status IN ('running', 'succeeded', 'partial', 'failed', 'interrupted')",
                           name=op.f("ck_sync_runs_status")),
        sa.ForeignKeyConstraint(["source_id"], ["sync_sources.id"], ondelete="CASCADE",
                                name=op.f("fk_sync_runs_source_id_sync_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index("ix_sync_runs_source_started", "sync_runs", ["source_id", "started_at"])
    op.create_table(
        "dead_letters",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source_id", BIG_ID, nullable=False),
        sa.Column("run_id", BIG_ID, nullable=True),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("record_key", sa.String(128), nullable=True),
        sa.Column("payload_enc", sa.Text(), nullable=False),
        sa.Column("rule", sa.String(64), nullable=True),
        sa.Column("reason", JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_attempt_at", WHEN, nullable=False),
        sa.Column("resolved_at", WHEN, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'replayed', 'discarded')",
                           name=op.f("ck_dead_letters_status")),
        sa.ForeignKeyConstraint(["source_id"], ["sync_sources.id"], ondelete="CASCADE",
                                name=op.f("fk_dead_letters_source_id_sync_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index("ix_dead_letters_source_status", "dead_letters", ["source_id", "status", "id"])
    op.create_index(op.f("ix_dead_letters_rule"), "dead_letters", ["rule"])
    op.create_table(
        "sync_flags",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_flags")),
    )
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("adapter", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("source_name", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.drop_column("source_name")
        batch_op.drop_column("adapter")
    op.drop_table("sync_flags")
    op.drop_index(op.f("ix_dead_letters_rule"), table_name="dead_letters")
    op.drop_index("ix_dead_letters_source_status", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index("ix_sync_runs_source_started", table_name="sync_runs")
    op.drop_table("sync_runs")
    op.drop_table("sync_cursors")
    op.drop_table("sync_sources")
