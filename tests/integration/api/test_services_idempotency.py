"""An optional Idempotency-Key on the services' POSTs (issue 12, item 5; docs/protocol.md,
"Idempotency-Key on the services' API"), on SQLite and PostgreSQL: the same request again
gets the first answer and nothing is done twice; another request under the same key is
refused; a failed request keeps nothing; without the field nothing changes.
"""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.store.models import IdempotencyKey, Volunteer
from tests import factories
from tests.conftest import ALL_PERMS, make_caller


def _person(**overrides):
    record = factories.volunteer(**overrides)
    record.pop("volunteer_no", None)
    return record


def _count(app, model):
    with app.extensions["store.sessionmaker"]() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_the_same_registration_again_gets_the_first_answer(store_app):
    http = store_app.test_client()
    auth = make_caller(store_app, "portal-a", perms=ALL_PERMS)
    key = {**auth, "Idempotency-Key": "register-1"}
    first = http.post("/api/v1/volunteers", json=_person(), headers=key)
    assert first.status_code == 201, first.get_json()
    again = http.post("/api/v1/volunteers", json=_person(), headers=key)
    assert again.status_code == 201 and again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert _count(store_app, Volunteer) == 1

    # without the key, the same person is refused as before
    assert http.post("/api/v1/volunteers", json=_person(), headers=auth).status_code == 409
    # the same key for another request (body or path) is refused, nothing done
    other = http.post("/api/v1/volunteers", json=_person(mobile="13900001111"), headers=key)
    assert (other.status_code, other.get_json()["type"]) == (409, "/problems/idempotency-key-reused")
    assert http.post("/api/v1/teams", json={}, headers=key).get_json()["type"] == "/problems/idempotency-key-reused"
    # keys are the client's own: another client's same key is another request
    auth_b = make_caller(store_app, "portal-b", perms=ALL_PERMS)
    theirs = http.post("/api/v1/volunteers", json=_person(), headers={**auth_b, "Idempotency-Key": "register-1"})
    assert theirs.status_code == 409 and theirs.get_json()["type"] != "/problems/idempotency-key-reused"


def test_a_failed_request_keeps_nothing_and_can_be_sent_again(store_app):
    http = store_app.test_client()
    headers = {**make_caller(store_app, "portal-a", perms=ALL_PERMS), "Idempotency-Key": "k-2"}
    bad = http.post("/api/v1/volunteers", json=_person(gender="7"), headers=headers)
    assert bad.status_code == 422
    assert _count(store_app, IdempotencyKey) == 0
    good = http.post("/api/v1/volunteers", json=_person(), headers=headers)
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers


def test_a_malformed_key_is_refused_and_an_unauthenticated_request_is_not_kept(store_app):
    http = store_app.test_client()
    auth = make_caller(store_app, "portal-a", perms=ALL_PERMS)
    spaced = http.post("/api/v1/volunteers", json=_person(), headers={**auth, "Idempotency-Key": "a b"})
    assert (spaced.status_code, spaced.get_json()["type"]) == (400, "/problems/idempotency-key-required")
    nobody = http.post("/api/v1/volunteers", json=_person(), headers={"Idempotency-Key": "k-3"})
    assert nobody.status_code == 401
    assert _count(store_app, Volunteer) == 0 and _count(store_app, IdempotencyKey) == 0
