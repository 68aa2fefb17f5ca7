"""The administrators' console: accounts, the audit trail, alert rules and alerts (migration 0007).

An *account* is a person who logs in to ``/console``: a password hashed with argon2
(argon2-cffi), an optional TOTP secret (encrypted at rest like personal data), roles and a
region prefix that scopes everything it sees, like a client's. ``failed_logins`` and
``locked_until`` make the lockout. The *audit trail* (``console_audit``) is append-only: the
gateway has no path that updates or deletes a row, and on PostgreSQL a trigger refuses it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base
from gateway.store.models.common import BigId, Json, UTCDateTime, utcnow

#: viewer sees; operator runs, pauses, resumes, replays, discards; key_manager handles clients
#: and keys (and alert rules). Every account is a viewer.
ROLES = ("viewer", "operator", "key_manager")
ALERT_KINDS = ("lag", "failure_streak", "stale", "rejection_rate", "key_unused")
ALERT_STATES = ("firing", "acknowledged", "resolved")


class ConsoleAccount(Base):
    """An administrator who logs in to the console (``vgw admins …``)."""

    __tablename__ = "console_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    #: argon2id hash in its PHC string form (parameters and salt included)
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(Json, default=list)
    #: '' = whole country; '32' = a province; '3201' = a city; like a client's scope
    region_prefix: Mapped[str] = mapped_column(String(6), default="")
    #: base32 TOTP secret, encrypted with the store's Fernet keys; NULL: no second factor
    totp_secret_enc: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: bumped by reset-password and disable: sessions made before are no longer honoured
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsoleAudit(Base):
    """One thing someone did (or tried) in the console or with ``vgw admins``: never changed."""

    __tablename__ = "console_audit"
    __table_args__ = (Index("ix_console_audit_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the account's username ('cli' for vgw admins, 'scheduler' for alert deliveries)
    actor: Mapped[str] = mapped_column(String(64))
    #: the actor's region prefix then, so a scoped account sees its region's entries
    region_prefix: Mapped[str] = mapped_column(String(6), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    #: ok | refused | failed
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    #: client address (after PROXY_FIX) and a shortened user agent
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class AlertRule(Base):
    """A condition the scheduler checks (lag, failure streak, staleness, rejection rate, key unused)."""

    __tablename__ = "alert_rules"
    __table_args__ = (CheckConstraint(f"kind IN {ALERT_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: lag / stale: seconds; failure_streak: runs; rejection_rate: percent; key_unused: days
    threshold: Mapped[int] = mapped_column(Integer)
    #: only sources / clients whose name starts with this ('' = all in the region)
    subject_prefix: Mapped[str] = mapped_column(String(64), default="")
    region_prefix: Mapped[str] = mapped_column(String(6), default="")
    #: where it is delivered besides the console: {"webhook": url, "email": "a@b,c@d"}
    channels: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    silenced_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Alert(Base):
    """A rule that fired for one subject (a source, a client key); resolved when it clears."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(f"state IN {ALERT_STATES!r}", name="state"),
        Index("ix_alerts_rule_subject_state", "rule_id", "subject", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    #: the source name or key id the alert is about
    subject: Mapped[str] = mapped_column(String(128))
    region_prefix: Mapped[str] = mapped_column(String(6), default="")
    state: Mapped[str] = mapped_column(String(12), default="firing")
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[int | None] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: {"webhook": "sent 200" | "failed: …", "email": …}
    deliveries: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
