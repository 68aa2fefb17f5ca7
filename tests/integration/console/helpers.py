"""Helpers of the console tests: accounts, logging in with the page's CSRF token, posting."""

from __future__ import annotations

import re

from gateway import store
from gateway.services import admins

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_admin(app, username: str, *roles: str, region: str = "") -> None:
    with store.session_scope(app) as session:
        admins.add(session, username, PASSWORD, roles=roles, region_prefix=region)


def token_of(page: bytes) -> str:
    found = _TOKEN.search(page.decode())
    assert found, "the page has no CSRF token"
    return found.group(1)


def login(client, username: str, password: str = PASSWORD, code: str | None = None):
    page = client.get("/console/login")
    data = {"username": username, "password": password, "csrf_token": token_of(page.data)}
    if code is not None:
        data["code"] = code
    return client.post("/console/login", data=data)


def logged_in(app, username: str, *roles: str, region: str = ""):
    add_admin(app, username, *roles, region=region)
    client = app.test_client()
    answer = login(client, username)
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/", answer.data
    return client


def post(client, path: str, data: dict | None = None, page: str = "/console/"):
    """POST with the CSRF token of ``page`` (as the browser would)."""
    token = token_of(client.get(page).data)
    return client.post(path, data={"csrf_token": token, **(data or {})})


def audit_rows(app):
    from sqlalchemy import select

    from gateway.store.models import ConsoleAudit

    with app.extensions["store.sessionmaker"]() as session:
        return [(r.actor, r.action, r.target, r.outcome, r.details) for r in
                session.execute(select(ConsoleAudit).order_by(ConsoleAudit.id)).scalars()]
