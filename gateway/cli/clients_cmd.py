"""``vgw clients``: register the systems that call the gateway, and their scopes."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from gateway import store
from gateway.services.clients import create_client, issue_dev_token, revoke_tokens
from gateway.store.models import Client


@click.group(help="Register callers of the gateway and their scopes.")
def clients() -> None:
    pass


def _parse_perms(values: tuple[str, ...]) -> dict[str, list[str]]:
    perms: dict[str, list[str]] = {}
    for value in values:
        entity, _, names = value.partition(":")
        if not entity or not names:
            raise click.BadParameter(f"{value!r}: expected ENTITY:PERM[,PERM] e.g. volunteer:read,write")
        perms.setdefault(entity, []).extend(n.strip() for n in names.split(",") if n.strip())
    return perms


def _show(client: Client) -> None:
    click.echo(f"{client.client_id}  {client.name}  kind={client.kind}  "
               f"region={client.region_prefix or '*'}  teams={','.join(client.team_nos) or '*'}  "
               f"pii={client.pii_access}  {'DISABLED' if client.disabled else 'active'}")
    for entity, perms in sorted(client.permissions.items()):
        click.echo(f"    {entity}: {', '.join(perms)}")


def _get(session, client_id: str) -> Client:
    client = session.execute(select(Client).where(Client.client_id == client_id)).scalar_one_or_none()
    if client is None:
        raise click.ClickException(f"no client {client_id!r}")
    return client


@clients.command("add")
@click.argument("client_id")
@click.option("--name", required=True, help="Human-readable name of the system.")
@click.option("--kind", default="local_system", show_default=True,
              type=click.Choice(["local_system", "portal", "department", "gateway"]))
@click.option("--region", default="", help="Region prefix (2/4/6 digits); empty for the whole country.")
@click.option("--team", "teams", multiple=True, help="Limit to a team number (repeatable).")
@click.option("--perm", "perms", multiple=True,
              help="ENTITY:PERMS, e.g. volunteer:read,write or *:read (repeatable).")
@click.option("--pii", type=click.Choice(["masked", "full"]), default="masked", show_default=True)
@with_appcontext
def add(client_id, name, kind, region, teams, perms, pii) -> None:
    """Register CLIENT_ID with its scope."""
    with store.session_scope(current_app) as session:
        if session.execute(select(Client).where(Client.client_id == client_id)).scalar_one_or_none():
            raise click.ClickException(f"client {client_id!r} exists")
        try:
            client = create_client(session, client_id, name, region_prefix=region, team_nos=teams,
                                          permissions=_parse_perms(perms), pii_access=pii, kind=kind)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        _show(client)


@clients.command("list")
@with_appcontext
def list_() -> None:
    """Every registered client."""
    with store.session_scope(current_app) as session:
        for client in session.execute(select(Client).order_by(Client.client_id)).scalars():
            _show(client)


@clients.command("show")
@click.argument("client_id")
@with_appcontext
def show(client_id) -> None:
    """One client's scope and status."""
    with store.session_scope(current_app) as session:
        _show(_get(session, client_id))


@clients.command("disable")
@click.argument("client_id")
@with_appcontext
def disable(client_id) -> None:
    """Refuse every further request from CLIENT_ID and revoke its tokens."""
    with store.session_scope(current_app) as session:
        client = _get(session, client_id)
        client.disabled = True
        revoked = revoke_tokens(session, client)
        click.echo(f"{client_id} disabled; {revoked} token(s) revoked")


@clients.command("token")
@click.argument("client_id")
@with_appcontext
def token(client_id) -> None:
    """Issue a development bearer token for CLIENT_ID (honoured only with DEV_TOKENS on)."""
    with store.session_scope(current_app) as session:
        value = issue_dev_token(session, _get(session, client_id))
    if not current_app.config["DEV_TOKENS"]:
        click.echo("note: DEV_TOKENS is off; the gateway will not accept this token until it is on",
                   err=True)
    click.echo(value)
