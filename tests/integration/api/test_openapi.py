"""The generated OpenAPI document is served, is valid OpenAPI 3.1, and covers every service."""

from openapi_spec_validator import validate

from tests.integration.api.security_check import METHODS, security_mismatches


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
    """Per operation: the ones the app answers 401 without credentials declare ``security``
    (with a scheme the document defines), and the ones that declare it do need a caller."""
    doc = client.get("/api/openapi.json").get_json()
    schemes = doc["components"]["securitySchemes"]
    assert {"bearerAuth", "httpSignature"} <= set(schemes)
    assert security_mismatches(client) == []
    declared = [requirement for operations in doc["paths"].values()
                for method, operation in operations.items() if method in METHODS
                for requirement in operation.get("security", [])]
    assert len(declared) > 40 and all(set(r) <= set(schemes) for r in declared)


def test_the_security_check_catches_an_operation_that_forgets_to_declare_it(app):
    """A seeded omission: a protected operation (it authenticates its caller) without
    ``@blp.doc(security=...)``, and a public one that claims security, are both reported."""
    from flask.views import MethodView

    from gateway.api.common import BEARER, Blueprint, service_context

    blp = Blueprint("seeded", __name__, url_prefix="/api/v1/seeded")

    @blp.route("/protected")
    class Protected(MethodView):
        @blp.response(200)
        def get(self):
            """Needs a caller but forgets to say so."""
            return {"client": service_context().caller.client_id}

    @blp.route("/public")
    class Public(MethodView):
        @blp.doc(security=BEARER)
        @blp.response(200)
        def get(self):
            """Claims security but answers anyone."""
            return {}

    app.extensions["gateway.api"].register_blueprint(blp)
    client = app.test_client()
    assert security_mismatches(client) == [
        "GET /api/v1/seeded/protected: needs a caller (401) but declares no security",
        "GET /api/v1/seeded/public: declares security but answers without a caller"]
