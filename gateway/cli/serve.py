"""``vgw serve``: run the gateway under gunicorn (the production WSGI server)."""

import os
import shutil
import sys

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port to listen on.")
@click.option("--workers", "-w", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--access-log/--no-access-log", default=True, show_default=True)
def serve(host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the API with gunicorn; the process becomes gunicorn's master (stop it with SIGTERM)."""
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which("gunicorn")
    if gunicorn is None:
        raise click.ClickException("gunicorn is not installed in this environment")
    args = [gunicorn, "--bind", f"{host}:{port}", "--workers", str(workers),
            "--graceful-timeout", "10", "gateway:create_app()"]
    if access_log:
        args[1:1] = ["--access-logfile", "-"]
    click.echo(f"serving the gateway on http://{host}:{port} (OpenAPI: /api/openapi.json)", err=True)
    os.execv(gunicorn, args)
