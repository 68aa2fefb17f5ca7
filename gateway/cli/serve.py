"""``vgw serve``: run the gateway under gunicorn (the production WSGI server)."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from gateway import ratelimit_storage

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


LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def _is_loopback(host: str) -> bool:
    import ipaddress

    host = (host or "").strip("[]").lower()
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(origins: dict[str, str], name: str) -> str:
    """Where setting ``name`` came from: a config file, the environment, or the default."""
    return origins.get(name, "default")


def start_up_lines(config, origins: dict[str, str], font: str) -> list[str]:
    """What `vgw serve` says before it serves: the store (password masked) and where that
    setting came from, where the settings came from, and the certificate font."""
    from gateway.cli.db import _safe_url

    by_origin: dict[str, list[str]] = {}
    for name, origin in origins.items():
        by_origin.setdefault(origin, []).append(name)
    layers = "; ".join(f"{origin}: {', '.join(sorted(names))}" for origin, names in by_origin.items())
    return [
        f"store: {_safe_url(config['DATABASE_URL'])} "
        f"(DATABASE_URL from {origin_of(origins, 'DATABASE_URL')})",
        "settings: defaults" + (f"; {layers}" if layers else " only (no config file, no GATEWAY_* variable)"),
        f"certificate font: {font} (CERTIFICATE_FONT from {origin_of(origins, 'CERTIFICATE_FONT')})",
    ]


def page_lines(app, host: str, port: int) -> list[str]:
    """Where the people's pages are once it serves: the console, the API reference (with the
    OpenAPI document it shows) and the docs, each a full URL on the address served (issue 12,
    item 3 of search3); a page this installation does not serve says so instead of a link."""
    from gateway.api import landing

    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    base = f"http://{shown}:{port}"
    with app.test_request_context("/"):
        openapi = landing._openapi_url()
    console = (f"console: {base}/console/" if "console" in app.blueprints
               else "console: not served (the console is not part of this installation)")
    docs = (f"docs: {base}/docs/" if landing.DOCS_DIR.is_dir()
            else "docs: not served (docs/ is not beside this installation; see the source distribution)")
    return [console, f"API reference: {base}/api/docs (OpenAPI document: {base}{openapi})", docs]


def _say(config, message: str, *, warning: bool = False) -> None:
    """A start-up line on stderr: plain text, or a JSON log line like the workers' own when
    LOG_FORMAT is json (so a log collector reads every line the process writes)."""
    if config["LOG_FORMAT"] == "json":
        import logging

        from gateway.logs import JsonFormatter

        record = logging.LogRecord("gateway.serve", logging.WARNING if warning else logging.INFO,
                                   __file__, 0, message, None, None)
        click.echo(JsonFormatter().format(record), err=True)
    else:
        click.echo(f"vgw serve: {'warning: ' if warning else ''}{message}", err=True)


def loopback_warning(config, host: str) -> str | None:
    """A warning when certificates printed in production (development tokens off) would
    carry a loopback address in their QR code and printed URL, else None."""
    from urllib.parse import urlsplit

    if config["DEV_TOKENS"]:
        return None
    base = config["PUBLIC_BASE_URL"]
    if base and _is_loopback(urlsplit(base).hostname or ""):
        return (f"PUBLIC_BASE_URL is {base}: certificates will carry this loopback address in "
                "their QR code and printed URL; set PUBLIC_BASE_URL to the gateway's public address")
    if not base and _is_loopback(host) and not config["PROXY_FIX"]:
        return (f"PUBLIC_BASE_URL is not set and the gateway listens on {host} without PROXY_FIX: "
                "certificates take the address each request came to, which behind a reverse proxy "
                "is this loopback address; set PUBLIC_BASE_URL (or PROXY_FIX) for production")
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
    from gateway.certificates.document import FontMissing, check_font

    config = current_app.config
    try:
        font = check_font(config["CERTIFICATE_FONT"] or None)
    except FontMissing as exc:
        raise click.ClickException(f"cannot serve: certificates cannot be printed: {exc}") from None
    for line in start_up_lines(config, current_app.extensions.get("settings.origins", {}), font):
        _say(config, line)
    warning = loopback_warning(config, host)
    if warning:
        _say(config, warning, warning=True)
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
    warning = memory_limits_warning(ratelimit_storage.storage_uri(current_app.config,
                                                                  current_app.instance_path), workers)
    if warning:
        _say(config, warning.removeprefix("warning: "), warning=True)
    for line in page_lines(current_app, host, port):
        _say(config, line)
    _say(config, f"serving the gateway on http://{host}:{port}")
    os.execv(gunicorn, args)
