"""``vgw``: the operator's command line, a Flask CLI group built on the app factory.

Commands are attached to ``app.cli`` in :func:`init_app`, so ``vgw`` and Flask's test
runner (``app.test_cli_runner()``) see the same commands.
"""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from gateway.settings import SettingsError


def _create_app():
    from gateway.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False,
             load_dotenv=False,
             help="志愿服务数据交换网关 — the volunteer-service data exchange gateway.")
def cli() -> None:
    pass


# `vgw push` / `vgw pull` are clients of a remote gateway: on the root group, so running them
# never builds the app (no settings, no store).
from gateway.cli import exchange_cmd  # noqa: E402

exchange_cmd.register(cli)


def init_app(app: Flask) -> None:
    from gateway.cli import (certificate_cmd, clients_cmd, config_cmd, db, keys_cmd, pii, serve,
                             validate)

    app.cli.add_command(db.db)
    app.cli.add_command(validate.validate)
    app.cli.add_command(config_cmd.config)
    app.cli.add_command(serve.serve)
    app.cli.add_command(pii.pii)
    app.cli.add_command(keys_cmd.signing_keys)
    app.cli.add_command(certificate_cmd.verify_certificate_cmd)
    app.cli.add_command(clients_cmd.clients)
    from gateway.cli import demo_cmd

    app.cli.add_command(demo_cmd.demo)

    from gateway.cli import keys_client_cmd

    app.cli.add_command(keys_client_cmd.keys)

    from gateway.cli import stats_cmd

    app.cli.add_command(stats_cmd.stats)

    from gateway.cli import log_cmd

    app.cli.add_command(log_cmd.log_group)

    from gateway.cli import admins_cmd

    app.cli.add_command(admins_cmd.admins_group)
    _add_plugin_commands(app)


#: Entry-point group of commands from packages outside gateway/ (sync_jobs: ``sources``,
#: ``sync``, ``scheduler``); gateway never imports them by name.
COMMANDS_GROUP = "vgw.commands"


def _add_plugin_commands(app: Flask) -> None:
    import logging
    from importlib.metadata import entry_points

    for ep in entry_points(group=COMMANDS_GROUP):
        if ep.name in app.cli.commands:
            continue
        try:
            command = ep.load()
        except Exception:  # noqa: BLE001 - one broken package must not take the CLI down
            logging.getLogger(__name__).exception("command %s (%s) cannot be loaded", ep.name, ep.value)
            continue
        app.cli.add_command(command, ep.name)


def main() -> None:
    """Entry point of the ``vgw`` console script."""
    try:
        cli.main(prog_name="vgw")
    except SettingsError as exc:
        click.echo(f"vgw: bad setting: {exc}", err=True)
        sys.exit(2)
