"""Liveness and readiness: is the process up, and can it reach its store."""

from flask import Blueprint, current_app
from sqlalchemy import text

from gateway import store

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """The store answers and is migrated."""
    with current_app.extensions["store.engine"].connect() as conn:
        conn.execute(text("SELECT 1"))
    revision = store.current_revision(current_app)
    status = 200 if revision else 503
    return {"status": "ok" if revision else "store not migrated: run `vgw db upgrade`",
            "revision": revision}, status
