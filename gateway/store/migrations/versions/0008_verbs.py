"""A team's unified social credit code is unique where given (a partial unique index).

The services refuse a second team with the same USCC (409 ``team.duplicate_uscc``); the
index makes the database refuse it too, so two concurrent registrations cannot both pass
the services' look-up. USCC is optional: rows without one (NULL) are not constrained.
Replaces the plain ``ix_teams_uscc``. Stops (with the database's error) if the store
already holds duplicate codes: resolve those teams first.

Hand-written; runs on SQLite and PostgreSQL (both have partial indexes).

Revision ID: 0008_verbs
Revises: 0007_console
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = "0008_verbs"
down_revision = "0007_console"
branch_labels = None
depends_on = None

WHERE = sa.text("uscc IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_teams_uscc", table_name="teams")
    op.create_index("uq_teams_uscc", "teams", ["uscc"], unique=True,
                    sqlite_where=WHERE, postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index("uq_teams_uscc", table_name="teams")
    op.create_index("ix_teams_uscc", "teams", ["uscc"], unique=False)
