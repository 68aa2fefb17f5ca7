"""Signed requests in, signed responses out: HTTP Message Signatures (RFC 9421) and
Content-Digest (RFC 9530).

Canonicalisation, signature bases, algorithms and digests are the maintained
``http_message_signatures`` library's; this module only decides *policy*: which components
must be covered, which parameters must be present, the time window, replays, and which key
belongs to which client. docs/protocol.md is the integrator's version of the same rules.

**A request** must carry exactly one signature (``Signature-Input`` + ``Signature``) that

- covers ``"@method"``, ``"@target-uri"``, ``"client-id"`` and — when the request has a body
  or a Content-Digest field — ``"content-digest"``, each without parameters;
- has the parameters ``created``, ``expires``, ``nonce``, ``keyid`` and ``alg``;
- verifies with the client key registered under ``keyid`` (active, client not disabled),
  whose algorithm must equal ``alg``;
- is inside the window: ``created`` no more than SIGNATURE_CLOCK_SKEW_SECONDS in the future,
  no more than SIGNATURE_WINDOW_SECONDS (+ skew) in the past, and ``expires`` not passed
  (− skew);
- has a Content-Digest (sha-256 or sha-512) equal to the digest of the body as received;
- names, in the covered ``Client-Id`` field, the client that owns the key;
- uses a nonce not seen before with that key (:mod:`gateway.exchange.nonces`).

Each refusal is a 401 problem+json with its own stable ``type`` (:data:`PROBLEMS`).

**A response** that carries records is signed by the gateway's active Ed25519 key
(:class:`gateway.signing.KeyRing`, ``keyid`` = the key's kid, published in the JWK set) over
``"@status"``, ``"content-digest"`` and ``"content-type"`` with ``created`` and ``expires``:
use :func:`signed` on a view or :func:`sign_responses` on a blueprint.

**Streamed bodies.** An endpoint that takes bodies too large to hold in memory (the exchange
push) calls :func:`verify_streamed_request`: the signature is verified over the header
fields first (nothing unsigned gets its body read), then the body is spooled to a temporary
file while it is hashed (:func:`spool_body`), and the Content-Digest is checked against
those hashes — before the endpoint reads a single record. A streamed answer is signed with
:func:`streamed_response_headers` from the digest computed while it was written.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterable
from urllib.parse import quote

import http_sf
from flask import Blueprint, Flask, Request, Response, current_app, g
from flask import request as flask_request
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_message_signatures.structures import CaseInsensitiveDict

from gateway.caller import Caller, Unauthenticated
from gateway.exchange import keys as client_keys
from gateway.exchange.nonces import NonceStore, SqlNonceStore
from gateway.store.models import ClientKey, utcnow

__all__ = [
    "PROBLEMS",
    "REQUIRED_COMPONENTS",
    "accept_signature",
    "init_app",
    "openapi_security_scheme",
    "REQUIRED_PARAMETERS",
    "RESPONSE_COMPONENTS",
    "SignatureRejected",
    "SignedRequest",
    "SpooledBody",
    "current_signature",
    "digest_matches",
    "nonce_store",
    "sign_response",
    "sign_responses",
    "signed",
    "spool_body",
    "streamed_response_headers",
    "target_uri",
    "verify_request",
    "verify_streamed_request",
]

ALGORITHM_CLASSES = {"ed25519": algorithms.ED25519,
                     "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256}
#: Components every signed request covers; "content-digest" too when there is a body.
REQUIRED_COMPONENTS = ("@method", "@target-uri", "client-id")
DIGEST_COMPONENT = "content-digest"
REQUIRED_PARAMETERS = ("created", "expires", "nonce", "keyid", "alg")
#: What the gateway covers when it signs a response.
RESPONSE_COMPONENTS = ("@status", "content-digest", "content-type")
RESPONSE_LABEL = "gw"
CLIENT_ID_HEADER = "Client-Id"
NONCE_RE = re.compile(r"^[\x21-\x7e]{8,128}$")  # visible ASCII: fits the nonces table

#: slug → title. The slugs are a stable contract (``type`` = ``/problems/<slug>``), documented
#: in docs/protocol.md; every one answers 401.
PROBLEMS: dict[str, str] = {
    "signature-missing": "Request is not signed",
    "signature-invalid": "Signature does not verify",
    "signature-parameters": "Signature parameters missing or wrong",
    "signature-components": "Signature does not cover the required components",
    "signature-unknown-key": "Unknown signing key",
    "signature-revoked-key": "Signing key revoked",
    "client-disabled": "Client disabled",
    "signature-expired": "Signature expired",
    "signature-not-yet-valid": "Signature not yet valid",
    "digest-mismatch": "Content-Digest missing or does not match the body",
    "signature-client-mismatch": "Client-Id does not match the signing key's client",
    "signature-replayed": "Signature nonce already used",
}


class SignatureRejected(Unauthenticated):
    """A signed request refused: 401 with the problem type ``/problems/<slug>``."""

    def __init__(self, slug: str, detail: str, **extra: Any):
        super().__init__(detail, **extra)
        self.slug = slug
        self.title = PROBLEMS[slug]


@dataclass(frozen=True)
class SignedRequest:
    """What was verified about this request; kept in ``g`` for the message log."""

    client_id: str
    key_id: str
    algorithm: str
    created: dt.datetime
    expires: dt.datetime
    nonce: str
    content_digest: str | None
    signature_input: str
    signature: str


def current_signature() -> SignedRequest | None:
    """The verified signature of the current request, or None when it was not signed."""
    return g.get("signed_request")


def openapi_security_scheme() -> dict[str, Any]:
    """The OpenAPI security scheme of signed requests (OpenAPI has no type for RFC 9421:
    the ``Signature`` header field stands for the pair, the rest is in the description)."""
    return {"type": "apiKey", "in": "header", "name": "Signature",
            "description": "HTTP Message Signatures (RFC 9421): Signature-Input + Signature made "
                           "with one of the client's registered keys (Ed25519 or ECDSA P-256), "
                           "covering " + ", ".join(f'"{c}"' for c in REQUIRED_COMPONENTS)
                           + f' and "{DIGEST_COMPONENT}" (with a Content-Digest, RFC 9530) when '
                           "the request has a body, with the parameters "
                           + ", ".join(REQUIRED_PARAMETERS) + "; see docs/protocol.md.",
            "x-required-components": [*REQUIRED_COMPONENTS, DIGEST_COMPONENT],
            "x-required-parameters": list(REQUIRED_PARAMETERS)}


# -- the replay guard ----------------------------------------------------------------------------

def nonce_store(app: Flask | None = None) -> NonceStore:
    """The app's nonce store, made on first use (swap: ``app.extensions["exchange.nonces"]``)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    store = app.extensions.get("exchange.nonces")
    if store is None:
        store = app.extensions.setdefault("exchange.nonces",
                                          SqlNonceStore(app.extensions["store.sessionmaker"]))
    return store


