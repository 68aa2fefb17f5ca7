"""A v2 volunteer upsert merges its members beyond v1 (the ``national`` / ``national_enc``
columns, migration 0013_national2) with the kept ones field by field, under the conflict
policy the v1 fields follow (SOURCE_PRIORITY, then the newer source_updated_at): a losing
sender's members do not overwrite the winner's, its new ones fill gaps, a member left out
is kept. Signed v2 pushes to a real gateway on 127.0.0.1, SQLite and PostgreSQL."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from gateway import store
from gateway.exchange.national import remainder_of
from gateway.privacy import vault
from gateway.store.models import Volunteer
from tests import factories
from tests.integration.exchange import helpers as exchange_helpers
from tests.integration.exchange_push import helpers as h


@pytest.fixture
def clients(store_app):
    """province-01 outranks city-01; county-09 and county-10 are not listed (equal, lowest)."""
    store_app.config["SOURCE_PRIORITY"] = "province-01, city-01"
    return {name: exchange_helpers.register_client(store_app, name)
            for name in ("province-01", "city-01", "county-09", "county-10")}


def _v2(i: int, **members) -> dict:
    record = dict(h.volunteer(i), wechat=f"wx_{i}", native_place="北京",
                  registration={"name": "王淑兰", "id_type": "01", "id_number": h.citizen_id(i),
                                "gender": "1" if i % 2 else "2", "mobile": factories.mobile(i)})
    record.update(members)
    return {k: v for k, v in record.items() if v is not None}


def _push(server, clients, sender, record):
    envelope = dict(h.envelope([h.item("volunteer", record)], sender=sender), schema_version="2")
    answer = h.push(server, clients[sender], envelope)
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    return result


def _kept(app, key):
    """The v2 members kept on the person (personal ones decrypted) and their provenance."""
    with app.app_context(), store.session_scope(app) as session:
        row = session.execute(select(Volunteer).where(Volunteer.volunteer_no == key)).scalar_one()
        return remainder_of(vault(), row), {k: v["source"] for k, v in (row.provenance or {}).items()
                                            if k.startswith("v2:")}


def test_a_lower_priority_v2_upsert_does_not_overwrite_the_winners_members(store_app, server, clients):
    first = _push(server, clients, "province-01",
                  _v2(1, source_id="prov-1", source_updated_at="2024-03-01T10:00:00"))
    key = first["key"]
    kept, stamps = _kept(store_app, key)
    assert kept["wechat"] == "wx_1" and kept["registration"]["name"] == "王淑兰"
    assert stamps["v2:wechat"] == stamps["v2:registration"] == "province-01"

    # the city ranks lower: even newer, its wechat and registration lose; its landline is new
    # and fills a gap; native_place, left out, stays
    city = _v2(1, source_id="city-1", source_updated_at="2024-09-01T10:00:00", wechat="wx_city",
               native_place=None, landline="010-65001234",
               registration={**_v2(1)["registration"], "name": "李四"})
    result = _push(server, clients, "city-01", city)
    assert (result["status"], result["key"]) == ("updated", key), result
    assert "v2:wechat" in result["note"] and "v2:registration" in result["note"], result
    kept, stamps = _kept(store_app, key)
    assert kept["wechat"] == "wx_1"
    assert kept["registration"]["name"] == "王淑兰"
    assert kept["landline"] == "010-65001234" and kept["native_place"] == "北京"
    assert stamps["v2:wechat"] == "province-01" and stamps["v2:landline"] == "city-01"

    # only overruled members differ: nothing changes, and the answer says which were kept
    again = _push(server, clients, "city-01", dict(city, source_updated_at="2024-10-01T10:00:00"))
    assert again["status"] == "unchanged" and "v2:wechat" in again["note"], again
    assert _kept(store_app, key)[0] == kept

    # the province itself, with a newer time, replaces its own member
    province = _v2(1, source_id="prov-1", source_updated_at="2024-11-01T10:00:00", wechat="wx_prov2")
    assert _push(server, clients, "province-01", province)["status"] == "updated"
    kept, stamps = _kept(store_app, key)
    assert kept["wechat"] == "wx_prov2" and kept["landline"] == "010-65001234"


def test_between_equal_priorities_the_newer_source_time_wins_member_by_member(
        store_app, server, clients):
    first = _push(server, clients, "county-09",
                  _v2(2, source_id="c9-2", source_updated_at="2024-05-01T10:00:00"))
    key = first["key"]
    older = _push(server, clients, "county-10",
                  _v2(2, source_id="c10-2", source_updated_at="2024-04-01T10:00:00",
                      wechat="wx_older", landline="010-1"))
    assert older["key"] == key and "v2:wechat" in older["note"], older
    kept, stamps = _kept(store_app, key)
    assert kept["wechat"] == "wx_2" and kept["landline"] == "010-1"
    assert stamps["v2:wechat"] == "county-09" and stamps["v2:landline"] == "county-10"

    newer = _push(server, clients, "county-10",
                  _v2(2, source_id="c10-2", source_updated_at="2024-06-01T10:00:00",
                      wechat="wx_newer"))
    assert newer["status"] == "updated", newer
    kept, stamps = _kept(store_app, key)
    assert kept["wechat"] == "wx_newer" and stamps["v2:wechat"] == "county-10"


def test_a_v2_member_the_winner_holds_survives_a_v1_push_and_a_losing_v2_push(
        store_app, server, clients):
    first = _push(server, clients, "province-01", _v2(3, source_id="prov-3"))
    v1 = h.volunteer(3, source_id="city-3", source_updated_at="2025-01-01T00:00:00")
    answer = h.push(server, clients["city-01"], h.envelope([h.item("volunteer", v1)], sender="city-01"))
    assert answer.json()["results"][0]["status"] in ("updated", "unchanged")
    losing = copy.deepcopy(_v2(3, source_id="city-3", wechat="wx_lost",
                               source_updated_at="2025-02-01T00:00:00"))
    _push(server, clients, "city-01", losing)
    assert _kept(store_app, first["key"])[0]["wechat"] == "wx_3"
