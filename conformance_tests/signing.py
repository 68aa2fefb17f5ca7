"""RFC 9421 signatures for the suite: sign requests right (and wrong, on purpose), verify answers.

Everything is done by the maintained libraries: ``http_message_signatures`` builds and checks
signature bases and Content-Digest (RFC 9530), ``cryptography`` holds the keys and reads
JWKs (RFC 7517 / RFC 8037 / RFC 7518). Nothing here imports the gateway: the suite checks a
system from the outside, as an integrator's own code would.

- :func:`sign_request` signs a ``requests.PreparedRequest`` as docs/protocol.md §2 requires,
  or with any one thing wrong for the negative tests (old ``created``, unknown key, a
  component left out, the signature or digest tampered with, …).
- :func:`verify_response` checks a system's signed answer (§4) against its JWK set.
- :func:`verify_request` checks a request the system under test sent to the suite's own
  endpoint (client role) against the keys the suite's configuration registers for it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import http_sf
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSigner,
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

__all__ = [
    "ALGORITHMS", "REQUEST_COMPONENTS", "RESPONSE_COMPONENTS", "InvalidSignature", "KeySet",
    "algorithm_of", "content_digest", "jwk_public_key", "load_private_key", "load_public_keys",
    "public_jwk", "sign_request", "sign_response_headers", "thumbprint", "verify_request",
    "verify_response", "SignedRequestReport",
]

#: docs/protocol.md §2 step 5: what every request signature must cover (and, with a body,
#: "content-digest").
REQUEST_COMPONENTS = ("@method", "@target-uri", "client-id")
#: docs/protocol.md §4: what a signed answer covers.
RESPONSE_COMPONENTS = ("@status", "content-digest", "content-type")
#: docs/protocol.md §2 step 2: parameters every request signature carries.
REQUIRED_PARAMETERS = ("created", "expires", "nonce", "keyid", "alg")
ALGORITHMS: dict[str, type[algorithms.HTTPSignatureAlgorithm]] = {
    "ed25519": algorithms.ED25519,
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
}


# -- keys -----------------------------------------------------------------------------------------

def load_private_key(source: bytes | str | Path | Any):
    """A private key from PEM bytes, a PEM file path, or a cryptography key object."""
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("-----")):
        source = Path(source).read_bytes()
    if isinstance(source, str):
        source = source.encode("ascii")
    if isinstance(source, bytes):
        return serialization.load_pem_private_key(source, password=None)
    return source


def algorithm_of(key: Any) -> str:
    """The protocol's ``alg`` for a key (docs/protocol.md §1): ed25519 or ecdsa-p256-sha256."""
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and \
            isinstance(key.curve, ec.SECP256R1):
        return "ecdsa-p256-sha256"
    raise ValueError("only Ed25519 and ECDSA P-256 keys are part of the protocol")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(key: Any, kid: str | None = None) -> dict[str, str]:
    """The public JWK of a key (RFC 8037 OKP for Ed25519, RFC 7518 EC for P-256)."""
    public = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}
    elif isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1):
        numbers = public.public_numbers()
        jwk = {"crv": "P-256", "kty": "EC", "x": _b64url(numbers.x.to_bytes(32, "big")),
               "y": _b64url(numbers.y.to_bytes(32, "big"))}
    else:
        raise ValueError("only Ed25519 and ECDSA P-256 keys are part of the protocol")
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def thumbprint(key: Any) -> str:
    """RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical public JWK): the default key id."""
    jwk = public_jwk(key)
    members = ("crv", "kty", "x") if jwk["kty"] == "OKP" else ("crv", "kty", "x", "y")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def jwk_public_key(jwk: Mapping[str, Any]):
    """The public key a JWK describes: OKP/Ed25519 or EC/P-256; a private JWK is refused."""
    if "d" in jwk:
        raise ValueError("a JWK with a private part ('d') was published")
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(_b64url_decode(jwk["x"]))
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        x, y = (int.from_bytes(_b64url_decode(jwk[c]), "big") for c in ("x", "y"))
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    raise ValueError(f"unsupported JWK {jwk.get('kty')}/{jwk.get('crv')}")