# -- bodies too large for memory -----------------------------------------------------------------

DIGEST_HASHERS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
SPOOL_CHUNK = 1 << 16
SPOOL_IN_MEMORY = 1 << 20  # bodies up to this size stay in memory; larger ones go to disk


@dataclass
class SpooledBody:
    """A request body copied to a temporary file, with its size and digests (RFC 9530 names).

    ``sha-256`` is always computed (the message log and idempotency keys use it); ``sha-512``
    when the request's Content-Digest names it. Close it (or use it as a context manager).
    """

    file: IO[bytes]
    size: int
    digests: dict[str, bytes] = field(default_factory=dict)

    @property
    def sha256_hex(self) -> str:
        return self.digests["sha-256"].hex()

    def matches(self, content_digest: str) -> bool:
        return digest_matches(content_digest, self.digests)

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> "SpooledBody":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def digest_matches(content_digest: str, digests: dict[str, bytes]) -> bool:
    """Whether every member of a Content-Digest field value equals the computed digest.

    A malformed field, an algorithm other than sha-256/sha-512, or one not in ``digests``
    does not match.
    """
    try:
        parsed = http_sf.parse(content_digest.encode("latin-1"), tltype="dictionary")
    except (ValueError, TypeError, UnicodeEncodeError):
        return False
    if not parsed:
        return False
    for algorithm, (value, _params) in parsed.items():  # type: ignore[union-attr]
        computed = digests.get(algorithm)
        if computed is None or not isinstance(value, bytes) or not hmac.compare_digest(value, computed):
            return False
    return True


