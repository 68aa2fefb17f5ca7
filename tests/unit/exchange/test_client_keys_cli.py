"""``vgw keys``: generate, add, list, rotate, revoke — through Flask's CLI runner, on both stores."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gateway import store
from gateway.services.clients import create_client
from gateway.exchange import keys as client_keys


@pytest.fixture
def cli(store_app):
    with store.session_scope(store_app) as session:
        create_client(session, "city-01", "City system")
    runner = store_app.test_cli_runner()
    return lambda *args: runner.invoke(args=["keys", *map(str, args)])


def _generate(cli, tmp_path, alg="ed25519"):
    result = cli("generate", "--alg", alg, "--out", tmp_path / "keys")
    assert result.exit_code == 0, result.output
    key_id = result.output.split("suggested key id (RFC 7638 thumbprint): ")[1].split()[0]
    return key_id, tmp_path / "keys" / f"{key_id}.private.pem", tmp_path / "keys" / f"{key_id}.public.pem"


@pytest.mark.parametrize("alg, key_type", [("ed25519", ed25519.Ed25519PrivateKey),
                                           ("ecdsa-p256", ec.EllipticCurvePrivateKey)])
def test_generate_writes_a_private_key_0600_and_a_public_key(cli, tmp_path, alg, key_type):
    key_id, private, public = _generate(cli, tmp_path, alg)
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert isinstance(serialization.load_pem_private_key(private.read_bytes(), None), key_type)
    public_key = serialization.load_pem_public_key(public.read_bytes())
    assert client_keys.jwk_thumbprint(public_key) == key_id
    again = cli("generate", "--alg", alg, "--out", tmp_path / "keys")
    assert again.exit_code == 0  # a second pair, under its own id, overwrites nothing


def test_add_list_rotate_revoke(cli, tmp_path):
    first_id, _, first_public = _generate(cli, tmp_path)
    result = cli("add", "city-01", first_public)
    assert result.exit_code == 0, result.output
    assert f"added {first_id} (ed25519) to city-01, active" in result.output

    second_id, _, second_public = _generate(cli, tmp_path, "ecdsa-p256")
    result = cli("rotate", "city-01", second_public)
    assert result.exit_code == 0, result.output
    assert f"added {second_id} (ecdsa-p256-sha256)" in result.output
    assert f"still active: {first_id}" in result.output
    assert f"revoke the old one: vgw keys revoke -- {first_id}" in result.output

    listing = cli("list", "city-01").output.splitlines()
    assert listing[0].startswith("key id")
    assert [line.split()[:3] for line in listing[1:]] == [
        [first_id, "ed25519", "active"], [second_id, "ecdsa-p256-sha256", "active"]]

    result = cli("revoke", "--", first_id)  # a thumbprint may start with "-"
    assert result.exit_code == 0 and f"revoked {first_id} of city-01" in result.output
    listing = cli("list", "city-01").output.splitlines()
    assert listing[1].split()[:3] == [first_id, "ed25519", "revoked"]
    assert listing[2].split()[2] == "active"

    result = cli("revoke", "--", second_id)
    assert "no active key left" in result.output


def test_add_with_a_chosen_key_id(cli, tmp_path):
    _, _, public = _generate(cli, tmp_path)
    assert cli("add", "city-01", public, "--key-id", "city-01-2026").exit_code == 0
    assert "city-01-2026" in cli("list", "city-01").output
    bad = cli("add", "city-01", _generate(cli, tmp_path)[2], "--key-id", "has space")
    assert bad.exit_code == 1 and "key id" in bad.output


def test_add_refuses_what_it_must(cli, tmp_path):
    key_id, private, public = _generate(cli, tmp_path)
    assert "no client 'nobody'" in cli("add", "nobody", public).output
    assert "this is a private key" in cli("add", "city-01", private).output
    assert cli("add", "city-01", public).exit_code == 0
    assert "already registered" in cli("add", "city-01", public).output
    assert "already registered" in cli("add", "city-01", public, "--key-id", "another").output
    assert "cannot read" in cli("add", "city-01", tmp_path / "missing.pem").output

    for other in (rsa.generate_private_key(public_exponent=65537, key_size=2048),
                  ec.generate_private_key(ec.SECP384R1())):
        path = tmp_path / "other.pem"
        path.write_bytes(other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        result = cli("add", "city-01", path)
        assert result.exit_code == 1
        assert "Ed25519" in result.output or "P-256" in result.output
    assert "no key 'nope'" in cli("revoke", "nope").output
    assert [line.split()[0] for line in cli("list", "city-01").output.splitlines()[1:]] == [key_id]


def test_list_for_a_client_without_keys(cli):
    assert "city-01 has no keys" in cli("list", "city-01").output


def test_jwk_thumbprint_matches_rfc_8037_example():
    """RFC 8037 Appendix A.3: the thumbprint of the Ed25519 example key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from gateway.signing import b64url_decode

    key = Ed25519PublicKey.from_public_bytes(
        b64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))
    assert client_keys.jwk_thumbprint(key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
