"""The gateway's own Ed25519 signing keys, their public JWK set, and canonical JSON.

Keys live in ``<KEYS_DIR>/signing/`` (folder mode 0700), one unencrypted PKCS#8 PEM file per
key, named ``<kid>.pem`` (mode 0600). A kid looks like ``gw-20261129-a1b2``: ``gw-``, the UTC
date the key was made, and a short random suffix.

**Which key is active.** A small file ``<KEYS_DIR>/signing/active`` holds the kid of the key
that signs. It is written (atomically) by :meth:`KeyRing.generate`. File modification times
are *not* used for this, because copying or restoring the folder from a backup changes them;
only when ``active`` is missing or names a key that is not there does the ring fall back to
the key file modified last.

**Rotation.** :meth:`KeyRing.generate` adds a key and makes it active. Old keys are never
deleted by the gateway: they stay in :meth:`KeyRing.jwks`, so everything they signed still
verifies. A running server reads the folder when it starts; after ``vgw signing-keys
generate`` restart it (or call :meth:`KeyRing.reload`) for it to sign with the new key.

**Verifying.** :func:`verify_with_jwks` needs nothing but the public JWK set (RFC 8037,
``{"kty": "OKP", "crv": "Ed25519", "x": …}``), which is how a third party verifies offline.

**Canonical JSON.** :func:`canonical_json` is what gets signed: RFC 8785 (JCS, the rfc8785
package) for the values
the gateway signs — objects with string keys (sorted by UTF-16 code units), arrays, strings,
integers, booleans and null. Floating-point numbers are refused: signed content carries
decimals such as service hours as strings (``"12.50"``), which sidesteps JCS's
number-formatting rules and any float rounding between signer and verifier.

Nothing here touches the network or imports the app.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import secrets
import stat
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
import rfc8785

from gateway.jwk import JWKError, public_key_from_jwk

try:  # POSIX only; elsewhere two processes creating the first key at once is not guarded
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "KeyRing",
    "KeyRingEmpty",
    "KeyRingError",
    "SigningKey",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "init_app",
    "public_jwk",
    "verify_with_jwks",
]

log = logging.getLogger("gateway.signing")

SUBDIR = "signing"
ACTIVE_FILE = "active"
LOCK_FILE = ".lock"
KID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ALG = "EdDSA"
MAX_SAFE_INTEGER = 2**53 - 1  # JCS serialises numbers as IEEE doubles


class KeyRingError(RuntimeError):
    """A key file cannot be read, is not an Ed25519 key, or the folder cannot be written."""


class KeyRingEmpty(KeyRingError, LookupError):
    """There is no signing key yet (and the ring was not asked to create one)."""


# --------------------------------------------------------------------------- encoding

def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url_encode`; raises ValueError on anything else."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_json(obj: Any) -> bytes:
    """Deterministic UTF-8 JSON of ``obj``: RFC 8785 (JCS), written by the rfc8785 package.

    Keys are sorted by their UTF-16 code units, there is no whitespace, non-ASCII text is
    written as itself, and only ``"``, ``\\`` and control characters are escaped. Floats are
    refused here (``TypeError``) before JCS sees them: put decimals in signed content as
    strings. Integers beyond ±(2**53 − 1), non-string keys, lone surrogates and other types
    raise ``ValueError`` (rfc8785's ``CanonicalizationError``).
    """
    _refuse_floats(obj)
    return rfc8785.dumps(obj)


def _refuse_floats(obj: Any) -> None:
    """The no-floats rule (JCS itself would format them; the gateway signs none)."""
    if isinstance(obj, float):
        raise TypeError("canonical JSON: floats are not signed; write decimals as strings")
    if isinstance(obj, Mapping):
        for value in obj.values():
            _refuse_floats(value)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _refuse_floats(item)


# --------------------------------------------------------------------------- JWK

def public_jwk(kid: str, public_key: Ed25519PublicKey) -> dict[str, str]:
    """The RFC 8037 JWK of an Ed25519 public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw), "kid": kid,
            "use": "sig", "alg": ALG}


