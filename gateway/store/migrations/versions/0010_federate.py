"""A sync run counts what its target did not get, and why (``skipped``, ``skipped_reasons``).

A push run through an adapter that cannot delete (``can_delete = False``) no longer drops the
change feed's tombstones silently: it counts them in ``skipped`` with the reason under
``skipped_reasons`` (``{"adapter.cannot_delete": {"count", "message"}}``), shown by ``vgw sync
status``/``runs``, the console and ``GET /api/v1/sync/...``. Existing runs get 0 and ``{}``.

Hand-written; runs on SQLite (batch mode) and PostgreSQL.

Revision ID: 0010_federate
Revises: 0009_verbs2
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0010_federate"
down_revision = "0009_verbs2"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.add_column(sa.Column("skipped", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("skipped_reasons", JSON, nullable=False,
                                      server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.drop_column("skipped_reasons")
        batch_op.drop_column("skipped")
