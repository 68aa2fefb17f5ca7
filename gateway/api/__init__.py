"""The HTTP API: flask-smorest blueprints whose marshmallow schemas generate the OpenAPI document.

The document is served at ``/api/openapi.json`` (OpenAPI 3.1). Every error is problem+json.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from gateway import errors
from gateway.api import openapi
from gateway.exchange import signatures


class GatewayApi(Api):
    """flask-smorest's Api, answering its HTTP errors as problem+json like the rest of the gateway."""

    def __init__(self, app=None, *, spec_kwargs=None, **kwargs):
        # Every error response in the document is problem+json (gateway/api/openapi.py).
        spec_kwargs = {**(spec_kwargs or {}), "extra_plugins": [openapi.ProblemResponses()]}
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

    from gateway.api import (catalog, certificates, health, hours, projects, statistics, teams,
                             validate, volunteers)

    for module in (validate, catalog, volunteers, teams, projects, hours, certificates, statistics):
        api.register_blueprint(module.blp)
    app.register_blueprint(health.bp)

    from gateway.api import exchange

    api.register_blueprint(exchange.blp)  # POST /api/v1/exchange/batches

    from gateway.api import exchange_feed

    api.register_blueprint(exchange_feed.blp)  # GET /api/v1/exchange/changes

    from gateway.api import sync

    api.register_blueprint(sync.blp)  # GET /api/v1/sync/status

    from gateway.api import public

    public.init_app(app)  # /verify/<no> and /.well-known/jwks.json: no login, rate-limited

    from gateway.api import landing

    landing.init_app(app)  # /, /api/docs (Swagger UI, served from here) and /docs/
