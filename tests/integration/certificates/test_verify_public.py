"""The public verification page and JWK set: no login, masked content, rate-limited."""

from __future__ import annotations

import pytest

from gateway.ratelimit_storage import storage_uri
from gateway.settings import SettingsError, load_settings
from tests.conftest import make_caller
from tests.integration.certificates.helpers import ISSUE_PERMS, issue_body, seed

JSON = {"Accept": "application/json"}


@pytest.fixture
def issued(store_app):
    """(app, client, world, issue answer, issuer headers)."""
    world = seed(store_app)
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    response = client.post("/api/v1/certificates", json=issue_body(world), headers=headers)
    assert response.status_code == 201, response.get_json()
    return store_app, client, world, response.get_json(), headers


def _verify(client, no, code, headers=JSON, **kw):
    return client.get(f"/verify/{no}", query_string={"code": code} if code is not None else {},
                      headers=headers, **kw)


def _no_personal_data(text: str, world) -> None:
    assert world.id_number not in text and world.id_number[6:14] not in text
    assert world.name not in text  # only the masked name 王**
    assert "13800138000" not in text


def test_valid_certificate_shows_masked_content(issued):
    app, client, world, cert, _ = issued
    response = _verify(client, cert["certificate_no"], cert["verification_code"])

    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["status"] == "valid"
    assert body["certificate_no"] == cert["certificate_no"]
    assert body["volunteer"] == {"name": "王**", "id_type": "内地居民身份证",
                                 "id_number": "110105********002X"}
    assert body["service"]["total_hours"] == "8.50"
    assert (body["service"]["period_from"], body["service"]["period_to"]) == ("2024-05-01", "2024-06-30")
    assert body["issuer"] == {"name": "北京市朝阳区建外街道社区志愿服务中心", "team_no": world.team_a}
    assert body["issued_on"] == cert["signed"]["content"]["issued_on"]
    assert "revoked_at" not in body
    assert body["signature"]["kid"] == cert["signed"]["signature"]["kid"]
    assert len(body["fingerprint"]) == 19
    text = response.get_data(as_text=True)
    _no_personal_data(text, world)
    assert cert["verification_code"] not in text


def test_html_page_in_chinese_without_external_assets(issued):
    app, client, world, cert, _ = issued
    response = _verify(client, cert["certificate_no"], cert["verification_code"],
                       headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})

    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "志愿服务记录证明核验" in html and "有效" in html
    assert "王**" in html and "110105********002X" in html and "8.50 小时" in html
    for external in ("<script", "<link", "src=", "http://", "https://", "@import", "url("):
        assert external not in html, external
    _no_personal_data(html, world)
    # Without an Accept header (a QR scanner, curl) the page is HTML too.
    assert _verify(client, cert["certificate_no"], cert["verification_code"],
                   headers={}).mimetype == "text/html"


def test_wrong_code_or_number_is_unknown_and_indistinguishable(issued):
    app, client, world, cert, _ = issued
    no, code = cert["certificate_no"], cert["verification_code"]
    wrong_code = ("2" if code[0] != "2" else "3") + code[1:]
    answers = [
        _verify(client, no, wrong_code),
        _verify(client, "C110105999999", code),
        _verify(client, no, None),
        _verify(client, no, ""),
        _verify(client, "x" * 300, code),
    ]
    for response in answers:
        assert response.status_code == 200
        assert response.get_json() == {"status": "unknown"}
    assert len({r.get_data() for r in answers}) == 1
    html_wrong_code = _verify(client, no, wrong_code, headers={}).get_data(as_text=True)
    assert "未查到" in html_wrong_code and "8.50" not in html_wrong_code
    # The code is read forgivingly: lower case and a hyphen in the middle still match.
    assert _verify(client, no, code.lower()).get_json()["status"] == "valid"
    assert _verify(client, no, f"{code[:4]}-{code[4:]}").get_json()["status"] == "valid"


def test_revoked_certificate_is_shown_as_revoked(issued):
    app, client, world, cert, headers = issued
    no = cert["certificate_no"]
    revoked = client.post(f"/api/v1/certificates/{no}/revoke", json={"reason": "重复出具"},
                          headers=headers)
    assert revoked.status_code == 200

    body = _verify(client, no, cert["verification_code"]).get_json()
    assert body["status"] == "revoked"
    assert body["revoked_at"] == revoked.get_json()["revoked_at"]
    assert body["service"]["total_hours"] == "8.50" and body["volunteer"]["name"] == "王**"
    assert "重复出具" not in str(body)  # the reason stays internal
    html = _verify(client, no, cert["verification_code"], headers={}).get_data(as_text=True)
    assert "已撤销" in html


def test_jwks_publishes_public_keys_only(issued):
    app, client, world, cert, _ = issued
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    keys = response.get_json()["keys"]
    assert cert["signed"]["signature"]["kid"] in {k["kid"] for k in keys}
    for key in keys:
        assert (key["kty"], key["crv"]) == ("OKP", "Ed25519") and "d" not in key


def test_verification_is_rate_limited_per_client_address(issued):
    app, client, world, cert, _ = issued
    app.config["VERIFY_RATE_LIMIT"] = "3 per minute"
    no, code = cert["certificate_no"], cert["verification_code"]
    here = {"REMOTE_ADDR": "203.0.113.7"}

    for _ in range(3):
        assert _verify(client, no, code, environ_base=here).status_code == 200
    limited = _verify(client, no, code, environ_base=here)

    assert limited.status_code == 429
    assert limited.mimetype == "application/problem+json"
    problem = limited.get_json()
    assert problem["status"] == 429 and problem["type"] == "/problems/too-many-requests"
    assert problem["message_zh"]
    assert int(limited.headers["Retry-After"]) > 0
    # Wrong guesses count too, so the code cannot be brute-forced from one address.
    assert _verify(client, no, "AAAAAAAA", environ_base=here).status_code == 429
    # Another address has its own budget; the JWK set and the API are not limited.
    assert _verify(client, no, code, environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code == 200
    for _ in range(5):
        assert client.get("/.well-known/jwks.json", environ_base=here).status_code == 200


def test_rate_limit_settings_are_checked(tmp_path):
    settings = load_settings(str(tmp_path), environ={})
    assert settings["VERIFY_RATE_LIMIT"] == "30 per minute"
    # Shared by every worker by default: a SQLite file beside the (SQLite) store.
    assert storage_uri(settings, tmp_path) == \
        f"vgw+sqlite://{(tmp_path / 'gateway-ratelimits.sqlite3').resolve()}"
    pg = load_settings(str(tmp_path), environ={
        "GATEWAY_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/x"})
    assert storage_uri(pg, tmp_path) == f"vgw+sqlite://{(tmp_path / 'ratelimits.sqlite3').resolve()}"
    with pytest.raises(SettingsError, match="VERIFY_RATE_LIMIT"):
        load_settings(str(tmp_path), environ={"GATEWAY_VERIFY_RATE_LIMIT": "often"})
    with pytest.raises(SettingsError, match="RATELIMIT_STORAGE_URI"):
        load_settings(str(tmp_path), environ={"GATEWAY_RATELIMIT_STORAGE_URI": "redis"})
