"""Change feed: the scope and the commit order of every recorded change.

Adds to ``changes``: ``area_code`` (the changed record's region) and ``team_no`` (its team,
where it has one), which the feed filters a client's scope on, and ``txid``: on PostgreSQL
the id of the transaction that wrote the row (server default ``pg_current_xact_id()``),
with the index (txid, id) the feed reads in. On SQLite ``txid`` stays NULL (one writer at
a time: ids are already in commit order). See gateway/exchange/feed.py.

Rows written before this revision get txid 0 on PostgreSQL (they are all committed, so
they come first, in id order). There ``txid`` is also NOT NULL, so that a row written with
an explicit NULL fails at once instead of never reaching the feed.

Hand-written; runs on SQLite and PostgreSQL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TXID_DEFAULT = "(pg_current_xact_id()::text::bigint)"


def upgrade() -> None:
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("area_code", sa.String(18), nullable=True))
        batch_op.add_column(sa.Column("team_no", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("txid", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE changes SET txid = 0 WHERE txid IS NULL")
        op.execute(f"ALTER TABLE changes ALTER COLUMN txid SET DEFAULT {TXID_DEFAULT}")
        op.execute("ALTER TABLE changes ALTER COLUMN txid SET NOT NULL")
    op.create_index(op.f("ix_changes_txid_id"), "changes", ["txid", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_changes_txid_id"), table_name="changes")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_column("txid")
        batch_op.drop_column("team_no")
        batch_op.drop_column("area_code")