class KeySet(HTTPSignatureKeyResolver):
    """Public keys by key id (from a JWK set or PEM files); resolver for the verifiers."""

    def __init__(self, keys: Mapping[str, Any] | None = None):
        self.keys: dict[str, Any] = dict(keys or {})

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> "KeySet":
        keys = {}
        for jwk in jwks.get("keys", []):
            if isinstance(jwk, Mapping) and isinstance(jwk.get("kid"), str):
                keys[jwk["kid"]] = jwk_public_key(jwk)   # unreadable keys raise: a defect to report
        return cls(keys)

    def resolve_public_key(self, key_id: str):
        return self.keys.get(key_id)

    def algorithm(self, key_id: str) -> str | None:
        key = self.keys.get(key_id)
        return algorithm_of(key) if key is not None else None


def load_public_keys(path: Path) -> KeySet:
    """Keys from a JWK set file (``.json``) or a PEM file of one public key (id: its thumbprint)."""
    data = Path(path).read_bytes()
    if data.lstrip().startswith(b"{"):
        return KeySet.from_jwks(json.loads(data))
    public = serialization.load_pem_public_key(data)
    return KeySet({thumbprint(public): public})


def content_digest(body: bytes) -> str:
    """RFC 9530 Content-Digest (sha-256) of ``body``."""
    return ContentDigest.create(body)


# -- signing requests -----------------------------------------------------------------------------

def _mislabelled(real: type[algorithms.HTTPSignatureAlgorithm], name: str):
    """An algorithm that signs as ``real`` but names ``name`` in ``alg`` (a negative test)."""
    return type("Mislabelled", (real,), {"algorithm_id": name})


def sign_request(request, *, client_id: str, key_id: str, key: Any, created: int | None = None,
                 expires: int | None = None, nonce: str | None = None,
                 components: Iterable[str] | None = None, client_id_header: str | None = None,
                 tamper: str | None = None, alg: str | None = None,
                 omit_parameters: Iterable[str] = (), label: str = "sig1"):
    """Sign a ``requests.PreparedRequest`` in place (docs/protocol.md §2) and return it.

    Defaults make a correct signature: Client-Id, Content-Digest when there is a body,
    covered ``"@method" "@target-uri" "client-id"`` (+ ``"content-digest"``), ``created`` now,
    ``expires`` created + 300, a fresh 32-hex nonce, ``keyid`` and ``alg``. Overrides:

    - ``created`` / ``expires`` (UNIX seconds), ``nonce`` (e.g. one already used),
    - ``components``: the covered components exactly (e.g. leaving out "client-id"),
    - ``client_id_header``: the Client-Id field sent (and signed) if not ``client_id``,
    - ``alg``: the ``alg`` parameter named (the signature is still made with ``key``),
    - ``omit_parameters``: parameters left out (``nonce``, ``expires``, ``alg``),
    - ``tamper="signature"``: one byte of the signature flipped after signing;
      ``tamper="digest"``: Content-Digest (signed) of other bytes than the body sent.
    """
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    omit = set(omit_parameters)
    request.headers["Client-Id"] = client_id_header or client_id
    has_body = bool(body)
    if components is None:
        components = REQUEST_COMPONENTS + (("content-digest",) if has_body else ())
    components = tuple(components)
    if has_body or "content-digest" in components:
        digested = body + b" tampered" if tamper == "digest" else body
        request.headers["Content-Digest"] = content_digest(digested)
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    created = now if created is None else created
    expires = created + 300 if expires is None else expires
    nonce = secrets.token_hex(16) if nonce is None else nonce
    algorithm = ALGORITHMS[algorithm_of(key)]
    if alg is not None and alg != algorithm.algorithm_id:
        algorithm = _mislabelled(algorithm, alg)
    signer = HTTPMessageSigner(signature_algorithm=algorithm,
                               key_resolver=MappingKeyResolver(public_keys={},
                                                               private_keys={key_id: key}))
    utc = dt.timezone.utc
    signer.sign(request, key_id=key_id, label=label,
                created=dt.datetime.fromtimestamp(created, utc),
                expires=None if "expires" in omit else dt.datetime.fromtimestamp(expires, utc),
                nonce=None if "nonce" in omit else nonce, include_alg="alg" not in omit,
                covered_component_ids=components,
                use_existing_digest="Content-Digest" in request.headers, body=None)
    if tamper == "signature":
        name, _, value = request.headers["Signature"].partition("=")
        raw = bytearray(base64.b64decode(value.strip(":")))
        raw[-1] ^= 0x01
        request.headers["Signature"] = f"{name}=:{base64.b64encode(bytes(raw)).decode()}:"
    return request


