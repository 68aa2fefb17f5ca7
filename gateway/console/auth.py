"""Logging in and out, the session, CSRF on every POST, roles and the audit helper."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any, Callable

from flask import (Flask, abort, current_app, flash, g, redirect, render_template, request, session,
                   url_for)
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from wtforms import ValidationError

from gateway.console import bp
from gateway.console.i18n import _
from gateway.privacy import vault
from gateway.services import admins, audit as audit_mod
from gateway.store import get_session
from gateway.store.models import ConsoleAccount

PUBLIC_ENDPOINTS = {"console.login", "console.static", "console.language"}
LIMITER = "gateway.console.login_limiter"


def init_app(app: Flask) -> None:
    from gateway import ratelimit_storage  # (importing it registers vgw+sqlite:// with limits)

    # The same shared counters as the verification page (RATELIMIT_STORAGE_URI).
    storage = storage_from_string(ratelimit_storage.storage_uri(app.config, app.instance_path))
    app.extensions[LIMITER] = (MovingWindowRateLimiter(storage),
                               parse_many(app.config["CONSOLE_LOGIN_RATE_LIMIT"]))
    app.jinja_env.globals.setdefault("csrf_token", generate_csrf)
    app.permanent_session_lifetime = timedelta(minutes=app.config["CONSOLE_SESSION_MINUTES"])


def current_admin() -> admins.Admin | None:
    return g.get("admin")


def signed_in_admin() -> admins.Admin:
    """The logged-in account, in a view that :func:`require` guards (there always is one)."""
    admin = current_admin()
    if admin is None:
        raise RuntimeError("a console view that needs a login ran without one")
    return admin


def audit(action: str, target: str = "", outcome: str = "ok", **details: Any) -> None:
    """Write one audit entry for the logged-in account (committed with the request's work)."""
    admin = current_admin()
    audit_mod.record(get_session(), actor=admin.username if admin else details.pop("actor", "-"),
                     region_prefix=admin.region_prefix if admin else "", action=action,
                     target=target, outcome=outcome, details=details,
                     remote_addr=request.remote_addr or "",
                     user_agent=request.headers.get("User-Agent", "")[:200])


def require(role: str) -> Callable:
    """The view needs ``role`` (viewer, operator, key_manager); refused attempts are audited."""
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            admin = current_admin()
            if admin is None or not admin.has(role):
                audit(f"refused:{request.endpoint}", request.path, "refused", needs=role)
                get_session().commit()
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator


@bp.before_request
def _guard():
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token") or request.headers.get("X-CSRFToken"))
        except (ValidationError, CSRFError) as exc:
            _load_admin()
            audit("refused:csrf", request.path, "refused", reason=str(exc))
            get_session().commit()
            return render_template("error.html", code=400,
                                   message=_("The form's security token is missing or expired. "
                                             "Reload the page and try again.")), 400
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if _load_admin() is None:
        return redirect(url_for("console.login", next=request.full_path
                                if request.method == "GET" else None))
    return None


def _load_admin() -> admins.Admin | None:
    g.admin = None
    username, epoch = session.get("u"), session.get("e")
    if not username:
        return None
    row = get_session().query(ConsoleAccount).filter_by(username=username).one_or_none()
    if row is None or row.disabled or row.session_epoch != epoch:
        session.clear()
        return None
    g.admin = admins.admin_of(row)
    return g.admin


def _rate_limited() -> bool:
    limiter, limits_ = current_app.extensions[LIMITER]
    key = request.remote_addr or "-"
    return not all(limiter.hit(limit, "console-login", key) for limit in limits_)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()
    if _rate_limited():
        audit("login", username, "refused", actor=username or "-", reason="rate limited")
        get_session().commit()
        return render_template("login.html", error=_("Too many attempts from this address. Wait a "
                                                     "minute and try again."), username=username), 429
    cfg = current_app.config
    db = get_session()
    try:
        row = admins.authenticate(db, vault(), username, request.form.get("password", ""),
                                  request.form.get("code"),
                                  lockout_failures=cfg["CONSOLE_LOCKOUT_FAILURES"],
                                  lockout_minutes=cfg["CONSOLE_LOCKOUT_MINUTES"])
    except admins.LoginRefused as exc:
        audit("login", username, "refused", actor=username or "-", reason=exc.reason)
        db.commit()
        return render_template("login.html", username=username,
                               error=_("Wrong user name, password or code, or the account is "
                                       "locked.")), 401
    session.clear()
    session.permanent = True
    session.update(u=row.username, e=row.session_epoch,
                   lang=request.cookies.get("vgw_lang") or cfg["CONSOLE_LANGUAGE"])
    g.admin = admins.admin_of(row)
    audit("login", row.username)
    db.commit()
    target = request.form.get("next") or ""
    if not target.startswith("/console") or target.startswith("//"):
        target = url_for("console.overview")
    return redirect(target)


@bp.route("/logout", methods=["POST"])
def logout():
    audit("logout", current_admin().username)
    get_session().commit()
    session.clear()
    flash(_("Logged out."))
    return redirect(url_for("console.login"))
