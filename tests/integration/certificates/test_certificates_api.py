"""Certificates through the REST API: issue, read, revoke, list, scope (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from gateway import store
from gateway.certificates.document import verify_certificate
from gateway.services.certificates import CODE_ALPHABET, code_hash
from gateway.store.models import Certificate, Change
from tests.conftest import ALL_PERMS, make_caller
from tests.integration.certificates.helpers import ISSUE_PERMS, READ_PERMS, issue_body, seed

URL = "/api/v1/certificates"


def _issue(client, headers, world, **overrides):
    return client.post(URL, json=issue_body(world, **overrides), headers=headers)


def _count(app, model=Certificate) -> int:
    with store.session_scope(app) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def _jwks(client) -> dict:
    return client.get("/.well-known/jwks.json").get_json()


def _assert_no_full_id(response, world):
    text = response.get_data(as_text=True)
    assert world.id_number not in text
    assert world.id_number[6:14] not in text  # not even the birth date digits


def test_issue_certifies_the_teams_effective_hours_in_the_period(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)

    response = _issue(client, headers, world)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    no, code = body["certificate_no"], body["verification_code"]
    assert re.fullmatch(r"C110105\d{6}", no)
    assert len(code) == 8 and set(code) <= set(CODE_ALPHABET)
    assert body["verification_url"] == f"http://localhost/verify/{no}?code={code}"  # the request's host
    assert body["pdf_url"] == f"/api/v1/certificates/{no}/pdf"
    assert response.headers["Location"].endswith(f"/api/v1/certificates/{no}")
    _assert_no_full_id(response, world)

    content = body["signed"]["content"]
    # 3.50 + 3.00 (P1) + 2.00 (P2); not the pending 5 h, team B's 4 h or 2023's 6 h.
    assert content["service"]["total_hours"] == "8.50"
    assert [(i["project_name"], i["from"], i["to"], i["hours"]) for i in content["service"]["items"]] == [
        ("建外街道社区助老志愿服务", "2024-05-01", "2024-05-08", "6.50"),
        ("社区垃圾分类宣传", "2024-06-01", "2024-06-01", "2.00"),
    ]
    assert (content["service"]["period_from"], content["service"]["period_to"]) == ("2024-05-01", "2024-06-30")
    assert content["volunteer"] == {"name": "王淑兰", "id_type": "内地居民身份证",
                                    "id_number_masked": "110105********002X",
                                    "volunteer_no": world.volunteer_no}
    assert content["issuer"] == {"name": "北京市朝阳区建外街道社区志愿服务中心",
                                 "team_no": world.team_a, "responsible_person": "刘强",
                                 "handler": "张伟", "contact": "010-65001234"}
    assert content["certificate_no"] == no and content["verification_code"] == code
    assert verify_certificate(body["signed"], _jwks(client))

    # At rest: the code only hashed and encrypted, never in clear, the content as signed.
    with store.session_scope(store_app) as session:
        row = session.execute(select(Certificate).where(Certificate.certificate_no == no)).scalar_one()
        assert row.verification_code_hash == code_hash(no, code)
        assert code not in str(row.signed) and code not in row.verification_code_enc
        assert store_app.extensions["privacy.vault"].decrypt(row.verification_code_enc) == code
        assert (row.status, str(row.hours), row.issued_by) == ("valid", "8.50", "chaoyang")
        changes = session.execute(select(Change).where(Change.entity == "certificate",
                                                       Change.entity_no == no)).scalars().all()
        assert [(c.action, c.actor) for c in changes] == [("issue", "chaoyang")]
        assert changes[0].changes["hours"]["new"] == "8.50"


def test_two_certificates_get_different_numbers_and_codes(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    first = _issue(client, headers, world).get_json()
    second = _issue(client, headers, world, period_from="2024-06-01").get_json()
    assert first["certificate_no"] != second["certificate_no"]
    assert first["verification_code"] != second["verification_code"]
    assert second["signed"]["content"]["service"]["total_hours"] == "2.00"


def test_get_returns_the_signed_document_and_status(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    writer = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    issued = _issue(client, writer, world).get_json()
    no = issued["certificate_no"]

    reader = make_caller(store_app, "beijing-civil-affairs", region="11", perms=READ_PERMS)
    response = client.get(f"{URL}/{no}", headers=reader)

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "valid" and body["hours"] == "8.50"
    assert body["signed"] == issued["signed"]
    assert verify_certificate(body["signed"], _jwks(client))
    assert body["verification_url"] == issued["verification_url"]
    _assert_no_full_id(response, world)


def test_reading_is_scoped_to_the_issuer_or_the_volunteers_region(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    writer = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    no = _issue(client, writer, world).get_json()["certificate_no"]

    guangdong = make_caller(store_app, "guangdong", region="44", perms=ALL_PERMS)
    for path in (f"{URL}/{no}", f"{URL}/{no}/pdf"):
        response = client.get(path, headers=guangdong)
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json"
    assert client.post(f"{URL}/{no}/revoke", json={"reason": "x"},
                       headers=guangdong).status_code == 404
    no_permission = make_caller(store_app, "beijing-no-perm", region="11",
                                perms={"volunteer": ["read"]})
    assert client.get(f"{URL}/{no}", headers=no_permission).status_code == 403
    assert client.get(f"{URL}/{no}").status_code == 401
    assert client.get(f"{URL}/C110105999999", headers=writer).status_code == 404


def test_issuing_for_a_team_outside_the_scope_is_403(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    guangdong = make_caller(store_app, "guangdong", region="44", perms=ISSUE_PERMS)
    other_team = make_caller(store_app, "other-team", region="11", teams=("T110105000999",),
                             perms=ISSUE_PERMS)
    reader = make_caller(store_app, "reader", region="11", perms=READ_PERMS)

    for headers in (guangdong, other_team, reader):
        response = _issue(client, headers, world)
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"] == "/problems/out-of-scope"
    assert _count(store_app) == 0
    assert client.post(URL, json=issue_body(world)).status_code == 401


def test_the_team_that_recorded_the_hours_certifies_them(store_app):
    """Team B (Guangdong) certifies only its own 4 hours for a Beijing volunteer."""
    world = seed(store_app)
    client = store_app.test_client()
    guangdong = make_caller(store_app, "tianhe", region="44", perms=ISSUE_PERMS)
    response = _issue(client, guangdong, world, team_no=world.team_b, contact="13911112222")
    assert response.status_code == 201, response.get_json()
    content = response.get_json()["signed"]["content"]
    assert content["service"]["total_hours"] == "4.00"
    assert content["issuer"]["team_no"] == world.team_b
    assert response.get_json()["certificate_no"].startswith("C440106")


def test_no_effective_hours_in_the_period_is_422(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    # 2024-06-02 holds only a pending record.
    response = _issue(client, headers, world, period_from="2024-06-02", period_to="2024-06-30")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]
    assert [(e["pointer"], e["rule"]) for e in errors] == [("/period_from", "certificate.no_hours")]
    assert errors[0]["message_zh"] and errors[0]["message_en"]
    assert _count(store_app) == 0


def test_period_must_be_ordered_and_not_in_the_future(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    backwards = _issue(client, headers, world, period_from="2024-06-30", period_to="2024-05-01")
    future = _issue(client, headers, world, period_to="2999-12-31")
    for response in (backwards, future):
        assert response.status_code == 422
        assert [(e["pointer"], e["rule"]) for e in response.get_json()["errors"]] == [
            ("/period_to", "certificate.period")]
    malformed = _issue(client, headers, world, period_from="2024-02-30")
    assert malformed.status_code == 422
    assert malformed.get_json()["errors"][0]["pointer"] == "/period_from"
    assert _count(store_app) == 0


def test_schema_errors_point_at_the_request_fields_and_nothing_is_written(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    response = _issue(client, headers, world, contact="12345", responsible_person="",
                      handler="张" * 21)
    assert response.status_code == 422
    found = {(e["pointer"], e["rule"]) for e in response.get_json()["errors"]}
    assert found == {("/contact", "schema.pattern"), ("/responsible_person", "schema.minLength"),
                     ("/handler", "schema.maxLength")}
    assert _count(store_app) == 0 and _count(store_app, Change) == 0
    # The failed attempt used no number: the first certificate is still number 1.
    assert _issue(client, headers, world).get_json()["certificate_no"] == "C110105000001"


def test_unknown_volunteer_or_team_is_404(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    assert _issue(client, headers, world, volunteer_no="V1101052405000001X").status_code == 404
    assert _issue(client, headers, world, team_no="T110105999999").status_code == 404


def test_revoke_keeps_the_record(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    issued = _issue(client, headers, world).get_json()
    no = issued["certificate_no"]

    response = client.post(f"{URL}/{no}/revoke", json={"reason": "服务记录有误，重新出具"},
                           headers=headers)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "revoked" and body["revoked_reason"] == "服务记录有误，重新出具"
    assert body["revoked_at"]
    assert body["signed"] == issued["signed"]  # the record is kept as issued

    again = client.post(f"{URL}/{no}/revoke", json={"reason": "again"}, headers=headers)
    assert again.status_code == 409 and again.get_json()["type"] == "/problems/conflict"

    kept = client.get(f"{URL}/{no}", headers=headers).get_json()
    assert kept["status"] == "revoked" and kept["hours"] == "8.50"
    assert client.get(f"{URL}/{no}/pdf", headers=headers).status_code == 409
    with store.session_scope(store_app) as session:
        actions = session.execute(select(Change.action).where(Change.entity_no == no)
                                  .order_by(Change.id)).scalars().all()
    assert actions == ["issue", "revoke"]


def test_revoke_needs_the_issuing_teams_scope_and_a_reason(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    headers = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    no = _issue(client, headers, world).get_json()["certificate_no"]

    other_team = make_caller(store_app, "other-team", region="11", teams=("T110105000999",),
                             perms=ISSUE_PERMS)
    reader = make_caller(store_app, "reader", region="11", perms=READ_PERMS)
    assert client.post(f"{URL}/{no}/revoke", json={"reason": "x"}, headers=other_team).status_code == 403
    assert client.post(f"{URL}/{no}/revoke", json={"reason": "x"}, headers=reader).status_code == 403
    blank = client.post(f"{URL}/{no}/revoke", json={"reason": "  "}, headers=headers)
    assert blank.status_code == 422
    assert blank.get_json()["errors"][0]["rule"] == "certificate.revoke_reason"
    assert client.post(f"{URL}/{no}/revoke", json={}, headers=headers).status_code == 422
    assert client.get(f"{URL}/{no}", headers=headers).get_json()["status"] == "valid"


def test_volunteer_certificates_are_listed_within_scope(store_app):
    world = seed(store_app)
    client = store_app.test_client()
    beijing = make_caller(store_app, "chaoyang", region="11", perms=ISSUE_PERMS)
    guangdong = make_caller(store_app, "tianhe", region="44", perms=ISSUE_PERMS)
    a1 = _issue(client, beijing, world, period_to="2024-05-31").get_json()["certificate_no"]
    a2 = _issue(client, beijing, world).get_json()["certificate_no"]
    b1 = _issue(client, guangdong, world, team_no=world.team_b,
                contact="13911112222").get_json()["certificate_no"]
    path = f"/api/v1/volunteers/{world.volunteer_no}/certificates"

    everything = client.get(path, headers=beijing)
    assert everything.status_code == 200
    body = everything.get_json()
    assert body["total"] == 3
    assert {i["certificate_no"] for i in body["items"]} == {a1, a2, b1}
    assert [i["certificate_no"] for i in body["items"]][:2] == [b1, a2]  # newest first
    assert "signed" not in body["items"][0]
    paged = client.get(path, query_string={"per_page": 1, "page": 2}, headers=beijing).get_json()
    assert (paged["total"], len(paged["items"]), paged["page"]) == (3, 1, 2)

    # Guangdong covers only its own team's certificate of this Beijing volunteer.
    theirs = client.get(path, headers=guangdong).get_json()
    assert [i["certificate_no"] for i in theirs["items"]] == [b1]
    assert client.get(f"{URL}/{b1}", headers=guangdong).status_code == 200
    assert client.get(f"{URL}/{a1}", headers=guangdong).status_code == 404

    shanghai = make_caller(store_app, "shanghai", region="31", perms=ISSUE_PERMS)
    assert client.get(path, headers=shanghai).status_code == 404
    assert client.get("/api/v1/volunteers/V1101052405000001X/certificates",
                      headers=beijing).status_code == 404
    _assert_no_full_id(everything, world)


def test_openapi_documents_the_certificate_endpoints(store_app):
    spec = store_app.test_client().get("/api/openapi.json").get_json()
    paths = spec["paths"]
    assert "post" in paths["/api/v1/certificates"]
    assert "application/pdf" in paths["/api/v1/certificates/{certificate_no}/pdf"]["get"][
        "responses"]["200"]["content"]
    assert "post" in paths["/api/v1/certificates/{certificate_no}/revoke"]
    assert "get" in paths["/api/v1/volunteers/{volunteer_no}/certificates"]
