"""Exchange push: idempotency keys, the message log, stored bodies, deletion and provenance marks.

Hand-written; runs on SQLite and PostgreSQL (constraint names follow gateway.store.base.NAMING).

Besides the new tables it adds ``volunteers.deleted_at`` and ``teams.provenance`` /
``projects.provenance`` (see gateway.exchange.upserts), and indexes on
``(source_system, source_id)`` of every table a push looks records up in by the sender's own
id. Those indexes exist only here (like ix_projects_name_trgm in 0002), not in the models.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

#: Tables whose rows a push finds by (source_system, source_id).
SOURCE_INDEXED = ("teams", "projects", "service_records", "enrollments", "trainings",
                  "commendations", "evaluations", "complaints")


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=True),
        sa.Column("message_id", BIG_ID, nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_content_type", sa.String(100), nullable=True),
        sa.Column("response_blob", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('in_progress', 'done')", name=op.f("ck_idempotency_keys_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("client_id", "key", name=op.f("uq_idempotency_keys_client_id")),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"])

    op.create_table(
        "message_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(128), nullable=True),
        sa.Column("key_algorithm", sa.String(32), nullable=True),
        sa.Column("public_key_pem", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("target_uri", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("content_digest", sa.Text(), nullable=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("body_bytes", BIG_ID, nullable=False),
        sa.Column("signed_headers", JSON, nullable=False),
        sa.Column("signature_input", sa.Text(), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("nonce", sa.String(128), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body_blob", sa.String(40), nullable=True),
        sa.Column("body_purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("direction IN ('in', 'out')", name=op.f("ck_message_log_direction")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_log")),
    )
    op.create_index("ix_message_log_batch", "message_log", ["batch_id", "id"])
    op.create_index("ix_message_log_client", "message_log", ["client_id", "received_at"])
    op.create_index(op.f("ix_message_log_received_at"), "message_log", ["received_at"])

    op.create_table(
        "blob_chunks",
        sa.Column("blob_key", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("blob_key", "seq", name=op.f("pk_blob_chunks")),
    )

    op.add_column("volunteers", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("teams", sa.Column("provenance", JSON, nullable=True))
    op.add_column("projects", sa.Column("provenance", JSON, nullable=True))
    for table in SOURCE_INDEXED:
        op.create_index(f"ix_{table}_source", table, ["source_system", "source_id"])


def downgrade() -> None:
    for table in SOURCE_INDEXED:
        op.drop_index(f"ix_{table}_source", table_name=table)
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("provenance")
    with op.batch_alter_table("teams") as batch_op:
        batch_op.drop_column("provenance")
    with op.batch_alter_table("volunteers") as batch_op:
        batch_op.drop_column("deleted_at")
    op.drop_table("blob_chunks")
    op.drop_index(op.f("ix_message_log_received_at"), table_name="message_log")
    op.drop_index("ix_message_log_client", table_name="message_log")
    op.drop_index("ix_message_log_batch", table_name="message_log")
    op.drop_table("message_log")
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
