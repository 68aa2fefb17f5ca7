"""The OpenAPI document declares the services' optional Idempotency-Key on exactly the
operations that honour it (issue 12, item 5): the declared set is compared with what every
POST of the document really does with a key — a malformed key is refused by the key's own
check (400 /problems/idempotency-key-required) only where keys are honoured — and declared
operations called twice with one key answer the second time from the stored answer
(Idempotent-Replayed: true, nothing done twice), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from gateway.api.exchange import IDEMPOTENCY_KEY
from gateway.store.models import Project, Volunteer
from tests import factories
from tests.conftest import ALL_PERMS, make_caller
from tests.integration.activities import helpers

PUSH = "/api/v1/exchange/batches"


def _document(app) -> dict:
    answer = app.test_client().get("/api/openapi.json")
    assert answer.status_code == 200
    return answer.get_json()


def _key_parameter(operation: dict) -> dict | None:
    found = [p for p in operation.get("parameters", []) if p.get("name") == "Idempotency-Key"]
    assert len(found) <= 1
    return found[0] if found else None


def test_the_optional_key_is_declared_on_exactly_the_operations_that_honour_it(app):
    document = _document(app)
    http = app.test_client()
    declared, honoured, posts = set(), set(), set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            parameter = _key_parameter(operation)
            if path == PUSH:
                assert parameter["required"] is True  # the push's own, required key
                continue
            if parameter is not None:
                assert parameter["in"] == "header" and parameter["required"] is False
                assert parameter["schema"]["pattern"] == IDEMPOTENCY_KEY.pattern
                assert "U+0021-U+007E" in parameter["description"]
                success = [r for code, r in operation["responses"].items() if code.startswith("2")]
                assert success and all("Idempotent-Replayed" in r.get("headers", {}) for r in success)
                assert "idempotency-key-reused" in operation["responses"]["409"]["description"]
                assert "application/problem+json" in operation["responses"]["409"]["content"]
                declared.add((method, path))
            url = re.sub(r"\{[^}]+\}", "X1", path)
            answer = http.open(url, method=method.upper(), json={}, headers={"Idempotency-Key": "a b"})
            body = answer.get_json(silent=True) or {}
            if answer.status_code == 400 and body.get("type") == "/problems/idempotency-key-required":
                honoured.add((method, path))
            if method == "post":
                posts.add((method, path))
    assert declared == honoured
    assert ("post", "/api/v1/volunteers") in declared and ("post", "/api/v1/projects") in declared
    assert ("post", "/api/v1/validate/{entity}") in posts - declared  # validation stores nothing
    assert len(declared) >= 25 and all(method == "post" for method, _ in declared)


def _count(app, model) -> int:
    with app.extensions["store.sessionmaker"]() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_declared_operations_called_twice_with_a_key_answer_once(store_app):
    declared = {path for path, ops in _document(store_app)["paths"].items()
                if _key_parameter(ops.get("post", {})) and path != PUSH}
    http = store_app.test_client()
    admin = make_caller(store_app, "portal-a", perms=ALL_PERMS)
    helpers.make_team(store_app, factories.TEAM_NO)
    person = factories.volunteer()
    person.pop("volunteer_no", None)
    calls = [("/api/v1/volunteers", person, Volunteer),
             ("/api/v1/projects", helpers.project_record(posts=[]), Project)]
    for number, (path, body, model) in enumerate(calls):
        assert path in declared
        headers = {**admin, "Idempotency-Key": f"twice-{number}~!"}
        first = http.post(path, json=body, headers=headers)
        assert first.status_code == 201, first.get_json()
        again = http.post(path, json=body, headers=headers)
        assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
        assert again.get_data() == first.get_data() and _count(store_app, model) == 1
        reused = http.post(path, json={**body, "name": "另一个"}, headers=headers)
        assert (reused.status_code, reused.get_json()["type"]) == (409, "/problems/idempotency-key-reused")
