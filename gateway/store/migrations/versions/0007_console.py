"""The administrators' console: accounts, the append-only audit trail, alert rules, alerts.

Tables of gateway/store/models/console.py. Triggers (PostgreSQL and SQLite) refuse every UPDATE
and DELETE of ``console_audit`` (the gateway has no such path either; the trigger stops anyone
with SQL access from quietly rewriting it; TRUNCATE by the database owner is not covered).

Hand-written; runs on SQLite and PostgreSQL (constraint names follow gateway.store.base.NAMING).

Revision ID: 0007_console
Revises: 0006
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0007_console"
down_revision = "0006"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
WHEN = sa.DateTime(timezone=True)

AUDIT_GUARD = """
CREATE FUNCTION console_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'console_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER console_audit_append_only BEFORE UPDATE OR DELETE ON console_audit
    FOR EACH ROW EXECUTE FUNCTION console_audit_append_only();
"""
SQLITE_GUARD = (
    "CREATE TRIGGER console_audit_no_update BEFORE UPDATE ON console_audit "
    "BEGIN SELECT RAISE(ABORT, 'console_audit is append-only: UPDATE refused'); END",
    "CREATE TRIGGER console_audit_no_delete BEFORE DELETE ON console_audit "
    "BEGIN SELECT RAISE(ABORT, 'console_audit is append-only: DELETE refused'); END",
)


def upgrade() -> None:
    op.create_table(
        "console_accounts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("region_prefix", sa.String(6), nullable=False),
        sa.Column("totp_secret_enc", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", WHEN, nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("last_login_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_console_accounts_username")),
    )
    op.create_table(
        "console_audit",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("region_prefix", sa.String(6), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("remote_addr", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_audit")),
    )
    op.create_index("ix_console_audit_at", "console_audit", ["at"])
    op.create_table(
        "alert_rules",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("subject_prefix", sa.String(64), nullable=False),
        sa.Column("region_prefix", sa.String(6), nullable=False),
        sa.Column("channels", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("silenced_until", WHEN, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.CheckConstraint("kind IN ('lag', 'failure_streak', 'stale', 'rejection_rate', 'key_unused')",
                           name=op.f("ck_alert_rules_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_rules_name")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("rule_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("region_prefix", sa.String(6), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("first_at", WHEN, nullable=False),
        sa.Column("last_at", WHEN, nullable=False),
        sa.Column("resolved_at", WHEN, nullable=True),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("acknowledged_at", WHEN, nullable=True),
        sa.Column("deliveries", JSON, nullable=False),
        sa.CheckConstraint("state IN ('firing', 'acknowledged', 'resolved')", name=op.f("ck_alerts_state")),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rules.id"], ondelete="CASCADE",
                                name=op.f("fk_alerts_rule_id_alert_rules")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_rule_subject_state", "alerts", ["rule_id", "subject", "state"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(AUDIT_GUARD)
    else:
        for statement in SQLITE_GUARD:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS console_audit_append_only ON console_audit")
        op.execute("DROP FUNCTION IF EXISTS console_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS console_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS console_audit_no_delete")
    op.drop_index("ix_alerts_rule_subject_state", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("alert_rules")
    op.drop_index("ix_console_audit_at", table_name="console_audit")
    op.drop_table("console_audit")
    op.drop_table("console_accounts")
