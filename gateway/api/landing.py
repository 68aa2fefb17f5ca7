"""The gateway's front door (issue 12, item 11): ``/`` links the console, the API reference and
the docs; ``/api/docs`` is a browsable API reference (Swagger UI) over the gateway's own
OpenAPI document; ``/docs/`` shows the Markdown pages of docs/ when the gateway runs from a
source checkout.

Everything these pages load is served by the gateway itself: Swagger UI's files come from the
``flask-swagger-ui`` package (Swagger UI's own distribution, Apache-2.0, its LICENSE served at
``/api/docs/assets/LICENSE``), its start-up script is a static file of this module
(landing_static/), and the content security policy names no other origin (``'self'`` only, no
inline script). Swagger UI's validator badge, which would call validator.swagger.io, is off.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, render_template_string, send_from_directory

bp = Blueprint("landing", __name__, static_folder="landing_static",
               static_url_path="/landing-static")

#: Swagger UI's distribution files that /api/docs loads (and its licence).
SWAGGER_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "index.css", "favicon-32x32.png",
                           "favicon-16x16.png", "LICENSE", "VERSION"})
#: docs/ beside the package (a source checkout); absent when installed from a wheel.
DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
DOC_NAME = re.compile(r"^[a-z0-9-]+\.md$")
IMAGE_NAME = re.compile(r"^[A-Za-z0-9_-]+\.(png|svg)$")

PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'")
# Swagger UI: its scripts and styles from here only; it sets style attributes and uses data:
# images for its icons; it fetches the OpenAPI document (and "Try it out" requests) from here.
SWAGGER_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; "
               "base-uri 'none'; form-action 'self'")

LANDING = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>志愿服务数据交换网关 · Volunteer-service data exchange gateway</title>
<link rel="stylesheet" href="{{ url_for('landing.static', filename='landing.css') }}">
<link rel="icon" type="image/svg+xml" href="{{ url_for('landing.static', filename='favicon.svg') }}">
</head><body><main>
<h1>志愿服务数据交换网关<br><small>Volunteer-service data exchange gateway</small></h1>
<p>The standard interface between local and provincial volunteer-service systems and the
central store (MZ/T 061-2015). 本网关按《志愿服务信息系统基本规范》交换志愿者、队伍、项目、服务时长与证明数据。</p>
<ul class="links">
<li><a href="{{ url_for('console.overview') if has_console else '/console/' }}">控制台 Console</a>
  — sources, runs, dead letters, the message log, clients and keys (login required)</li>
<li><a href="{{ url_for('landing.api_docs') }}">API reference</a>
  — every operation, browsable (<a href="{{ openapi }}">OpenAPI document</a>)</li>
<li>{% if has_docs %}<a href="{{ url_for('landing.docs_index') }}">Docs</a>{% else %}Docs{% endif %}
  — the exchange protocol, operations, adapters, rules and data elements{% if not has_docs %}
  (in docs/ of the source distribution){% endif %}</li>
<li><a href="/.well-known/jwks.json">Public keys (JWK set)</a> — to verify certificates and signed answers</li>
<li><a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></li>
</ul>
</main></body></html>
"""

SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API reference · volunteer-service data exchange gateway</title>
<link rel="stylesheet" href="{{ url_for('landing.swagger_asset', name='swagger-ui.css') }}">
<link rel="stylesheet" href="{{ url_for('landing.swagger_asset', name='index.css') }}">
<link rel="icon" type="image/png" href="{{ url_for('landing.swagger_asset', name='favicon-32x32.png') }}">
</head><body data-openapi="{{ openapi }}">
<div id="swagger-ui"></div>
<script src="{{ url_for('landing.swagger_asset', name='swagger-ui-bundle.js') }}"></script>
<script src="{{ url_for('landing.static', filename='api-docs.js') }}"></script>
</body></html>
"""

DOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · volunteer-service data exchange gateway</title>
<link rel="stylesheet" href="{{ url_for('landing.static', filename='landing.css') }}">
<link rel="icon" type="image/svg+xml" href="{{ url_for('landing.static', filename='favicon.svg') }}">
</head><body><main class="doc">
<nav><a href="/">Gateway</a> · <a href="{{ url_for('landing.docs_index') }}">Docs</a>
 · <a href="{{ url_for('landing.api_docs') }}">API reference</a></nav>
{{ body|safe }}
</main></body></html>
"""


def _page(html: str, csp: str = PAGE_CSP):
    response = current_app.response_class(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _openapi_url() -> str:
    prefix = current_app.config.get("OPENAPI_URL_PREFIX", "/api").rstrip("/")
    return f"{prefix}/{current_app.config.get('OPENAPI_JSON_PATH', 'openapi.json')}"


@bp.get("/")
def index():
    """The landing page: links to the console, the API reference and the docs."""
    return _page(render_template_string(LANDING, openapi=_openapi_url(),
                                        has_console="console" in current_app.blueprints,
                                        has_docs=DOCS_DIR.is_dir()))


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it whatever the page says."""
    return send_from_directory(bp.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)


@bp.get("/api/docs")
def api_docs():
    """Swagger UI over /api/openapi.json, every file from this gateway."""
    return _page(render_template_string(SWAGGER, openapi=_openapi_url()), SWAGGER_CSP)


@bp.get("/api/docs/assets/<name>")
def swagger_asset(name: str):
    if name not in SWAGGER_FILES:
        abort(404)
    response = send_from_directory(_swagger_dir(), name, max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if name in ("LICENSE", "VERSION"):
        response.mimetype = "text/plain"
    return response


@lru_cache(maxsize=1)
def _swagger_dir() -> str:
    import flask_swagger_ui

    return os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")


@bp.get("/docs/")
def docs_index():
    """The Markdown pages of docs/, each with its title."""
    if not DOCS_DIR.is_dir():
        abort(404)
    items = "".join(f'<li><a href="{p.name}">{_title(p)}</a> <small>{p.name}</small></li>'
                    for p in sorted(DOCS_DIR.glob("*.md")))
    body = f"<h1>Docs</h1><ul class=\"links\">{items}</ul>"
    return _page(render_template_string(DOC, title="Docs", body=body))


@bp.get("/docs/<name>")
def doc(name: str):
    path = DOCS_DIR / name
    if not DOC_NAME.match(name) or not path.is_file():
        abort(404)
    return _page(render_template_string(DOC, title=_title(path), body=_render(path)))


@bp.get("/docs/img/<name>")
def doc_image(name: str):
    if not IMAGE_NAME.match(name):
        abort(404)
    return send_from_directory(DOCS_DIR / "img", name, max_age=3600)


def _title(path: Path) -> str:
    from markupsafe import escape

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return str(escape(line[2:].strip().replace("`", "")))
    return path.stem


def _render(path: Path) -> str:
    """The page as HTML: CommonMark with tables; raw HTML in the Markdown is not passed through
    (escaped), and the examples' ``<!-- example: … -->`` markers are dropped."""
    from markdown_it import MarkdownIt

    text = re.sub(r"<!--.*?-->\n?", "", path.read_text(encoding="utf-8"), flags=re.S)
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


__all__ = ["bp", "init_app"]
