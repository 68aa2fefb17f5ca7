"""The 2020 办法 (《志愿服务记录与证明出具办法（试行）》), article by article (issue 15, item 4).

- Records are retained: trainings, commendations, evaluations and complaints get
  ``deleted_at`` — a pushed delete leaves a tombstone and a history entry instead of
  removing the row.
- Art. 11: ``service_records.late_working_days`` — a record made more than
  RECORDING_DEADLINE_DAYS working days after the activity ended says by how many.

Hand-written; runs on SQLite and PostgreSQL.

Revision ID: 0009_rules2020
Revises: 0008_verbs
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = "0009_rules2020"
down_revision = "0008_verbs"
branch_labels = None
depends_on = None

RETAINED = ("trainings", "commendations", "evaluations", "complaints")


def upgrade() -> None:
    for table in RETAINED:
        op.add_column(table, sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("service_records", sa.Column("late_working_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("service_records") as batch_op:
        batch_op.drop_column("late_working_days")
    for table in RETAINED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("deleted_at")