def spool_body(req: Request | None = None, *, limit: int | None = None) -> SpooledBody:
    """Copy the request body to a temporary file in chunks while hashing it (flat memory).

    ``limit`` replaces MAX_CONTENT_LENGTH for this request (Flask ≥ 3.1): a larger body is
    refused with 413 while it is read. Must be called before anything reads the body.
    """
    req = req if req is not None else flask_request
    if limit is not None:
        req.max_content_length = limit
    names = ["sha-256"] + (["sha-512"] if "sha-512" in req.headers.get("Content-Digest", "") else [])
    hashers = {name: DIGEST_HASHERS[name]() for name in names}
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    size = 0
    try:
        stream = req.stream
        while chunk := stream.read(SPOOL_CHUNK):
            out.write(chunk)
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return SpooledBody(out, size, {name: h.digest() for name, h in hashers.items()})


# -- verifying requests ---------------------------------------------------------------------------

@dataclass
class _RequestMessage:
    """The request as http_message_signatures sees it: method, URL as sent, header fields."""

    method: str
    url: str
    headers: Any


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key_id: str, public_key: Any):
        self.key_id, self.public_key = key_id, public_key

    def resolve_public_key(self, key_id: str):
        return self.public_key if key_id == self.key_id else None


def target_uri(req: Request) -> str:
    """The request's target URI as the client addressed it: scheme://Host + path?query as sent.

    The path and query come from the raw request line (RAW_URI / REQUEST_URI, set by gunicorn
    and werkzeug), not from the decoded path, so percent-encodings stay as signed. Behind a
    reverse proxy the proxy must keep the request target unchanged; the scheme, host and port
    come from its X-Forwarded-Proto / -Host / -Port when the PROXY_FIX setting trusts it.
    """
    raw = req.environ.get("RAW_URI") or req.environ.get("REQUEST_URI") or ""
    if raw and not raw.startswith("/") and "://" in raw:  # absolute-form request line
        rest = raw.split("://", 1)[1]
        raw = rest[rest.find("/"):] if "/" in rest else "/"
    if not raw.startswith("/"):
        raw = quote(req.script_root + req.path)
        if req.query_string:
            raw += "?" + req.query_string.decode("latin-1")
    return f"{req.scheme}://{req.host}{raw}"


def _reject(slug: str, detail: str, **extra: Any) -> SignatureRejected:
    return SignatureRejected(slug, detail, **extra)


def _parse_dictionary(name: str, value: str) -> dict[str, tuple[Any, dict[str, Any]]]:
    def refuse_duplicates(key: str, context: str) -> None:
        if context == "dictionary":
            raise ValueError(f"duplicate label {key!r}")

    try:
        parsed = http_sf.parse(value.encode("latin-1"), tltype="dictionary",
                               on_duplicate_key=refuse_duplicates)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise _reject("signature-invalid",
                      f"{name} is not a valid Structured Field dictionary: {exc}") from None
    return parsed  # type: ignore[return-value]


def _signature_input(req: Request) -> tuple[str, list[tuple[str, dict]], dict[str, Any]]:
    """The single signature's label, covered components and parameters (not yet verified)."""
    sig_input, sig = req.headers.get("Signature-Input"), req.headers.get("Signature")
    if not sig_input and not sig:
        raise _reject("signature-missing", "this endpoint needs a request signed with HTTP "
                      "Message Signatures (RFC 9421): Signature-Input and Signature fields; see "
                      "docs/protocol.md")
    if not sig_input or not sig:
        missing = "Signature" if not sig else "Signature-Input"
        raise _reject("signature-missing", f"the {missing} field is missing")
    inputs = _parse_dictionary("Signature-Input", sig_input)
    signatures = _parse_dictionary("Signature", sig)
    if len(inputs) != 1 or inputs.keys() != signatures.keys():
        raise _reject("signature-invalid", "exactly one signature is expected, with the same "
                      "label in Signature-Input and Signature")
    (label, (members, params)), = inputs.items()
    if not isinstance(members, list) or not isinstance(signatures[label][0], bytes):
        raise _reject("signature-invalid", "Signature-Input must be an inner list of "
                      "components and Signature a byte sequence")
    return label, members, params


