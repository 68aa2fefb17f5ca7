"""stat_pending: aggregate additions appended by writers, folded into the cells by readers.

Writers no longer upsert the aggregate cells (a row lock every concurrent writer counting
into the same county / month waited on until the first committed); they append rows here
and readers fold them in (gateway.services.aggregates.fold). Nothing to convert: the cells
stay as they are and the table starts empty.

Hand-written; runs on SQLite and PostgreSQL.

Revision ID: 0012_pullspeed
Revises: 0011_rules2020
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = "0012_pullspeed"
down_revision = "0011_rules2020"
branch_labels = None
depends_on = None

COUNT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stat_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("cell_table", sa.String(length=32), nullable=False),
        sa.Column("place", sa.String(length=6), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("gender", sa.String(length=1), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("service_category", sa.String(length=4), nullable=True),
        sa.Column("count", COUNT, nullable=False),
        sa.Column("hours", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("records", COUNT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_pending")),
    )


def downgrade() -> None:
    # Additions not folded yet are dropped with the table: run `vgw stats rebuild` after a
    # downgrade (it recomputes the cells from the base tables).
    op.drop_table("stat_pending")
