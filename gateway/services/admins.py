"""Console accounts: create, list, disable, reset a password, log in (with lockout and TOTP).

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher`` with its defaults, which
follow RFC 9106's recommendations); a hash made with older parameters is rehashed at the next
good login. After ``lockout_failures`` wrong passwords in a row an account is locked for
``lockout_minutes``; a locked account is refused even with the right password. The optional
second factor is TOTP (RFC 6238, pyotp), its secret encrypted at rest with the vault.

Plain functions on a SQLAlchemy session; no Flask here.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

import pyotp
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import timefmt
from gateway.passwords import HASHER
from gateway.store.models import ConsoleAccount, utcnow
from gateway.store.models.console import ROLES

__all__ = ["AccountError", "LoginRefused", "Admin", "ROLES", "add", "authenticate", "disable",
           "enable_totp", "get", "listing", "reset_password", "admin_of", "MANAGER_ROLE",
           "check_grant", "managed", "may_manage", "enable", "set_roles", "change_password",
           "new_totp_secret", "confirm_totp", "remove_totp"]

_HASHER = HASHER  # the one password scheme (gateway/passwords.py)
USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
MIN_PASSWORD = 10


class AccountError(ValueError):
    """A bad username, role, region or password, or an unknown / duplicate account."""


class LoginRefused(Exception):
    """Wrong credentials, a locked or disabled account, or a missing / wrong TOTP code.

    ``reason`` is for the audit trail only; the person logging in is told the same thing
    whatever it is (no account enumeration)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Admin:
    """A logged-in administrator, as the console's views see it (no Flask, no ORM)."""

    username: str
    display_name: str
    roles: frozenset[str]
    region_prefix: str = ""

    def has(self, role: str) -> bool:
        return role == "viewer" or role in self.roles

    def covers(self, region: str | None) -> bool:
        """Whether something in region ``region`` ('' = the whole country) is in scope."""
        if not self.region_prefix:
            return True
        return bool(region) and region.startswith(self.region_prefix)


def admin_of(row: ConsoleAccount) -> Admin:
    return Admin(row.username, row.display_name or row.username, frozenset(row.roles or ()),
                 row.region_prefix or "")


def _check_roles(roles: Iterable[str]) -> list[str]:
    roles = sorted(set(roles) | {"viewer"})
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise AccountError(f"unknown role(s) {unknown}: use {', '.join(ROLES)}")
    return roles


def _check_region(region: str) -> str:
    if region and (not region.isdigit() or len(region) not in (2, 4, 6)):
        raise AccountError("region prefix must be 2, 4 or 6 digits (or empty for the whole country)")
    return region


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must have at least {MIN_PASSWORD} characters")


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def get(session: Session, username: str) -> ConsoleAccount:
    row = session.execute(select(ConsoleAccount).where(ConsoleAccount.username == username)
                          ).scalar_one_or_none()
    if row is None:
        raise AccountError(f"no account {username!r}")
    return row


def add(session: Session, username: str, password: str, *, roles: Iterable[str] = (),
        region_prefix: str = "", display_name: str = "") -> ConsoleAccount:
    if not USERNAME_RE.match(username):
        raise AccountError("username: 2–64 of A–Z a–z 0–9 . _ @ -")
    check_password(password)
    exists = session.execute(select(ConsoleAccount.id).where(ConsoleAccount.username == username)
                             ).scalar_one_or_none()
    if exists is not None:
        raise AccountError(f"account {username!r} exists")
    row = ConsoleAccount(username=username, display_name=display_name or username,
                         password_hash=_HASHER.hash(password), roles=_check_roles(roles),
                         region_prefix=_check_region(region_prefix), disabled=False,
                         failed_logins=0, session_epoch=0, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def listing(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(ConsoleAccount).order_by(ConsoleAccount.username)).scalars()
    return [{"username": r.username, "display_name": r.display_name, "roles": list(r.roles),
             "region_prefix": r.region_prefix, "totp": r.totp_secret_enc is not None,
             "disabled": r.disabled,
             "locked_until": timefmt.iso(r.locked_until),
             "last_login_at": timefmt.iso(r.last_login_at)}
            for r in rows]


def disable(session: Session, username: str) -> ConsoleAccount:
    """Disable an account; its open sessions end at their next request."""
    row = get(session, username)
    row.disabled = True
    row.session_epoch += 1
    return row


def reset_password(session: Session, username: str, password: str) -> ConsoleAccount:
    """Set a new password, unlock the account and end its open sessions."""
    check_password(password)
    row = get(session, username)
    row.password_hash = _HASHER.hash(password)
    row.failed_logins = 0
    row.locked_until = None
    row.session_epoch += 1
    return row


def enable_totp(session: Session, vault: Any, username: str) -> str:
    """Give the account a new TOTP secret (returned once, for the authenticator app)."""
    row = get(session, username)
    secret = pyotp.random_base32()
    row.totp_secret_enc = vault.encrypt(secret)
    return secret


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="vgw console")


