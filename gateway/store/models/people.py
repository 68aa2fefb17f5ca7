"""Volunteers, teams and team membership."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (Date, ForeignKey, Index, Integer, Numeric, String, Text, text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.store.base import Base
from gateway.store.models.common import (BigId, FieldProvenance, Json, NationalColumns,
                                         RegionColumns, SourceRef, Timestamps, UTCDateTime)


class Volunteer(Timestamps, SourceRef, NationalColumns, RegionColumns, Base):
    """A registered volunteer: one row per person, whichever systems sent them.

    The person is identified by ``id_index`` (keyed blind index of document type + number);
    the number itself is only stored encrypted (``id_number_enc``) and as a masked copy for
    output. ``area_code``/province/city/county are the service area. ``total_hours`` and
    ``star_level`` are derived from effective service records, never taken from input.
    ``data`` holds the remaining standard fields (codes, address, skills …).
    """

    __tablename__ = "volunteers"
    # The mobile blind index is only looked up by equality: a hash index on PostgreSQL (4
    # bytes a row, inserts that do not grow dearer with the table; migration 0017).
    __table_args__ = (Index("ix_volunteers_mobile_index", "mobile_index",
                            postgresql_using="hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    volunteer_no: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(20))
    id_type: Mapped[str] = mapped_column(String(2))
    id_index: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_enc: Mapped[str] = mapped_column(Text)
    id_number_masked: Mapped[str] = mapped_column(String(32))
    mobile_index: Mapped[str] = mapped_column(String(64))
    mobile_enc: Mapped[str] = mapped_column(Text)
    mobile_masked: Mapped[str] = mapped_column(String(16))
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date | None] = mapped_column(Date)
    registered_at: Mapped[date | None] = mapped_column(Date)
    real_name_status: Mapped[str | None] = mapped_column(String(1))
    guardian_enc: Mapped[str | None] = mapped_column(Text)  # the guardian object, encrypted JSON
    total_hours: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    star_level: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # field → the stamp of the source that provided it (gateway/exchange/upserts.py)
    provenance: Mapped[dict[str, Any]] = mapped_column(FieldProvenance, default=dict)
    # Set when a source deleted the person through the exchange (gateway.exchange.upserts):
    # the row and its history stay; an upsert of the person clears it again. Migration 0004.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sources: Mapped[list["VolunteerSource"]] = relationship(back_populates="volunteer",
                                                            cascade="all, delete-orphan")


class VolunteerSource(Base):
    """A system that knows this volunteer, with its own id for them."""

    __tablename__ = "volunteer_sources"
    __table_args__ = (UniqueConstraint("source_system", "source_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    source_system: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(64))
    # The source's own volunteer number for the person, when it sent one (the store always
    # assigns its own unified number; this maps the source's number to it).
    source_volunteer_no: Mapped[str | None] = mapped_column(String(18), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    volunteer: Mapped[Volunteer] = relationship(back_populates="sources")


class Team(Timestamps, SourceRef, NationalColumns, RegionColumns, Base):
    """A volunteer team or organisation. New registrations wait for review (status '2').

    Status codes (team_status): 2 待审 pending, 1 已审 approved, 0 审批不通过 rejected,
    3 停用 suspended.
    """

    __tablename__ = "teams"
    # A unified social credit code names one team: unique where given (USCC is optional).
    # Migration 0008_verbs; the services answer 409 team.duplicate_uscc before and after it.
    __table_args__ = (Index("uq_teams_uscc", "uscc", unique=True,
                            sqlite_where=text("uscc IS NOT NULL"),
                            postgresql_where=text("uscc IS NOT NULL")),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    team_type: Mapped[str] = mapped_column(String(1))
    unit_type: Mapped[str | None] = mapped_column(String(2))
    uscc: Mapped[str | None] = mapped_column(String(18))
    status: Mapped[str] = mapped_column(String(1), default="2", index=True)
    join_policy: Mapped[str | None] = mapped_column(String(1))
    join_password_hash: Mapped[str | None] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(20))
    contact_mobile_enc: Mapped[str | None] = mapped_column(Text)
    contact_mobile_masked: Mapped[str | None] = mapped_column(String(16))
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # Which source last wrote the record through the exchange, and its time:
    # {"source": client id, "at": ISO time} (record-level conflict policy). Migration 0004.
    provenance: Mapped[dict[str, Any] | None] = mapped_column(Json)

    # Dissolution (办法 2020 Art. 14, records kept): when its management department dissolves
    # the team, ``successor_id`` names the unit its records pass to — that unit certifies them
    # from then on; the team, its records and their history stay. Migration 0009.
    dissolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))

    parent: Mapped["Team | None"] = relationship(remote_side="Team.id", foreign_keys=[parent_id])
    successor: Mapped["Team | None"] = relationship(remote_side="Team.id",
                                                    foreign_keys=[successor_id])


class TeamMember(Base):
    """A volunteer's membership of a team (team_membership: 1 member, 2 applied, 3 rejected)."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "volunteer_id"),
                      Index("ix_team_members_volunteer", "volunteer_id", "status"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(1))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    team: Mapped[Team] = relationship()
    volunteer: Mapped[Volunteer] = relationship()
