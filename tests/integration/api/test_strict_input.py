"""Strict input everywhere (issue 11, findings 4 and 8).

- A blank filter (present, but empty or only white space) is refused with 422 problem+json
  and a pointer to the argument, on every query argument of every operation the document
  lists; it used to answer 500 (``?mobile=%20``: a blind index of nothing) or silently match.
- A JSON body must be declared JSON (415 otherwise), may not repeat a key in any object
  (400 ``/problems/duplicate-key`` with the member's pointer), and may not nest deeper than
  MAX_JSON_DEPTH (400 ``/problems/too-deep``), as docs/protocol.md says.
"""

from __future__ import annotations

import pytest

from tests import factories

# Arguments whose view answers a blank value itself: the feed's cursor is 400 invalid-cursor.
OWN_ANSWER = {("/api/v1/exchange/changes", "since"): (400, "/problems/invalid-cursor")}
BLANKS = ["%20", "%0A", "%09", "%C2%85", "%C2%A0", "", "%20%09%0A"]


@pytest.fixture
def headers(app, caller):
    return caller(app, "strict-client", perms={"*": ["read", "write", "review"]}, pii="full")


def _query_arguments(client) -> list[tuple[str, str]]:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    found = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method != "get":
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    found.append((path, parameter["name"]))
    return found


def _problem(answer, status: int, slug: str) -> dict:
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True)[:500])
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert body["type"] == f"/problems/{slug}", body
    return body


def test_every_query_argument_refuses_a_blank_value(app, client, headers):
    arguments = _query_arguments(client)
    assert ("/api/v1/volunteers", "name") in arguments and len(arguments) > 20
    failures = []
    for path, name in arguments:
        url = path.replace("{", "").replace("}", "")  # path parameters: any value will do
        for blank in BLANKS:
            answer = client.get(f"{url}?{name}={blank}", headers=headers)
            body = answer.get_json(silent=True) or {}
            if (path, name) in OWN_ANSWER:
                if (answer.status_code, body.get("type")) != OWN_ANSWER[path, name]:
                    failures.append((path, name, blank, answer.status_code))
                continue
            pointers = [e.get("pointer") for e in body.get("errors", [])]
            if answer.status_code != 422 or answer.mimetype != "application/problem+json" \
                    or f"/{name}" not in pointers:
                failures.append((path, name, blank, answer.status_code))
    assert failures == []


@pytest.mark.parametrize("blank", [" ", "\n", "\t", "\x85", "\xa0", ""])
def test_a_blank_mobile_filter_is_a_clear_422_not_a_500(client, headers, blank):
    # The filter moved to a body (finding 5: no personal data in URLs); blank is still refused.
    body = _problem(client.post("/api/v1/volunteers/search", json={"mobile": blank},
                                headers=headers), 422, "unprocessable")
    assert body["errors"][0]["pointer"] == "/mobile"
    # A real filter still works.
    assert client.post("/api/v1/volunteers/search", json={"mobile": "13800138000"},
                       headers=headers).status_code == 200


def test_a_blank_filter_and_a_wrong_media_type_are_explained_in_whole_chinese(client, headers):
    """The gateway's own argument messages are not marshmallow's: Chinese in full, no English."""
    url = next(f"{path}?{name}=%20" for path, name in _query_arguments(client)
               if "{" not in path and (path, name) not in OWN_ANSWER)
    error = _problem(client.get(url, headers=headers), 422, "unprocessable")["errors"][0]
    assert "不能为空" in error["message_zh"] and "blank" not in error["message_zh"]
    assert "blank" in error["message_en"]
    answer = client.post("/api/v1/validate/volunteer", data=b"{}",
                         headers={**headers, "Content-Type": "text/plain"})
    body = _problem(answer, 415, "unsupported-media-type")
    assert " or " not in body["message_zh"] and "application/x-ndjson" in body["message_zh"]
    assert "application/json or application/x-ndjson" in body["detail"]


@pytest.mark.parametrize("url", ["/api/v1/volunteers", "/api/v1/validate/volunteer",
                                 "/api/v1/volunteers/lookup", "/api/v1/projects",
                                 "/api/v1/service-records"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/xml"])
def test_json_endpoints_refuse_other_content_types(client, headers, url, content_type):
    body = b'{"id_type": "01", "id_number": "1"}'
    answer = client.post(url, data=body, headers={**headers, "Content-Type": content_type})
    _problem(answer, 415, "unsupported-media-type")


def test_json_is_still_json_with_a_charset(client, headers):
    answer = client.post("/api/v1/validate/volunteer", data=b'{"name": "x"}',
                         headers={"Content-Type": "application/json; charset=utf-8"})
    assert answer.status_code == 200, answer.get_data(as_text=True)


DUPLICATES = [
    (b'{"name": "a", "name": "b"}', "/name"),
    (b'{"guardian": {"mobile": "1", "relation": "x", "mobile": "2"}}', "/guardian/mobile"),
    (b'[{"a": 1}, {"b": {"c": 1, "c": 1}}]', "/1/b/c"),
    (b'{"na\\u006de": "a", "name": "b"}', "/name"),  # the same key spelt with an escape
]


@pytest.mark.parametrize("body,pointer", DUPLICATES)
@pytest.mark.parametrize("url", ["/api/v1/volunteers", "/api/v1/validate/volunteer",
                                 "/api/v1/volunteers/lookup", "/api/v1/projects"])
def test_repeated_keys_are_refused(client, headers, url, body, pointer):
    answer = client.post(url, data=body, headers={**headers, "Content-Type": "application/json"})
    problem = _problem(answer, 400, "duplicate-key")
    assert problem["errors"][0]["pointer"] == pointer
    assert problem["errors"][0]["rule"] == "input.duplicate-key"


def test_a_repeated_key_in_one_ndjson_line_rejects_that_line(client):
    body = b'{"name": "a"}\n{"name": "a", "name": "b"}\n'
    answer = client.post("/api/v1/validate/volunteer", data=body, content_type="application/x-ndjson")
    assert answer.status_code == 200
    results = answer.get_json()["results"]
    assert results[1]["errors"][0]["rule"] == "input.duplicate-key"


def test_keys_that_only_look_alike_are_not_duplicates(client):
    body = b'{"name": "a:b", "note": "\\"name\\": x", "n": {"name": 1}, "m": [{"name": 2}]}'
    answer = client.post("/api/v1/validate/volunteer", data=body, content_type="application/json")
    assert answer.status_code == 200, answer.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/api/v1/volunteers", "/api/v1/validate/volunteer",
                                 "/api/v1/volunteers/lookup", "/api/v1/projects",
                                 "/api/v1/service-records"])
def test_a_ten_thousand_deep_body_is_400_too_deep(client, headers, url):
    body = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    answer = client.post(url, data=body, headers={**headers, "Content-Type": "application/json"})
    _problem(answer, 400, "too-deep")


def test_a_valid_volunteer_still_registers(client, headers):
    answer = client.post("/api/v1/volunteers", json=factories.volunteer(), headers=headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)


@pytest.mark.parametrize("body", [b"7.011248901689741e+16", b"[1, 2]", b'"text"', b"null"])
def test_a_project_that_is_not_an_object_is_422(client, headers, body):
    """Found by the fuzz campaign: POST /projects with a number answered 500."""
    answer = client.post("/api/v1/projects", data=body, headers={**headers, "Content-Type": "application/json"})
    problem = _problem(answer, 422, "invalid-record")
    assert problem["errors"][0]["rule"] == "schema.type"
