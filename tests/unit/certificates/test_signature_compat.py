"""Certificates signed before canonical JSON came from the rfc8785 package still verify.

SIGNATURE and CANONICAL_SHA256 were made by the hand-written JCS serialiser that
gateway/signing.py had before (issue 13), over CONTENT with the Ed25519 key of SEED: the
content exercises what JCS makes delicate (keys sorted by UTF-16 code units across the BMP
and astral planes, escapes, control characters, U+2028, the largest safe integer, null).
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.certificates.document import verify_certificate
from gateway.signing import ALG, canonical_json, public_jwk

SEED = bytes(range(32))
KID = "gw-20260101-test"
CONTENT = {
    "certificate_no": "ZYZM-110105-2026-000001", "type": "1",
    "volunteer": {"name": "王淑兰", "volunteer_no": "11010520260000000001",
                  "id_masked": "110105********0021"},
    "service": {"total_hours": "12.50", "period_from": "2026-01-01", "period_to": "2026-06-30",
                "items": [{"project": "社区助老 \"银龄\" 服务\n第二期", "hours": "4.00",
                           "date": "2026-03-05"},
                          {"project": "😀 emoji \u2028 line sep \x1f", "hours": "8.50",
                           "date": "2026-04-12"}]},
    "issuer": {"name": "朝阳区志愿者协会", "team_no": None, "contact": "", "\ue000private": True},
    "issued_at": "2026-07-01T09:30:00+08:00", "count": 9007199254740991, "notes": None,
}
SIGNATURE = "4OxJY6bh70SThvWxPoAfGTPNEUphDFgY_W0lfHVjdijh8_kqj0VBW-mM0SXyAytPQHZUG4c7DXDtnaKjXpJmBg"
CANONICAL_SHA256 = "6aa576e5c9f3f6d182d1c486d0ba03e30a5b468d034b594e777ed3c6104064b6"


def _jwks():
    return {"keys": [public_jwk(KID, Ed25519PrivateKey.from_private_bytes(SEED).public_key())]}


def test_the_canonical_form_is_byte_for_byte_the_old_one():
    assert hashlib.sha256(canonical_json(CONTENT)).hexdigest() == CANONICAL_SHA256


def test_a_certificate_signed_by_the_old_serialiser_still_verifies():
    signed = {"content": CONTENT, "signature": {"alg": ALG, "kid": KID, "value": SIGNATURE}}
    assert verify_certificate(signed, _jwks())
    tampered = {**signed, "content": {**CONTENT, "count": 9007199254740990}}
    assert not verify_certificate(tampered, _jwks())


@pytest.mark.parametrize("value", [1.5, {"hours": 12.5}, [0.0], {"a": [{"b": 1e3}]}])
def test_floats_are_still_refused_anywhere(value):
    with pytest.raises(TypeError, match="floats"):
        canonical_json(value)
