"""The landing page at / and the browsable API reference at /api/docs (issue 12, item 11), in a
real browser against a real gateway (gunicorn): Swagger UI renders the gateway's own OpenAPI
document, every request the pages make goes to the gateway itself (no CDN, no validator
badge), and the content security policy lets Swagger UI work (a CSP violation is a console
error, which fails the test). Screenshots: build/screenshots/console/landing-*.png.
"""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.slow


def _record_requests(page, base_url):
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    return seen


def test_the_landing_page_links_the_console_the_api_reference_and_the_docs(pages, gateway_url):
    page = pages.new()
    seen = _record_requests(page, gateway_url)
    page.goto("/")
    assert page.title().startswith("志愿服务数据交换网关")
    links = {a.inner_text().strip(): a.get_attribute("href") for a in page.locator("main a").all()}
    assert links["控制台 Console"] == "/console/"
    assert links["API reference"] == "/api/docs"
    assert links["Docs"] == "/docs/"
    pages.shot(page, "landing")

    page.get_by_role("link", name="Docs").click()
    page.get_by_role("link", name="The exchange protocol").click()
    assert page.locator("h1").first.inner_text() == "The exchange protocol"
    assert page.locator("table").count() > 3  # the Markdown tables are tables
    pages.shot(page, "landing-doc")

    page.goto("/")
    page.get_by_role("link", name="控制台 Console").click()
    page.wait_for_url("**/console/login**")
    outside = [u for u in seen if not u.startswith(gateway_url + "/")]
    assert not outside, outside
    assert not pages.errors, pages.errors


def test_the_api_reference_is_swagger_ui_over_the_gateways_own_document(pages, gateway_url):
    page = pages.new()
    seen = _record_requests(page, gateway_url)
    page.goto("/")
    page.get_by_role("link", name="API reference").click()
    page.wait_for_url("**/api/docs")
    page.wait_for_selector(".opblock", timeout=30_000)  # operations rendered from the document
    document = requests.get(gateway_url + "/api/openapi.json", timeout=30).json()
    assert page.locator(".info .title").inner_text().startswith(document["info"]["title"])
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert "/api/v1/exchange/batches" in {p.replace("\u200b", "") for p in paths}
    assert len(paths) >= len(document["paths"]) // 2

    # an operation opens with its parameters and its problem+json answers
    page.locator(".opblock-summary-path", has_text="/api/v1/exchange/batches").first.click()
    page.wait_for_selector(".opblock.is-open .responses-table")
    assert "application/problem+json" in page.locator(".opblock.is-open").inner_text()
    pages.shot(page, "landing-api-docs")

    assert gateway_url + "/api/openapi.json" in seen
    outside = [u for u in seen if not u.startswith(gateway_url + "/")]
    assert not outside, outside  # every script, style, image and the document from the gateway
    assert not pages.errors, pages.errors  # no CSP violation, no script error


def test_the_pages_send_a_policy_that_names_no_other_origin(gateway_url):
    for path in ("/", "/api/docs", "/docs/protocol.md"):
        answer = requests.get(gateway_url + path, timeout=30)
        assert answer.status_code == 200, path
        policy = answer.headers["Content-Security-Policy"]
        sources = {word for part in policy.split(";") for word in part.split()[1:]}
        assert sources <= {"'self'", "'none'", "'unsafe-inline'", "data:"}, (path, policy)
        assert "'unsafe-inline'" not in next((p for p in policy.split(";") if "script-src" in p), "")
    assert requests.get(gateway_url + "/api/docs/assets/LICENSE", timeout=30).text.startswith(
        "Copyright 2017 SmartBear")
    assert requests.get(gateway_url + "/api/docs/assets/setup.py", timeout=30).status_code == 404
