"""Volunteer registration through /api/v1/volunteers, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import select, text

from gateway.services import aggregates
from stdnum.iso7064 import mod_37_36

from gateway import store
from gateway.services import registration as reg
from gateway.store.models import Change, Volunteer, VolunteerCount, VolunteerSource
from tests import factories
from tests.integration.registration.helpers import (ALL_PERMS, CHAOYANG, HAIDIAN, TIANHE,
                                                    citizen_id, count, make_caller, person,
                                                    register, service_ctx, sibling_app)

URL = "/api/v1/volunteers"


def _beijing(app, client_id="bj", **kwargs):
    return make_caller(app, client_id, region="11", perms=ALL_PERMS, **kwargs)


def test_register_answers_201_with_masked_personal_data(store_app):
    client = store_app.test_client()
    headers = _beijing(store_app)
    record = person(1)
    answer = client.post(URL, json=record, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    number = body["volunteer_no"]
    assert re.fullmatch(r"V110105\d{4}\d{6}[0-9A-Z]", number)
    assert mod_37_36.is_valid(number[1:])
    assert answer.headers["Location"] == f"{URL}/{number}"
    assert body["id_number"] == record["id_number"][:6] + "********" + record["id_number"][-4:]
    assert body["mobile"] == "139****0001"
    assert record["id_number"] not in answer.get_data(as_text=True)
    assert record["mobile"] not in answer.get_data(as_text=True)
    assert body["total_hours"] == "0.00" and body["star_level"] is None
    assert body["name"] == record["name"] and body["service_area"] == CHAOYANG
    assert body["sources"] == [{"source_system": "bj", "source_id": "src-1", "source_volunteer_no": None}]
    assert body["created_at"] and body["updated_at"]
    # What a GET answers is the same.
    again = client.get(answer.headers["Location"], headers=headers)
    assert again.status_code == 200 and again.get_json() == body
    # At rest: encrypted, indexed and masked; the number is nowhere in clear.
    with store.session_scope(store_app) as session:
        row = session.execute(select(Volunteer)).scalar_one()
        assert row.id_number_enc != record["id_number"] and len(row.id_index) == 64
        assert record["id_number"] not in str(row.data) and record["mobile"] not in str(row.data)
        assert (row.province, row.city, row.county) == ("11", "1101", "110105")
        assert row.registered_at.isoformat() == record["registered_at"]
        aggregates.fold(session)
        cells = session.execute(select(VolunteerCount)).scalars().all()
        assert [(c.county, c.birth_year, c.gender, c.month, c.count) for c in cells] == [
            ("110105", 1980, "1", "2024-03", 1)]


def test_a_caller_with_full_pii_access_sees_the_numbers(store_app):
    client = store_app.test_client()
    record = person(2)
    number = register(client, _beijing(store_app), record)["volunteer_no"]
    full = make_caller(store_app, "bj-full", region="11", perms={"volunteer": ["read"]}, pii="full")
    body = client.get(f"{URL}/{number}", headers=full).get_json()
    assert body["id_number"] == record["id_number"] and body["mobile"] == record["mobile"]


def test_derived_fields_and_the_sources_number_are_not_taken_from_input(store_app):
    client = store_app.test_client()
    record = person(3, total_hours=999.5, star_level="5", volunteer_no=factories.VOLUNTEER_NO)
    body = register(client, _beijing(store_app), record)
    assert body["total_hours"] == "0.00" and body["star_level"] is None
    assert body["volunteer_no"] != factories.VOLUNTEER_NO
    assert body["sources"][0]["source_volunteer_no"] == factories.VOLUNTEER_NO


def test_registered_at_defaults_to_today_and_birth_date_comes_from_the_id(store_app):
    client = store_app.test_client()
    record = person(4, registered_at=factories.OMIT, birth_date=factories.OMIT)
    body = register(client, _beijing(store_app), record)
    assert body["birth_date"] == "1980-01-01"
    assert body["registered_at"] == body["created_at"][:10]


def test_the_same_person_from_two_sources_is_one_volunteer(store_app):
    client = store_app.test_client()
    first = register(client, _beijing(store_app, "system-a"), person(5, source_id="a-5"))
    other = make_caller(store_app, "system-b", region="11", perms=ALL_PERMS)
    answer = client.post(URL, json=person(5, source_id="b-77"), headers=other)
    assert answer.status_code == 409
    problem = answer.get_json()
    assert answer.mimetype == "application/problem+json"
    assert problem["existing_volunteer_no"] == first["volunteer_no"]
    assert [(e["pointer"], e["rule"]) for e in problem["errors"]] == [("/id_number", "volunteer.duplicate")]

    # The exchange path: the second source's record updates the one person.
    with store_app.app_context():
        ctx = service_ctx(store_app, "system-b", region="11")
        outcome, volunteer = reg.upsert_volunteer(ctx, person(5, source_id="b-77"), "system-b")
        assert outcome == "unchanged" and volunteer.volunteer_no == first["volunteer_no"]
        ctx.session.commit()
        outcome, volunteer = reg.upsert_volunteer(ctx, person(5, email="new@example.com"),
                                                  "system-b", "b-77")
        assert outcome == "updated"
        assert volunteer.provenance["email"] == "system-b"
        assert volunteer.provenance["name"] == "system-a"
        ctx.session.commit()
        outcome, _ = reg.upsert_volunteer(ctx, person(5, email="new@example.com"), "system-b", "b-77")
        assert outcome == "unchanged"
        # Moving county keeps the statistics exact: one volunteer, now in Haidian.
        outcome, _ = reg.upsert_volunteer(ctx, person(5, service_area=HAIDIAN, email="new@example.com"),
                                          "system-b", "b-77")
        assert outcome == "updated"
        ctx.session.commit()
    assert count(store_app, "volunteers") == 1
    with store.session_scope(store_app) as session:
        sources = session.execute(select(VolunteerSource.source_system, VolunteerSource.source_id)
                                  .order_by(VolunteerSource.id)).all()
        assert [tuple(s) for s in sources] == [("system-a", "a-5"), ("system-b", "b-77")]
        aggregates.fold(session)
        cells = {c.county: c.count for c in session.execute(select(VolunteerCount)).scalars()}
        assert cells == {"110105": 0, "110108": 1}
        history = session.execute(select(Change).where(Change.entity == "volunteer")
                                  .order_by(Change.id)).scalars().all()
        assert [(c.action, c.source_system) for c in history] == [
            ("create", "system-a"), ("update", "system-b"), ("update", "system-b")]
        assert history[1].changes == {"email": {"old": "wangshulan@example.com", "new": "new@example.com"}}
    body = client.get(f"{URL}/{first['volunteer_no']}", headers=other).get_json()
    assert body["email"] == "new@example.com" and body["service_area"] == HAIDIAN
    assert len(body["sources"]) == 2


def test_upsert_creates_a_new_person(store_app):
    with store_app.app_context():
        ctx = service_ctx(store_app, "exchange")
        outcome, volunteer = reg.upsert_volunteer(ctx, person(6), "exchange", "x-6")
        ctx.session.commit()
        assert outcome == "created" and volunteer.volunteer_no.startswith("V110105")
        assert reg.find_volunteer_by_document(ctx, "01", citizen_id(6)).id == volunteer.id
        assert reg.find_volunteer_by_document(ctx, "01", citizen_id(7)) is None


def test_legacy_and_current_document_type_codes_are_different_types(store_app):
    client = store_app.test_client()
    headers = _beijing(store_app)
    legacy = person(8, id_type="6", id_number="军字第2001234号", source_id="s-8")
    current = person(9, id_type="06", id_number="军字第2001234号", source_id="s-9")
    first = register(client, headers, legacy)
    second = register(client, headers, current)
    assert first["volunteer_no"] != second["volunteer_no"]
    assert client.post(URL, json=person(10, id_type="6", id_number="军字第2001234号",
                                        source_id="s-10"), headers=headers).status_code == 409


def test_an_invalid_record_is_refused_with_pointers_and_nothing_is_written(store_app):
    client = store_app.test_client()
    headers = _beijing(store_app)
    bad = person(11, id_number=citizen_id(11)[:-1] + ("0" if citizen_id(11)[-1] != "0" else "1"),
                 mobile="23800138000", gender="3")
    answer = client.post(URL, json=bad, headers=headers)
    assert answer.status_code == 422
    found = {(e["pointer"], e["rule"]) for e in answer.get_json()["errors"]}
    assert {("/id_number", "citizen_id.checksum"), ("/mobile", "schema.pattern"),
            ("/gender", "code.unknown")} <= found
    for table in ("volunteers", "volunteer_sources", "changes", "stat_volunteers", "number_sequences"):
        assert count(store_app, table) == 0, table
    # Not JSON at all: 400, not 500.
    answer = client.post(URL, data=b"{not json", headers=headers, content_type="application/json")
    assert answer.status_code == 400
    assert client.post(URL, json=[person(11)], headers=headers).status_code == 422


def test_another_province_can_neither_write_nor_see_beijing_volunteers(store_app):
    client = store_app.test_client()
    beijing = _beijing(store_app)
    number = register(client, beijing, person(12))["volunteer_no"]
    guangdong = make_caller(store_app, "gd", region="44", perms=ALL_PERMS)
    answer = client.post(URL, json=person(13), headers=guangdong)
    assert answer.status_code == 403 and answer.get_json()["type"] == "/problems/out-of-scope"
    assert client.get(f"{URL}/{number}", headers=guangdong).status_code == 404
    assert client.get(f"{URL}/{number}/history", headers=guangdong).status_code == 404
    # Not 403: that would tell Guangdong the number exists (issue 11, finding 3).
    assert client.patch(f"{URL}/{number}", json={"email": "x@example.com"}, headers=guangdong).status_code == 404
    assert client.get(URL, headers=guangdong).get_json()["total"] == 0
    # Guangdong registers its own; Beijing does not see it.
    register(client, guangdong, person(14, area=TIANHE))
    assert client.get(URL, headers=beijing).get_json()["total"] == 1
    # Moving a Beijing volunteer to Guangdong is outside Beijing's region.
    answer = client.patch(f"{URL}/{number}", json={"service_area": TIANHE}, headers=beijing)
    assert answer.status_code == 403


def test_permissions_are_checked(store_app):
    client = store_app.test_client()
    reader = make_caller(store_app, "reader", region="11", perms={"volunteer": ["read"]})
    assert client.post(URL, json=person(15), headers=reader).status_code == 403
    nothing = make_caller(store_app, "nothing", region="11", perms={"team": ["read"]})
    assert client.get(URL, headers=nothing).status_code == 403


def test_the_list_filters_by_region_name_and_blind_indexed_numbers(store_app):
    client = store_app.test_client()
    national = make_caller(store_app, "national", perms=ALL_PERMS)
    register(client, national, person(21, area=CHAOYANG, name="张三"))
    register(client, national, person(22, area=HAIDIAN, name="李四"))
    register(client, national, person(23, area=TIANHE, name="张五"))

    def numbers(query, headers=national):
        answer = client.get(URL, query_string=query, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        searched = client.post(f"{URL}/search", json=query, headers=headers)
        assert searched.status_code == 200 and searched.get_json() == answer.get_json()
        return answer.get_json()

    def search(body):
        answer = client.post(f"{URL}/search", json=body, headers=national)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    assert numbers({"region": "11"})["total"] == 2
    assert numbers({"region": "1101"})["total"] == 2
    assert [v["name"] for v in numbers({"region": "110108"})["items"]] == ["李四"]
    assert numbers({"region": "44"})["total"] == 1
    assert numbers({})["total"] == 3
    assert [v["name"] for v in numbers({"name": "张"})["items"]] == ["张三", "张五"]
    assert [v["name"] for v in search({"id_number": citizen_id(22)})["items"]] == ["李四"]
    assert search({"id_number": citizen_id(22), "id_type": "06"})["total"] == 0
    assert [v["name"] for v in search({"mobile": "13900000023"})["items"]] == ["张五"]
    page = numbers({"per_page": 1, "page": 2})
    assert page["total"] == 3 and [v["name"] for v in page["items"]] == ["李四"]
    assert client.get(URL, query_string={"region": "123"}, headers=national).status_code == 422
    # A Beijing caller filtering on Guangdong gets nothing.
    beijing = _beijing(store_app)
    assert numbers({"region": "44"}, beijing)["total"] == 0
    # Look-up by document in the body.
    found = client.post(f"{URL}/lookup", json={"id_type": "01", "id_number": citizen_id(23)},
                        headers=national)
    assert found.status_code == 200 and found.get_json()["name"] == "张五"
    assert client.post(f"{URL}/lookup", json={"id_type": "01", "id_number": citizen_id(23)},
                       headers=beijing).status_code == 404


def test_patch_merges_revalidates_and_keeps_history(store_app):
    client = store_app.test_client()
    headers = _beijing(store_app)
    number = register(client, headers, person(31))["volunteer_no"]
    other = register(client, headers, person(32))["volunteer_no"]
    item = f"{URL}/{number}"

    answer = client.patch(item, json={"email": "li@example.com", "mobile": "13700000031",
                                      "total_hours": 50}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["email"] == "li@example.com" and body["mobile"] == "137****0031"
    assert body["total_hours"] == "0.00"

    # The whole result is validated: a gender that contradicts the ID is refused.
    answer = client.patch(item, json={"gender": "2"}, headers=headers)
    assert answer.status_code == 422
    assert [(e["pointer"], e["rule"]) for e in answer.get_json()["errors"]] == [
        ("/gender", "volunteer.gender_matches_id")]
    answer = client.patch(item, json={"mobile": None}, headers=headers)
    assert answer.status_code == 422 and answer.get_json()["errors"][0]["pointer"] == "/mobile"
    answer = client.patch(item, json={"volunteer_no": other}, headers=headers)
    assert answer.status_code == 422 and answer.get_json()["errors"][0]["rule"] == "volunteer.number_assigned"
    # Another person's document collides.
    answer = client.patch(item, json={"id_number": citizen_id(32), "gender": "2"}, headers=headers)
    assert answer.status_code == 409 and answer.get_json()["existing_volunteer_no"] == other
    # A new document of one's own re-indexes: found under the new number, not the old one.
    answer = client.patch(item, json={"id_number": citizen_id(35)}, headers=headers)
    assert answer.status_code == 200
    assert client.post(f"{URL}/search", json={"id_number": citizen_id(35)},
                       headers=headers).get_json()["total"] == 1
    assert client.post(f"{URL}/search", json={"id_number": citizen_id(31)},
                       headers=headers).get_json()["total"] == 0
    # Removing an optional field.
    answer = client.patch(item, json={"email": None}, headers=headers)
    assert answer.status_code == 200 and "email" not in answer.get_json()
    assert client.patch(f"{URL}/V0000000000000000X", json={}, headers=headers).status_code == 404

    history = client.get(f"{item}/history", headers=headers).get_json()
    assert [c["action"] for c in history["items"]] == ["create", "update", "update", "update"]
    assert history["items"][1]["changes"]["mobile"] == {"old": "139****0031", "new": "137****0031"}
    assert history["items"][2]["changes"]["id_number"]["new"].startswith("110105********")
    assert history["items"][1]["actor"] == "bj"
    text_ = str(history)
    for secret in (citizen_id(31), citizen_id(35), "13900000031", "13700000031"):
        assert secret not in text_


def test_a_minor_has_the_guardian_encrypted_and_masked(store_app):
    client = store_app.test_client()
    headers = _beijing(store_app)
    record = factories.minor_volunteer(source_id="minor-1")
    body = register(client, headers, record)
    assert body["guardian"]["mobile"] == "137****7000"
    assert body["guardian"]["name"] == record["guardian"]["name"]
    full = make_caller(store_app, "full", region="11", perms=ALL_PERMS, pii="full")
    assert client.get(f"{URL}/{body['volunteer_no']}", headers=full).get_json()["guardian"] == record["guardian"]
    with store_app.extensions["store.engine"].connect() as conn:
        row = conn.execute(text("SELECT guardian_enc, data FROM volunteers")).one()
    assert "13700137000" not in str(tuple(row)) and record["guardian"]["name"] not in str(tuple(row))
    # Removing the guardian of a minor is refused by the rules.
    answer = client.patch(f"{URL}/{body['volunteer_no']}", json={"guardian": None}, headers=headers)
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["rule"] == "volunteer.guardian_required"


def test_the_same_source_id_for_another_person_is_refused(store_app):
    client = store_app.test_client()
    headers = _beijing(store_app)
    register(client, headers, person(41, source_id="same"))
    answer = client.post(URL, json=person(42, source_id="same"), headers=headers)
    assert answer.status_code == 409
    assert answer.get_json()["errors"][0]["rule"] == "volunteer.source_id_taken"
    assert count(store_app, "volunteers") == 1


def test_without_credentials_the_answer_is_401(store_app):
    client = store_app.test_client()
    assert client.get(URL).status_code == 401
    assert client.post(URL, json=person(51)).status_code == 401
    bad = {"Authorization": "Bearer dev_not-a-token"}
    assert client.get(URL, headers=bad).status_code == 401
    headers = _beijing(store_app)
    number = register(client, headers, person(52))["volunteer_no"]
    # The same token on a gateway with development tokens off.
    off = sibling_app(store_app, DEV_TOKENS=False)
    try:
        answer = off.test_client().get(f"{URL}/{number}", headers=headers)
        assert answer.status_code == 401
        assert answer.mimetype == "application/problem+json"
    finally:
        off.extensions["store.engine"].dispose()


def test_the_openapi_document_describes_the_endpoints(store_app):
    spec = store_app.test_client().get("/api/openapi.json").get_json()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/volunteers"])
    assert {"get", "patch"} <= set(paths["/api/v1/volunteers/{volunteer_no}"])
    assert "get" in paths["/api/v1/volunteers/{volunteer_no}/history"]
    assert "post" in paths["/api/v1/volunteers/lookup"]
    assert "409" in paths["/api/v1/volunteers"]["post"]["responses"]
