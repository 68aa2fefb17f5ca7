"""The HTTP API: flask-smorest blueprints whose marshmallow schemas generate the OpenAPI document.

The document is served at ``/api/openapi.json`` (OpenAPI 3.1). Every error is problem+json.
"""

from __future__ import annotations

import importlib

from flask import Flask
from flask_smorest import Api

from gateway import errors
from gateway.api import openapi
from gateway.exchange import signatures


#: Every part of the HTTP layer, registered in this order: (module of gateway/api, how).
#: ``api``: a flask-smorest blueprint ``blp``, in the OpenAPI document; ``app``: a plain Flask
#: blueprint ``bp``; ``init_app``: a module that registers itself (it sets up more than routes).
#: A new blueprint is one line here.
BLUEPRINTS: tuple[tuple[str, str], ...] = (
    ("validate", "api"),        # POST /api/v1/validate/{entity}
    ("catalog", "api"),         # /api/v1/schemas, code tables, regions
    ("volunteers", "api"),
    ("teams", "api"),
    ("projects", "api"),        # projects, posts, enrolments
    ("hours", "api"),           # /api/v1/service-records
    ("certificates", "api"),
    ("statistics", "api"),
    ("health", "app"),          # /healthz, /readyz
    ("exchange", "api"),        # POST /api/v1/exchange/batches
    ("exchange_feed", "api"),   # GET /api/v1/exchange/changes
    ("sync", "api"),            # GET /api/v1/sync/status, uploads
    ("public", "init_app"),     # /verify/<no> and /.well-known/jwks.json: no login, rate-limited
    ("landing", "init_app"),    # /, /api/docs (Swagger UI, served from here) and /docs/
)


class GatewayApi(Api):
    """flask-smorest's Api, answering its HTTP errors as problem+json like the rest of the gateway."""

    def __init__(self, app=None, *, spec_kwargs=None, **kwargs):
        # Every error response in the document is problem+json (gateway/api/openapi.py).
        spec_kwargs = {**(spec_kwargs or {}), "extra_plugins": [openapi.IdempotencyKeys(),
                                                                openapi.ProblemResponses()]}
        super().__init__(app, spec_kwargs=spec_kwargs, **kwargs)

    def _register_responses(self):
        openapi.register_problem_responses(self)

    def handle_http_exception(self, error):
        return errors.from_http_exception(error)


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "志愿服务数据交换网关 Volunteer-service data exchange gateway")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = GatewayApi(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer",
                       "description": "Development token (vgw clients token), only with DEV_TOKENS on"})
    api.spec.components.security_scheme("httpSignature", signatures.openapi_security_scheme())
    app.extensions["gateway.api"] = api
    from gateway.api.common import refuse_personal_data_in_url

    app.before_request(refuse_personal_data_in_url)  # issue 11, finding 5: no PII in URLs

    from gateway.api import idempotency

    idempotency.init_app(app)  # an optional Idempotency-Key on the services' POSTs

    for name, how in BLUEPRINTS:
        module = importlib.import_module(f"gateway.api.{name}")
        if how == "api":
            api.register_blueprint(module.blp)
        elif how == "app":
            app.register_blueprint(module.bp)
        else:
            module.init_app(app)