def _check_parameters(params: dict[str, Any]) -> None:
    missing = [p for p in REQUIRED_PARAMETERS if p not in params]
    if missing:
        raise _reject("signature-parameters", "the signature lacks the parameter(s) "
                      + ", ".join(missing), missing=missing, required=list(REQUIRED_PARAMETERS))
    for name in ("created", "expires"):
        if type(params[name]) is not int:
            raise _reject("signature-parameters", f"{name} must be an integer (UNIX seconds)")
    for name in ("nonce", "keyid", "alg"):
        if not isinstance(params[name], str):
            raise _reject("signature-parameters", f"{name} must be a string")
    if not NONCE_RE.match(params["nonce"]):
        raise _reject("signature-parameters", "nonce must be 8–128 visible ASCII characters")
    if params["expires"] <= params["created"]:
        raise _reject("signature-parameters", "expires must be later than created")


def _find_key(key_id: str) -> ClientKey:
    from gateway.store import get_session

    key = client_keys.find_key(get_session(), key_id)
    if key is None:
        raise _reject("signature-unknown-key", f"no key {key_id!r} is registered", keyid=key_id)
    if key.status != "active":
        raise _reject("signature-revoked-key", f"key {key_id!r} was revoked", keyid=key_id)
    if key.client.disabled:
        raise _reject("client-disabled", f"client {key.client.client_id!r} is disabled",
                      keyid=key_id)
    return key


def _check_window(params: dict[str, Any], now: dt.datetime, window: int, skew: int) -> dt.datetime:
    """Refuse signatures outside the window; return until when the nonce must be remembered."""
    now_ts = now.timestamp()
    created, expires = params["created"], params["expires"]
    if created > now_ts + skew:
        raise _reject("signature-not-yet-valid", f"created is {int(created - now_ts)} s in the "
                      f"future (clock skew allowed: {skew} s)", window_seconds=window,
                      clock_skew_seconds=skew)
    if expires < now_ts - skew:
        raise _reject("signature-expired", f"expires passed {int(now_ts - expires)} s ago",
                      window_seconds=window, clock_skew_seconds=skew)
    if created < now_ts - window - skew:
        raise _reject("signature-expired", f"created is {int(now_ts - created)} s old; "
                      f"signatures are accepted for {window} s", window_seconds=window,
                      clock_skew_seconds=skew)
    # The last moment this signature passes the checks above, plus a second for rounding.
    last = min(expires, created + window) + skew + 1
    return dt.datetime.fromtimestamp(last, tz=dt.timezone.utc)


def _check_components(members: Iterable[tuple[Any, dict]], need_digest: bool) -> None:
    covered = {value for value, component_params in members
               if isinstance(value, str) and not component_params}
    required = list(REQUIRED_COMPONENTS) + ([DIGEST_COMPONENT] if need_digest else [])
    missing = [c for c in required if c not in covered]
    if missing:
        raise _reject("signature-components", "the signature must cover "
                      + ", ".join(f'"{c}"' for c in missing) + " (without parameters)",
                      missing=missing, required=required)


