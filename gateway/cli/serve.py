"""``vgw serve``: run the gateway under gunicorn (the production WSGI server)."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

#: gunicorn's settings module: multiprocess metrics hooks, access line with the request id.
GUNICORN_CONFIG = "python:gateway.cli.gunicorn_config"


def metrics_folder(configured: str) -> tuple[Path, bool]:
    """prometheus-client's multiprocess folder for this start, empty: (folder, made here).

    A configured folder is created if needed and its metric files (``*.db``) of an earlier
    start are deleted (they would be added to this start's counts); without one, a new
    temporary folder is made (gunicorn removes it when it stops).
    """
    if not configured:
        return Path(tempfile.mkdtemp(prefix="vgw-metrics-")), True
    folder = Path(configured)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    return folder, False


def memory_limits_warning(storage_uri: str, workers: int) -> str | None:
    """The warning for rate limits counted per process while several processes serve."""
    if workers > 1 and storage_uri.startswith(("memory://", "async+memory://")):
        return (f"warning: RATELIMIT_STORAGE_URI={storage_uri} counts in each of the {workers} "
                f"workers separately, so every rate limit lets {workers} times as many requests "
                "through; leave it empty (a SQLite file shared on this host) or use redis://")
    return None


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port to listen on.")
@click.option("--workers", "-w", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--access-log/--no-access-log", default=True, show_default=True)
@with_appcontext
def serve(host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the API with gunicorn; the process becomes gunicorn's master (stop it with SIGTERM)."""
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which("gunicorn")
    if gunicorn is None:
        raise click.ClickException("gunicorn is not installed in this environment")
    folder, temporary = metrics_folder(current_app.config["METRICS_MULTIPROC_DIR"])
    # Read by prometheus-client when the workers import it: set before gunicorn starts.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    os.environ["VGW_METRICS_DIR_TEMPORARY"] = "1" if temporary else ""
    os.environ["GATEWAY_LOG_FORMAT"] = current_app.config["LOG_FORMAT"]
    os.environ["VGW_ACCESS_LOG"] = "1" if access_log else ""
    args = [gunicorn, "--config", GUNICORN_CONFIG, "--bind", f"{host}:{port}",
            "--workers", str(workers), "--graceful-timeout", "10", "gateway:create_app()"]
    if access_log:
        args[1:1] = ["--access-logfile", "-"]
    warning = memory_limits_warning(current_app.config["RATELIMIT_STORAGE_URI"], workers)
    if warning:
        click.echo(warning, err=True)
    click.echo(f"serving the gateway on http://{host}:{port} (OpenAPI: /api/openapi.json)", err=True)
    os.execv(gunicorn, args)
