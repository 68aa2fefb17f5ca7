"""Projects (activities), their posts, and enrolments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.store.base import Base
from gateway.store.models.common import (BigId, Json, RegionColumns, SourceRef, Timestamps,
                                         UTCDateTime)
from gateway.store.models.people import Team, Volunteer


class Project(Timestamps, SourceRef, RegionColumns, Base):
    """A volunteer service project published by a team (project_status codes)."""

    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_province_search", "province", "status", "starts_on"),
        Index("ix_projects_city_search", "city", "status", "starts_on"),
        Index("ix_projects_county_search", "county", "status", "starts_on"),
        Index("ix_projects_category_starts", "service_category", "starts_on"),
        Index("ix_projects_dates", "starts_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_no: Mapped[str] = mapped_column(String(32), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    service_category: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(2), default="3")
    recruit_scope: Mapped[str] = mapped_column(String(1), default="1")
    recruit_password_hash: Mapped[str | None] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

    team: Mapped[Team] = relationship()
    posts: Mapped[list["Post"]] = relationship(back_populates="project", cascade="all, delete-orphan",
                                               order_by="Post.id")


class Post(Base):
    """A post (岗位) of a project; ``admitted`` counts admitted enrolments, never above headcount."""

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("project_id", "post_no"),
                      CheckConstraint("admitted >= 0 AND admitted <= headcount", name="within_headcount"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    post_no: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    headcount: Mapped[int] = mapped_column(Integer)
    admitted: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    description: Mapped[str | None] = mapped_column(Text)

    project: Mapped[Project] = relationship(back_populates="posts")


class Enrollment(Timestamps, SourceRef, Base):
    """A volunteer's application or invitation to a post (enrollment_status codes).

    Admitted statuses (hold a place): 2 审批加入, 3 邀请加入, 5 免审加入, 6 本团体加入.
    Pending: 1 正常申请, 4 邀请中. Ended: 7 拒绝, 8 脱离.
    """

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("volunteer_id", "post_id"),
                      Index("ix_enrollments_project_status", "project_id", "status"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    enrollment_no: Mapped[str] = mapped_column(String(32), unique=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    status: Mapped[str] = mapped_column(String(1))
    invited: Mapped[bool] = mapped_column(Boolean, default=False)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))

    volunteer: Mapped[Volunteer] = relationship()
    project: Mapped[Project] = relationship()
    post: Mapped[Post] = relationship()