# -- verifying ------------------------------------------------------------------------------------

def _one_signature(headers: Mapping[str, str]) -> tuple[str, list[str], dict[str, Any]]:
    """(label, covered component ids as written, parameters) of the only signature; else raise."""
    value = headers.get("Signature-Input")
    if not value or not headers.get("Signature"):
        raise InvalidSignature("not signed: no Signature-Input / Signature field")
    try:
        parsed = http_sf.parse(value.encode("latin-1"), tltype="dictionary")
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise InvalidSignature(f"malformed Signature-Input: {exc}") from None
    if len(parsed) != 1:
        raise InvalidSignature(f"exactly one signature expected, found {len(parsed)}")
    ((label, (members, params)),) = parsed.items()
    if not isinstance(members, list):
        raise InvalidSignature("Signature-Input member is not an inner list")
    components = []
    for item, item_params in members:
        text = f'"{item}"' + "".join(f";{k}" if v is True else f";{k}={http_sf.ser(v)}"
                                     for k, v in (item_params or {}).items())
        components.append(text)
    return label, components, dict(params)


@dataclass
class SignedRequestReport:
    """What a verified request carried (client role evidence)."""

    label: str
    components: list[str]
    parameters: dict[str, Any]
    key_id: str
    algorithm: str
    content_digest: str | None
    problems: list[str] = field(default_factory=list)   # requirements the request breaks


@dataclass
class _Message:
    method: str
    url: str
    headers: Any


@dataclass
class _Response:
    status_code: int
    headers: Any


