"""``vgw pii rotate`` and ``vgw pii reindex`` on a store with registered volunteers and teams."""

from __future__ import annotations

import secrets

from cryptography.fernet import Fernet
from sqlalchemy import text

from tests import factories
from tests.integration.registration.helpers import (ALL_PERMS, citizen_id, make_caller, person,
                                                    register, sibling_app, team_record)

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
INDEX_1 = secrets.token_urlsafe(32)
INDEX_2 = secrets.token_urlsafe(32)


def _apps(store_app):
    made = []

    def make(keys: str, index: str):
        app = sibling_app(store_app, PII_ENCRYPTION_KEYS=keys, PII_INDEX_KEY=index)
        made.append(app)
        return app
    return made, make


def _tokens(app) -> dict:
    with app.extensions["store.engine"].connect() as conn:
        rows = conn.execute(text("SELECT id, id_number_enc, mobile_enc, guardian_enc, updated_at "
                                 "FROM volunteers ORDER BY id")).all()
        teams = conn.execute(text("SELECT id, contact_mobile_enc FROM teams ORDER BY id")).all()
    return {"volunteers": [tuple(r) for r in rows], "teams": [tuple(r) for r in teams]}


def test_rotate_re_encrypts_everything_so_the_old_key_can_go(store_app):
    made, make = _apps(store_app)
    try:
        app_a = make(KEY_A, INDEX_1)
        client = app_a.test_client()
        headers = make_caller(app_a, "bj", region="11", perms=ALL_PERMS, pii="full")
        records = [person(n) for n in range(1, 6)] + [factories.minor_volunteer(source_id="minor")]
        numbers = [register(client, headers, r)["volunteer_no"] for r in records]
        team = client.post("/api/v1/teams", json=team_record(1), headers=headers).get_json()
        before = _tokens(app_a)

        # Restart with the new key in front: old data still reads, new data uses key B.
        app_ba = make(f"{KEY_B},{KEY_A}", INDEX_1)
        answer = app_ba.test_client().get(f"/api/v1/volunteers/{numbers[0]}", headers=headers)
        assert answer.get_json()["id_number"] == records[0]["id_number"]
        result = app_ba.test_cli_runner().invoke(args=["pii", "rotate", "--batch-size", "2"])
        assert result.exit_code == 0, result.output
        assert "volunteers: 6 row(s) re-encrypted (13 value(s))" in result.output
        assert "teams: 1 row(s) re-encrypted (1 value(s))" in result.output
        for record in records:
            assert record["id_number"] not in result.output and record["mobile"] not in result.output
        after = _tokens(app_a)
        for old, new in zip(before["volunteers"], after["volunteers"]):
            assert old[1] != new[1] and old[2] != new[2]
            assert old[4] == new[4]  # re-encryption is no change of the record
        assert before["teams"][0][1] != after["teams"][0][1]

        # Only key B configured: every volunteer and the team still read in full.
        app_b = make(KEY_B, INDEX_1)
        client_b = app_b.test_client()
        for number, record in zip(numbers, records):
            body = client_b.get(f"/api/v1/volunteers/{number}", headers=headers).get_json()
            assert (body["id_number"], body["mobile"]) == (record["id_number"], record["mobile"])
        minor = client_b.get(f"/api/v1/volunteers/{numbers[-1]}", headers=headers).get_json()
        assert minor["guardian"] == records[-1]["guardian"]
        team_body = client_b.get(f"/api/v1/teams/{team['team_no']}", headers=headers).get_json()
        assert team_body["contact_mobile"] == "13911112222"
        # Running it again is harmless.
        again = app_b.test_cli_runner().invoke(args=["pii", "rotate"])
        assert again.exit_code == 0, again.output
    finally:
        for app in made:
            app.extensions["store.engine"].dispose()


def test_rotate_reports_values_no_configured_key_decrypts(store_app):
    made, make = _apps(store_app)
    try:
        app_a = make(KEY_A, INDEX_1)
        register(app_a.test_client(), make_caller(app_a, "bj", region="11", perms=ALL_PERMS), person(1))
        app_b = make(KEY_B, INDEX_1)  # key A forgotten
        result = app_b.test_cli_runner().invoke(args=["pii", "rotate"])
        assert result.exit_code != 0
        assert "1 FAILED" in result.output and "could not be decrypted" in result.output
    finally:
        for app in made:
            app.extensions["store.engine"].dispose()


