"""``vgw signing-keys``: the gateway's own Ed25519 signing keys (see :mod:`gateway.signing`)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from gateway import timefmt
from gateway.signing import KeyRing


def _keyring() -> KeyRing:
    return current_app.extensions["signing.keyring"]


@click.group("signing-keys", help="The gateway's signing keys (certificates, JWK set).")
def signing_keys() -> None:
    pass


@signing_keys.command("list")
@with_appcontext
def list_keys() -> None:
    """List the keys: kid, created, and which one is active."""
    ring = _keyring()
    keys = ring.keys
    if not keys:
        click.echo(f"no signing keys yet in {ring.directory} (the first is created when something "
                   "is first signed, or with `vgw signing-keys generate`)")
        return
    active = ring.active.kid
    click.echo(f"{'kid':<24} {'created':<26} active")
    for key in keys:
        click.echo(f"{key.kid:<24} {timefmt.table(key.created):<26} {'*' if key.kid == active else ''}")


@signing_keys.command("generate")
@with_appcontext
def generate() -> None:
    """Create a new key and make it active; old keys stay published so old signatures verify."""
    key = _keyring().generate()
    click.echo(f"generated {key.kid} (active) in {key.path.parent}")
    click.echo("Restart running servers so that they sign with it.")


@signing_keys.command("jwks")
@with_appcontext
def jwks() -> None:
    """Print the public JWK set (every key, RFC 8037 OKP/Ed25519) as JSON."""
    click.echo(json.dumps(_keyring().jwks(), indent=2))
