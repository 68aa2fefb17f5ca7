"""The mobile blind index as a hash index on PostgreSQL.

``volunteers.mobile_index`` (64 hex characters of HMAC, random order) is only ever looked up
by equality (the volunteer search by mobile). As a B-tree it was the largest index of the
table with ``id_index`` and the one whose inserts grew dearest with the table (issue 14: at
1,000,000 people a B-tree insert cost 8–10 µs a row against 5–6 for a hash index, and the
index took 166 against 48 MB). A hash index keeps a 4-byte hash per row. Elsewhere (SQLite)
the index stays as it was.

Hand-written; runs on SQLite and PostgreSQL.

Revision ID: 0017_mobilehash
Revises: 0016_fedhome2
Create Date: 2026-12-04
"""
from alembic import op

revision = "0017_mobilehash"
down_revision = "0016_fedhome2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_volunteers_mobile_index", table_name="volunteers")
    op.create_index("ix_volunteers_mobile_index", "volunteers", ["mobile_index"],
                    postgresql_using="hash")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_volunteers_mobile_index", table_name="volunteers")
    op.create_index("ix_volunteers_mobile_index", "volunteers", ["mobile_index"])
