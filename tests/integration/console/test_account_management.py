"""Managing administrator accounts in the console, on both stores: the key manager adds,
disables, enables, resets and changes roles of the accounts in its region only, never wider
than its own region or its own roles; every account changes its own password and enrols or
removes its TOTP; CSRF on every form; every action (and refusal) in the audit trail."""

from __future__ import annotations

import re

import pyotp

from gateway import store
from gateway.services import admins
from tests.integration.console.helpers import PASSWORD, audit_rows, logged_in, login, post


def _account(app, username):
    with store.session_scope(app) as session:
        row = admins.get(session, username)
        return {"roles": list(row.roles), "region": row.region_prefix, "disabled": row.disabled,
                "totp": row.totp_secret_enc is not None}


def _once_password(page: str) -> str:
    found = re.search(r'<code id="once-password">([^<]+)</code>', page)
    assert found, "no password shown"
    return found.group(1)


def test_only_a_key_manager_manages_accounts(store_app):
    for roles in ((), ("operator",)):
        client = logged_in(store_app, f"u{len(roles)}", *roles)
        assert client.get("/console/accounts").status_code == 403
        answer = post(client, "/console/accounts", {"username": "sneaky", "role": "operator"})
        assert answer.status_code == 403
        assert "账号管理" not in client.get("/console/").data.decode()      # no menu entry
    with store.session_scope(store_app) as session:
        assert "sneaky" not in {r["username"] for r in admins.listing(session)}
    refused = [(a, act) for a, act, _t, o, _d in audit_rows(store_app) if o == "refused"]
    assert ("u1", "refused:console.account_add") in refused


def test_a_province_manager_adds_inside_its_region_only(store_app):
    manager = logged_in(store_app, "js-keys", "key_manager", "operator", region="32")
    logged_in(store_app, "zj-ops", "operator", region="33")
    logged_in(store_app, "national", "operator")
    page = manager.get("/console/accounts").data.decode()
    assert "js-keys" in page and "zj-ops" not in page and "national" not in page

    answer = post(manager, "/console/accounts", {"username": "nj-ops", "display_name": "南京",
                                                 "region": "3201", "role": ["operator"]},
                  page="/console/accounts")
    assert answer.status_code == 200
    password = _once_password(answer.data.decode())
    assert _account(store_app, "nj-ops") == {"roles": ["operator", "viewer"], "region": "3201",
                                             "disabled": False, "totp": False}
    assert login(store_app.test_client(), "nj-ops", password).status_code == 302
    # the password is in that answer only: not in a cookie, not in the audit trail
    assert all(password not in str(d) for *_r, d in audit_rows(store_app))

    for region in ("", "33", "3"):                      # the whole country, another province, bad
        answer = post(manager, "/console/accounts", {"username": f"wide{region}", "region": region},
                      page="/console/accounts")
        assert answer.status_code == 302
    with store.session_scope(store_app) as session:
        names = {r["username"] for r in admins.listing(session)}
    assert not names & {"wide", "wide33", "wide3"}
    outcomes = [(act, t, o) for _a, act, t, o, _d in audit_rows(store_app) if act == "account.add"]
    assert outcomes == [("account.add", "nj-ops", "ok"), ("account.add", "wide", "refused"),
                        ("account.add", "wide33", "refused"), ("account.add", "wide3", "refused")]

    # another province's account is out of reach, as if it did not exist
    for action in ("disable", "reset-password", "roles"):
        post(manager, f"/console/accounts/zj-ops/{action}", {"role": "key_manager"},
             page="/console/accounts")
    assert _account(store_app, "zj-ops") == {"roles": ["operator", "viewer"], "region": "33",
                                             "disabled": False, "totp": False}


def test_no_account_gives_a_role_it_does_not_hold(store_app):
    keys_only = logged_in(store_app, "keys", "key_manager")
    post(keys_only, "/console/accounts", {"username": "op1", "role": ["operator"]},
         page="/console/accounts")
    post(keys_only, "/console/accounts", {"username": "kv", "role": ["key_manager"]},
         page="/console/accounts")
    with store.session_scope(store_app) as session:
        names = {r["username"] for r in admins.listing(session)}
    assert "op1" not in names and _account(store_app, "kv")["roles"] == ["key_manager", "viewer"]
    post(keys_only, "/console/accounts/kv/roles", {"role": ["operator", "key_manager"]},
         page="/console/accounts")
    assert _account(store_app, "kv")["roles"] == ["key_manager", "viewer"]
    # nor changes its own roles or disables itself
    post(keys_only, "/console/accounts/keys/roles", {}, page="/console/accounts")
    post(keys_only, "/console/accounts/keys/disable", page="/console/accounts")
    assert _account(store_app, "keys") == {"roles": ["key_manager", "viewer"], "region": "",
                                           "disabled": False, "totp": False}


