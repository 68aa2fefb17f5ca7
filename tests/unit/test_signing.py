"""The gateway's own Ed25519 keys: key ring on disk, JWK set, offline verification, JCS."""

from __future__ import annotations

import json
import os
import stat

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo

from gateway import signing
from gateway.cli.keys_cmd import signing_keys
from gateway.signing import (
    KeyRing,
    KeyRingEmpty,
    KeyRingError,
    b64url_decode,
    canonical_json,
    verify_with_jwks,
)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def ring(tmp_path) -> KeyRing:
    return KeyRing.load_or_create(tmp_path / "keys")


# --------------------------------------------------------------------------- canonical JSON

def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": [1, True, None], "a": {"y": "志愿", "x": False}}) == (
        '{"a":{"x":false,"y":"志愿"},"b":[1,true,null]}'.encode("utf-8"))


def test_canonical_json_escapes_like_jcs():
    assert canonical_json(["\n\t\"\\", "\x1f", "\u2028", "é/"]) == (
        '["\\n\\t\\"\\\\","\\u001f","\u2028","é/"]'.encode("utf-8"))


def test_canonical_json_sorts_keys_by_utf16_code_units():
    # U+1F600 is the surrogate pair D83D DE00, which sorts before U+E000 in UTF-16.
    assert canonical_json({"\ue000": 1, "\U0001F600": 2, "a": 3}) == (
        '{"a":3,"\U0001F600":2,"\ue000":1}'.encode("utf-8"))


@pytest.mark.parametrize("value", [1.5, {"hours": 2.0}, 2**53, {1: "x"}, object(), "\ud800"])
def test_canonical_json_refuses_what_it_cannot_sign_unambiguously(value):
    with pytest.raises((TypeError, ValueError)):
        canonical_json(value)


# --------------------------------------------------------------------------- signing

def test_sign_and_verify_round_trip(ring):
    kid, sig = ring.sign(b"hello")
    assert kid == ring.active.kid and len(sig) == 64
    assert verify_with_jwks(ring.jwks(), kid, b"hello", sig)


def test_verification_needs_only_the_published_jwk_set(ring):
    data = canonical_json({"certificate_no": "ZYZM-1", "hours": "12.50"})
    kid, sig = ring.sign(data)
    published = json.loads(json.dumps(ring.jwks()))  # what a third party downloads
    assert all("d" not in jwk for jwk in published["keys"])  # no private part
    assert verify_with_jwks(published, kid, data, sig)


def test_jwk_is_rfc8037_okp_ed25519(ring):
    (jwk,) = ring.jwks()["keys"]
    assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert "=" not in jwk["x"] and len(b64url_decode(jwk["x"])) == 32
    assert jwk["kid"] == ring.active.kid


def test_kid_format(ring):
    assert signing.KID_RE.match(ring.active.kid)
    prefix, day, suffix = ring.active.kid.split("-")
    assert prefix == "gw" and len(day) == 8 and day.isdigit() and len(suffix) == 4


def test_tampered_data_or_signature_fails(ring):
    kid, sig = ring.sign(b'{"hours":"12.50"}')
    jwks = ring.jwks()
    assert not verify_with_jwks(jwks, kid, b'{"hours":"120.50"}', sig)
    assert not verify_with_jwks(jwks, kid, b'{"hours":"12.50"}', bytes([sig[0] ^ 1]) + sig[1:])
    assert not verify_with_jwks(jwks, "gw-unknown", b'{"hours":"12.50"}', sig)


