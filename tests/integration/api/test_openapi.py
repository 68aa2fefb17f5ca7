"""The generated OpenAPI document is served, is valid OpenAPI 3.1, and covers every service."""

from openapi_spec_validator import validate


def test_openapi_document_validates(client):
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200
    doc = answer.get_json()
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on any violation of the OpenAPI 3.1 schema


def test_openapi_covers_every_service(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/v1/validate/{entity}", "/api/v1/volunteers", "/api/v1/teams/{team_no}/review",
                 "/api/v1/projects", "/api/v1/service-records", "/api/v1/certificates",
                 "/api/v1/statistics/overview"):
        assert path in paths, path


def test_protected_operations_declare_security(client):
    doc = client.get("/api/openapi.json").get_json()
    assert "bearerAuth" in doc["components"]["securitySchemes"]