def verify_request(req: Request | None = None, *,
                   spool: Callable[[Request], SpooledBody] | None = None) -> Caller:
    """Verify the request's signature; return the calling client as a Caller or raise 401.

    The body is read through ``request.get_data()`` (Flask enforces MAX_CONTENT_LENGTH while
    reading, answering 413 beyond it) and stays cached for the view. On success the caller
    is also put in ``g.caller`` and what was verified in ``g.signed_request``.

    With ``spool`` (see :func:`verify_streamed_request`) the body is never read into memory:
    the request must cover a Content-Digest; once the signature verifies over the header
    fields, ``spool(req)`` copies and hashes the body and the digest is checked against it.
    """
    req = req if req is not None else flask_request
    config = current_app.config
    window, skew = config["SIGNATURE_WINDOW_SECONDS"], config["SIGNATURE_CLOCK_SKEW_SECONDS"]
    now = utcnow()

    _label, members, params = _signature_input(req)
    _check_parameters(params)
    key = _find_key(params["keyid"])
    if params["alg"] != key.algorithm:
        raise _reject("signature-parameters", f"alg {params['alg']!r} does not match key "
                      f"{key.key_id!r}, which is {key.algorithm}")
    remember_until = _check_window(params, now, window, skew)

    # A streamed body is always treated as a body: its digest is required and covered.
    body = req.get_data(cache=True) if spool is None else None
    has_body = bool(body) if spool is None else True
    has_digest_field = "Content-Digest" in req.headers
    if has_body and not has_digest_field:
        raise _reject("digest-mismatch", "a request with a body needs a Content-Digest field "
                      "(RFC 9530)")
    _check_components(members, need_digest=has_body or has_digest_field)

    public_key = client_keys.load_public_key(key.public_key_pem)
    verifier = HTTPMessageVerifier(signature_algorithm=ALGORITHM_CLASSES[key.algorithm],
                                   key_resolver=_OneKey(key.key_id, public_key))
    verifier.max_clock_skew = dt.timedelta(seconds=skew)
    message = _RequestMessage(req.method, target_uri(req), req.headers)
    try:
        (result,) = verifier.verify(message, max_age=dt.timedelta(seconds=window),
                                    require_components=REQUIRED_COMPONENTS)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        raise _reject("signature-invalid", f"the signature does not verify: {exc}", keyid=key.key_id
                      ) from None

    digest = result.covered_components.get(f'"{DIGEST_COMPONENT}"')
    if digest is not None and spool is not None:
        if not spool(req).matches(digest):
            raise _reject("digest-mismatch", "Content-Digest does not match the message body "
                          "(sha-256 or sha-512 of the exact bytes sent)")
    elif digest is not None:
        try:
            ContentDigest.verify_components(result.covered_components, body)
        except (InvalidSignature, HTTPMessageSignaturesException) as exc:
            raise _reject("digest-mismatch", str(exc)) from None

    client = key.client
    claimed = result.covered_components.get(f'"{CLIENT_ID_HEADER.lower()}"')
    if claimed != client.client_id:
        raise _reject("signature-client-mismatch", f"Client-Id {claimed!r} is not the client of "
                      f"key {key.key_id!r}", keyid=key.key_id)

    if not nonce_store().remember(key.key_id, params["nonce"], now=now, expires_at=remember_until):
        raise _reject("signature-replayed", "this signature's nonce was already used with this "
                      "key; sign every request anew", keyid=key.key_id)

    g.signed_request = SignedRequest(
        client_id=client.client_id, key_id=key.key_id, algorithm=key.algorithm,
        created=dt.datetime.fromtimestamp(params["created"], tz=dt.timezone.utc),
        expires=dt.datetime.fromtimestamp(params["expires"], tz=dt.timezone.utc),
        nonce=params["nonce"], content_digest=digest,
        signature_input=req.headers["Signature-Input"], signature=req.headers["Signature"])
    g.caller = Caller.from_client(client)
    return g.caller


def verify_streamed_request(req: Request | None = None, *,
                            limit: int | None = None) -> tuple[Caller, SpooledBody]:
    """:func:`verify_request` for a body that must not be held in memory.

    The signature is verified over the header fields before the body is touched; then the
    body is spooled and hashed (:func:`spool_body`, ``limit`` bytes at most) and checked
    against the signed Content-Digest. Returns the caller and the spooled body, which the
    caller of this function closes.
    """
    req = req if req is not None else flask_request
    spooled: list[SpooledBody] = []

    def spool(r: Request) -> SpooledBody:
        spooled.append(spool_body(r, limit=limit))
        return spooled[0]

    try:
        caller = verify_request(req, spool=spool)
    except BaseException:
        for body in spooled:
            body.close()
        raise
    return caller, spooled[0]


# -- asking for a signature ------------------------------------------------------------------------

CHALLENGE_LABEL = "sig1"


