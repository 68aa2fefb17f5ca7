"""``vgw keys``: clients' public keys for signed requests (see :mod:`gateway.exchange.keys`).

The gateway's *own* signing keys are ``vgw signing-keys``; clients themselves are
``vgw clients``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from gateway import store, timefmt
from gateway.exchange import keys as client_keys
from gateway.store.models import Client, ClientKey


@click.group("keys", help="Clients' public keys for signed requests: generate, add, list, rotate, "
             "revoke.")
def keys() -> None:
    pass


def _client(session, client_id: str) -> Client:
    client = session.execute(select(Client).where(Client.client_id == client_id)
                             ).scalar_one_or_none()
    if client is None:
        raise click.ClickException(f"no client {client_id!r} (register it with `vgw clients add`)")
    return client


def _read_pem(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None


def _show(key: ClientKey) -> str:
    return (f"{key.key_id:<45} {key.algorithm:<18} {key.status:<8} "
            f"{timefmt.table(key.created_at):<26} {timefmt.table(key.revoked_at)}")


HEADER = f"{'key id':<45} {'algorithm':<18} {'status':<8} {'created':<26} revoked"


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise click.ClickException(f"{path} exists; not overwritten") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away; this sets exactly these
        os.write(fd, data)
    finally:
        os.close(fd)


@keys.command("generate")
@click.option("--alg", "algorithm", type=click.Choice(list(client_keys.SHORT_NAMES)),
              default="ed25519", show_default=True,
              help="Signature algorithm of the new key pair, by its RFC 9421 name (the `alg` it "
              "signs with); ecdsa-p256 is an older spelling of ecdsa-p256-sha256.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write the key files to (created if missing).")
def generate(algorithm: str, out_dir: str) -> None:
    """Make a key pair for an integrator: <KEY_ID>.private.pem (0600) and <KEY_ID>.public.pem.

    Needs no store: the private key is meant for the client's system. Register the public
    file with `vgw keys add CLIENT_ID FILE`.
    """
    pair = client_keys.generate_key_pair(algorithm)
    folder = Path(out_dir)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create {folder}: {exc.strerror}") from None
    private_path = folder / f"{pair.key_id}.private.pem"
    public_path = folder / f"{pair.key_id}.public.pem"
    _write_new(private_path, pair.private_pem, 0o600)
    _write_new(public_path, pair.public_pem, 0o644)
    click.echo(f"private key ({pair.algorithm}): {private_path}  (mode 0600; give it to the client "
               "system only, never send it to the gateway)")
    click.echo(f"public key: {public_path}")
    click.echo(f"suggested key id (RFC 7638 thumbprint): {pair.key_id}")
    click.echo(f"register it: vgw keys add CLIENT_ID {public_path}")


@keys.command("add")
@click.argument("client_id")
@click.argument("public_pem", type=click.Path(dir_okay=False))
@click.option("--key-id", default=None, help="Key id to register it under; default: the key's "
              "RFC 7638 thumbprint.")
@with_appcontext
def add(client_id: str, public_pem: str, key_id: str | None) -> None:
    """Register PUBLIC_PEM as an active key of CLIENT_ID."""
    data = _read_pem(public_pem)
    with store.session_scope(current_app) as session:
        try:
            key = client_keys.add_key(session, _client(session, client_id), data, key_id=key_id)
        except client_keys.ClientKeyError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"added {key.key_id} ({key.algorithm}) to {client_id}, active")


@keys.command("list")
@click.argument("client_id")
@with_appcontext
def list_keys(client_id: str) -> None:
    """Every key of CLIENT_ID, oldest first, with its status."""
    with store.session_scope(current_app) as session:
        rows = client_keys.keys_of(session, _client(session, client_id))
        if not rows:
            click.echo(f"{client_id} has no keys (add one with `vgw keys add {client_id} FILE`)")
            return
        click.echo(HEADER)
        for key in rows:
            click.echo(_show(key))


@keys.command("rotate")
@click.argument("client_id")
@click.argument("public_pem", type=click.Path(dir_okay=False))
@click.option("--key-id", default=None, help="Key id for the new key; default: its thumbprint.")
@with_appcontext
def rotate(client_id: str, public_pem: str, key_id: str | None) -> None:
    """Add a new active key for CLIENT_ID and keep the old ones active (no downtime)."""
    data = _read_pem(public_pem)
    with store.session_scope(current_app) as session:
        client = _client(session, client_id)
        older = [k.key_id for k in client_keys.keys_of(session, client) if k.status == "active"]
        try:
            key = client_keys.add_key(session, client, data, key_id=key_id)
        except client_keys.ClientKeyError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"added {key.key_id} ({key.algorithm}) to {client_id}, active")
    if older:
        click.echo(f"still active: {', '.join(older)}")
        click.echo("Reminder: once the client signs with the new key, revoke the old one: "
                   + "; ".join(f"vgw keys revoke -- {k}" for k in older))


@keys.command("revoke")
@click.argument("key_id")
@with_appcontext
def revoke(key_id: str) -> None:
    """Revoke KEY_ID: requests signed with it are refused from now on."""
    with store.session_scope(current_app) as session:
        try:
            key = client_keys.revoke_key(session, key_id)
        except client_keys.ClientKeyError as exc:
            raise click.ClickException(str(exc)) from None
        remaining = [k.key_id for k in client_keys.keys_of(session, key.client)
                     if k.status == "active"]
        client_id = key.client.client_id
    click.echo(f"revoked {key_id} of {client_id}")
    if not remaining:
        click.echo(f"warning: {client_id} has no active key left; its signed requests will all be "
                   "refused", err=True)