@pytest.mark.parametrize("jwks", [
    {}, {"keys": "x"}, {"keys": [{"kid": "K", "kty": "RSA"}]},
    {"keys": [{"kid": "K", "kty": "OKP", "crv": "Ed25519", "x": "!!"}]},
    {"keys": [{"kid": "K", "kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]},
])
def test_malformed_jwks_is_false_not_an_error(jwks):
    assert verify_with_jwks(jwks, "K", b"data", b"\0" * 64) is False


def test_rotation_keeps_old_signatures_verifiable(tmp_path):
    ring = KeyRing.load_or_create(tmp_path)
    old_kid, old_sig = ring.sign(b"old")
    new = ring.generate()
    assert ring.active.kid == new.kid != old_kid
    new_kid, new_sig = ring.sign(b"new")
    assert new_kid == new.kid

    reloaded = KeyRing(tmp_path)  # a later start reads both keys and the active file
    assert reloaded.active.kid == new.kid
    jwks = json.loads(json.dumps(reloaded.jwks()))
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    assert verify_with_jwks(jwks, old_kid, b"old", old_sig)
    assert verify_with_jwks(jwks, new_kid, b"new", new_sig)
    assert (tmp_path / "signing" / "active").read_text().strip() == new_kid


def test_key_files_are_private(tmp_path):
    old = os.umask(0)  # even with a permissive umask
    try:
        ring = KeyRing.load_or_create(tmp_path / "keys")
        ring.generate()
    finally:
        os.umask(old)
    directory = tmp_path / "keys" / "signing"
    assert mode(directory) == 0o700
    pems = list(directory.glob("*.pem"))
    assert len(pems) == 2
    for pem in pems:
        assert mode(pem) == 0o600
        assert pem.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert mode(directory / "active") == 0o600


def test_load_or_create_makes_one_key_only_once(tmp_path):
    first = KeyRing.load_or_create(tmp_path).active.kid
    second = KeyRing.load_or_create(tmp_path)
    assert [k.kid for k in second.keys] == [first]


def test_plain_keyring_does_not_create_keys(tmp_path):
    ring = KeyRing(tmp_path)
    assert ring.keys == []
    with pytest.raises(KeyRingEmpty):
        ring.sign(b"x")
    assert not (tmp_path / "signing").exists()


def test_lazy_keyring_creates_the_first_key_on_use(tmp_path):
    ring = KeyRing(tmp_path, create_if_missing=True)
    assert not (tmp_path / "signing").exists()
    kid, _ = ring.sign(b"x")
    assert (tmp_path / "signing" / f"{kid}.pem").is_file()


def test_without_active_file_the_newest_key_file_is_active(tmp_path):
    ring = KeyRing.load_or_create(tmp_path)
    old = ring.active
    new = ring.generate()
    (tmp_path / "signing" / "active").unlink()
    os.utime(old.path, ns=(1_000_000_000, 1_000_000_000))
    assert KeyRing(tmp_path).active.kid == new.kid


def test_broken_key_file_is_reported(tmp_path):
    (tmp_path / "signing").mkdir(mode=0o700)
    (tmp_path / "signing" / "gw-20260101-0000.pem").write_text("not a key")
    with pytest.raises(KeyRingError, match="gw-20260101-0000.pem"):
        KeyRing(tmp_path)


# --------------------------------------------------------------------------- app and CLI

def _bare_app(keys_dir) -> Flask:
    app = Flask(__name__)
    app.config["KEYS_DIR"] = str(keys_dir)
    signing.init_app(app)
    return app


def test_init_app_attaches_a_lazy_keyring(tmp_path):
    app = _bare_app(tmp_path)
    ring = app.extensions["signing.keyring"]
    assert isinstance(ring, KeyRing)
    assert not (tmp_path / "signing").exists()  # nothing written just by building the app
    assert ring.jwks()["keys"][0]["kid"] == ring.active.kid


def test_signing_keys_cli(tmp_path):
    app = _bare_app(tmp_path)
    runner = CliRunner()
    obj = ScriptInfo(create_app=lambda: app)

    result = runner.invoke(signing_keys, ["list"], obj=obj)
    assert result.exit_code == 0 and "no signing keys yet" in result.output

    first = runner.invoke(signing_keys, ["generate"], obj=obj)
    second = runner.invoke(signing_keys, ["generate"], obj=obj)
    assert first.exit_code == second.exit_code == 0
    active = app.extensions["signing.keyring"].active.kid
    assert active in second.output

    listing = runner.invoke(signing_keys, ["list"], obj=obj)
    lines = [line.split() for line in listing.output.splitlines()[1:]]
    assert len(lines) == 2
    assert [line[0] for line in lines if line[-1] == "*"] == [active]

    printed = json.loads(runner.invoke(signing_keys, ["jwks"], obj=obj).output)
    assert len(printed["keys"]) == 2 and all(k["kty"] == "OKP" for k in printed["keys"])
