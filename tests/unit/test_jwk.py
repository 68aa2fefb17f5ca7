"""gateway/jwk.py: the three JWK readers (own key set, registered client keys, the SDK) agree."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gateway import signing
from gateway.exchange import client_auth, keys
from gateway.jwk import JWKError, public_key_from_jwk, thumbprint

_ED = signing.public_jwk("k1", ed25519.Ed25519PrivateKey.generate().public_key())
_EC_KEY = ec.generate_private_key(ec.SECP256R1()).public_key()
_EC = {"kty": "EC", "crv": "P-256",
       "x": signing.b64url_encode(_EC_KEY.public_numbers().x.to_bytes(32, "big")),
       "y": signing.b64url_encode(_EC_KEY.public_numbers().y.to_bytes(32, "big"))}

BAD = {
    "not an object": ["kty", "OKP"],
    "private part": {**_ED, "d": "AAAA"},
    "RSA": {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
    "short x": {**_ED, "x": "AAAA"},
    "x not base64url": {**_ED, "x": "!" * 43},
    "no x": {"kty": "OKP", "crv": "Ed25519"},
    "EC point off the curve": {**_EC, "y": _EC["x"]},
}


@pytest.mark.parametrize("jwk", BAD.values(), ids=BAD.keys())
def test_every_reader_refuses_the_same_bad_jwks(jwk):
    with pytest.raises(JWKError):
        public_key_from_jwk(jwk)
    with pytest.raises(keys.ClientKeyError):
        keys.pem_from_jwk(jwk)
    with pytest.raises(ValueError):
        client_auth.jwk_public_key(jwk)
    assert signing._key_from_jwk(jwk) is None


@pytest.mark.parametrize("jwk", [_ED, _EC], ids=["Ed25519", "P-256"])
def test_every_reader_accepts_the_good_ones(jwk):
    key = public_key_from_jwk(jwk)
    assert keys.pem_from_jwk(jwk) == keys.public_pem(key)
    assert client_auth.jwk_public_key(jwk) is not None
    assert thumbprint(key) == keys.jwk_thumbprint(key)


def test_the_gateway_s_own_set_takes_only_ed25519_signing_keys():
    assert signing._key_from_jwk(_ED) is not None
    assert signing._key_from_jwk(_EC) is None
    assert signing._key_from_jwk({**_ED, "use": "enc"}) is None
