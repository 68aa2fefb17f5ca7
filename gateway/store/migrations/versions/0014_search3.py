"""Two-character keywords from an index alone: the table ``project_grams`` (issue 12 item 13).

0009_verbs2 searched a keyword of one or two characters by ``projects.name_grams @>
ARRAY[kw]`` on a GIN index: the index finds the matches, but the count and the page then
read every matching row from the heap (3,400–7,000 rows for 助老 / 环保 on 100,000 projects,
about 100 ms on a loaded machine). ``project_grams`` holds one row per (gram, project) with
the project's start date, under the primary key (gram, starts_on, project_id): the count is
an index-only scan of the gram's entries and the default page (by start date) is the first
entries of that range (gateway/store/models/activities.py ProjectGram, the search in
gateway/services/activities.py). The table is filled here from every stored project, in
batches of ``BATCH``, through the same function the model uses (gateway/store/grams.py); the
GIN index, now unused, is dropped (the column stays: bulk loaders use it).

Hand-written; runs on SQLite and PostgreSQL.

Revision ID: 0014_search3
Revises: 0013_national2
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

from gateway.store.grams import GRAM_MAX, name_grams

revision = "0014_search3"
down_revision = "0013_national2"
branch_labels = None
depends_on = None

BATCH = 5000
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "project_grams",
        sa.Column("gram", sa.String(GRAM_MAX), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("project_id", BIG_ID, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                  nullable=False, autoincrement=False),
        sa.PrimaryKeyConstraint("gram", "starts_on", "project_id"),
    )
    op.create_index("ix_project_grams_project", "project_grams", ["project_id"])
    bind = op.get_bind()
    projects = sa.table("projects", sa.column("id", sa.BigInteger), sa.column("name", sa.String),
                        sa.column("starts_on", sa.Date))
    grams = sa.table("project_grams", sa.column("gram", sa.String), sa.column("starts_on", sa.Date),
                     sa.column("project_id", sa.BigInteger))
    last = 0
    while True:
        rows = bind.execute(sa.select(projects.c.id, projects.c.name, projects.c.starts_on)
                            .where(projects.c.id > last).order_by(projects.c.id).limit(BATCH)).all()
        if not rows:
            break
        values = [{"gram": gram, "starts_on": row.starts_on, "project_id": row.id}
                  for row in rows for gram in name_grams(row.name) or ()]
        if values:
            bind.execute(sa.insert(grams), values)
        last = rows[-1].id
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_projects_name_grams")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_projects_name_grams ON projects USING gin (name_grams)")
    op.drop_index("ix_project_grams_project", table_name="project_grams")
    op.drop_table("project_grams")
