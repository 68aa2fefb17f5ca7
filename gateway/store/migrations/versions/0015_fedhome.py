"""Federation identity: the home gateway and home number of records from other gateways.

``federation_homes`` holds, for each record that came from another gateway, that record's
home (the gateway that first wrote it, by its GATEWAY_ID, and its number there), so that a
change to it goes back to its home as the home's own record, and a record travelling round
a ring of gateways is recognised (docs/protocol.md, "Federation identity").

Hand-written; runs on SQLite and PostgreSQL.

Revision ID: 0015_fedhome
Revises: 0014_search3
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = "0015_fedhome"
down_revision = "0014_search3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_homes",
        sa.Column("entity", sa.String(32), primary_key=True),
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("home_gateway", sa.String(64), nullable=False),
        sa.Column("home_key", sa.String(64), nullable=False),
    )
    op.create_index("ix_federation_homes_home", "federation_homes",
                    ["entity", "home_gateway", "home_key"])


def downgrade() -> None:
    op.drop_index("ix_federation_homes_home", table_name="federation_homes")
    op.drop_table("federation_homes")