def accept_signature(req: Request | None = None) -> str:
    """The Accept-Signature field (RFC 9421 §5.1) a 401 answers with: the components and
    parameters this gateway requires ("content-digest" when the request has a body)."""
    req = req if req is not None else flask_request
    components = list(REQUIRED_COMPONENTS)
    if req.content_length or "Content-Digest" in req.headers or "chunked" in req.headers.get(
            "Transfer-Encoding", "").lower():
        components.append(DIGEST_COMPONENT)
    members = " ".join(f'"{c}"' for c in components)
    return f"{CHALLENGE_LABEL}=({members})" + "".join(f";{p}" for p in REQUIRED_PARAMETERS
                                                      if p != "alg")


def _challenge(response: Response) -> Response:
    """Every 401 says how to authenticate: WWW-Authenticate (RFC 9110 §11.6.1) and
    Accept-Signature. ``alg`` is not named: it is the registered key's (ed25519 or
    ecdsa-p256-sha256), and Accept-Signature can only ask for one."""
    if response.status_code == 401:
        schemes = ['Signature realm="gateway"']
        if current_app.config["DEV_TOKENS"]:
            schemes.append('Bearer realm="gateway"')
        response.headers.setdefault("WWW-Authenticate", ", ".join(schemes))
        response.headers.setdefault("Accept-Signature", accept_signature())
    return response


def _refused(exc: SignatureRejected) -> Response:
    """Every signature refusal that becomes a 401 is counted by its problem type."""
    from gateway import metrics
    from gateway.errors import Problem, problem_response

    metrics.signature_refused(exc.slug)
    return problem_response(Problem(exc.status, exc.slug, exc.title, exc.detail,
                                    errors=exc.issues, **exc.extra))


def init_app(app: Flask) -> None:
    app.after_request(_challenge)
    app.register_error_handler(SignatureRejected, _refused)


# -- signing responses ----------------------------------------------------------------------------

@dataclass
class _ResponseMessage:
    status_code: int
    headers: CaseInsensitiveDict


def sign_response(response: Response) -> Response:
    """Add Content-Digest, Signature-Input and Signature (the gateway's active key) to ``response``.

    The body is buffered to digest it. Returns the same response object, so it can serve as an
    ``after_request`` function.
    """
    message = _ResponseMessage(response.status_code,
                               CaseInsensitiveDict({"Content-Type": response.content_type or ""}))
    _sign_response_message(message, body=response.get_data())
    for name in ("Content-Digest", "Signature-Input", "Signature"):
        response.headers[name] = message.headers[name]
    return response


def streamed_response_headers(status_code: int, content_type: str,
                              content_digest: str) -> dict[str, str]:
    """Content-Digest, Signature-Input and Signature for a response whose body is streamed.

    ``content_digest`` is the Content-Digest field value of the exact body that will be sent,
    computed by the caller while writing it (e.g. ``sha-256=:<base64>:``).
    """
    message = _ResponseMessage(status_code, CaseInsensitiveDict({
        "Content-Type": content_type, "Content-Digest": content_digest}))
    _sign_response_message(message, body=None)
    return {name: message.headers[name] for name in ("Content-Digest", "Signature-Input", "Signature")}


def _sign_response_message(message: _ResponseMessage, body: bytes | None) -> None:
    """Sign with the gateway's active key; with ``body`` None the message has its digest."""
    app = current_app
    key = app.extensions["signing.keyring"].active
    created = utcnow().replace(microsecond=0)
    expires = created + dt.timedelta(seconds=app.config["SIGNATURE_WINDOW_SECONDS"])
    resolver = MappingKeyResolver(public_keys={}, private_keys={key.kid: key.private_key})
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=resolver)
    signer.sign(message, key_id=key.kid, created=created, expires=expires, label=RESPONSE_LABEL,
                covered_component_ids=RESPONSE_COMPONENTS, body=body,
                use_existing_digest=body is None)


def signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: sign whatever the view answers (see :func:`sign_response`)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        return sign_response(current_app.make_response(view(*args, **kwargs)))

    return wrapper


def sign_responses(blueprint: Blueprint) -> Blueprint:
    """Sign every response of ``blueprint`` (errors included) in an ``after_request`` hook."""
    blueprint.after_request(sign_response)
    return blueprint
