"""A record pushed in schema v2 is kept whole: read back from the change feed in v2 it is the
record pushed (modulo the normalisation docs/protocol.md lists), read in v1 it has the v1
shape; the personal v2 members are encrypted at rest and reach only clients with full
personal-data access. Real signed HTTP on 127.0.0.1, SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from gateway import store
from gateway.exchange import keys as client_keys
from gateway.exchange.client import GatewayClient
from gateway.privacy import vault
from gateway.services.clients import create_client
from gateway.store.models import Project, Team, Volunteer
from schemas.versions import ITEMS
from tests import factories
from tests.integration.exchange.helpers import ClientKeys
from tests.integration.exchange_feed.helpers import settle
from tests.integration.exchange_push import helpers as h

# What the feed gives that the sender did not send, or gives in the store's words
# (docs/protocol.md, "Schema versions in the feed"): the store's number for the record, the
# figures it derives, the source's own bookkeeping, a project's primary category; and local
# date-times come with the gateway's offset.
NORMALISED = {"volunteer": {"volunteer_no", "total_hours", "star_level", "source_id",
                            "source_updated_at"},
              "team": {"team_no", "status", "source_id", "source_updated_at"},
              "project": {"project_no", "service_category", "source_id", "source_updated_at"}}


def _client(app, client_id: str, pii: str) -> tuple[ClientKeys, GatewayClient]:
    pair = client_keys.generate_key_pair("ed25519")
    with store.session_scope(app) as session:
        client = create_client(session, client_id, client_id, region_prefix="11",
                               permissions={"*": ["read", "write"]}, pii_access=pii)
        key_id = client_keys.add_key(session, client, pair.public_pem).key_id
    keys = ClientKeys(client_id, key_id, pair.algorithm, pair.private_pem, pair.public_pem)
    return keys, keys


def _reader(server, keys: ClientKeys) -> GatewayClient:
    return GatewayClient(server.url, keys.client_id, keys.key_id, keys.private_pem)


def _v2_push(server, keys, items):
    answer = h.push(server, keys, dict(h.envelope(items, sender=keys.client_id), schema_version="2"))
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]


def _latest(changes, entity, key):
    found = [c for c in changes if c["entity"] == entity and c["key"] == key]
    assert found, (entity, key)
    return found[-1]["data"]


def _volunteer_v2(i: int) -> dict:
    return dict(h.volunteer(i), service_fields=["0003", "1301"], wechat=f"wx_{i}",
                service_categories=["0001", "1101"], native_place="北京", landline="010-65001234",
                registration={"name": "王淑兰", "id_type": "01", "id_number": h.citizen_id(i),
                              "gender": "2" if i % 2 == 0 else "1", "mobile": factories.mobile(i)},
                real_name_photos={"front": "/upload/rn/1f.png"}, albp0012="a", hours_withdrawn=1.5)


def _team_v2(i: int) -> dict:
    return dict(h.team(i, team_no=factories.OMIT), registration_authority="110105000000000000",
                supervisor_name="北京市朝阳区民政局", registration_dept_name="北京市朝阳区民政局",
                has_liaison="1", uscc_scan="/upload/t/2.pdf",
                leader={"name": "李主任", "id_number": h.citizen_id(i + 500),
                        "mobile": factories.mobile(i + 500)},
                contact_qq="10001", public="1", website="https://example.org",
                links={"parent": "nid:8a8a0001", "liaison": "nid:8a8a0009"}, albe0025="g")


def _project_v2(team_no: str) -> dict:
    record = factories.project(project_no=factories.OMIT, team_no=team_no,
                               source_id=f"proj-{uuid.uuid4().hex[:8]}",
                               service_category=factories.OMIT)
    record["service_categories"] = ["0001", "1101"]
    record["contact"] = dict(record["contact"], email="contact@example.org")
    record["posts"] = [dict(p, conditions="身体健康", list_name=p["name"]) for p in record["posts"]]
    record["checkin_points"] = [{"lng": 116.45, "lat": 39.91, "radius_m": 200, "type": "1",
                                 "address": "建国门外大街1号"}]
    record["links"] = {"team": "nid:8a8a0002"}
    record["headcount"] = 10
    record["join_password"] = "123456"
    return record


def _instant(value: str) -> datetime:
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo("Asia/Shanghai"))


def _without(record: dict, keys) -> dict:
    """``record`` without ``keys``, its posts' local times as instants (the feed gives them
    with the gateway's offset)."""
    out = {k: v for k, v in record.items() if k not in keys}
    if "posts" in out:
        out["posts"] = [{k: _instant(v) if k in ("starts_at", "ends_at") else v
                         for k, v in post.items()} for post in out["posts"]]
    return out


