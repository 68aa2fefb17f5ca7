"""Console accounts: login, lockout, TOTP, sessions ended by a reset, CSRF, the audit trail."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from gateway import store
from gateway.services import admins
from gateway.store.models import AlertRule
from tests.integration.console.helpers import (PASSWORD, add_admin, audit_rows, logged_in, login,
                                               post)


def test_a_page_needs_a_login_and_the_login_is_audited(store_app):
    client = store_app.test_client()
    answer = client.get("/console/dead-letters")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/console/login")
    add_admin(store_app, "ops", "operator")
    assert login(client, "ops", "wrong password!").status_code == 401
    assert login(client, "ops").status_code == 302
    assert client.get("/console/dead-letters").status_code == 200
    rows = audit_rows(store_app)
    assert [(a, act, o) for a, act, _t, o, _d in rows] == [
        ("ops", "login", "refused"), ("ops", "login", "ok")]
    assert rows[0][4]["reason"] == "wrong password"


def test_the_session_cookie_is_httponly_samesite_and_secure(store_app):
    add_admin(store_app, "ops")
    answer = login(store_app.test_client(), "ops")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Path=/console" in cookie


def test_wrong_passwords_lock_the_account_even_for_the_right_one(store_app):
    store_app.config.update(CONSOLE_LOCKOUT_FAILURES=3)
    add_admin(store_app, "ops")
    client = store_app.test_client()
    for _ in range(3):
        assert login(client, "ops", "not the password").status_code == 401
    assert login(client, "ops").status_code == 401          # locked
    reasons = [d.get("reason") for _a, _x, _t, _o, d in audit_rows(store_app)]
    assert reasons[-2:] == ["wrong password; account locked", "locked"]
    with store.session_scope(store_app) as session:
        admins.reset_password(session, "ops", PASSWORD)    # unlocks
    assert login(client, "ops").status_code == 302


def test_logins_are_rate_limited_per_address(app):
    app.config.update(CONSOLE_LOCKOUT_FAILURES=100)
    from gateway.console import auth
    from limits import parse_many

    limiter, _ = app.extensions[auth.LIMITER]
    app.extensions[auth.LIMITER] = (limiter, parse_many("3 per minute"))
    add_admin(app, "ops")
    client = app.test_client()
    codes = [login(client, "ops", "nope nope nope").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert login(client, "ops").status_code == 429


def test_totp_is_required_once_enabled(store_app):
    add_admin(store_app, "ops")
    with store.session_scope(store_app) as session:
        secret = admins.enable_totp(session, store_app.extensions["privacy.vault"], "ops")
    client = store_app.test_client()
    assert login(client, "ops").status_code == 401
    assert login(client, "ops", code="000000").status_code == 401
    assert login(client, "ops", code=pyotp.TOTP(secret).now()).status_code == 302


def test_reset_password_and_disable_end_open_sessions(store_app):
    client = logged_in(store_app, "ops")
    with store.session_scope(store_app) as session:
        admins.reset_password(session, "ops", "another long password")
    assert client.get("/console/").status_code == 302
    other = logged_in(store_app, "ops2")
    with store.session_scope(store_app) as session:
        admins.disable(session, "ops2")
    assert other.get("/console/").status_code == 302
    assert login(store_app.test_client(), "ops2").status_code == 401


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(store_app):
    client = logged_in(store_app, "ops", "operator")
    answer = client.post("/console/alerts/rules", data={"name": "r", "kind": "stale", "threshold": "60"})
    assert answer.status_code == 400
    answer = client.post("/console/alerts/rules", data={"name": "r", "kind": "stale", "threshold": "60",
                                                         "csrf_token": "forged"})
    assert answer.status_code == 400
    with store_app.extensions["store.sessionmaker"]() as session:
        assert session.execute(select(func.count()).select_from(AlertRule)).scalar_one() == 0
    assert [o for _a, act, _t, o, _d in audit_rows(store_app) if act == "refused:csrf"] == ["refused", "refused"]
    answer = post(client, "/console/alerts/rules", {"name": "quiet", "kind": "stale", "threshold": "60"})
    assert answer.status_code == 302


def test_the_login_form_itself_needs_its_token(store_app):
    add_admin(store_app, "ops")
    answer = store_app.test_client().post("/console/login", data={"username": "ops", "password": PASSWORD})
    assert answer.status_code == 400


def test_the_audit_trail_refuses_update_and_delete_in_the_database(store_app):
    add_admin(store_app, "ops")
    login(store_app.test_client(), "ops")
    engine = store_app.extensions["store.engine"]
    for statement in ("UPDATE console_audit SET actor = 'someone else'", "DELETE FROM console_audit"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(statement))
    assert [a for a, *_ in audit_rows(store_app)] == ["ops"]


def test_the_console_shows_the_audit_trail(store_app):
    client = logged_in(store_app, "ops", "operator")
    post(client, "/console/alerts/rules", {"name": "quiet", "kind": "stale", "threshold": "60"})
    page = client.get("/console/audit").data.decode()
    assert "alert_rule.add" in page and "quiet" in page and "127.0.0.1" in page


def test_english_is_one_click_away(store_app):
    client = logged_in(store_app, "ops")
    assert "死信" in client.get("/console/").data.decode()
    client.get("/console/lang/en?next=/console/")
    page = client.get("/console/").data.decode()
    assert "Dead letters" in page and "死信" not in page


def test_admins_cli(store_app):
    runner = store_app.test_cli_runner()
    result = runner.invoke(args=["admins", "add", "ann", "--role", "operator", "--region", "32",
                                 "--generate-password"])
    assert result.exit_code == 0, result.output
    password = result.output.split("password: ")[1].strip()
    result = runner.invoke(args=["admins", "list"])
    assert "ann" in result.output and "operator" in result.output and "32" in result.output
    assert login(store_app.test_client(), "ann", password).status_code == 302
    assert runner.invoke(args=["admins", "reset-password", "ann"],
                         env={"VGW_ADMIN_PASSWORD": "a brand new password"}).exit_code == 0
    assert login(store_app.test_client(), "ann", "a brand new password").status_code == 302
    assert runner.invoke(args=["admins", "disable", "ann"]).exit_code == 0
    assert login(store_app.test_client(), "ann", "a brand new password").status_code == 401
    actions = [act for actor, act, *_ in audit_rows(store_app) if actor == "cli"]
    assert actions == ["admins.add", "admins.reset-password", "admins.disable"]
    assert runner.invoke(args=["admins", "add", "x", "--role", "operator"],
                         env={"VGW_ADMIN_PASSWORD": "short"}).exit_code != 0
