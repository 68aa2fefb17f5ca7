"""Two-character keywords on an index: ``projects.name_grams`` (issue 12 item 13).

Adds the name's lower-cased 1- and 2-character substrings as a column (gateway/store/grams.py):
``text[]`` with the GIN index ``ix_projects_name_grams`` on PostgreSQL, where a keyword of one
or two characters is searched by containment (``name_grams @> ARRAY['助老']``) instead of an
``ILIKE`` that pg_trgm cannot serve under three characters; JSON text on SQLite, where the
search still scans (docs/operations.md). Existing rows are backfilled here, in batches of
``BATCH`` rows, through the same function the model uses. The index is built after the
backfill (one build instead of a GIN update per row).

Hand-written; runs on SQLite and PostgreSQL.

Revision ID: 0009_verbs2
Revises: 0008_verbs
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from gateway.store.grams import name_grams

revision = "0009_verbs2"
down_revision = "0008_verbs"
branch_labels = None
depends_on = None

BATCH = 5000
GRAMS = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("projects", sa.Column("name_grams", GRAMS, nullable=True))
    bind = op.get_bind()
    projects = sa.table("projects", sa.column("id", sa.BigInteger), sa.column("name", sa.String),
                        sa.column("name_grams", GRAMS))
    last = 0
    while True:
        rows = bind.execute(sa.select(projects.c.id, projects.c.name).where(projects.c.id > last)
                            .order_by(projects.c.id).limit(BATCH)).all()
        if not rows:
            break
        bind.execute(sa.update(projects).where(projects.c.id == sa.bindparam("row_id"))
                     .values(name_grams=sa.bindparam("grams")),
                     [{"row_id": row.id, "grams": name_grams(row.name)} for row in rows])
        last = rows[-1].id
    if bind.dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_projects_name_grams ON projects USING gin (name_grams)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_projects_name_grams")
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("name_grams")