def test_a_v2_record_pushed_comes_back_from_the_feed_in_v2_as_pushed_and_in_v1_as_v1(
        store_app, server, seeder):
    keys, _ = _client(store_app, "national-full", "full")
    team_for_project = seeder.approved_team()
    volunteer, team, project = _volunteer_v2(61), _team_v2(62), _project_v2(team_for_project)
    results = _v2_push(server, keys, [h.item("volunteer", volunteer), h.item("team", team),
                                      h.item("project", project)])
    assert [r["status"] for r in results] == ["created"] * 3, results
    assert not any("not kept" in (r.get("note") or "") for r in results)
    keys_of = {e: r["key"] for e, r in zip(("volunteer", "team", "project"), results)}

    settle(store_app)
    reader = _reader(server, keys)
    v2 = reader.changes_page(limit=1000, schema_version="2").changes
    v1 = reader.changes_page(limit=1000).changes
    assert [c["cursor"] for c in v2] == [c["cursor"] for c in v1]   # one feed, two renderings

    for entity, pushed in (("volunteer", volunteer), ("team", team), ("project", project)):
        got = _latest(v2, entity, keys_of[entity])
        assert _without(got, NORMALISED[entity]) == _without(pushed, NORMALISED[entity]), entity
        assert store_app.extensions["standard.engine"].validate(entity, got, "2").valid
        old = _latest(v1, entity, keys_of[entity])
        v1_keys = set(store_app.extensions["standard.engine"].schema(entity)["properties"])
        assert set(old) <= v1_keys, set(old) - v1_keys
        assert store_app.extensions["standard.engine"].validate(entity, old).valid
    assert _latest(v2, "project", keys_of["project"])["service_category"] == "0001"
    # a team kept in v1 with a free-text registration authority (v2: the 18-digit area id)
    # is sent in v2 without it, never with a wrong value
    assert "registration_authority" in _latest(v1, "team", team_for_project)
    assert "registration_authority" not in _latest(v2, "team", team_for_project)
    # the v1 rendering: local codes v1's table lacks are left out, the v2 list is whole in v2
    assert _latest(v1, "volunteer", keys_of["volunteer"])["service_categories"] == ["0001"]
    assert _latest(v2, "volunteer", keys_of["volunteer"])["service_categories"] == ["0001", "1101"]


def test_personal_v2_members_are_encrypted_at_rest_and_masked_clients_do_not_get_them(
        store_app, server):
    keys, _ = _client(store_app, "national-full", "full")
    masked, _ = _client(store_app, "national-masked", "masked")
    volunteer = _volunteer_v2(71)
    [result] = _v2_push(server, keys, [h.item("volunteer", volunteer)])
    assert result["status"] == "created", result

    with store.session_scope(store_app) as session:
        plain, sealed = session.execute(text(
            "SELECT national, national_enc FROM volunteers WHERE volunteer_no = :no"),
            {"no": result["key"]}).one()
    stored = (plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False)) + sealed
    for secret in (volunteer["registration"]["id_number"], volunteer["registration"]["mobile"],
                   volunteer["wechat"], "王淑兰", "/upload/rn/1f.png"):
        assert secret not in stored
    assert "1301" in stored                         # what is not personal stays readable
    with store_app.app_context():
        opened = json.loads(vault().decrypt(sealed))
    assert opened["registration"] == volunteer["registration"] and opened["wechat"] == "wx_71"

    settle(store_app)
    got = _latest(_reader(server, masked).changes_page(schema_version="2").changes,
                  "volunteer", result["key"])
    for personal in ("registration", "wechat", "landline", "real_name_photos", "albp0012"):
        assert personal not in got
    assert got["service_fields"] == ["0003", "1301"] and got["native_place"] == "北京"
    assert got["id_number"] != volunteer["id_number"]   # v1's personal data masked as in v1


