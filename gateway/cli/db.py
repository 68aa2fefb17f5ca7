"""``vgw db``: the store's schema (Alembic migrations)."""

import click
from flask import current_app
from flask.cli import with_appcontext

from gateway import store


@click.group(help="Manage the central store's schema.")
def db() -> None:
    pass


@db.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    store.upgrade(current_app, revision)
    origin = current_app.extensions.get("settings.origins", {}).get("DATABASE_URL", "default")
    click.echo(f"store at revision {store.current_revision(current_app)} "
               f"({_safe_url(current_app.config['DATABASE_URL'])}; DATABASE_URL from {origin})")


@db.command("downgrade")
@click.argument("revision")
@with_appcontext
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' empties the store)."""
    store.downgrade(current_app, revision)
    click.echo(f"store at revision {store.current_revision(current_app)}")


@db.command("current")
@with_appcontext
def current() -> None:
    """Print the store's current revision."""
    click.echo(store.current_revision(current_app) or "empty (run `vgw db upgrade`)")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
