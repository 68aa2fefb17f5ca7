"""The console's accounts: the key manager manages the accounts of its region (the policy is
gateway/services/admins.py's); every account changes its own password and its TOTP."""

from __future__ import annotations

import segno
from flask import abort, flash, redirect, render_template, request, session, url_for

from gateway.console import bp
from gateway.console.auth import audit, require, signed_in_admin
from gateway.console.i18n import _
from gateway.privacy import vault
from gateway.services import admins
from gateway.store import get_session

ROLES = ("operator", "key_manager")          # viewer: every account


def _refused(action: str, target: str, exc: Exception, back: str):
    db = get_session()
    db.rollback()
    audit(action, target, "refused", reason=str(exc)[:300])
    db.commit()
    flash(str(exc), "error")
    return redirect(back)


def _accounts_page(once: dict | None = None):
    rows = admins.managed(get_session(), signed_in_admin())
    return render_template("accounts.html", rows=rows, roles=ROLES, once=once,
                           grantable=[r for r in ROLES if signed_in_admin().has(r)])


@bp.route("/accounts")
@require(admins.MANAGER_ROLE)
def accounts():
    return _accounts_page()


@bp.route("/accounts", methods=["POST"])
@require(admins.MANAGER_ROLE)
def account_add():
    db = get_session()
    manager = signed_in_admin()
    form = request.form
    username = form.get("username", "").strip()
    try:
        roles, region = admins.check_grant(manager, form.getlist("role"), form.get("region", ""))
        password = admins.generate_password()
        row = admins.add(db, username, password, roles=roles, region_prefix=region,
                         display_name=form.get("display_name", "").strip()[:80])
    except admins.AccountError as exc:
        return _refused("account.add", username, exc, url_for("console.accounts"))
    audit("account.add", row.username, roles=row.roles, region_prefix=row.region_prefix)
    db.commit()
    # the password is shown in this answer only (never in a redirect's flash, which the
    # session cookie would carry)
    return _accounts_page({"username": row.username, "password": password, "added": True})


@bp.route("/accounts/<username>/<action>", methods=["POST"])
@require(admins.MANAGER_ROLE)
def account_action(username: str, action: str):
    db = get_session()
    manager = signed_in_admin()
    back = url_for("console.accounts") + f"#account-{username}"
    try:
        if action == "roles":
            row = admins.set_roles(db, manager, username, request.form.getlist("role"))
            audit("account.roles", username, roles=row.roles)
            flash(_("Saved"), "ok")
        elif action in ("disable", "enable", "reset-password"):
            password = admins.managed_action(db, manager, username, action)
            audit(f"account.{action}", username)
            if password:
                db.commit()
                return _accounts_page({"username": username, "password": password, "added": False})
            flash(_("Saved"), "ok")
        else:
            abort(404)
    except admins.AccountError as exc:
        return _refused(f"account.{action}", username, exc, back)
    db.commit()
    return redirect(back)


# -- one's own account ---------------------------------------------------------------------------

PENDING = "totp_pending"


@bp.route("/me")
def me():
    row = admins.get(get_session(), signed_in_admin().username)
    pending = session.get(PENDING)
    enrol = None
    if pending and row.totp_secret_enc is None:
        secret = vault().decrypt(pending)
        uri = admins.totp_uri(secret, row.username)
        enrol = {"secret": secret, "uri": uri, "qr": segno.make(uri, error="m").svg_data_uri(scale=4)}
    return render_template("me.html", row=row, enrol=enrol)


@bp.route("/me/<action>", methods=["POST"])
def me_action(action: str):
    db = get_session()
    admin = signed_in_admin()
    form = request.form
    back = url_for("console.me")
    try:
        if action == "password":
            if form.get("new", "") != form.get("repeat", ""):
                raise admins.AccountError(_("The two new passwords differ."))
            row = admins.change_password(db, admin.username, form.get("current", ""),
                                         form.get("new", ""))
            session["e"] = row.session_epoch       # this session goes on, the others end
            audit("me.password", admin.username)
            flash(_("Password changed; your other sessions are logged out."), "ok")
        elif action == "totp-start":
            session[PENDING] = vault().encrypt(admins.new_totp_secret())
            audit("me.totp-start", admin.username)
        elif action == "totp-confirm":
            pending = session.get(PENDING)
            if not pending:
                raise admins.AccountError(_("Start the enrolment first."))
            admins.confirm_totp(db, vault(), admin.username, vault().decrypt(pending),
                                form.get("code", ""))
            session.pop(PENDING, None)
            audit("me.totp-enrol", admin.username)
            flash(_("Second factor on: the next login asks for a code."), "ok")
        elif action == "totp-remove":
            admins.remove_totp(db, admin.username, form.get("password", ""))
            audit("me.totp-remove", admin.username)
            flash(_("Second factor removed."), "ok")
        else:
            abort(404)
    except admins.AccountError as exc:
        return _refused(f"me.{action}", admin.username, exc, back)
    db.commit()
    return redirect(back)