def _key_from_jwk(jwk: Any) -> Ed25519PublicKey | None:
    """The Ed25519 key of one of the gateway's own JWKs (gateway/jwk.py reads it), else None."""
    if not isinstance(jwk, Mapping) or jwk.get("alg", ALG) != ALG or jwk.get("use", "sig") != "sig":
        return None
    try:
        key = public_key_from_jwk(jwk)
    except JWKError:
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def verify_with_jwks(jwks: Mapping[str, Any], kid: str, data: bytes, signature: bytes) -> bool:
    """True if ``signature`` over ``data`` verifies with the key ``kid`` of the JWK set.

    Needs only the public JWK set (``{"keys": [...]}``); an unknown kid, a malformed set or a
    key of another type gives False rather than an exception.
    """
    if not isinstance(jwks, Mapping) or not isinstance(kid, str):
        return False
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return False
    for jwk in keys:
        if isinstance(jwk, Mapping) and jwk.get("kid") == kid:
            public_key = _key_from_jwk(jwk)
            if public_key is None:
                return False
            try:
                public_key.verify(bytes(signature), bytes(data))
            except (InvalidSignature, TypeError, ValueError):
                return False
            return True
    return False


# --------------------------------------------------------------------------- key ring

@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    path: Path
    created: datetime  # the key file's modification time (UTC)

    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.kid, self.private_key.public_key())


