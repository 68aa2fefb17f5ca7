"""``vgw config``: what the gateway will run with."""

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from gateway.settings import SETTINGS

# Settings whose values are secrets: shown only as set / not set.
SECRET_SETTINGS = {"PII_ENCRYPTION_KEYS", "PII_INDEX_KEY"}


@click.group(help="Inspect settings.")
def config() -> None:
    pass


@config.command("show")
@with_appcontext
def show() -> None:
    """Print every setting's effective value (passwords hidden)."""
    for setting in SETTINGS:
        value = current_app.config[setting.name]
        if setting.name == "DATABASE_URL":
            value = make_url(value).render_as_string(hide_password=True)
        elif setting.name in SECRET_SETTINGS and value:
            value = "***"
        click.echo(f"{setting.name} = {value!r}    # {setting.help}")
