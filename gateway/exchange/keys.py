"""Clients' public keys: generate a key pair for an integrator, register, rotate and revoke keys.

A client signs its requests with a private key that never leaves its system; the gateway
stores only the public key, under a **key id** the client puts in every signature's
``keyid`` parameter. Two algorithms are accepted (RFC 9421 §3.3): ``ed25519`` (the default)
and ``ecdsa-p256-sha256``. The algorithm is read from the key itself, so a key id always
means one algorithm.

Key ids default to the key's RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical
public JWK): an integrator can compute it from the public key alone, and the same key can
never be registered twice under the default id.

Rotation without downtime: register the new key (it is active at once, beside the old one),
switch the client over, then revoke the old key. A revoked key fails on the very next
request: verification reads the key's row on every request.

Plain functions on a SQLAlchemy session; no Flask here.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.jwk import JWKError, public_key_from_jwk, thumbprint
from gateway.store.models import Client, ClientKey, utcnow
from gateway.store.models.exchange import KEY_ALGORITHMS

__all__ = [
    "ALGORITHMS",
    "KEY_ID_RE",
    "GeneratedKey",
    "ClientKeyError",
    "add_key",
    "algorithm_of",
    "find_key",
    "generate_key_pair",
    "jwk_thumbprint",
    "keys_of",
    "load_public_key",
    "pem_from_jwk",
    "revoke_key",
]

#: RFC 9421 algorithm names accepted for clients' keys (the HTTP Signature Algorithms registry,
#: as written in ``alg``), and older spellings the CLI still accepts for them.
ALGORITHMS = KEY_ALGORITHMS
SHORT_NAMES = {"ed25519": "ed25519", "ecdsa-p256-sha256": "ecdsa-p256-sha256",
               "ecdsa-p256": "ecdsa-p256-sha256"}
#: What a key id may look like: it travels in a Structured Field string and in file names.
KEY_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class ClientKeyError(ValueError):
    """A public key or key id is unusable, or the key is already registered / unknown."""


@dataclass(frozen=True)
class GeneratedKey:
    algorithm: str
    key_id: str
    private_pem: bytes
    public_pem: bytes


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_public_key(pem: str | bytes) -> PublicKey:
    """Parse a PEM public key (SubjectPublicKeyInfo); only Ed25519 and EC P-256 are accepted."""
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else bytes(pem)
    if b"PRIVATE KEY" in data:
        raise ClientKeyError("this is a private key: register the PUBLIC key; the private key "
                             "stays with the client")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ClientKeyError("not a PEM public key (-----BEGIN PUBLIC KEY-----)") from exc
    algorithm_of(key)  # refuses other key types
    return key  # type: ignore[return-value]


def pem_from_jwk(jwk: object) -> str:
    """The PEM of a public JWK (RFC 8037 OKP Ed25519, or RFC 7518 EC P-256); ClientKeyError else."""
    try:
        return public_pem(public_key_from_jwk(jwk))
    except JWKError as exc:
        raise ClientKeyError(str(exc)) from None


def algorithm_of(key: object) -> str:
    """The RFC 9421 algorithm name of a public or private key; ClientKeyError for other kinds."""
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "ed25519"
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        if isinstance(key.curve, ec.SECP256R1):
            return "ecdsa-p256-sha256"
        raise ClientKeyError(f"EC keys must be on P-256 (secp256r1), not {key.curve.name}")
    raise ClientKeyError(f"unsupported key type {type(key).__name__}: use Ed25519 or ECDSA P-256")


def public_pem(key: PublicKey) -> str:
    """The canonical PEM (SubjectPublicKeyInfo) of a public key."""
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def jwk_thumbprint(key: PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): the default key id of a key."""
    return thumbprint(key)


def generate_key_pair(algorithm: str = "ed25519") -> GeneratedKey:
    """A new key pair for an integrator: PKCS#8 private PEM, public PEM and the suggested key id."""
    algorithm = SHORT_NAMES.get(algorithm, algorithm)
    if algorithm == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "ecdsa-p256-sha256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ClientKeyError(f"unknown algorithm {algorithm!r}: use ed25519 or ecdsa-p256-sha256")
    public = private.public_key()
    return GeneratedKey(
        algorithm=algorithm,
        key_id=jwk_thumbprint(public),
        private_pem=private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()),
        public_pem=public_pem(public).encode("ascii"),
    )


# -- the store ------------------------------------------------------------------------------------

def find_key(session: Session, key_id: str) -> ClientKey | None:
    """The key registered under ``key_id`` (active or revoked), with its client, or None."""
    return session.execute(select(ClientKey).where(ClientKey.key_id == key_id)).scalar_one_or_none()


def keys_of(session: Session, client: Client) -> list[ClientKey]:
    """Every key of ``client``, oldest first."""
    return list(session.execute(select(ClientKey).where(ClientKey.client_pk == client.id)
                                .order_by(ClientKey.created_at, ClientKey.id)).scalars())


def add_key(session: Session, client: Client, pem: str | bytes, *,
            key_id: str | None = None) -> ClientKey:
    """Register a public key for ``client``; it is active at once, beside any other active keys."""
    key = load_public_key(pem)
    key_id = key_id or jwk_thumbprint(key)
    if not KEY_ID_RE.match(key_id):
        raise ClientKeyError(f"key id {key_id!r}: 1–128 of A–Z a–z 0–9 . _ : -")
    if find_key(session, key_id) is not None:
        raise ClientKeyError(f"key id {key_id!r} is already registered")
    pem_text = public_pem(key)
    taken = session.execute(select(ClientKey.key_id).where(ClientKey.public_key_pem == pem_text)
                            ).scalar_one_or_none()
    if taken is not None:
        raise ClientKeyError(f"this public key is already registered as {taken!r}")
    row = ClientKey(client_pk=client.id, key_id=key_id, algorithm=algorithm_of(key),
                    public_key_pem=pem_text, status="active", created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def revoke_key(session: Session, key_id: str) -> ClientKey:
    """Revoke a key: every request signed with it is refused from now on (idempotent)."""
    row = find_key(session, key_id)
    if row is None:
        raise ClientKeyError(f"no key {key_id!r}")
    if row.status != "revoked":
        row.status = "revoked"
        row.revoked_at = utcnow()
        session.flush()
    return row
