"""``vgw demo load``: a demo client, an approved team and a recruiting project to try the API;
a console administrator (``demo-admin``, password in instance/demo-admin.txt) and two demo
sync sources to look at in the console (a team's spreadsheet with a record that breaks a rule,
and a 志愿汇-style platform that cannot be reached).

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

from gateway import store
from gateway.caller import Caller
from gateway.services.clients import create_client, issue_dev_token
from gateway.privacy import vault
from gateway.services import activities, registration
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store.models import Client, Project, SyncSource, Team

DEMO_CLIENT = "demo-portal"
DEMO_TEAM_SOURCE_ID = "demo-team-1"
DEMO_PROJECT_SOURCE_ID = "demo-project-1"
DEMO_ADMIN = "demo-admin"
DEMO_SHEET_SOURCE = "demo-chaoyang-sheet"
DEMO_PLATFORM_SOURCE = "demo-zyh365-jiangsu"
SHEET_COLUMNS = {"姓名": "name", "证件类型": "id_type", "证件号码": "id_number", "性别": "gender",
                 "手机号码": "mobile", "服务区域": "service_area"}


def _context(session) -> ServiceContext:
    client = session.execute(select(Client).where(Client.client_id == DEMO_CLIENT)).scalar_one_or_none()
    if client is None:
        client = create_client(session, DEMO_CLIENT, "演示门户 demo portal", kind="portal",
                                      permissions={"*": ["read", "write", "review"]})
    return ServiceContext(session=session, caller=Caller.from_client(client), engine=engine(),
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
        token = issue_dev_token(session, client)
        team_no, project_no = team.team_no, project.project_no
    token_file = token_file or Path(current_app.instance_path) / "demo-token.txt"
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    click.echo(f"demo client {DEMO_CLIENT}: token in {token_file}")
    click.echo(f"demo team {team_no} (approved), project {project_no} with post 1 (recruiting)")
    _console_demo(Path(current_app.instance_path))
    if not current_app.config["DEV_TOKENS"]:
        click.echo("note: start the gateway with GATEWAY_DEV_TOKENS=true to use the token", err=True)


# -- the console's demo: an administrator and two sources ------------------------------------------

def _citizen_id(serial: int, area: str = "110105", born: str = "19900101") -> str:
    from stdnum.cn import ric

    body = f"{area}{born}{serial % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # python-stdnum ignores the last character


def _sheet(folder: Path) -> None:
    """Five volunteers of a Chaoyang team; one ID number has a wrong check digit."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ["张伟", "王芳", "李娜", "刘洋", "陈静"]
    lines = [",".join(SHEET_COLUMNS)]
    for i, name in enumerate(names):
        number = _citizen_id(100 + i)
        if i == 3:  # the broken one: what a vendor gets sent back
            number = number[:-1] + ("0" if number[-1] != "0" else "1")
        lines.append(",".join([name, "内地居民身份证", number, "男" if i % 2 else "女",
                               f"1391111{1000 + i:04d}", "110105"]))
    (folder / "volunteers.csv").write_bytes(("\n".join(lines) + "\n").encode("utf-8-sig"))


def _console_demo(instance: Path) -> None:
    from gateway import sync_actions
    from gateway.services import admins

    app = current_app._get_current_object()
    password_file = instance / "demo-admin.txt"
    with store.session_scope(app) as session:
        exists = session.execute(select(admins.ConsoleAccount).where(
            admins.ConsoleAccount.username == DEMO_ADMIN)).scalar_one_or_none()
        if exists is None or not password_file.exists():
            password = admins.generate_password()
            if exists is None:
                admins.add(session, DEMO_ADMIN, password, roles=["operator", "key_manager"],
                           display_name="演示管理员 demo admin")
            else:
                admins.reset_password(session, DEMO_ADMIN, password)
            password_file.write_text(f"user: {DEMO_ADMIN}\npassword: {password}\n", encoding="utf-8")
            password_file.chmod(0o600)
    try:
        seam = sync_actions.actions(app)
    except sync_actions.SyncActionsMissing as exc:
        click.echo(f"no demo sources: {exc}", err=True)
        seam = None
    if seam is not None:
        with store.session_scope(app) as session:
            have = set(session.execute(select(SyncSource.name)).scalars())
        folder = instance / "demo-drop" / "chaoyang"
        if not (folder / "volunteers.csv").exists():
            _sheet(folder)
        added = []
        if DEMO_SHEET_SOURCE not in have:
            seam.add_source(app, DEMO_SHEET_SOURCE, "spreadsheet",
                            {"folder": str(folder), "entity": "volunteer", "columns": SHEET_COLUMNS},
                            direction="pull", schedule="every 10m",
                            scope={"region_prefix": "1101", "teams": [], "pii": "full"})
            added.append(DEMO_SHEET_SOURCE)
        if DEMO_PLATFORM_SOURCE not in have:
            seam.add_source(app, DEMO_PLATFORM_SOURCE, "zyh365",
                            {"base_url": "http://127.0.0.1:9", "access_key_id": "demo",
                             "access_key_secret": "demo-secret-not-real"},
                            direction="pull", entities=["volunteer"], schedule="",
                            scope={"region_prefix": "32", "teams": [], "pii": "full"})
            added.append(DEMO_PLATFORM_SOURCE)
        retries = app.config["SYNC_RETRY_ATTEMPTS"]
        app.config["SYNC_RETRY_ATTEMPTS"] = 1  # the unreachable platform fails at once
        try:
            for name in added:  # a first run of each, so that there is something to see
                for result in seam.run_inline(app, name):
                    click.echo(f"demo source {name}: {result['direction']} run {result['status']}")
        finally:
            app.config["SYNC_RETRY_ATTEMPTS"] = retries
    click.echo(f"console: {app.config['PUBLIC_BASE_URL'] or 'http://127.0.0.1:8080'}/console/ — log in as {DEMO_ADMIN}, "
               f"password in {password_file}")