def authenticate(session: Session, vault: Any, username: str, password: str, code: str | None, *,
                 lockout_failures: int, lockout_minutes: int,
                 now: datetime | None = None) -> ConsoleAccount:
    """The account if ``password`` (and ``code`` when it has TOTP) is right; else LoginRefused.

    A wrong password counts towards the lockout; the caller commits either way."""
    now = now or utcnow()
    row = session.execute(select(ConsoleAccount).where(ConsoleAccount.username == username)
                          ).scalar_one_or_none()
    if row is None:
        _HASHER.hash(password)  # the same work as a real check: no timing hint of who exists
        raise LoginRefused("unknown account")
    if row.locked_until is not None and row.locked_until > now:
        raise LoginRefused("locked")
    try:
        _HASHER.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        row.failed_logins += 1
        if row.failed_logins >= lockout_failures:
            row.locked_until = now + timedelta(minutes=lockout_minutes)
            row.failed_logins = 0
            raise LoginRefused("wrong password; account locked") from None
        raise LoginRefused("wrong password") from None
    if row.disabled:
        raise LoginRefused("disabled")
    if row.totp_secret_enc is not None:
        secret = vault.decrypt(row.totp_secret_enc)
        if not code or not pyotp.TOTP(secret).verify(code.strip(), valid_window=1):
            row.failed_logins += 1
            raise LoginRefused("wrong or missing TOTP code")
    if _HASHER.check_needs_rehash(row.password_hash):
        row.password_hash = _HASHER.hash(password)
    row.failed_logins = 0
    row.locked_until = None
    row.last_login_at = now
    return row


# -- accounts managed from the console -------------------------------------------------------
#
# The role that manages accounts is the key manager's: an account is a credential to the
# gateway as a client key is, and keeping both with one role keeps "who may get in" apart from
# "who may operate the syncs" (an operator cannot give itself more). The rules below are the
# whole policy; the console only calls them. ``vgw admins`` (a shell on the server) is not
# bound by them: it is where the first account of each region is made.

MANAGER_ROLE = "key_manager"


def may_manage(manager: Admin, row: ConsoleAccount) -> bool:
    """Whether ``manager`` may see and change account ``row``: inside its region."""
    return manager.has(MANAGER_ROLE) and manager.covers(row.region_prefix or "")


def check_grant(manager: Admin, roles: Iterable[str], region_prefix: str) -> tuple[list[str], str]:
    """The roles and region ``manager`` may give an account, checked; AccountError if not.

    Never a region wider than the manager's own (an empty region is the whole country), never
    a role the manager does not hold itself."""
    roles = _check_roles(roles)
    region_prefix = _check_region(region_prefix.strip())
    if not manager.covers(region_prefix):
        raise AccountError(f"region {region_prefix or 'whole country'!r} is outside your region "
                           f"{manager.region_prefix!r}")
    beyond = [r for r in roles if not manager.has(r)]
    if beyond:
        raise AccountError(f"you cannot give role(s) you do not hold: {', '.join(beyond)}")
    return roles, region_prefix


def managed(session: Session, manager: Admin) -> list[dict[str, Any]]:
    """:func:`listing` cut to the accounts ``manager`` may manage."""
    return [r for r in listing(session) if manager.covers(r["region_prefix"] or "")]


def _managed_row(session: Session, manager: Admin, username: str) -> ConsoleAccount:
    row = get(session, username)
    if not may_manage(manager, row):
        raise AccountError(f"no account {username!r}")   # outside the region: as if absent
    return row


def _not_self(manager: Admin, username: str, what: str) -> None:
    if manager.username == username:
        raise AccountError(f"you cannot {what} your own account")


def enable(session: Session, username: str) -> ConsoleAccount:
    """Enable a disabled account again (it logs in afresh)."""
    row = get(session, username)
    row.disabled = False
    return row


def set_roles(session: Session, manager: Admin, username: str, roles: Iterable[str]) -> ConsoleAccount:
    """Change another account's roles (within ``manager``'s own); its sessions end."""
    _not_self(manager, username, "change the roles of")
    row = _managed_row(session, manager, username)
    row.roles, _region = check_grant(manager, roles, row.region_prefix or "")
    row.session_epoch += 1
    return row


def managed_action(session: Session, manager: Admin, username: str, action: str) -> str | None:
    """disable / enable / reset-password of another account in ``manager``'s region; returns
    the new password for a reset (shown once)."""
    if action not in ("disable", "enable", "reset-password"):
        raise AccountError(f"unknown action {action!r}")
    _not_self(manager, username, action.replace("-", " ") + " on")
    _managed_row(session, manager, username)
    if action == "disable":
        disable(session, username)
    elif action == "enable":
        enable(session, username)
    else:
        password = generate_password()
        reset_password(session, username, password)
        return password
    return None


def change_password(session: Session, username: str, current: str, new: str) -> ConsoleAccount:
    """An account changes its own password (the current one proves it); its other sessions end."""
    row = get(session, username)
    try:
        _HASHER.verify(row.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise AccountError("the current password is wrong") from None
    if new == current:
        raise AccountError("the new password is the current one")
    return reset_password(session, username, new)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def confirm_totp(session: Session, vault: Any, username: str, secret: str, code: str) -> ConsoleAccount:
    """Turn on TOTP with ``secret`` once ``code`` from the authenticator matches (so an account
    cannot lock itself out with a secret its app never took)."""
    if not code or not pyotp.TOTP(secret).verify(code.strip(), valid_window=1):
        raise AccountError("the code does not match: check the authenticator app's clock")
    row = get(session, username)
    row.totp_secret_enc = vault.encrypt(secret)
    return row


def remove_totp(session: Session, username: str, password: str) -> ConsoleAccount:
    """Remove the account's TOTP second factor (its password proves it is the owner)."""
    row = get(session, username)
    try:
        _HASHER.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise AccountError("the password is wrong") from None
    row.totp_secret_enc = None
    return row
