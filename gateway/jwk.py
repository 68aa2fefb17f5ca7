"""Public JWKs in one place: reading a key out of a JWK, and a key's RFC 7638 thumbprint.

Three parts of the gateway read JWKs: the gateway's own JWK set (gateway/signing.py,
certificate signatures), clients registering a key as a JWK (gateway/exchange/keys.py), and
the client SDK verifying the gateway's signed answers (gateway/exchange/client_auth.py).
They all read with :func:`public_key_from_jwk`, so they agree on what a public JWK is:
a JSON object, no private member ``d``, ``kty``/``crv`` OKP/Ed25519 (RFC 8037) or EC/P-256
(RFC 7518), members of the right length, an EC point on the curve. Parsing and the curve
checks are joserfc's (already the conformance suite's JOSE library); this module adds only
the policy (which key types, never a private key) and messages that say what is wrong.

No Flask and no SQLAlchemy here: the client SDK imports it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Mapping

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey

__all__ = ["JWKError", "PublicKey", "public_key_from_jwk", "thumbprint"]

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
_SIZES = {"x": 32, "y": 32}


class JWKError(ValueError):
    """The JWK is not a usable public Ed25519 or P-256 key; the message says why."""


def public_key_from_jwk(jwk: Any) -> PublicKey:
    """The public key of a JWK (OKP/Ed25519 or EC/P-256); :class:`JWKError` otherwise."""
    if not isinstance(jwk, Mapping):
        raise JWKError("a JWK is a JSON object")
    if "d" in jwk:
        raise JWKError("this JWK holds a private key: use the PUBLIC key only")
    kind = (jwk.get("kty"), jwk.get("crv"))
    if kind == ("OKP", "Ed25519"):
        _check_member(jwk, "x")
        try:
            okp = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}).public_key
        except (JoseError, ValueError, TypeError):
            raise JWKError("the JWK is not an Ed25519 public key") from None
        if not isinstance(okp, ed25519.Ed25519PublicKey):
            raise JWKError("the JWK is not an Ed25519 public key")
        return okp
    if kind == ("EC", "P-256"):
        _check_member(jwk, "x")
        _check_member(jwk, "y")
        try:
            return ECKey.import_key({"kty": "EC", "crv": "P-256", "x": jwk["x"],
                                     "y": jwk["y"]}).public_key
        except (JoseError, ValueError, TypeError):
            raise JWKError("the JWK's point is not on P-256") from None
    raise JWKError("only Ed25519 (kty OKP) and P-256 (kty EC) JWKs are accepted")


def thumbprint(key: PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return OKPKey.import_key(key).thumbprint()
    return ECKey.import_key(key).thumbprint()


def _check_member(jwk: Mapping[str, Any], name: str) -> None:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise JWKError(f"the JWK has no {name!r}")
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, binascii.Error):
        raise JWKError(f"the JWK's {name!r} is not base64url") from None
    if len(data) != _SIZES[name]:
        raise JWKError(f"the JWK's {name!r} must be {_SIZES[name]} bytes")
