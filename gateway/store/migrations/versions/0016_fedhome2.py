"""Dead letters keep the record's home: a federated record's replay keeps its identity.

A pulled item or a pushed tombstone that went to the dead letters had its home (the gateway
that first wrote the record and its number there, docs/protocol.md "Federation identity")
dropped, so its replay applied a home gateway's own record as a new copy, or sent the
tombstone without the home and deleted nothing. ``dead_letters.home`` keeps it (JSON,
nullable: letters of records without a home, and those written before, have none).

Hand-written; runs on SQLite and PostgreSQL.

Revision ID: 0016_fedhome2
Revises: 0015_fedhome
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0016_fedhome2"
down_revision = "0015_fedhome"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("home", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("home")