def verify_request(method: str, url: str, headers: Mapping[str, str], body: bytes, keys: KeySet, *,
                   client_id: str | None = None, window: int = 300,
                   skew: int = 30) -> SignedRequestReport:
    """Check a request the system under test sent (client role): docs/protocol.md §2 in full.

    Raises InvalidSignature when the signature does not verify at all (unknown key, bad
    signature, malformed fields); otherwise returns a report whose ``problems`` list every
    other rule broken (a component or parameter missing, the window, the digest, Client-Id).
    """
    label, components, params = _one_signature(headers)
    key_id = params.get("keyid")
    if not isinstance(key_id, str) or keys.resolve_public_key(key_id) is None:
        raise InvalidSignature(f"keyid {key_id!r} is not a key registered for the system")
    algorithm = keys.algorithm(key_id)
    problems = []
    for name in REQUIRED_PARAMETERS:
        if name not in params:
            problems.append(f"parameter {name} missing (docs/protocol.md §2 step 2)")
    if "alg" in params and params["alg"] != algorithm:
        problems.append(f"alg {params['alg']!r} is not the key's algorithm {algorithm!r}")
    nonce = params.get("nonce")
    if nonce is not None and not (isinstance(nonce, str) and 8 <= len(nonce) <= 128
                                  and all(33 <= ord(c) <= 126 for c in nonce)):
        problems.append("nonce is not 8-128 visible ASCII characters")
    created, expires = params.get("created"), params.get("expires")
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    if isinstance(created, int) and isinstance(expires, int):
        if expires <= created:
            problems.append("expires is not later than created")
        if created > now + skew:
            problems.append("created is in the future (clock?)")
        if created < now - window - skew or expires < now - skew:
            problems.append("the signature had expired when it arrived")
    elif "created" in params or "expires" in params:
        problems.append("created / expires are not integers")
    need = list(REQUEST_COMPONENTS) + (["content-digest"] if body or "Content-Digest" in headers else [])
    for name in need:
        if f'"{name}"' not in components:
            problems.append(f'component "{name}" not covered (as written, without parameters)')
    verify_as = ALGORITHMS[algorithm]
    if isinstance(params.get("alg"), str) and params["alg"] != algorithm:
        verify_as = _mislabelled(verify_as, params["alg"])   # reported above; verify the bytes
    verifier = HTTPMessageVerifier(signature_algorithm=verify_as, key_resolver=keys)
    # The time window was checked above and is reported as a problem, not as "does not verify".
    verifier.max_clock_skew = dt.timedelta(days=3650)
    try:
        (result,) = verifier.verify(_Message(method, url, headers), max_age=None)
    except HTTPMessageSignaturesException as exc:
        raise InvalidSignature(f"the signature does not verify: {exc}") from None
    digest = headers.get("Content-Digest")
    if body and not digest:
        problems.append("a body without Content-Digest (RFC 9530)")
    elif digest is not None:
        try:
            if not ContentDigest.verify_components(result.covered_components, body):
                problems.append("Content-Digest not covered by the signature")
        except (InvalidSignature, HTTPMessageSignaturesException) as exc:
            problems.append(f"Content-Digest does not match the body: {exc}")
    if client_id is not None and headers.get("Client-Id") != client_id:
        problems.append(f"Client-Id {headers.get('Client-Id')!r} is not {client_id!r}")
    return SignedRequestReport(label, components, params, key_id, algorithm, digest, problems)


def verify_response(response, keys: KeySet, *, max_age: int | None = 300) -> dict[str, Any]:
    """Check a system's signed answer (docs/protocol.md §4); returns its signature parameters.

    The signature must cover "@status", "content-digest" and "content-type", verify with the
    key its ``keyid`` names in ``keys``, and Content-Digest must match the body received.
    Raises InvalidSignature otherwise.
    """
    _label, components, params = _one_signature(response.headers)
    key_id = params.get("keyid")
    if not isinstance(key_id, str) or keys.resolve_public_key(key_id) is None:
        raise InvalidSignature(f"the answer is signed by key {key_id!r}, which is not in the JWK set")
    verifier = HTTPMessageVerifier(signature_algorithm=ALGORITHMS[keys.algorithm(key_id)],
                                   key_resolver=keys)
    try:
        (result,) = verifier.verify(_Response(response.status_code, response.headers),
                                    max_age=None if max_age is None else dt.timedelta(seconds=max_age),
                                    require_components=RESPONSE_COMPONENTS)
        if not ContentDigest.verify_components(result.covered_components, response.content):
            raise InvalidSignature("Content-Digest is not covered")
    except HTTPMessageSignaturesException as exc:
        raise InvalidSignature(str(exc)) from None
    return {"keyid": key_id, "components": components,
            **{k: v for k, v in params.items() if k != "keyid"}}


def sign_response_headers(status: int, content_type: str, body: bytes, *, key: Any, key_id: str,
                          window: int = 300, label: str = "gw") -> dict[str, str]:
    """Content-Digest, Signature-Input and Signature for an answer (the suite's endpoint, §4)."""
    from requests.structures import CaseInsensitiveDict

    message = _Response(status, CaseInsensitiveDict({"Content-Type": content_type}))
    created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    signer = HTTPMessageSigner(signature_algorithm=ALGORITHMS[algorithm_of(key)],
                               key_resolver=MappingKeyResolver(public_keys={},
                                                               private_keys={key_id: key}))
    signer.sign(message, key_id=key_id, created=created, label=label,
                expires=created + dt.timedelta(seconds=window),
                covered_component_ids=RESPONSE_COMPONENTS, body=body)
    return {name: message.headers[name] for name in ("Content-Digest", "Signature-Input", "Signature")}
