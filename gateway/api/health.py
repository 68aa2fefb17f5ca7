"""Liveness and readiness: is the process up, and can it reach its store."""

from flask import Blueprint, current_app
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gateway import errors, store

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """The store answers and is migrated; 503 with Retry-After while it cannot be reached."""
    try:
        with current_app.extensions["store.engine"].connect() as conn:
            conn.execute(text("SELECT 1"))
        revision = store.current_revision(current_app)
    except DBAPIError as exc:
        if not errors.store_unavailable(exc):
            raise
        seconds = errors.STORE_RETRY_AFTER_SECONDS
        return {"status": "store unavailable", "store": "down", "revision": None}, 503, \
            {"Retry-After": str(seconds)}
    status = 200 if revision else 503
    return {"status": "ok" if revision else "store not migrated: run `vgw db upgrade`",
            "revision": revision}, status
