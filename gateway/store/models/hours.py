"""Service time records, trainings, commendations, evaluations and complaints."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.store.base import Base
from gateway.store.models.activities import Project
from gateway.store.models.common import (BigId, Json, NationalColumns, SourceRef, Timestamps,
                                         UTCDateTime)
from gateway.store.models.people import Team, Volunteer


class ServiceRecord(Timestamps, SourceRef, NationalColumns, Base):
    """One stretch of service (hours_status: only 2 已生效 counts towards totals).

    A correction never edits a record in place: the original is set to 3 (已删除) with
    ``superseded_by_id`` pointing at the new record, whose ``corrects_id`` points back.
    """

    __tablename__ = "service_records"
    __table_args__ = (
        Index("ix_service_records_volunteer_time", "volunteer_id", "status", "started_at"),
        Index("ix_service_records_team_date", "team_id", "status", "local_date"),
        Index("ix_service_records_project", "project_id", "status"),
        # late records only (办法 2020 Art. 11; statistics' late_records), migration 0009
        Index("ix_service_records_late", "project_id",
              sqlite_where=text("late_working_days IS NOT NULL"),
              postgresql_where=text("late_working_days IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_no: Mapped[str] = mapped_column(String(32), unique=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_date: Mapped[date] = mapped_column(Date)  # the day of service in the gateway's zone
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    source: Mapped[str | None] = mapped_column(String(1))
    status: Mapped[str] = mapped_column(String(1))
    kind: Mapped[str] = mapped_column(String(1), default="1")
    recorded_at: Mapped[date | None] = mapped_column(Date)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    description: Mapped[str | None] = mapped_column(Text)
    # 办法 (2020) Art. 7: a record holds 地点 and 活动负责人 (migration 0009).
    place: Mapped[str | None] = mapped_column(String(200))
    person_in_charge: Mapped[str | None] = mapped_column(String(20))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("service_records.id"))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("service_records.id"))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    # 办法 (2020) Art. 11: recorded more than RECORDING_DEADLINE_DAYS working days after the
    # activity ended — how many (None: in time). Migration 0009.
    late_working_days: Mapped[int | None] = mapped_column(Integer)

    volunteer: Mapped[Volunteer] = relationship()
    project: Mapped[Project] = relationship()
    team: Mapped[Team] = relationship()


class _Attached(Timestamps, SourceRef, NationalColumns):
    """Common shape of the smaller records: a number, links, and the standard's fields.

    Records are retained (《志愿服务记录与证明出具办法（试行）》 2020, Art. 13: keep the history):
    a pushed delete leaves the row as a tombstone (``deleted_at`` set) with a ``delete``
    entry in the history; an upsert of the same record brings it back (migration 0009).
    """

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Training(_Attached, Base):
    __tablename__ = "trainings"

    training_no: Mapped[str] = mapped_column(String(32), unique=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    held_on: Mapped[date] = mapped_column(Date)


class Commendation(_Attached, Base):
    __tablename__ = "commendations"

    commendation_no: Mapped[str] = mapped_column(String(32), unique=True)
    subject: Mapped[str] = mapped_column(String(10))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    awarded_on: Mapped[date] = mapped_column(Date)


class Evaluation(_Attached, Base):
    __tablename__ = "evaluations"

    evaluation_no: Mapped[str] = mapped_column(String(32), unique=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)


class Complaint(_Attached, Base):
    __tablename__ = "complaints"

    complaint_no: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(10), default="open")
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Dispute(Base):
    """A volunteer's objection (异议) to a service record, and the recording team's answer.

    《志愿服务记录与证明出具办法（试行）》 2020 Art. 13: the volunteer may raise an error; the
    organisation verifies promptly and corrects or completes it, keeping the original record.
    ``status``: open → corrected (the record was corrected or deleted) or upheld (verified as
    recorded, with the reasons). ``due_on``: the answer is due by then (DISPUTE_ANSWER_DAYS
    working days after it was raised). Migration 0009.
    """

    __tablename__ = "disputes"
    __table_args__ = (Index("ix_disputes_team_status", "team_id", "status", "due_on"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dispute_no: Mapped[str] = mapped_column(String(32), unique=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("service_records.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open")
    raised_by: Mapped[str | None] = mapped_column(String(64))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_on: Mapped[date] = mapped_column(Date)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the record that replaced the disputed one (a correction), when there is one
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("service_records.id"))

    record: Mapped[ServiceRecord] = relationship(foreign_keys=[record_id])
    corrected_by: Mapped[ServiceRecord | None] = relationship(foreign_keys=[corrected_by_id])
    volunteer: Mapped[Volunteer] = relationship()
    team: Mapped[Team] = relationship()


class Certificate(Timestamps, Base):
    """A service certificate (志愿服务记录证明): the signed content is kept as issued.

    Revocation keeps the record (status 'revoked', when and why). The verification code is
    stored hashed (``verification_code_hash``, for the public look-up by number + code) and
    encrypted with the personal-data vault (``verification_code_enc``, to print it again);
    ``signed`` is the signed document as issued *without* ``content.verification_code``,
    which gateway.services.certificates puts back from the encrypted copy before the
    signature is checked or the PDF printed.
    """

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    certificate_no: Mapped[str] = mapped_column(String(32), unique=True)
    verification_code_hash: Mapped[str] = mapped_column(String(64))
    verification_code_enc: Mapped[str] = mapped_column(Text)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    issued_on: Mapped[date] = mapped_column(Date)
    signed: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(10), default="valid")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    issued_by: Mapped[str | None] = mapped_column(String(64))

    volunteer: Mapped[Volunteer] = relationship()
    team: Mapped[Team] = relationship()
