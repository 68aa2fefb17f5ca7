"""``vgw admins``: the console's administrator accounts (gateway/services/admins.py).

Every command is written to the console's audit trail (actor ``cli``). Passwords are read
from a prompt (never from the command line, which shell history and ``ps`` keep), or made
up and printed once with ``--generate-password``.
"""

from __future__ import annotations

import getpass
import json
import os

import click
from flask import current_app
from flask.cli import with_appcontext

from gateway import store, timefmt
from gateway.privacy import vault
from gateway.services import admins, audit


def _password(generate: bool) -> str:
    if generate:
        return admins.generate_password()
    env = os.environ.get("VGW_ADMIN_PASSWORD")  # for scripts; not a gateway setting
    if env:
        return env
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


def _audit(session, action: str, target: str, **details) -> None:
    audit.record(session, actor="cli", action=action, target=target, details=details,
                 remote_addr="local", user_agent=f"vgw admins ({getpass.getuser()})")


@click.group("admins", help="Administrator accounts of the console (/console).")
def admins_group() -> None:
    pass


@admins_group.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=click.Choice(["viewer", "operator", "key_manager"]),
              help="A role (repeatable); every account can view.")
@click.option("--region", default="", help="Region prefix the account sees (empty: the whole country).")
@click.option("--name", "display_name", default="", help="Name shown in the console.")
@click.option("--generate-password", is_flag=True, help="Make up a password and print it once.")
@click.option("--totp", is_flag=True, help="Also set up a TOTP second factor (prints its secret once).")
@with_appcontext
def add(username, roles, region, display_name, generate_password, totp) -> None:
    """Add account USERNAME (password from a prompt, or VGW_ADMIN_PASSWORD)."""
    password = _password(generate_password)
    with store.session_scope(current_app) as session:
        try:
            row = admins.add(session, username, password, roles=roles, region_prefix=region,
                             display_name=display_name)
        except admins.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        secret = admins.enable_totp(session, vault(), username) if totp else None
        _audit(session, "admins.add", username, roles=row.roles, region_prefix=row.region_prefix,
               totp=bool(totp))
    click.echo(f"account {username} added: roles {', '.join(row.roles)}, region "
               f"{region or 'whole country'}")
    if generate_password:
        click.echo(f"password: {password}")
    if secret:
        click.echo(f"TOTP secret: {secret}\n{admins.totp_uri(secret, username)}")


@admins_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_(as_json) -> None:
    """List the accounts."""
    with store.session_scope(current_app) as session:
        rows = admins.listing(session)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no accounts (vgw admins add NAME --role operator)")
    for r in rows:
        state = "DISABLED" if r["disabled"] else ("locked" if r["locked_until"] else "active")
        click.echo(f"{r['username']:<20} {','.join(r['roles']):<30} {r['region_prefix'] or '*':<7} "
                   f"{state:<8} totp={'on' if r['totp'] else 'off'}  last login "
                   f"{timefmt.table_from_iso(r['last_login_at'])}")


@admins_group.command("disable")
@click.argument("username")
@with_appcontext
def disable(username) -> None:
    """Disable USERNAME; its open sessions end at once."""
    with store.session_scope(current_app) as session:
        try:
            admins.disable(session, username)
        except admins.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        _audit(session, "admins.disable", username)
    click.echo(f"account {username} disabled")


@admins_group.command("reset-password")
@click.argument("username")
@click.option("--generate-password", is_flag=True, help="Make up a password and print it once.")
@with_appcontext
def reset_password(username, generate_password) -> None:
    """Set a new password for USERNAME (unlocks it; its open sessions end)."""
    password = _password(generate_password)
    with store.session_scope(current_app) as session:
        try:
            admins.reset_password(session, username, password)
        except admins.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        _audit(session, "admins.reset-password", username)
    click.echo(f"password of {username} reset")
    if generate_password:
        click.echo(f"password: {password}")
