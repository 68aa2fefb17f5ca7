"""The client side of the exchange's signatures: sign requests for the gateway, verify its answers.

Built on **requests-http-signature** (``HTTPSignatureAuth``), which covers everything the
gateway requires: arbitrary covered components (so the ``client-id`` header), ``nonce``
(``use_nonce=True``), ``expires`` (``expires_in``) and Content-Digest, which it adds and
covers by itself for buffered bodies (including the empty body of a GET). The only thing it
does not do is put the ``Client-Id`` header on the request, so :class:`GatewayAuth` adds it
before signing. (It also adds and covers a ``Date`` field; the gateway accepts extra covered
components.)

Nothing here imports Flask or the gateway's internals: an integrator may copy this file.

    auth = GatewayAuth("city-system-01", key_id, Path("client.private.pem").read_bytes())
    answer = requests.post(url, json=batch, auth=auth)
    GatewayResponseVerifier("https://gateway.example").verify(answer)  # signed answers only
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import http_sf
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from http_message_signatures import (
    HTTPSignatureKeyResolver,
    InvalidSignature,
    MappingKeyResolver,
    VerifyResult,
    algorithms,
)
from requests_http_signature import HTTPSignatureAuth

from gateway.jwk import public_key_from_jwk

__all__ = [
    "GatewayAuth",
    "GatewayResponseVerifier",
    "InvalidSignature",
    "JWKSKeyResolver",
    "REQUEST_COMPONENTS",
    "RESPONSE_COMPONENTS",
    "jwk_public_key",
    "verify_response",
]

#: What a request's signature covers besides Content-Digest (added by requests-http-signature).
REQUEST_COMPONENTS = ("@method", "@target-uri", "client-id")
#: What the gateway's response signatures cover.
RESPONSE_COMPONENTS = ("@status", "content-digest", "content-type")
JWKS_PATH = "/.well-known/jwks.json"


def _algorithm_for(key: Any) -> type[algorithms.HTTPSignatureAlgorithm]:
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return algorithms.ED25519
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and \
            isinstance(key.curve, ec.SECP256R1):
        return algorithms.ECDSA_P256_SHA256
    raise ValueError("the gateway accepts Ed25519 and ECDSA P-256 keys only")


class GatewayAuth(HTTPSignatureAuth):
    """A ``requests`` auth that signs each request as the gateway requires (docs/protocol.md).

    :param client_id: the client id the gateway registered for this system.
    :param key_id: the key id under which the public key was registered (``vgw keys add``).
    :param private_key: PEM bytes/str (PKCS#8 or traditional) or a cryptography private key,
        Ed25519 or ECDSA P-256; the algorithm follows from the key.
    :param expires_in: how long the signature stays valid (at most the gateway's window,
        SIGNATURE_WINDOW_SECONDS, 300 s by default, counts).

    Every call signs anew with a fresh random nonce, so never resend a prepared request as is:
    the gateway refuses a nonce it has seen (``/problems/signature-replayed``).
    """

    def __init__(self, client_id: str, key_id: str, private_key: bytes | str | Any, *,
                 expires_in: dt.timedelta = dt.timedelta(seconds=300),
                 password: bytes | None = None):
        if isinstance(private_key, str):
            private_key = private_key.encode("ascii")
        if isinstance(private_key, bytes):
            private_key = serialization.load_pem_private_key(private_key, password=password)
        self.client_id = client_id
        super().__init__(
            signature_algorithm=_algorithm_for(private_key),
            key_id=key_id,
            key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: private_key}),
            covered_component_ids=REQUEST_COMPONENTS,
            use_nonce=True,
            expires_in=expires_in,
            use_existing_digest=True,  # a caller may precompute the digest of a streamed body
        )

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Client-Id"] = self.client_id
        return super().__call__(request)


# -- verifying the gateway's answers --------------------------------------------------------------

def jwk_public_key(jwk: Mapping[str, Any]) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
    """The public key of a JWK: OKP/Ed25519 (RFC 8037) or EC/P-256 (RFC 7518); ValueError else."""
    return public_key_from_jwk(jwk)


class JWKSKeyResolver(HTTPSignatureKeyResolver):
    """Public keys by kid from a JWK set (``{"keys": [...]}``); keys it cannot read are skipped."""

    def __init__(self, jwks: Mapping[str, Any]):
        self.keys: dict[str, Any] = {}
        for jwk in jwks.get("keys", []):
            try:
                self.keys[jwk["kid"]] = jwk_public_key(jwk)
            except (KeyError, ValueError, TypeError):
                continue

    def resolve_public_key(self, key_id: str):
        return self.keys.get(key_id)


def _response_key_id(response: requests.Response) -> str:
    value = response.headers.get("Signature-Input")
    if not value:
        raise InvalidSignature("the response is not signed (no Signature-Input field)")
    try:
        parsed = http_sf.parse(value.encode("latin-1"), tltype="dictionary")
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise InvalidSignature("malformed Signature-Input field") from exc
    if len(parsed) != 1:
        raise InvalidSignature("exactly one response signature expected")
    (_members, params), = parsed.values()
    key_id = params.get("keyid")
    if not isinstance(key_id, str):
        raise InvalidSignature("the response signature has no keyid")
    return key_id


def verify_response(response: requests.Response, jwks: Mapping[str, Any], *,
                    max_age: dt.timedelta | None = dt.timedelta(seconds=300)) -> VerifyResult:
    """Verify a signed gateway response with nothing but its public JWK set.

    Checks the signature over "@status", "content-digest" and "content-type", its
    ``created``/``expires`` (and ``max_age``), and the body against Content-Digest. Returns
    requests-http-signature's VerifyResult (``result.body`` holds the verified bytes); raises
    InvalidSignature otherwise. Call it before reading ``response.content`` in a streamed
    request, or on a normal (buffered) response.
    """
    resolver = JWKSKeyResolver(jwks)
    key = resolver.resolve_public_key(_response_key_id(response))
    if key is None:
        raise InvalidSignature("the response was signed by a key not in the JWK set")
    return HTTPSignatureAuth.verify(response, signature_algorithm=_algorithm_for(key),
                                    key_resolver=resolver, require_components=RESPONSE_COMPONENTS,
                                    max_age=max_age)


class GatewayResponseVerifier:
    """Verify the gateway's signed responses, fetching its JWK set once (again for a new kid)."""

    def __init__(self, base_url: str, *, session: requests.Session | None = None,
                 max_age: dt.timedelta | None = dt.timedelta(seconds=300)):
        self.jwks_url = base_url.rstrip("/") + JWKS_PATH
        self.session = session or requests.Session()
        self.max_age = max_age
        self._jwks: Mapping[str, Any] | None = None

    def jwks(self, *, refresh: bool = False) -> Mapping[str, Any]:
        if self._jwks is None or refresh:
            answer = self.session.get(self.jwks_url, timeout=30)
            answer.raise_for_status()
            self._jwks = answer.json()
        return self._jwks

    def verify(self, response: requests.Response) -> VerifyResult:
        key_id = _response_key_id(response)
        jwks = self.jwks()
        if JWKSKeyResolver(jwks).resolve_public_key(key_id) is None:
            jwks = self.jwks(refresh=True)  # the gateway may have rotated its key since
        return verify_response(response, jwks, max_age=self.max_age)
