"""The administrators' console at ``/console``: one blueprint, its templates and static assets.

Server-rendered Jinja pages with htmx for the parts that update themselves (a running run,
the overview) and Chart.js for the charts, both vendored in ``static/vendor`` (VENDORED.md)
and served by the gateway itself. Chinese first, English switchable (:mod:`.i18n`).

Security: a signed, HttpOnly, SameSite=Lax session cookie (Secure unless
CONSOLE_COOKIE_SECURE is off) that names the account and its session epoch (a password reset
or disabling the account ends every session); a CSRF token (flask-wtf) checked on every POST;
roles and a region scope checked on every view (:mod:`.auth`); every action written to the
append-only audit trail. The console reads the store and calls the same services as the API;
actions on sources go through :mod:`gateway.sync_actions`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Blueprint, Flask

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

SECRET_FILE = "console-secret"


def _secret_key(app: Flask) -> str:
    """CONSOLE_SECRET_KEY, or the one generated once in KEYS_DIR (shared by every worker)."""
    if app.config["CONSOLE_SECRET_KEY"]:
        return app.config["CONSOLE_SECRET_KEY"]
    folder = Path(app.config["KEYS_DIR"])
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()


def init_app(app: Flask) -> None:
    if not app.config["CONSOLE_ENABLED"]:
        return
    app.secret_key = _secret_key(app)
    app.config.update(
        SESSION_COOKIE_NAME="vgw_console",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["CONSOLE_COOKIE_SECURE"],
        WTF_CSRF_TIME_LIMIT=None,            # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=app.config["CONSOLE_COOKIE_SECURE"],
    )
    from gateway.console import accounts, auth, i18n, views  # noqa: F401  (routes register on bp)

    auth.init_app(app)
    i18n.init_app(app)
    app.register_blueprint(bp)
