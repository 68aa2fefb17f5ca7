"""The streamed request path's digest check (gateway.exchange.signatures.digest_matches)."""

from __future__ import annotations

import base64
import hashlib

from gateway.exchange.signatures import digest_matches

BODY = b'{"records": []}'
DIGESTS = {"sha-256": hashlib.sha256(BODY).digest(), "sha-512": hashlib.sha512(BODY).digest()}


def _field(name: str, digest: bytes) -> str:
    return f"{name}=:{base64.b64encode(digest).decode()}:"


def test_sha256_and_sha512_members_must_all_match():
    assert digest_matches(_field("sha-256", DIGESTS["sha-256"]), DIGESTS)
    assert digest_matches(_field("sha-512", DIGESTS["sha-512"]), DIGESTS)
    both = _field("sha-256", DIGESTS["sha-256"]) + ", " + _field("sha-512", DIGESTS["sha-512"])
    assert digest_matches(both, DIGESTS)
    wrong = _field("sha-256", DIGESTS["sha-256"]) + ", " + _field("sha-512", b"\0" * 64)
    assert not digest_matches(wrong, DIGESTS)


def test_unknown_algorithms_and_malformed_fields_do_not_match():
    assert not digest_matches(_field("md5", hashlib.md5(BODY).digest()), DIGESTS)  # noqa: S324
    assert not digest_matches(_field("sha-512", DIGESTS["sha-512"]), {"sha-256": DIGESTS["sha-256"]})
    assert not digest_matches("sha-256=abc", DIGESTS)
    assert not digest_matches("", DIGESTS)
    assert not digest_matches("not a dictionary ((", DIGESTS)
