"""``vgw``: the operator's command line.

The root group is lazy: :data:`COMMANDS` names each command's module and its one-line help,
and a command's module is imported only when that command runs (or its own ``--help`` is
asked for). ``vgw --help`` therefore imports neither Flask nor SQLAlchemy, builds no app and
creates nothing (no personal-data keys, no store); a command that needs the app builds it
through :func:`flask.cli.with_appcontext` when it starts. The same commands are also attached
to ``app.cli`` in :func:`init_app`, so Flask's test runner (``app.test_cli_runner()``) sees
them too. Flask's generic commands (``run``, ``shell``, ``routes``, ``-A/--app``,
``--debug``) are not part of ``vgw``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

#: Every command of ``vgw``: name -> ("module:attribute", one-line help shown by ``vgw --help``).
#: ``app.cli:NAME`` is a command an extension adds to the app (Flask-Limiter, flask-smorest).
#: tests/unit/cli/test_root.py checks each help line against the command's own.
COMMANDS: dict[str, tuple[str, str]] = {
    "admins": ("gateway.cli.admins_cmd:admins_group",
               "Administrator accounts of the console (/console)."),
    "clients": ("gateway.cli.clients_cmd:clients", "Register callers of the gateway and their scopes."),
    "config": ("gateway.cli.config_cmd:config", "Inspect settings."),
    "db": ("gateway.cli.db:db", "Manage the central store's schema."),
    "demo": ("gateway.cli.demo_cmd:demo", "Demo data for trying the gateway."),
    "keys": ("gateway.cli.keys_client_cmd:keys",
             "Clients' public keys for signed requests: generate, add, list, rotate, revoke."),
    "log": ("gateway.cli.log_cmd:log_group",
            "The message log: every batch that crossed the boundary, with its signature evidence."),
    "pii": ("gateway.cli.pii:pii", "Personal-data keys (ID and mobile numbers encrypted at rest)."),
    "pull": ("gateway.cli.exchange_cmd:pull",
             "Pull the changes this client may see from the gateway at URL, all pages, as NDJSON."),
    "push": ("gateway.cli.exchange_cmd:push",
             "Push the records in FILE (JSON or NDJSON) to the gateway at URL, signed."),
    "serve": ("gateway.cli.serve:serve",
              "Serve the API with gunicorn; the process becomes gunicorn's master (stop it with SIGTERM)."),
    "signing-keys": ("gateway.cli.keys_cmd:signing_keys",
                     "The gateway's signing keys (certificates, JWK set)."),
    "stats": ("gateway.cli.stats_cmd:stats",
              "Statistics aggregates (stat_volunteers, stat_hours and their province roll-ups)."),
    "validate": ("gateway.cli.validate:validate",
                 "Validate FILE (JSON or NDJSON, '-' for stdin) and report every error of every record."),
    "verify-certificate": ("gateway.cli.certificate_cmd:verify_certificate_cmd",
                           "Check the signature of a certificate (CERT.pdf or CERT.json) with a JWK set."),
    "openapi": ("app.cli:openapi", "OpenAPI commands."),
    "limiter": ("flask_limiter.commands:cli", "Flask-Limiter maintenance & utility commands"),
}

#: Commands of the table that talk to a remote gateway and never build this one's app (not
#: attached to ``app.cli`` either).
APPLESS = frozenset({"push", "pull"})

#: Entry-point group of commands from packages outside gateway/ (sync_jobs: ``sources``,
#: ``sync``, ``scheduler``); gateway never imports them by name.
COMMANDS_GROUP = "vgw.commands"


def _create_app():
    from gateway.app import create_app

    return create_app()


def _script_info(ctx: click.Context):
    """The ScriptInfo that :func:`flask.cli.with_appcontext` builds the app from (made once)."""
    from flask.cli import ScriptInfo

    root = ctx.find_root()
    if not isinstance(root.obj, ScriptInfo):
        root.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False, load_dotenv_defaults=False)
    return root.obj


def _plugin_entry_points() -> dict:
    from importlib.metadata import entry_points

    found: dict = {}
    for ep in entry_points(group=COMMANDS_GROUP):
        found.setdefault(ep.name, ep)
    return found


def _load(name: str, target: str, ctx: click.Context) -> click.Command | None:
    module, _, attr = target.partition(":")
    if module == "app.cli":
        app = _script_info(ctx).load_app()
        return app.cli.commands.get(attr)
    import importlib

    return getattr(importlib.import_module(module), attr)


class LazyGroup(click.Group):
    """A click group whose commands are imported when they are looked up, not before."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS) | set(_plugin_entry_points()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name in COMMANDS:
            command = _load(name, COMMANDS[name][0], ctx)
        else:
            ep = _plugin_entry_points().get(name)
            if ep is None:
                return None
            try:
                command = ep.load()
            except Exception:  # noqa: BLE001 - one broken package must not take the CLI down
                import logging

                logging.getLogger(__name__).exception("command %s (%s) cannot be loaded", name, ep.value)
                return None
        if command is not None:
            self.commands[name] = command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List every command from the table (and plugins by entry point) without importing any."""
        plugins = _plugin_entry_points()
        rows = []
        for name in self.list_commands(ctx):
            if name in COMMANDS:
                help_text = COMMANDS[name][1]
            elif name in plugins:
                help_text = f"(from {plugins[name].value}; vgw {name} --help)"
            else:
                help_text = self.commands[name].get_short_help_str(limit=300)
            rows.append((name, help_text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, help="志愿服务数据交换网关 — the volunteer-service data exchange gateway.")
@click.pass_context
def cli(ctx: click.Context) -> None:
    # Nothing is built here: commands that need the app build it themselves (with_appcontext)
    # from this ScriptInfo, the first time they need it.
    if ctx.invoked_subcommand not in APPLESS:
        _script_info(ctx)


def init_app(app: Flask) -> None:
    """Attach every ``vgw`` command to ``app.cli`` too (Flask's test runner uses it)."""
    import importlib

    for name, (target, _help) in COMMANDS.items():
        module, _, attr = target.partition(":")
        if module == "app.cli" or name in APPLESS:
            continue
        app.cli.add_command(getattr(importlib.import_module(module), attr), name)
    _add_plugin_commands(app)


def _add_plugin_commands(app: Flask) -> None:
    import logging

    for name, ep in _plugin_entry_points().items():
        if name in app.cli.commands:
            continue
        try:
            command = ep.load()
        except Exception:  # noqa: BLE001 - one broken package must not take the CLI down
            logging.getLogger(__name__).exception("command %s (%s) cannot be loaded", ep.name, ep.value)
            continue
        app.cli.add_command(command, ep.name)


def main() -> None:
    """Entry point of the ``vgw`` console script."""
    from gateway import gc_tuning
    from gateway.settings import SettingsError

    gc_tuning.command_process()  # this process is the command: `vgw sync run` may freeze
    try:
        cli.main(prog_name="vgw")
    except SettingsError as exc:
        click.echo(f"vgw: bad setting: {exc}", err=True)
        sys.exit(2)
