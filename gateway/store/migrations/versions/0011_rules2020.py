"""The 2020 办法 (《志愿服务记录与证明出具办法（试行）》), article by article (issue 15, item 4).

- Records are retained: trainings, commendations, evaluations and complaints get
  ``deleted_at`` — a pushed delete leaves a tombstone and a history entry instead of
  removing the row.
- Art. 11: ``service_records.late_working_days`` — a record made more than
  RECORDING_DEADLINE_DAYS working days after the activity ended says by how many.
- Art. 13: ``disputes`` — a volunteer's objection to a service record with its status,
  the date the answer is due, the answer and the correction it led to.
- Art. 7 / 8: ``service_records.place`` and ``.person_in_charge`` (a training's content is
  in its ``data``).
- Dissolution: ``teams.dissolved_at`` and ``teams.successor_id`` — the unit a dissolved
  team's records pass to.

Hand-written; runs on SQLite and PostgreSQL.

Revision ID: 0011_rules2020
Revises: 0010_federate
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = "0011_rules2020"
down_revision = "0010_federate"
branch_labels = None
depends_on = None

RETAINED = ("trainings", "commendations", "evaluations", "complaints")


def upgrade() -> None:
    for table in RETAINED:
        op.add_column(table, sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("service_records", sa.Column("late_working_days", sa.Integer(), nullable=True))
    late = sa.text("late_working_days IS NOT NULL")
    op.create_index("ix_service_records_late", "service_records", ["project_id"],
                    sqlite_where=late, postgresql_where=late)
    op.add_column("service_records", sa.Column("place", sa.String(200), nullable=True))
    op.add_column("service_records", sa.Column("person_in_charge", sa.String(20), nullable=True))
    op.add_column("teams", sa.Column("dissolved_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("teams") as batch_op:
        batch_op.add_column(sa.Column("successor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                      nullable=True))
        batch_op.create_foreign_key(op.f("fk_teams_successor_id_teams"), "teams",
                                    ["successor_id"], ["id"])
    op.create_table(
        "disputes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False,
                  autoincrement=True),
        sa.Column("dispute_no", sa.String(32), nullable=False),
        sa.Column("record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("volunteer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("raised_by", sa.String(64), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(64), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("corrected_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(["record_id"], ["service_records.id"],
                                name=op.f("fk_disputes_record_id_service_records")),
        sa.ForeignKeyConstraint(["corrected_by_id"], ["service_records.id"],
                                name=op.f("fk_disputes_corrected_by_id_service_records")),
        sa.ForeignKeyConstraint(["volunteer_id"], ["volunteers.id"],
                                name=op.f("fk_disputes_volunteer_id_volunteers")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_disputes_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("dispute_no", name=op.f("uq_disputes_dispute_no")),
    )
    op.create_index(op.f("ix_disputes_record_id"), "disputes", ["record_id"])
    op.create_index(op.f("ix_disputes_volunteer_id"), "disputes", ["volunteer_id"])
    op.create_index("ix_disputes_team_status", "disputes", ["team_id", "status", "due_on"])


def downgrade() -> None:
    with op.batch_alter_table("teams") as batch_op:
        batch_op.drop_constraint(op.f("fk_teams_successor_id_teams"), type_="foreignkey")
        batch_op.drop_column("successor_id")
        batch_op.drop_column("dissolved_at")
    op.drop_table("disputes")
    op.drop_index("ix_service_records_late", table_name="service_records")
    with op.batch_alter_table("service_records") as batch_op:
        batch_op.drop_column("late_working_days")
        batch_op.drop_column("place")
        batch_op.drop_column("person_in_charge")
    for table in RETAINED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("deleted_at")
