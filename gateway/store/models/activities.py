"""Projects (activities), their posts, and enrolments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, delete, event, insert, inspect)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, validates

from gateway.store.base import Base
from gateway.store.grams import GRAM_MAX, name_grams
from gateway.store.models.common import (BigId, Grams, Json, NationalColumns, RegionColumns,
                                         SourceRef, Timestamps, UTCDateTime)
from gateway.store.models.people import Team, Volunteer


# Search indexes end in the sort key and ``id`` (the tie-break), so a page is read in index
# order without a sort; on PostgreSQL they also carry (INCLUDE) the other columns a search
# filters on, so counting and paging run as index-only scans (see the search in
# gateway/services/activities.py and benchmarks/project_search.py).
_COVER = {"postgresql_include": ["ends_on", "recruit_scope", "team_id"]}
_COVER_STATUS = {"postgresql_include": ["ends_on", "status", "recruit_scope", "team_id"]}


class Project(Timestamps, SourceRef, NationalColumns, RegionColumns, Base):
    """A volunteer service project published by a team (project_status codes)."""

    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_province_search", "province", "status", "starts_on", "id", **_COVER),
        Index("ix_projects_city_search", "city", "status", "starts_on", "id", **_COVER),
        Index("ix_projects_county_search", "county", "status", "starts_on", "id", **_COVER),
        Index("ix_projects_status_starts", "status", "starts_on", "id", **_COVER),
        Index("ix_projects_category_starts", "service_category", "starts_on", "id", **_COVER_STATUS),
        Index("ix_projects_dates", "starts_on", "id", **_COVER_STATUS),
        Index("ix_projects_name_sort", "name", "id"),
        Index("ix_projects_created", "created_at", "id"),
        # PostgreSQL only, made by migration 0002: ix_projects_name_trgm, a pg_trgm GIN index
        # on name for keyword search (ILIKE '%kw%'), three characters and more; and by
        # migration 0009_verbs2: ix_projects_name_grams, a GIN index on name_grams for
        # keywords of one or two characters (gateway/store/grams.py), replaced in
        # 0014_search3 by the table project_grams (ProjectGram, below).
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_no: Mapped[str] = mapped_column(String(32), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The name's 1- and 2-character substrings, lower-cased (gateway/store/grams.py): text[]
    # under a GIN index on PostgreSQL, JSON text on SQLite (not indexed there). Set with the
    # name (below); migration 0009_verbs2.
    name_grams: Mapped[list[str] | None] = mapped_column(Grams, deferred=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    service_category: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(2), default="3")
    recruit_scope: Mapped[str] = mapped_column(String(1), default="1")
    # werkzeug.security hash (scrypt by default: about 160 characters).
    recruit_password_hash: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # {"source": client id, "at": ISO time} of the last exchange write (record-level conflict
    # policy, gateway.exchange.upserts). Migration 0004.
    provenance: Mapped[dict[str, Any] | None] = mapped_column(Json)

    team: Mapped[Team] = relationship()
    posts: Mapped[list["Post"]] = relationship(back_populates="project", cascade="all, delete-orphan",
                                               order_by="Post.id")

    @validates("name")
    def _keep_name_grams(self, _key: str, value: str) -> str:
        """Every write of the name writes its grams too (one place for the search column)."""
        self.name_grams = name_grams(value)
        return value


class ProjectGram(Base):
    """One 1- or 2-character gram of a project's name, with the project's start date: the
    index a short keyword is searched on (gateway/store/grams.py, migration 0014_search3).

    The primary key (gram, starts_on, project_id) is the search itself: a keyword's count
    is an index-only scan of its gram's entries, and its first page by start date (the
    default sort, either direction, ``project_id`` the tie-break like ``projects.id``) is
    the first entries of that range, without reading a project row. Written with the
    project in the same flush (:func:`_keep_project_grams`); a project's deletion deletes
    its grams (ON DELETE CASCADE)."""

    __tablename__ = "project_grams"
    __table_args__ = (Index("ix_project_grams_project", "project_id"),)

    gram: Mapped[str] = mapped_column(String(GRAM_MAX), primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"),
                                            primary_key=True, autoincrement=False)


#: The project columns ProjectGram holds or is computed from.
_GRAM_SOURCES = ("name", "starts_on")


@event.listens_for(Session, "after_flush")
def _keep_project_grams(session: Session, _context: object) -> None:
    """Rewrite the grams of every project inserted, renamed or moved in date by this flush,
    in its transaction, from :func:`name_grams` (the one place grams are computed), so that
    project_grams is exact whichever service or exchange path wrote the project. Deleted
    projects lose theirs by the foreign key's cascade. Bulk loaders that bypass the ORM
    (benchmarks, test fixtures) fill the table themselves."""
    changed = [obj for obj in session.new if isinstance(obj, Project)]
    moved = [obj for obj in session.dirty if isinstance(obj, Project)
             and any(inspect(obj).attrs[key].history.has_changes() for key in _GRAM_SOURCES)]
    if not changed and not moved:
        return
    connection = session.connection()
    if moved:
        connection.execute(delete(ProjectGram).where(ProjectGram.project_id.in_([p.id for p in moved])))
    rows = [{"gram": gram, "starts_on": project.starts_on, "project_id": project.id}
            for project in changed + moved for gram in name_grams(project.name) or ()]
    if rows:
        connection.execute(insert(ProjectGram), rows)


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


class Enrollment(Timestamps, SourceRef, NationalColumns, Base):
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
