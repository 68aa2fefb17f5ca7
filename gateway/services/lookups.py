"""Find records by their public number, inside the caller's scope."""

from __future__ import annotations

from sqlalchemy import select

from gateway.services.context import ServiceContext
from gateway.services.errors import NotFound
from gateway.store.models import Project, Team, Volunteer


def get_volunteer(ctx: ServiceContext, volunteer_no: str, *, in_scope: bool = True,
                  for_update: bool = False) -> Volunteer:
    """The volunteer numbered ``volunteer_no``; out of the caller's region reads as not found
    (so a caller cannot probe which numbers exist elsewhere) unless ``in_scope`` is False."""
    stmt = select(Volunteer).where(Volunteer.volunteer_no == volunteer_no)
    if for_update:
        stmt = stmt.with_for_update()
    volunteer = ctx.session.execute(stmt).scalar_one_or_none()
    if volunteer is None or (in_scope and not ctx.caller.covers_region(volunteer.area_code)):
        raise NotFound(f"no volunteer {volunteer_no}")
    return volunteer


def get_team(ctx: ServiceContext, team_no: str, *, in_scope: bool = True,
             for_update: bool = False) -> Team:
    stmt = select(Team).where(Team.team_no == team_no)
    if for_update:
        stmt = stmt.with_for_update()
    team = ctx.session.execute(stmt).scalar_one_or_none()
    if team is None or (in_scope and not ctx.caller.covers_region(team.area_code)):
        raise NotFound(f"no team {team_no}")
    return team


def get_project(ctx: ServiceContext, project_no: str, *, in_scope: bool = True,
                for_update: bool = False) -> Project:
    stmt = select(Project).where(Project.project_no == project_no)
    if for_update:
        stmt = stmt.with_for_update()
    project = ctx.session.execute(stmt).scalar_one_or_none()
    if project is None or (in_scope and not ctx.caller.covers_region(project.area_code)):
        raise NotFound(f"no project {project_no}")
    return project
