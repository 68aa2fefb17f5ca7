"""Find records by their public number, inside the caller's scope."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select

from gateway.services.context import ServiceContext
from gateway.services.errors import NotFound
from gateway.store.models import Project, Team, Volunteer

Numbered = TypeVar("Numbered", Volunteer, Team, Project)


def _get(ctx: ServiceContext, model: type[Numbered], column, number: str, what: str,
         in_scope: bool, for_update: bool) -> Numbered:
    """The row whose ``column`` is ``number``; out of the caller's region reads as not found
    (so a caller cannot probe which numbers exist elsewhere) unless ``in_scope`` is False."""
    stmt = select(model).where(column == number)
    if for_update:
        stmt = stmt.with_for_update()
    row = ctx.session.execute(stmt).scalar_one_or_none()
    if row is None or (in_scope and not ctx.caller.covers_region(row.area_code)):
        raise NotFound(f"no {what} {number}")
    return row


def get_volunteer(ctx: ServiceContext, volunteer_no: str, *, in_scope: bool = True,
                  for_update: bool = False) -> Volunteer:
    return _get(ctx, Volunteer, Volunteer.volunteer_no, volunteer_no, "volunteer", in_scope, for_update)


def get_team(ctx: ServiceContext, team_no: str, *, in_scope: bool = True,
             for_update: bool = False) -> Team:
    return _get(ctx, Team, Team.team_no, team_no, "team", in_scope, for_update)


def get_project(ctx: ServiceContext, project_no: str, *, in_scope: bool = True,
                for_update: bool = False) -> Project:
    return _get(ctx, Project, Project.project_no, project_no, "project", in_scope, for_update)
