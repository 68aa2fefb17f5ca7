"""Server role: every signature failure of docs/protocol.md §3 is a 401 and writes nothing.

Each test pushes a batch of one fresh record signed wrong in exactly one way, checks the 401
and its problem type, then pushes the very same body with the same Idempotency-Key signed
correctly: its record must be ``created``, which shows the refused request wrote nothing
(neither the record nor a stored answer under the key).
"""

from __future__ import annotations

import secrets
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ...outcomes import Fail
from ...registry import conformance_test
from .common import batch_body, expect_problem, idempotency_key, nothing_was_written, push, volunteer_item
from .push import ACCEPTED


def _refused(ctx, sign: bool | dict, slug: str, what: str, *, body: bytes | None = None) -> None:
    body = body or batch_body(ctx, [volunteer_item(ctx)])
    key = idempotency_key(body)
    answer = push(ctx, body, key=key, sign=sign, note=what)
    expect_problem(answer, 401, slug, what)
    nothing_was_written(ctx, body, key, what)


def _case(test_id: str, title: str, requirement: str):
    return conformance_test(f"server.signatures.{test_id}", title=title, requirements=requirement,
                            features=("push",), depends_on=(ACCEPTED,))


@_case("missing", "An unsigned request is refused (signature-missing)", "EXC-SIG-01")
def missing(ctx):
    _refused(ctx, False, "signature-missing", "a push without Signature / Signature-Input")


@_case("unknown_key", "A signature by an unregistered key is refused (signature-unknown-key)",
       "EXC-SIG-02")
def unknown_key(ctx):
    _refused(ctx, {"key": Ed25519PrivateKey.generate(), "keyid": f"unknown-{secrets.token_hex(8)}"},
             "signature-unknown-key", "a push signed by a key nobody registered")


@_case("invalid", "A signature that does not verify is refused (signature-invalid)", "EXC-SIG-03")
def invalid(ctx):
    _refused(ctx, {"tamper": "signature"}, "signature-invalid",
             "a push whose signature has one byte flipped")


@_case("digest_mismatch", "A Content-Digest not matching the body is refused (digest-mismatch)",
       "EXC-SIG-04")
def digest_mismatch(ctx):
    _refused(ctx, {"tamper": "digest"}, "digest-mismatch",
             "a push whose signed Content-Digest is of other bytes than the body")


@_case("expired", "An expired signature is refused (signature-expired)", "EXC-SIG-05")
def expired(ctx):
    now = int(time.time())
    _refused(ctx, {"created": now - 3600, "expires": now - 3300}, "signature-expired",
             "a push signed an hour ago (expired 55 minutes ago)")


@_case("not_yet_valid", "A signature created in the future is refused (signature-not-yet-valid)",
       "EXC-SIG-06")
def not_yet_valid(ctx):
    now = int(time.time())
    _refused(ctx, {"created": now + 3600, "expires": now + 3900}, "signature-not-yet-valid",
             "a push whose created is an hour ahead")


@_case("replayed", "A nonce used before is refused (signature-replayed)", "EXC-SIG-07")
def replayed(ctx):
    nonce = secrets.token_hex(16)
    first = batch_body(ctx, [volunteer_item(ctx)])
    answer = push(ctx, first, sign={"nonce": nonce}, note="first use of the nonce")
    if answer.status_code != 200:
        raise Fail("a push with a fresh nonce must be accepted", expected=200,
                   observed=answer.status_code)
    _refused(ctx, {"nonce": nonce}, "signature-replayed",
             "another push signed (anew) with the nonce of the push before")


@_case("client_mismatch", "A Client-Id other than the key's client is refused "
       "(signature-client-mismatch)", "EXC-SIG-08")
def client_mismatch(ctx):
    _refused(ctx, {"client_id": f"not-{ctx.config.server.client_id}"}, "signature-client-mismatch",
             "a push whose signed Client-Id is not the key's client")


@_case("components", "A signature leaving out \"client-id\" is refused (signature-components)",
       "EXC-SIG-09")
def components(ctx):
    _refused(ctx, {"components": ("@method", "@target-uri", "content-digest")},
             "signature-components", 'a push whose signature does not cover "client-id"')


@_case("wrong_alg", "A signature naming another alg than the key's is refused (signature-parameters)",
       "EXC-SIG-10")
def wrong_alg(ctx):
    other = {"ed25519": "ecdsa-p256-sha256"}.get(ctx.http.key_algorithm, "ed25519")
    _refused(ctx, {"alg": other}, "signature-parameters",
             f"a push whose alg parameter says {other}, not the key's algorithm")


@_case("missing_nonce", "A signature without a nonce is refused (signature-parameters)", "EXC-SIG-10")
def missing_nonce(ctx):
    _refused(ctx, {"omit_parameters": ("nonce",)}, "signature-parameters",
             "a push whose signature has no nonce parameter")


@_case("challenge", "A 401 says how to sign (WWW-Authenticate, Accept-Signature)", "EXC-SIG-11")
def challenge(ctx):
    body = batch_body(ctx, [volunteer_item(ctx)])
    answer = push(ctx, body, sign=False, note="unsigned, to read the challenge")
    if answer.status_code != 401:
        raise Fail("an unsigned push must be refused with 401", expected=401, observed=answer.status_code)
    authenticate = answer.headers.get("WWW-Authenticate", "")
    accept = answer.headers.get("Accept-Signature", "")
    observed = {"WWW-Authenticate": authenticate, "Accept-Signature": accept}
    if not authenticate.lower().startswith("signature"):
        raise Fail("WWW-Authenticate must name the Signature scheme", expected='Signature realm="…"',
                   observed=observed)
    wanted = ['"@method"', '"@target-uri"', '"client-id"', '"content-digest"',
              "created", "expires", "nonce", "keyid"]
    if [w for w in wanted if w not in accept]:
        raise Fail("Accept-Signature must name the components and parameters to sign",
                   expected=" ".join(wanted), observed=observed)
