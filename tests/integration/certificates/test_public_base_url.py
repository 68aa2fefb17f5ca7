"""Certificates point to where the gateway is served unless PUBLIC_BASE_URL says otherwise."""

import pytest

from tests.conftest import _make_app, make_caller
from tests.integration.certificates.helpers import ISSUE_PERMS, issue_body, seed


def _issue_url(app, **client_kwargs) -> str:
    world = seed(app)
    client = app.test_client()
    headers = make_caller(app, "chaoyang", region="11", perms=ISSUE_PERMS)
    extra = client_kwargs.pop("headers", {})
    response = client.post("/api/v1/certificates", json=issue_body(world),
                           headers={**headers, **extra}, **client_kwargs)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["verification_url"].endswith(f"/verify/{body['certificate_no']}?code={body['verification_code']}")
    return body["verification_url"]


def test_unset_follows_the_port_it_is_served_on(app):
    url = _issue_url(app, base_url="http://127.0.0.1:8090")
    assert url.startswith("http://127.0.0.1:8090/verify/C")


def test_set_wins_over_the_request(app, sqlite_template, tmp_path):
    import shutil

    path = tmp_path / "set.sqlite3"
    shutil.copy(sqlite_template, path)
    configured = _make_app(f"sqlite:///{path}", PUBLIC_BASE_URL="https://gateway.example.gov.cn")
    assert _issue_url(configured, base_url="http://127.0.0.1:8090").startswith(
        "https://gateway.example.gov.cn/verify/C")


def test_behind_a_trusted_proxy_the_forwarded_host_is_used(sqlite_template, tmp_path):
    import shutil

    path = tmp_path / "proxied.sqlite3"
    shutil.copy(sqlite_template, path)
    proxied = _make_app(f"sqlite:///{path}", PROXY_FIX=1)
    url = _issue_url(proxied, base_url="http://127.0.0.1:8080",
                     headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "zyfw.example.cn"})
    assert url.startswith("https://zyfw.example.cn/verify/C")


@pytest.mark.parametrize("config, host, warned", [
    ({"DEV_TOKENS": False, "PUBLIC_BASE_URL": "http://127.0.0.1:8080", "PROXY_FIX": 0}, "0.0.0.0", True),
    ({"DEV_TOKENS": False, "PUBLIC_BASE_URL": "", "PROXY_FIX": 0}, "127.0.0.1", True),
    ({"DEV_TOKENS": False, "PUBLIC_BASE_URL": "", "PROXY_FIX": 1}, "127.0.0.1", False),
    ({"DEV_TOKENS": False, "PUBLIC_BASE_URL": "", "PROXY_FIX": 0}, "0.0.0.0", False),
    ({"DEV_TOKENS": False, "PUBLIC_BASE_URL": "https://gw.example.cn", "PROXY_FIX": 0}, "127.0.0.1", False),
    ({"DEV_TOKENS": True, "PUBLIC_BASE_URL": "http://localhost:8080", "PROXY_FIX": 0}, "127.0.0.1", False),
])
def test_start_up_warns_of_a_loopback_address_in_production(config, host, warned):
    from gateway.cli.serve import loopback_warning

    assert (loopback_warning(config, host) is not None) is warned
