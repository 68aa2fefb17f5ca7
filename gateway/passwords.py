"""Passwords of teams (join password) and projects (recruitment password): one scheme.

New hashes are argon2id (argon2-cffi's ``PasswordHasher`` with its defaults, the same
library and parameters as the console's accounts, gateway/services/admins.py), in the PHC
string form (parameters and salt inside, about 97 characters: fits the String(128) column).

Hashes stored before this module (issue 13) still verify:

- ``scrypt$n$r$p$salt$hash`` (base64): team join passwords of the hand-written scheme
  that registration.py used;
- werkzeug's ``method$salt$hash`` (``scrypt:…`` / ``pbkdf2:…``): project recruitment
  passwords, verified by werkzeug itself (a dependency of Flask, always installed).

:func:`needs_rehash` says when a stored hash should be replaced by :func:`hash_password` of
the password that has just verified; the services do that on use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["HASHER", "check_password", "hash_password", "needs_rehash"]

HASHER = PasswordHasher()
_ARGON2 = "$argon2"
_LEGACY_SCRYPT = "scrypt$"
_WERKZEUG = ("scrypt:", "pbkdf2:")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (PHC string)."""
    return HASHER.hash(password)


def check_password(stored: str | None, password: Any) -> bool:
    """Whether ``password`` matches ``stored`` (any scheme above; constant time)."""
    if not stored or not isinstance(password, str):
        return False
    if stored.startswith(_ARGON2):
        try:
            return HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    if stored.startswith(_LEGACY_SCRYPT):
        return _check_legacy_scrypt(stored, password)
    if stored.startswith(_WERKZEUG):
        # only to verify hashes written before argon2id; nothing new is hashed this way
        from werkzeug.security import check_password_hash

        return check_password_hash(stored, password)
    return False


def needs_rehash(stored: str | None) -> bool:
    """Whether a hash that has just verified should be replaced (older scheme or parameters)."""
    if not stored:
        return False
    return not stored.startswith(_ARGON2) or HASHER.check_needs_rehash(stored)


def _check_legacy_scrypt(stored: str, password: str) -> bool:
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
        expected = _unb64(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
