"""The OpenAPI document describes the answers the gateway really gives (issue 11, finding 6).

- Every 4xx/5xx (and ``default``) response is documented as ``application/problem+json``
  with the Problem schema, as errors are served (gateway/api/openapi.py does it in one place).
- Every operation documents its success answer (``GET /api/v1/schemas`` documented none).
- Real answers about real objects validate against the document: fields that may be null
  are declared nullable (service records, hours, posts …).
"""

from __future__ import annotations

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.integration.certificates import helpers as certificates

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture
def doc(client):
    return client.get("/api/openapi.json").get_json()


def _responses(doc):
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            for code, response in operation["responses"].items():
                if "$ref" in response:
                    response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
                yield path, method, code, response


def test_every_error_answer_is_documented_as_problem_json(doc):
    wrong = [(path, method, code, sorted(response.get("content", {})))
             for path, method, code, response in _responses(doc)
             if (code == "default" or int(code) >= 400) and response.get("content") != PROBLEM]
    assert wrong == []
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status"}
    assert problem.get("additionalProperties", True) is not False  # problems carry extra members


def test_every_operation_documents_a_success_answer(doc):
    missing = [(path, method) for path, operations in doc["paths"].items()
               for method, operation in operations.items() if method in METHODS
               if not any(code.isdigit() and int(code) < 400 for code in operation["responses"])]
    assert missing == []
    assert "200" in doc["paths"]["/api/v1/schemas"]["get"]["responses"]


def _validator(doc, path: str, method: str, status: int):
    responses = doc["paths"][path][method]["responses"]
    code = str(status) if str(status) in responses else "default"
    pointer = "/paths/{}/{}/responses/{}".format(path.replace("~", "~0").replace("/", "~1"),
                                                 method, code)
    if "$ref" in responses[code]:
        pointer = responses[code]["$ref"].removeprefix("#")
    # The schema by its place in the document, so that references anywhere inside it (an
    # anyOf of a v1 view and a v2 record) resolve against the document too.
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(doc, DRAFT202012))
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:openapi#{pointer}/content/application~1json/schema"}, registry=registry)


def test_real_answers_match_the_document(app, client, caller, doc):
    world = certificates.seed(app)
    headers = caller(app, "reader", perms={"*": ["read", "write", "review"]}, pii="full")
    issued = client.post("/api/v1/certificates", json=certificates.issue_body(world), headers=headers)
    assert issued.status_code == 201, issued.get_data(as_text=True)
    records = client.get("/api/v1/service-records", headers=headers).get_json()["items"]
    assert records
    urls = {
        "/api/v1/schemas": "/api/v1/schemas",
        "/api/v1/codes/{table}": "/api/v1/codes/gender",
        "/api/v1/regions/{code}": "/api/v1/regions/110105",
        "/api/v1/volunteers": "/api/v1/volunteers",
        "/api/v1/volunteers/{volunteer_no}": f"/api/v1/volunteers/{world.volunteer_no}",
        "/api/v1/volunteers/{volunteer_no}/hours": f"/api/v1/volunteers/{world.volunteer_no}/hours",
        "/api/v1/volunteers/{volunteer_no}/certificates":
            f"/api/v1/volunteers/{world.volunteer_no}/certificates",
        "/api/v1/teams": "/api/v1/teams",
        "/api/v1/teams/{team_no}": f"/api/v1/teams/{world.team_a}",
        "/api/v1/projects": "/api/v1/projects",
        "/api/v1/projects/{project_no}": "/api/v1/projects/P110105202404001",
        "/api/v1/service-records": "/api/v1/service-records",
        "/api/v1/service-records/{record_no}": f"/api/v1/service-records/{records[0]['record_no']}",
        "/api/v1/certificates/{certificate_no}":
            f"/api/v1/certificates/{issued.get_json()['certificate_no']}",
        "/api/v1/statistics/overview": "/api/v1/statistics/overview",
    }
    violations = []
    for path, url in urls.items():
        answer = client.get(url, headers=headers)
        assert answer.status_code == 200, (url, answer.get_data(as_text=True)[:300])
        for error in _validator(doc, path, "get", 200).iter_errors(answer.get_json()):
            violations.append((path, "/".join(map(str, error.absolute_path)), error.message[:80]))
    assert violations == []
