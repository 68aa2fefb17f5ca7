"""Schema v2 members the v1 columns cannot hold are kept with the record.

``national`` (JSON; JSONB on PostgreSQL) holds a v2 record's members that its v1 projection
cannot (national field codes only v2 carries), in clear; ``national_enc`` (text) holds the
personal ones among them (``x-personal`` in schemas/v2), encrypted with the personal-data
vault like every ``*_enc`` column. Both are NULL for records never pushed in v2. See
gateway/exchange/national.py.

Hand-written; runs on SQLite and PostgreSQL.

Revision ID: 0013_national2
Revises: 0012_pullspeed
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0013_national2"
down_revision = "0012_pullspeed"
branch_labels = None
depends_on = None

TABLES = ("volunteers", "teams", "projects", "enrollments", "service_records", "trainings",
          "commendations", "evaluations", "complaints")


def upgrade() -> None:
    for table in TABLES:  # ADD COLUMN of a nullable column: no table rebuild on either store
        op.add_column(table, sa.Column("national", sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True))
        op.add_column(table, sa.Column("national_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("national_enc")
            batch.drop_column("national")
