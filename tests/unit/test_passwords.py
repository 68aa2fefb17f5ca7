"""gateway/passwords.py: one scheme (argon2id) for new hashes; the stored older ones verify."""

from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from gateway.passwords import check_password, hash_password, needs_rehash

# Made by the hand-written scheme registration.py had before (scrypt n=2^14, r=8, p=1).
LEGACY_SCRYPT = "scrypt$16384$8$1$oCWXXG1ezmSHXD7AbDyZVQ$bIL3zWbXowxgacdTXxwGALQ3EiTjlmYaVrUqOtG-nt0"
LEGACY_PASSWORD = "队伍口令1234"


def test_a_new_hash_is_argon2id_and_fits_the_team_column():
    stored = hash_password("open-sesame")
    assert stored.startswith("$argon2id$") and len(stored) <= 128
    assert check_password(stored, "open-sesame") and not check_password(stored, "open-sesamE")
    assert not needs_rehash(stored)


def test_the_hand_written_scrypt_hashes_still_verify_and_ask_for_a_rehash():
    assert check_password(LEGACY_SCRYPT, LEGACY_PASSWORD)
    assert not check_password(LEGACY_SCRYPT, "队伍口令1235")
    assert needs_rehash(LEGACY_SCRYPT)


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256"])
def test_werkzeug_hashes_still_verify_and_ask_for_a_rehash(method):
    stored = generate_password_hash("招募口令5678", method=method)
    assert check_password(stored, "招募口令5678") and not check_password(stored, "招募口令5679")
    assert needs_rehash(stored)


@pytest.mark.parametrize("stored", [None, "", "plain", "scrypt$1$2", "$argon2id$garbage"])
def test_nothing_else_verifies(stored):
    assert not check_password(stored, "x")
    assert not check_password(hash_password("x"), None)