def test_disable_enable_reset_and_roles_end_sessions_and_are_audited(store_app):
    manager = logged_in(store_app, "boss", "key_manager", "operator")
    worker = logged_in(store_app, "worker")
    assert post(manager, "/console/accounts/worker/roles", {"role": ["operator"]},
                page="/console/accounts").status_code == 302
    assert _account(store_app, "worker")["roles"] == ["operator", "viewer"]
    assert worker.get("/console/").status_code == 302              # its session ended
    post(manager, "/console/accounts/worker/disable", page="/console/accounts")
    assert _account(store_app, "worker")["disabled"] is True
    assert login(store_app.test_client(), "worker").status_code == 401
    post(manager, "/console/accounts/worker/enable", page="/console/accounts")
    answer = post(manager, "/console/accounts/worker/reset-password", page="/console/accounts")
    password = _once_password(answer.data.decode())
    assert login(store_app.test_client(), "worker").status_code == 401   # the old one is gone
    assert login(store_app.test_client(), "worker", password).status_code == 302
    trail = [(a, act, t) for a, act, t, o, _d in audit_rows(store_app) if act.startswith("account.")]
    assert trail == [("boss", "account.roles", "worker"), ("boss", "account.disable", "worker"),
                     ("boss", "account.enable", "worker"), ("boss", "account.reset-password", "worker")]


def test_the_forms_need_their_csrf_token(store_app):
    manager = logged_in(store_app, "boss", "key_manager")
    logged_in(store_app, "worker")
    for path, data in [("/console/accounts", {"username": "x1"}),
                       ("/console/accounts/worker/disable", {}),
                       ("/console/me/password", {"current": PASSWORD, "new": "n" * 12, "repeat": "n" * 12})]:
        assert manager.post(path, data=data).status_code == 400
    assert _account(store_app, "worker")["disabled"] is False
    assert login(store_app.test_client(), "boss").status_code == 302           # password unchanged


def test_each_account_changes_its_own_password(store_app):
    me = logged_in(store_app, "me")
    other_session = logged_in(store_app, "me2")
    login(other_session, "me")                       # a second session of the same account
    wrong = post(me, "/console/me/password", {"current": "not it at all", "new": "new password 1",
                                              "repeat": "new password 1"}, page="/console/me")
    assert wrong.status_code == 302 and login(store_app.test_client(), "me").status_code == 302
    post(me, "/console/me/password", {"current": PASSWORD, "new": "new password 1",
                                      "repeat": "new password 2"}, page="/console/me")
    assert login(store_app.test_client(), "me").status_code == 302
    post(me, "/console/me/password", {"current": PASSWORD, "new": "new password 1",
                                      "repeat": "new password 1"}, page="/console/me")
    assert login(store_app.test_client(), "me").status_code == 401
    assert login(store_app.test_client(), "me", "new password 1").status_code == 302
    assert me.get("/console/").status_code == 200             # this session goes on
    assert other_session.get("/console/").status_code == 302  # the other one ended
    outcomes = [o for a, act, _t, o, _d in audit_rows(store_app) if act == "me.password"]
    assert outcomes == ["refused", "refused", "ok"]


def test_totp_is_enrolled_with_a_confirming_code_and_removed_with_the_password(store_app):
    me = logged_in(store_app, "me")
    post(me, "/console/me/totp-start", page="/console/me")
    page = me.get("/console/me").data.decode()
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    assert 'src="data:image/svg+xml' in page                 # the QR code, served inline
    assert _account(store_app, "me")["totp"] is False        # not on until a code confirms it
    post(me, "/console/me/totp-confirm", {"code": "000000"}, page="/console/me")
    assert _account(store_app, "me")["totp"] is False
    post(me, "/console/me/totp-confirm", {"code": pyotp.TOTP(secret).now()}, page="/console/me")
    assert _account(store_app, "me")["totp"] is True
    assert login(store_app.test_client(), "me").status_code == 401
    assert login(store_app.test_client(), "me", code=pyotp.TOTP(secret).now()).status_code == 302
    post(me, "/console/me/totp-remove", {"password": "wrong password"}, page="/console/me")
    assert _account(store_app, "me")["totp"] is True
    post(me, "/console/me/totp-remove", {"password": PASSWORD}, page="/console/me")
    assert _account(store_app, "me")["totp"] is False
    trail = [(act, o) for _a, act, _t, o, _d in audit_rows(store_app) if act.startswith("me.totp")]
    assert trail == [("me.totp-start", "ok"), ("me.totp-confirm", "refused"),
                     ("me.totp-enrol", "ok"), ("me.totp-remove", "refused"), ("me.totp-remove", "ok")]