def test_reindex_after_the_index_key_changes_keeps_duplicate_detection(store_app):
    made, make = _apps(store_app)
    try:
        app_1 = make(KEY_A, INDEX_1)
        headers = make_caller(app_1, "bj", region="11", perms=ALL_PERMS)
        client_1 = app_1.test_client()
        numbers = [register(client_1, headers, person(n))["volunteer_no"] for n in (1, 2, 3)]

        app_2 = make(KEY_A, INDEX_2)
        client_2 = app_2.test_client()
        lookup = {"id_type": "01", "id_number": citizen_id(2)}
        # With the new key and the old indexes, nobody is found.
        assert client_2.post("/api/v1/volunteers/lookup", json=lookup, headers=headers).status_code == 404
        result = app_2.test_cli_runner().invoke(args=["pii", "reindex", "--batch-size", "2"])
        assert result.exit_code == 0, result.output
        assert "volunteers: 3 row(s) re-indexed (6 value(s)), 0 already current" in result.output

        found = client_2.post("/api/v1/volunteers/lookup", json=lookup, headers=headers)
        assert found.status_code == 200 and found.get_json()["volunteer_no"] == numbers[1]
        answer = client_2.post("/api/v1/volunteers", json=person(3, source_id="again"), headers=headers)
        assert answer.status_code == 409 and answer.get_json()["existing_volunteer_no"] == numbers[2]
        by_mobile = client_2.post("/api/v1/volunteers/search", json={"mobile": "13900000001"},
                                  headers=headers).get_json()
        assert [v["volunteer_no"] for v in by_mobile["items"]] == [numbers[0]]
        again = app_2.test_cli_runner().invoke(args=["pii", "reindex"])
        assert "0 row(s) re-indexed (0 value(s)), 3 already current" in again.output
    finally:
        for app in made:
            app.extensions["store.engine"].dispose()


def test_rotate_moves_fernet_tokens_of_before_to_aes_gcm(store_app):
    """Rows written when fields were Fernet tokens read, and `vgw pii rotate` converts them
    (same key): afterwards every stored token is AES-GCM and reads the same."""
    from sqlalchemy import text as sql

    from gateway.privacy import vault as vault_of

    made, make = _apps(store_app)
    try:
        app = make(KEY_A, INDEX_1)
        client = app.test_client()
        headers = make_caller(app, "bj", region="11", perms=ALL_PERMS, pii="full")
        record = person(1)
        number = register(client, headers, record)["volunteer_no"]
        with app.app_context():
            the_vault = vault_of()
            engine = app.extensions["store.engine"]
            with engine.begin() as conn:  # as a gateway before AES-GCM stored them
                conn.execute(sql("UPDATE volunteers SET id_number_enc = :i, mobile_enc = :m"),
                             {"i": the_vault.fernet_encrypt(record["id_number"]),
                              "m": the_vault.fernet_encrypt(record["mobile"])})
        body = client.get(f"/api/v1/volunteers/{number}", headers=headers).get_json()
        assert (body["id_number"], body["mobile"]) == (record["id_number"], record["mobile"])
        assert all(t.startswith("gAAAA") for t in _tokens(app)["volunteers"][0][1:3])

        result = app.test_cli_runner().invoke(args=["pii", "rotate"])
        assert result.exit_code == 0, result.output
        assert "volunteers: 1 row(s) re-encrypted (2 value(s))" in result.output
        assert all(t.startswith("aesgcm1.") for t in _tokens(app)["volunteers"][0][1:3])
        body = client.get(f"/api/v1/volunteers/{number}", headers=headers).get_json()
        assert (body["id_number"], body["mobile"]) == (record["id_number"], record["mobile"])
        again = app.test_cli_runner().invoke(args=["pii", "rotate"])
        assert "volunteers: 0 row(s) re-encrypted" in again.output
    finally:
        for app in made:
            app.extensions["store.engine"].dispose()
