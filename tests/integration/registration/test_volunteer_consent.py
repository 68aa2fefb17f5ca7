"""办法 (2020) Art. 6: an organisation enters a volunteer's information with the volunteer's
consent. A volunteer record carries ``consent`` (when, what it covers: codes/consent_scope,
how); the store keeps it with the record and its history; VOLUNTEER_CONSENT = require refuses
a record without it (``volunteer.consent_required``). SQLite and PostgreSQL (store_app), and
the validation API for the policy's two values."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway import create_app, store
from gateway.store.models import Change
from tests.integration.registration.helpers import ALL_PERMS, make_caller, person

URL = "/api/v1/volunteers"
CONSENT = {"given_at": "2024-03-15T10:00:00", "covers": ["1", "2", "4"], "method": "书面签字"}


def test_consent_is_kept_with_the_record_and_its_history(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "bj", region="11", perms=ALL_PERMS)
    answer = client.post(URL, json={**person(1), "consent": CONSENT}, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    number = answer.get_json()["volunteer_no"]
    assert answer.get_json()["consent"] == CONSENT
    assert client.get(f"{URL}/{number}", headers=headers).get_json()["consent"] == CONSENT
    # widened later: the change is in the history
    wider = {**CONSENT, "covers": ["1", "2", "4", "5"], "given_at": "2024-06-01T09:00:00"}
    changed = client.patch(f"{URL}/{number}", json={"consent": wider}, headers=headers)
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["consent"]["covers"] == ["1", "2", "4", "5"]
    with store.session_scope(store_app) as session:
        changes = [c.changes for c in session.execute(
            select(Change).where(Change.entity == "volunteer", Change.entity_no == number)
            .order_by(Change.id)).scalars()]
    assert "consent" in changes[-1]


def test_consent_of_a_wrong_shape_is_refused(store_app):
    client = store_app.test_client()
    headers = make_caller(store_app, "bj", region="11", perms=ALL_PERMS)
    answer = client.post(URL, json={**person(2), "consent": {"given_at": "2024-03-15T10:00:00",
                                                             "covers": ["9"]}}, headers=headers)
    assert answer.status_code == 422
    assert [(e["pointer"], e["rule"]) for e in answer.get_json()["errors"]] == [
        ("/consent/covers/0", "code.unknown")]


@pytest.fixture
def validate(tmp_path):
    apps = []

    def answer(records, **settings):
        app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite3'}",
                          "KEYS_DIR": str(tmp_path / "keys"), **settings})
        apps.append(app)
        response = app.test_client().post("/api/v1/validate/volunteer", json=records)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [sorted((e["pointer"], e["rule"]) for e in result["errors"])
                for result in response.get_json()["results"]]

    yield answer
    for app in apps:
        app.extensions["store.engine"].dispose()


def test_the_consent_policy(validate):
    without, with_consent = person(3), {**person(4), "consent": CONSENT}
    assert validate([without, with_consent]) == [[], []]
    assert validate([without, with_consent], VOLUNTEER_CONSENT="optional") == [[], []]
    assert validate([without, with_consent], VOLUNTEER_CONSENT="require") == [
        [("/consent", "volunteer.consent_required")], []]
