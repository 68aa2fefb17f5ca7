"""Public pages, no login: certificate verification and the gateway's public JWK set.

``GET /verify/<certificate_no>?code=<8-character code>`` answers whether a certificate is valid,
revoked or unknown (a wrong number and a wrong code look the same), as a small Chinese HTML
page or as JSON (``Accept: application/json``); personal data is masked. It is rate-limited
per client address with flask-limiter: setting VERIFY_RATE_LIMIT (e.g. "30 per minute"),
counters kept in RATELIMIT_STORAGE_URI, shared by every worker: by default a SQLite file
on the host (gateway/ratelimit_storage.py), "redis://…" for several hosts ("memory://"
counts per process: with several workers the limit multiplies). Over the limit: 429
problem+json with Retry-After. Behind a reverse proxy the client address is the proxy's
unless the app is wrapped in werkzeug's ProxyFix.

``GET /.well-known/jwks.json`` publishes the public keys that sign certificates, old ones
included, so anyone can verify a downloaded certificate offline (``vgw verify-certificate``).
"""

from __future__ import annotations

import math
import time

from flask import Blueprint, Flask, current_app, json, render_template_string, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from gateway.errors import Problem, problem_response
from gateway.privacy import vault
from gateway.services import certificates as service
from gateway.standard import engine
from gateway.store import get_session

bp = Blueprint("public", __name__)

LIMITER_KEY = "gateway.public.limiter"
VERIFY_ENDPOINT = "public.verify"


@bp.get("/.well-known/jwks.json")
def jwks():
    """The gateway's public JWK set (RFC 7517): every key that signs certificates."""
    keys = current_app.extensions["signing.keyring"].jwks()
    response = current_app.response_class(json.dumps(keys), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/verify/<string:certificate_no>")
def verify(certificate_no: str):
    """Valid / revoked / unknown for a certificate number and its verification code."""
    answer = service.verify_public(get_session(), vault(), certificate_no,
                                   request.args.get("code"), engine().tz)
    accept = request.accept_mimetypes
    if accept["application/json"] > accept["text/html"]:  # browsers and */* get the page
        response = current_app.response_class(json.dumps(answer, ensure_ascii=False),
                                              mimetype="application/json")
    else:
        response = current_app.response_class(
            render_template_string(PAGE, a=answer, no=certificate_no), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Vary"] = "Accept"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def _rate_limited(error: RateLimitExceeded):
    """429 problem+json with Retry-After (flask-limiter's own answer is HTML)."""
    limit = getattr(error, "limit", None)
    retry = 60
    try:
        reset = current_app.extensions[LIMITER_KEY].current_limit.reset_at
        retry = max(1, math.ceil(reset - time.time()))
    except (AttributeError, KeyError, TypeError):
        pass
    problem = Problem(429, "too-many-requests", "Too many requests",
                      f"verification is limited to {limit.limit if limit else 'a few requests'} "
                      "per client address; try again later",
                      message_zh="核验请求过于频繁，请稍后再试")
    response = problem_response(problem)
    response.headers["Retry-After"] = str(retry)
    return response


def init_app(app: Flask) -> None:
    """Register the public pages and their own rate limiter (one per app)."""
    from gateway import ratelimit_storage  # (importing it registers vgw+sqlite:// with limits)

    # The effective value, kept where `vgw config show` and the console's limiter read it.
    app.config["RATELIMIT_STORAGE_URI"] = ratelimit_storage.storage_uri(app.config, app.instance_path)
    limiter = Limiter(
        get_remote_address, app=app,
        storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        key_prefix="vgw",
    )
    # A blueprint limit, evaluated per endpoint; only the verification page spends it.
    limiter.limit(lambda: current_app.config["VERIFY_RATE_LIMIT"],
                  exempt_when=lambda: request.endpoint != VERIFY_ENDPOINT)(bp)
    app.extensions[LIMITER_KEY] = limiter
    app.register_error_handler(RateLimitExceeded, _rate_limited)
    app.register_blueprint(bp)


PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>志愿服务记录证明核验</title>
<style>
 body { font-family: "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif;
        margin: 0; background: #f6f4ef; color: #222; }
 main { max-width: 44rem; margin: 2rem auto; background: #fff; padding: 1.5rem 2rem;
        border: 1px solid #ddd; border-radius: 6px; }
 h1 { font-size: 1.4rem; margin-top: 0; }
 .status { font-size: 1.2rem; font-weight: bold; padding: .6rem 1rem; border-radius: 4px; }
 .valid { background: #e5f4e8; color: #1e6b2f; }
 .revoked { background: #fbe9e7; color: #a12a1a; }
 .unknown { background: #eee; color: #555; }
 table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
 th, td { border: 1px solid #ccc; padding: .35rem .6rem; text-align: left; font-size: .95rem; }
 th { background: #f1eee8; font-weight: normal; width: 8rem; }
 .num { text-align: right; }
 footer { font-size: .8rem; color: #666; margin-top: 1rem; }
</style>
</head>
<body>
<main>
<h1>志愿服务记录证明核验</h1>
{% if a.status == "unknown" %}
<p class="status unknown">未查到：证明编号或验证码不正确</p>
<p>请核对证明上的证明编号 {{ no }} 和 8 位验证码（不区分大小写），或扫描证明上的二维码。</p>
{% else %}
{% if a.status == "valid" %}
<p class="status valid">有效：该证明由志愿服务数据交换网关登记，内容如下</p>
{% else %}
<p class="status revoked">已撤销：该证明已于 {{ a.revoked_at[:10] }} 被出具单位撤销，不再有效</p>
{% endif %}
<table>
<tr><th>证明编号</th><td>{{ a.certificate_no }}</td></tr>
<tr><th>出具日期</th><td>{{ a.issued_on }}</td></tr>
<tr><th>志愿者</th><td>{{ a.volunteer.name }}</td></tr>
<tr><th>证件</th><td>{{ a.volunteer.id_type }} {{ a.volunteer.id_number }}</td></tr>
<tr><th>服务期间</th><td>{{ a.service.period_from }} 至 {{ a.service.period_to }}</td></tr>
<tr><th>服务时长合计</th><td>{{ a.service.total_hours }} 小时</td></tr>
<tr><th>出具单位</th><td>{{ a.issuer.name }}（{{ a.issuer.team_no }}）</td></tr>
<tr><th>内容指纹</th><td>{{ a.fingerprint }}</td></tr>
</table>
<table>
<tr><th style="width:auto">服务项目</th><th style="width:auto">组织 / 队伍</th>
<th style="width:auto">服务时间</th><th style="width:auto" class="num">时长（小时）</th></tr>
{% for item in a.service["items"] %}
<tr><td>{{ item.project_name }}</td><td>{{ item.team_name }}</td>
<td>{{ item["from"] }}{% if item["to"] != item["from"] %} 至 {{ item["to"] }}{% endif %}</td>
<td class="num">{{ item.hours }}</td></tr>
{% endfor %}
</table>
<p>请核对纸质或 PDF 证明与上表一致（内容指纹见证明页脚）。为保护个人信息，姓名和证件号码已部分隐去。</p>
{% endif %}
<footer>PDF 证明内嵌电子签名数据，可凭公开密钥（/.well-known/jwks.json）离线核验：
vgw verify-certificate 证明.pdf --jwks jwks.json</footer>
</main>
</body>
</html>
"""
