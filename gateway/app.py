"""The Flask application factory: each part of the gateway exposes ``init_app(app)``."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

from gateway import errors, settings


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the gateway: settings checked once, then store, standard, API and CLI wired in.

    ``test_config`` overrides settings by name (e.g. ``DATABASE_URL``); other keys such as
    ``TESTING`` go straight into ``app.config``.
    """
    app = Flask(__name__, instance_relative_config=True)
    overrides = {k: v for k, v in (test_config or {}).items() if k in settings.SETTINGS_BY_NAME}
    extras = {k: v for k, v in (test_config or {}).items() if k not in overrides}
    origins: dict[str, str] = {}
    app.config.update(settings.load_settings(app.instance_path, overrides=overrides, origins=origins))
    app.extensions["settings.origins"] = origins  # where each setting came from (`vgw serve`)
    app.config.update(extras)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    if app.config["PROXY_FIX"]:
        # Trust that many proxies' X-Forwarded-* (client address, scheme, host, port); the
        # request target is never rewritten (signatures cover it as the proxy passed it on).
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_FIX"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    # Chinese text as UTF-8, not \u escapes; keys in the order the gateway writes them.
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    logging.getLogger("gateway").setLevel(app.config["LOG_LEVEL"].upper())

    from gateway import api, cli, privacy, signing, standard, store
    from gateway.exchange import signatures

    store.init_app(app)
    privacy.init_app(app)
    from gateway import logs

    logs.init_app(app)  # request ids (X-Request-Id), JSON log lines when LOG_FORMAT = json
    signing.init_app(app)
    standard.init_app(app)
    errors.init_app(app)
    signatures.init_app(app)
    api.init_app(app)
    cli.init_app(app)
    from gateway import metrics

    metrics.init_app(app)  # GET /metrics (Prometheus), for METRICS_ALLOW only

    from gateway import console

    console.init_app(app)  # /console: the administrators' console
    return app
