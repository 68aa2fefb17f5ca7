"""POST /api/v1/validate/{entity}: results per record, problem+json for unreadable requests."""

import io

import orjson
import pytest

from tests import factories

URL = "/api/v1/validate/volunteer"


def _problem(answer, status, slug):
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.get_json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status and body["title"]
    return body


def test_one_valid_record(client):
    body = client.post(URL, json=factories.volunteer()).get_json()
    assert body["valid"] is True
    assert body["summary"] == {"total": 1, "valid": 1, "invalid": 0}
    assert body["results"][0]["errors"] == []


def test_one_record_lists_all_its_errors_with_pointers_and_rule_ids(client):
    record = factories.volunteer(id_number="110105194912310021", gender="1", mobile="123",
                                 service_area="110000")
    answer = client.post(URL, json=record)
    assert answer.status_code == 200
    errors = answer.get_json()["results"][0]["errors"]
    found = {(e["pointer"], e["rule"]) for e in errors}
    assert ("/id_number", "citizen_id.checksum") in found
    assert ("/mobile", "schema.pattern") in found
    assert ("/service_area", "volunteer.service_area_level") in found
    for error in errors:
        assert error["message_zh"] and error["message_en"]
    # Personal data never comes back in messages.
    assert "110105194912310021" not in answer.get_data(as_text=True)


def test_array_gets_a_result_per_record_in_order(client):
    records = [factories.volunteer(), factories.volunteer(gender="9"), factories.volunteer()]
    body = client.post(URL, json=records).get_json()
    assert [r["valid"] for r in body["results"]] == [True, False, True]
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    assert body["results"][1]["errors"][0]["rule"] == "code.unknown"
    assert body["summary"] == {"total": 3, "valid": 2, "invalid": 1}


def test_ndjson_reports_line_numbers_and_unreadable_lines(client):
    lines = [orjson.dumps(factories.volunteer()), b"", b"{not json", orjson.dumps(factories.volunteer(name=7))]
    body = client.post(URL, data=b"\n".join(lines), content_type="application/x-ndjson").get_json()
    assert [(r["line"], r["valid"]) for r in body["results"]] == [(1, True), (3, False), (4, False)]
    assert body["results"][1]["errors"][0]["rule"] == "input.invalid-json"
    assert body["results"][2]["errors"][0] == {**body["results"][2]["errors"][0],
                                               "pointer": "/name", "rule": "schema.type"}


def test_batch_envelope_checks_header_and_each_record_by_its_entity(client):
    envelope = factories.batch()
    envelope["records"].append({"entity": "team", "op": "upsert", "data": factories.team(team_type="7")})
    envelope["records"].append({"entity": "martian", "op": "upsert", "data": {}})
    body = client.post("/api/v1/validate/batch", json=envelope).get_json()
    # The envelope itself lists the entities it may carry.
    assert [e["pointer"] for e in body["envelope"]["errors"]] == [
        f"/records/{len(envelope['records']) - 1}/entity"]
    assert body["results"][-2]["errors"][0]["pointer"] == "/data/team_type"
    assert body["results"][-1]["errors"][0]["rule"] == "batch.unknown_entity"
    assert body["valid"] is False


def test_invalid_envelope_header_is_reported(client):
    envelope = factories.batch(schema_version="1")
    del envelope["sender"]
    body = client.post("/api/v1/validate/batch", json=envelope).get_json()
    assert body["envelope"]["errors"][0]["pointer"] == "/sender"
    assert body["valid"] is False


# -- bad input: each gets a clear error and no crash -------------------------------------------

def test_malformed_json(client):
    body = _problem(client.post(URL, data=b'{"name": ', content_type="application/json"),
                    400, "invalid-json")
    assert "malformed JSON" in body["detail"] and body["message_zh"]


def test_invalid_utf8(client):
    _problem(client.post(URL, data=b'{"name": "\xff\xfe"}', content_type="application/json"),
             400, "invalid-encoding")