class KeyRing:
    """Every signing key in ``<keys_dir>/signing``; the active one signs, all are published.

    ``KeyRing(keys_dir)`` only reads what is there. With ``create_if_missing=True`` the first
    key is generated when one is first needed (``active``, ``sign``, ``jwks``), so merely
    building the app writes nothing; :meth:`load_or_create` generates it at once.
    """

    def __init__(self, keys_dir: str | os.PathLike[str], *, create_if_missing: bool = False):
        self.keys_dir = Path(keys_dir)
        self.directory = self.keys_dir / SUBDIR
        self.create_if_missing = create_if_missing
        self._lock = threading.RLock()
        self._keys: dict[str, SigningKey] = {}
        self._active_kid: str | None = None
        self.reload()

    @classmethod
    def load_or_create(cls, keys_dir: str | os.PathLike[str]) -> "KeyRing":
        """Load the keys of ``keys_dir``, generating the first one if there is none."""
        ring = cls(keys_dir, create_if_missing=True)
        ring._ensure_key()
        return ring

    # -- reading -------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the key files and the ``active`` file."""
        with self._lock:
            keys: dict[str, SigningKey] = {}
            if self.directory.is_dir():
                for path in sorted(self.directory.glob("*.pem")):
                    key = self._load_file(path)
                    keys[key.kid] = key
            self._keys = keys
            self._active_kid = self._read_active(keys)

    def _load_file(self, path: Path) -> SigningKey:
        kid = path.stem
        if not KID_RE.match(kid):
            raise KeyRingError(f"signing key file {path}: {kid!r} is not a valid kid")
        try:
            info = path.stat()
            data = path.read_bytes()
        except OSError as exc:
            raise KeyRingError(f"signing key file {path}: {exc.strerror}") from exc
        if info.st_mode & 0o077:
            log.warning("signing key file %s is readable by others (mode %o); use chmod 600",
                        path, stat.S_IMODE(info.st_mode))
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyRingError(f"signing key file {path}: not an unencrypted PKCS#8 PEM key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyRingError(f"signing key file {path}: not an Ed25519 key")
        created = datetime.fromtimestamp(info.st_mtime, tz=timezone.utc)
        return SigningKey(kid=kid, private_key=key, path=path, created=created)

    def _read_active(self, keys: Mapping[str, SigningKey]) -> str | None:
        if not keys:
            return None
        try:
            named = (self.directory / ACTIVE_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            named = ""
        if named in keys:
            return named
        if named:
            log.warning("%s names unknown signing key %r; using the newest key file",
                        self.directory / ACTIVE_FILE, named)
        return max(keys.values(), key=lambda k: (k.path.stat().st_mtime_ns, k.kid)).kid

    # -- the public face ------------------------------------------------------

    @property
    def keys(self) -> list[SigningKey]:
        """Every key, oldest first."""
        with self._lock:
            return sorted(self._keys.values(), key=lambda k: (k.created, k.kid))

    @property
    def active(self) -> SigningKey:
        """The key that signs; raises :class:`KeyRingEmpty` when there is none."""
        self._ensure_key()
        with self._lock:
            if self._active_kid is None:
                raise KeyRingEmpty(f"no signing key in {self.directory} "
                                   "(create one with `vgw signing-keys generate`)")
            return self._keys[self._active_kid]

    def sign(self, data: bytes) -> tuple[str, bytes]:
        """Sign ``data`` with the active key: ``(kid, 64-byte Ed25519 signature)``."""
        key = self.active
        return key.kid, key.private_key.sign(bytes(data))

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWK set of every key, old ones included so old signatures verify."""
        self._ensure_key()
        return {"keys": [k.public_jwk() for k in self.keys]}

    def generate(self) -> SigningKey:
        """Create a new key, write it (0600) and make it the active one."""
        with self._lock, self._folder_lock():
            key = self._write_new_key()
            self._write_active(key.kid)
            self._keys[key.kid] = key
            self._active_kid = key.kid
            log.info("signing key %s generated and made active", key.kid)
            return key

    # -- writing -------------------------------------------------------------

    def _ensure_key(self) -> None:
        if not self.create_if_missing:
            return
        with self._lock:
            if self._keys:
                return
            with self._folder_lock():
                self.reload()  # another process may have made one meanwhile
                if not self._keys:
                    key = self._write_new_key()
                    self._write_active(key.kid)
                    self._keys[key.kid] = key
                    self._active_kid = key.kid
                    log.info("first signing key %s generated in %s", key.kid, self.directory)

    def _make_directory(self) -> None:
        try:
            if not self.directory.is_dir():
                self.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                self.directory.mkdir(mode=0o700, exist_ok=True)
                os.chmod(self.directory, 0o700)  # umask may have taken bits away; never adds
        except OSError as exc:
            raise KeyRingError(f"cannot create {self.directory}: {exc.strerror}") from exc

    @contextmanager
    def _folder_lock(self) -> Iterator[None]:
        """Serialise key creation between processes (e.g. several server workers)."""
        self._make_directory()
        if fcntl is None:  # pragma: no cover
            yield
            return
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _new_kid(self) -> str:
        today = datetime.now(timezone.utc).strftime("%Y%m%d")
        while True:
            kid = f"gw-{today}-{secrets.token_hex(2)}"
            if kid not in self._keys and not (self.directory / f"{kid}.pem").exists():
                return kid

    def _write_new_key(self) -> SigningKey:
        kid = self._new_kid()
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path = self.directory / f"{kid}.pem"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, pem)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise KeyRingError(f"cannot write {path}: {exc.strerror}") from exc
        created = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
        return SigningKey(kid=kid, private_key=key, path=path, created=created)

    def _write_active(self, kid: str) -> None:
        target = self.directory / ACTIVE_FILE
        tmp = self.directory / f".{ACTIVE_FILE}.{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, (kid + "\n").encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise KeyRingError(f"cannot write {target}: {exc.strerror}") from exc


def init_app(app: Any) -> None:
    """Put the gateway's key ring in ``app.extensions["signing.keyring"]``.

    Existing keys are read now (a broken key file stops start-up); the first key is only
    generated when something first signs or publishes the JWK set.
    """
    app.extensions["signing.keyring"] = KeyRing(app.config["KEYS_DIR"], create_if_missing=True)
