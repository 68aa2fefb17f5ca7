"""Personal data never travels in a URL (issue 11, finding 5).

Look-ups by document or mobile number go in a POST body (``/api/v1/volunteers/search``,
``/api/v1/volunteers/lookup``); the old query parameters are refused with a problem+json
that says where to go — not silently ignored — whatever their spelling or encoding, on
every path; and the OpenAPI document offers no such parameter anywhere.
"""

from __future__ import annotations

import pytest

from gateway.api.common import PERSONAL_QUERY_PARAMETERS
from tests import factories
from tests.conftest import ALL_PERMS


@pytest.fixture
def headers(app, caller):
    return caller(app, "url-client", perms=ALL_PERMS, pii="full")


@pytest.mark.parametrize("query", [
    f"id_number={factories.CITIZEN_ID}",
    "id_number=11010519900307123%39",            # percent-encoded digit
    f"id%5Fnumber={factories.CITIZEN_ID}",        # percent-encoded name
    "id_type=05&id_number=E98765432",             # a passport
    "mobile=13800138000",
    "mobile=%2B86%20138%200013%208000",
    "MOBILE=13800138000",
    "name=%E5%BC%A0&mobile=",                     # even empty: the parameter itself is refused
])
def test_the_list_refuses_personal_query_parameters_and_says_where_to_go(client, headers, query):
    answer = client.get(f"/api/v1/volunteers?{query}", headers=headers)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert body["type"] == "/problems/personal-data-in-url"
    assert "POST /api/v1/volunteers/search" in body["detail"]
    assert body["errors"][0]["rule"] == "request.personal_data_in_url"
    assert factories.CITIZEN_ID not in answer.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/v1/teams?contact_mobile=13800138000",
                                  "/api/v1/service-records?id_number=E98765432",
                                  "/api/v1/statistics/volunteers?phone=13800138000",
                                  "/verify/C000?mobile=13800138000"])
def test_every_path_refuses_them(client, headers, path):
    answer = client.get(path, headers=headers)
    assert answer.status_code == 400 and answer.get_json()["type"] == "/problems/personal-data-in-url"


def test_the_search_body_finds_what_the_query_used_to(client, headers):
    record = factories.volunteer(volunteer_no=factories.OMIT)
    assert client.post("/api/v1/volunteers", json=record, headers=headers).status_code == 201
    for body in ({"id_number": record["id_number"]}, {"mobile": record["mobile"]},
                 {"id_type": record["id_type"], "id_number": record["id_number"], "page": 1}):
        answer = client.post("/api/v1/volunteers/search", json=body, headers=headers)
        assert answer.status_code == 200 and answer.get_json()["total"] == 1, answer.get_json()
    assert client.post("/api/v1/volunteers/search", json={"mobile": "13900000000"},
                       headers=headers).get_json()["total"] == 0
    # Strict like every body: an unknown member or a blank filter is a 422 with its pointer.
    answer = client.post("/api/v1/volunteers/search", json={"mobile": " "}, headers=headers)
    assert answer.status_code == 422 and answer.get_json()["errors"][0]["pointer"] == "/mobile"


def test_the_openapi_document_offers_no_personal_query_parameter(client):
    document = client.get("/api/openapi.json").get_json()
    offered = {(path, p["name"]) for path, operations in document["paths"].items()
               for operation in operations.values() if isinstance(operation, dict)
               for p in operation.get("parameters", []) if p.get("in") == "query"}
    assert not {name for _, name in offered} & PERSONAL_QUERY_PARAMETERS, offered
    assert "post" in document["paths"]["/api/v1/volunteers/search"]
