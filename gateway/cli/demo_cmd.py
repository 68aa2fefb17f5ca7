"""``vgw demo load``: a demo client, an approved team and a recruiting project to try the API.

Runs through the same services as the API (validation, history, aggregates), so the demo data
is indistinguishable from real data. Safe to run twice: it reuses what it made before.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from gateway import access, store
from gateway.privacy import vault
from gateway.services import activities, registration
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store.models import Client, Project, Team

DEMO_CLIENT = "demo-portal"
DEMO_TEAM_SOURCE_ID = "demo-team-1"
DEMO_PROJECT_SOURCE_ID = "demo-project-1"


def _context(session) -> ServiceContext:
    client = session.execute(select(Client).where(Client.client_id == DEMO_CLIENT)).scalar_one_or_none()
    if client is None:
        client = access.create_client(session, DEMO_CLIENT, "演示门户 demo portal", kind="portal",
                                      permissions={"*": ["read", "write", "review"]})
    return ServiceContext(session=session, caller=access.Caller.from_client(client), engine=engine(),
                          vault=vault(), config=current_app.config)


def _team(ctx: ServiceContext) -> Team:
    team = ctx.session.execute(select(Team).where(Team.source_id == DEMO_TEAM_SOURCE_ID)).scalar_one_or_none()
    if team is None:
        team = registration.register_team(ctx, {
            "name": "朝阳区阳光志愿服务队", "team_type": "1", "area": "110105",
            "approving_unit": {"name": "朝阳区某某街道办事处", "contact": "张主任", "phone": "010-65000000"},
            "contact_name": "李队长", "contact_mobile": "13911110000", "join_policy": "2",
            "source_id": DEMO_TEAM_SOURCE_ID})
        registration.review_team(ctx, team.team_no, "approve", "demo")
    return team


def _project(ctx: ServiceContext, team: Team) -> Project:
    project = ctx.session.execute(
        select(Project).where(Project.source_id == DEMO_PROJECT_SOURCE_ID)).scalar_one_or_none()
    if project is None:
        today = ctx.now.date()
        project = activities.publish_project(ctx, {
            "name": "社区助老陪伴", "team_no": team.team_no, "area": "110105",
            "starts_on": (today - timedelta(days=60)).isoformat(),
            "ends_on": (today + timedelta(days=60)).isoformat(),
            "service_category": "0001", "recruit_scope": "1", "status": "3",
            "posts": [{"post_no": "1", "name": "陪伴员", "headcount": 20}],
            "source_id": DEMO_PROJECT_SOURCE_ID})
    return project


@click.group(help="Demo data for trying the gateway.")
def demo() -> None:
    pass


@demo.command("load")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the demo client's token here (default: instance/demo-token.txt).")
@with_appcontext
def load(token_file: Path | None) -> None:
    """Create the demo client (with a development token), an approved team and a project."""
    with store.session_scope(current_app) as session:
        ctx = _context(session)
        team = _team(ctx)
        project = _project(ctx, team)
        client = session.execute(select(Client).where(Client.client_id == DEMO_CLIENT)).scalar_one()
        token = access.issue_dev_token(session, client)
        team_no, project_no = team.team_no, project.project_no
    token_file = token_file or Path(current_app.instance_path) / "demo-token.txt"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    click.echo(f"demo client {DEMO_CLIENT}: token in {token_file}")
    click.echo(f"demo team {team_no} (approved), project {project_no} with post 1 (recruiting)")
    if not current_app.config["DEV_TOKENS"]:
        click.echo("note: start the gateway with GATEWAY_DEV_TOKENS=true to use the token", err=True)
