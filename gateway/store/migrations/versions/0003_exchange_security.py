"""Exchange security: clients' public keys and the replay guard's nonces.

Hand-written; runs on SQLite and PostgreSQL (constraint names follow gateway.store.base.NAMING).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "client_keys",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("client_pk", BIG_ID, nullable=False),
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("algorithm IN ('ed25519', 'ecdsa-p256-sha256')",
                           name=op.f("ck_client_keys_algorithm")),
        sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f("ck_client_keys_status")),
        sa.ForeignKeyConstraint(["client_pk"], ["clients.id"], ondelete="CASCADE",
                                name=op.f("fk_client_keys_client_pk_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_client_keys_key_id")),
    )
    op.create_index(op.f("ix_client_keys_client_pk"), "client_keys", ["client_pk"], unique=False)

    op.create_table(
        "request_nonces",
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "nonce", name=op.f("pk_request_nonces")),
    )
    op.create_index(op.f("ix_request_nonces_expires_at"), "request_nonces", ["expires_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_request_nonces_expires_at"), table_name="request_nonces")
    op.drop_table("request_nonces")
    op.drop_index(op.f("ix_client_keys_client_pk"), table_name="client_keys")
    op.drop_table("client_keys")