def test_a_change_of_v2_members_only_is_an_update_in_the_feed_and_a_v1_push_keeps_them(
        store_app, server, city):
    keys, _ = _client(store_app, "national-full", "full")
    volunteer = _volunteer_v2(81)
    [first] = _v2_push(server, keys, [h.item("volunteer", volunteer)])
    # a newer source time: a person's v2 members follow the v1 fields' conflict policy, under
    # which a change sent with the same time as the stored one loses (test_v2_merge.py)
    changed = dict(copy.deepcopy(volunteer), wechat="wx_new", native_place="上海",
                   source_updated_at="2024-04-01T00:00:00")
    [second] = _v2_push(server, keys, [h.item("volunteer", changed)])
    assert (second["status"], second["key"]) == ("updated", first["key"]), second
    [third] = _v2_push(server, keys, [h.item("volunteer", changed)])
    assert third["status"] == "unchanged", third

    # the history names the v2 keys that changed, never their values
    with store.session_scope(store_app) as session:
        history = session.execute(text("SELECT changes FROM changes WHERE entity = 'volunteer' "
                                       "AND entity_no = :no ORDER BY id"),
                                  {"no": first["key"]}).scalars().all()
    assert "wx_new" not in str(history) and "native_place" in str(history[-1])

    # a v1 push of the same person (another source, v1 knows nothing of v2's members)
    v1 = h.volunteer(81, source_id="v1-81", mobile=factories.mobile(8181),
                     source_updated_at="2025-01-01T00:00:00")
    answer = h.push(server, city, h.envelope([h.item("volunteer", v1)]))
    assert answer.json()["results"][0]["status"] == "updated"
    settle(store_app)
    got = _latest(_reader(server, keys).changes_page(limit=1000, schema_version="2").changes,
                  "volunteer", first["key"])
    assert got["wechat"] == "wx_new" and got["mobile"] == v1["mobile"]


def test_the_feed_refuses_an_unknown_schema_version(store_app, server):
    keys, _ = _client(store_app, "national-full", "full")
    answer = _reader(server, keys)._send("GET", "/api/v1/exchange/changes",
                                         params={"schema_version": "3"})
    assert answer.status_code == 422
    assert "schema_version" in answer.text


def test_project_posts_keep_their_v2_members_by_post_number(store_app, server, seeder):
    keys, _ = _client(store_app, "national-full", "full")
    project = _project_v2(seeder.approved_team())
    [result] = _v2_push(server, keys, [h.item("project", project)])
    assert result["status"] == "created", result
    with store.session_scope(store_app) as session:
        row = session.execute(select(Project).where(Project.project_no == result["key"])).scalar_one()
        assert row.national["checkin_points"][ITEMS] == [{"type": "1", "address": "建国门外大街1号"}]
        assert "posts" in json.loads(vault_decrypt(store_app, row.national_enc))
        assert session.execute(select(Team.national)).scalars().all() == [None]  # seeded in v1
        assert session.execute(select(Volunteer.national)).scalars().all() == []


def vault_decrypt(app, token: str) -> str:
    with app.app_context():
        return vault().decrypt(token)


def test_the_api_item_views_carry_the_kept_v2_members(store_app, server, seeder, caller):
    keys, _ = _client(store_app, "national-full", "full")
    volunteer, project = _volunteer_v2(91), _project_v2(seeder.approved_team())
    results = _v2_push(server, keys, [h.item("volunteer", volunteer), h.item("project", project)])
    assert [r["status"] for r in results] == ["created", "created"], results
    http = store_app.test_client()
    full = caller(store_app, "api-full", region="11", perms={"*": ["read"]}, pii="full")
    masked = caller(store_app, "api-masked", region="11", perms={"*": ["read"]})

    view = http.get(f"/api/v1/volunteers/{results[0]['key']}", headers=full).get_json()
    v1_keys = store_app.extensions["standard.engine"].schema("volunteer")["properties"]
    as_v2 = {**{k: v for k, v in view.items() if k in v1_keys and v is not None},
             **view["national"]}
    assert _without(as_v2, NORMALISED["volunteer"]) == _without(volunteer, NORMALISED["volunteer"])

    seen = http.get(f"/api/v1/volunteers/{results[0]['key']}", headers=masked).get_json()["national"]
    assert "registration" not in seen and "wechat" not in seen and seen["native_place"] == "北京"

    got = http.get(f"/api/v1/projects/{results[1]['key']}", headers=full).get_json()["national"]
    assert [p["conditions"] for p in got["posts"]] == ["身体健康"] * len(project["posts"])
    assert got["checkin_points"] == project["checkin_points"]
    assert got["contact"]["email"] == "contact@example.org"
    assert got["service_categories"] == ["0001", "1101"] and got["links"] == project["links"]

    v1_only = seeder.approved_team()
    assert "national" not in http.get(f"/api/v1/teams/{v1_only}", headers=full).get_json()