def test_empty_body(client):
    _problem(client.post(URL, data=b"", content_type="application/json"), 400, "empty-body")


def test_deeply_nested_input(client):
    deep = b"[" * 200 + b"]" * 200
    _problem(client.post(URL, data=deep, content_type="application/json"), 400, "too-deep")
    very_deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    _problem(client.post(URL, data=very_deep, content_type="application/json"), 400, "too-deep")


def test_deep_ndjson_line_is_that_line_only(client):
    data = orjson.dumps(factories.volunteer()) + b"\n" + b"[" * 100 + b"]" * 100
    body = client.post(URL, data=data, content_type="application/x-ndjson").get_json()
    assert body["results"][0]["valid"] and body["results"][1]["errors"][0]["rule"] == "input.too-deep"


def test_megabyte_long_name_is_a_field_error_not_echoed(client):
    answer = client.post(URL, json=factories.volunteer(name="名" * 1_000_000))
    assert answer.status_code == 200
    error = answer.get_json()["results"][0]["errors"][0]
    assert (error["pointer"], error["rule"]) == ("/name", "schema.maxLength")
    assert len(answer.get_data()) < 2000


def test_numbers_where_strings_belong(client):
    record = factories.volunteer(mobile=13800138000, gender=1, name=3.5)
    errors = client.post(URL, json=record).get_json()["results"][0]["errors"]
    assert {(e["pointer"], e["rule"]) for e in errors} >= {
        ("/mobile", "schema.type"), ("/gender", "schema.type"), ("/name", "schema.type")}


@pytest.mark.parametrize("value", [None, 1, "text", True])
def test_a_record_that_is_not_an_object(client, value):
    body = client.post(URL, data=orjson.dumps(value), content_type="application/json").get_json()
    assert body["results"][0]["errors"][0]["rule"] == "schema.type"


def test_unknown_entity(client):
    body = _problem(client.post("/api/v1/validate/martian", json={}), 404, "unknown-entity")
    assert "volunteer" in body["entities"]


def test_unsupported_schema_version(client):
    body = _problem(client.post(URL + "?version=9", json=factories.volunteer()), 422,
                    "unsupported-schema-version")
    assert body["supported"] == ["1", "2"]


def test_body_over_the_limit_is_refused_before_it_is_read(app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    consumed = []

    class Stream(io.RawIOBase):
        """Endless input that records every read."""

        def readable(self):
            return True

        def readinto(self, buffer):
            consumed.append(len(buffer))
            buffer[: len(buffer)] = b" " * len(buffer)
            return len(buffer)

    answer = app.test_client().post(URL, content_type="application/json", environ_overrides={
        "wsgi.input": Stream(), "CONTENT_LENGTH": str(50 * 1024 * 1024)})
    _problem(answer, 413, "body-too-large")
    assert sum(consumed) == 0


def test_too_many_records(app):
    app.config["MAX_BATCH_RECORDS"] = 3
    records = [factories.volunteer() for _ in range(4)]
    _problem(app.test_client().post(URL, json=records), 413, "too-many-records")


def test_wrong_method_is_problem_json(client):
    _problem(client.get(URL), 405, "method-not-allowed")


def test_openapi_document_is_served_and_describes_validate(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert "/api/v1/validate/{entity}" in doc["paths"]


def test_catalog_serves_schemas_codes_and_regions(client):
    assert client.get("/api/v1/schemas/1/volunteer").get_json()["$schema"].endswith("2020-12/schema")
    codes = client.get("/api/v1/codes/gender").get_json()["codes"]
    assert {"code": "1", "label_zh": "男"} in codes
    assert client.get("/api/v1/regions/110105").get_json()["name"] == "朝阳区"
    _problem(client.get("/api/v1/regions/999999"), 404, "not-found")
    _problem(client.get("/api/v1/codes/..%2Fsecrets"), 404, "not-found")
