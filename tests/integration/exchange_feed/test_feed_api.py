"""GET /api/v1/exchange/changes over the Flask test client, on SQLite and PostgreSQL.

Records are made through the services' endpoints; the feed must show each recorded change
once, oldest first, with the record in the standard's form, within the reader's scope.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

from sqlalchemy import select, update

from gateway import store
from gateway.caller import Caller
from gateway.exchange import message_log
from gateway.exchange.feed import FEED_ENTITIES, Cursor
from gateway.privacy import mask_id_number, mask_mobile, vault
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store.models import Change, MessageLog, Volunteer
from tests.integration.exchange_feed import helpers as h

GD_READ = {"*": ["read"]}


def _feed_rows(app, entities=FEED_ENTITIES) -> list[tuple[int, str, str]]:
    with store.session_scope(app) as session:
        return [tuple(r) for r in session.execute(
            select(Change.id, Change.entity, Change.entity_no).where(Change.entity.in_(entities))
            .order_by(Change.id))]


def _valid(app, entity: str, record: dict) -> list:
    with app.app_context():
        return engine().validate(entity, record).issues


# -- what a page holds ------------------------------------------------------------------------------

def test_changes_appear_in_order_in_the_standards_form_with_personal_data_masked(
        store_app, http, admin, beijing):
    person = h.volunteer_record()
    volunteer_no = h.expect(http.post("/api/v1/volunteers", json=person, headers=admin))["volunteer_no"]
    team_no = h.register_team(http, admin)
    project_no = h.publish_project(http, admin, team_no)
    record_no = h.record_hours(http, admin, volunteer_no, project_no)
    certificate_no = h.issue_certificate(http, admin, volunteer_no, team_no)

    answer = h.page(http, beijing)
    assert answer["has_more"] is False
    changes = answer["changes"]
    # Exactly the recorded changes, in the order they were made (one writer at a time here).
    assert [(h.change_id(c), c["entity"], c["key"]) for c in changes] == _feed_rows(store_app)
    assert [c["entity"] for c in changes] == ["volunteer", "team", "team", "project", "volunteer",
                                              "service_record", "certificate"]
    assert answer["next_cursor"] == changes[-1]["cursor"]
    cursors = [Cursor.decode(c["cursor"]) for c in changes]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert all(c["op"] == "upsert" for c in changes)
    for change in changes:
        assert datetime.fromisoformat(change["changed_at"]).tzinfo is not None

    by_entity = {c["entity"]: c["data"] for c in changes}
    volunteer = by_entity["volunteer"]
    assert volunteer["volunteer_no"] == volunteer_no
    assert volunteer["id_number"] == mask_id_number(person["id_number"]) != person["id_number"]
    assert volunteer["mobile"] == mask_mobile(person["mobile"]) != person["mobile"]
    assert volunteer["total_hours"] == 3.5  # a number, as the schema says; after the hours
    schema = engine_schema(store_app, "volunteer")
    assert set(volunteer) <= set(schema["properties"])  # no sources, created_at, …
    team = by_entity["team"]
    assert team["team_no"] == team_no and team["status"] == "1"  # both team changes: now approved
    assert team["contact_mobile"] == mask_mobile("13911112222")
    project = by_entity["project"]
    assert project["project_no"] == project_no and project["contact"]["mobile"] == "139****2222"
    assert "admitted" not in project["posts"][0] and "team_name" not in project
    record = by_entity["service_record"]
    assert record["record_no"] == record_no and record["hours"] == 3.5
    certificate = by_entity["certificate"]
    assert certificate["certificate_no"] == certificate_no and certificate["status"] == "valid"
    assert certificate["volunteer"]["id_number"] == mask_id_number(person["id_number"])
    # Records without personal data leave exactly as the published schema wants them.
    for entity in ("service_record", "certificate"):
        assert _valid(store_app, entity, by_entity[entity]) == [], entity
    for entity, data in by_entity.items():
        assert set(data) <= set(engine_schema(store_app, entity)["properties"]), entity


def engine_schema(app, entity: str) -> dict:
    with app.app_context():
        return engine().schema(entity)


def test_a_client_with_full_access_gets_the_whole_record_valid_against_the_schema(
        store_app, http, admin, caller):
    person = h.volunteer_record()
    h.expect(http.post("/api/v1/volunteers", json=person, headers=admin))
    team_no = h.register_team(http, admin, approve=False)
    full = caller(store_app, "registry", region="11", perms=GD_READ, pii="full")

    changes = h.page(http, full)["changes"]
    volunteer, team = changes[0]["data"], changes[1]["data"]
    assert volunteer["id_number"] == person["id_number"] and volunteer["mobile"] == person["mobile"]
    assert team["contact_mobile"] == "13911112222" and team["team_no"] == team_no
    assert team["status"] == "2"  # waiting for review
    assert _valid(store_app, "volunteer", volunteer) == []
    assert _valid(store_app, "team", team) == []


def test_paging_with_cursors_returns_every_change_exactly_once(store_app, http, admin, beijing):
    h.build_world(http, admin)
    h.build_world(http, admin)
    expected = [row[0] for row in _feed_rows(store_app)]
    assert len(expected) >= 14

    seen, cursor = h.drain(http, beijing, limit=3)
    assert [h.change_id(c) for c in seen] == expected
    # Pages stop where the changes stop; the last cursor stays put when nothing is new …
    again = h.page(http, beijing, cursor, limit=3)
    assert again == {"changes": [], "next_cursor": cursor, "has_more": False}
    # … and a later change comes after it, alone.
    h.register_volunteer(http, admin)
    later = h.page(http, beijing, cursor)
    assert [c["entity"] for c in later["changes"]] == ["volunteer"]
    assert h.change_id(later["changes"][0]) == max(r[0] for r in _feed_rows(store_app))
    # has_more is true exactly while a full page was cut short.
    first = h.page(http, beijing, limit=len(expected))
    assert first["has_more"] is True and len(first["changes"]) == len(expected)


def test_without_since_the_feed_starts_at_the_beginning_and_an_empty_feed_has_a_cursor(
        store_app, http, beijing, admin):
    empty = h.page(http, beijing)
    assert empty["changes"] == [] and empty["has_more"] is False
    h.register_volunteer(http, admin)
    assert len(h.page(http, beijing, empty["next_cursor"])["changes"]) == 1


def test_entity_filter(store_app, http, admin, beijing, caller):
    world = h.build_world(http, admin)
    volunteers = h.page(http, beijing, entity="volunteer")["changes"]
    assert {c["entity"] for c in volunteers} == {"volunteer"} and len(volunteers) == 2
    records = h.page(http, beijing, entity="service_record")["changes"]
    assert [c["key"] for c in records] == [world.record_no]

    teams_only = caller(store_app, "team-reader", region="11", perms={"team": ["read"]})
    # Without an entity: only what the client may read; asking for another entity is 403.
    assert {c["entity"] for c in h.page(http, teams_only)["changes"]} == {"team"}
    refused = http.get(h.FEED, query_string={"entity": "volunteer"}, headers=teams_only)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "/problems/out-of-scope"
    nothing = caller(store_app, "no-perms", region="11", perms={})
    assert http.get(h.FEED, headers=nothing).status_code == 403
    unknown = http.get(h.FEED, query_string={"entity": "team_member"}, headers=beijing)
    assert unknown.status_code == 422


def test_a_client_sees_only_its_region_and_its_teams(store_app, http, admin, beijing, caller):
    bj = h.build_world(http, admin, h.BJ)
    gd = h.build_world(http, admin, h.GD)
    guangdong = caller(store_app, "guangdong-reader", region="44", perms=GD_READ)

    gd_changes, _ = h.drain(http, guangdong, limit=2)
    bj_changes, _ = h.drain(http, beijing, limit=2)
    gd_keys = {gd.volunteer_no, gd.team_no, gd.project_no, gd.record_no, gd.certificate_no}
    bj_keys = {bj.volunteer_no, bj.team_no, bj.project_no, bj.record_no, bj.certificate_no}
    assert {c["key"] for c in gd_changes} == gd_keys
    assert {c["key"] for c in bj_changes} == bj_keys
    assert all(c["data"].get("area", "44") .startswith("44") for c in gd_changes)

    # A team's own system: that team's records only (no volunteers: they belong to no team).
    team_system = caller(store_app, "team-system", region="11", perms=GD_READ, teams=(bj.team_no,))
    team_changes, _ = h.drain(http, team_system)
    assert {c["entity"] for c in team_changes} == {"team", "project", "service_record", "certificate"}
    assert {c["key"] for c in team_changes} == bj_keys - {bj.volunteer_no}
    other_team = caller(store_app, "other-team", region="", perms=GD_READ, teams=("T000000999999",))
    assert h.page(http, other_team)["changes"] == []


def test_tombstones(store_app, http, admin, beijing):
    world = h.build_world(http, admin)
    mark = h.page(http, beijing)["next_cursor"]
    h.delete_hours(http, admin, world.record_no)

    after = h.page(http, beijing, mark)["changes"]
    deleted = [c for c in after if c["entity"] == "service_record"]
    assert [(c["op"], c["key"], c["data"]) for c in deleted] == [("delete", world.record_no, None)]
    # Read from the start now, the record's earlier change is a tombstone too: it is deleted.
    creates = [c for c in h.page(http, beijing)["changes"]
               if c["entity"] == "service_record" and c["key"] == world.record_no]
    assert {c["op"] for c in creates} == {"delete"} and len(creates) == 2

    # A person deleted through the exchange (deleted_at) and a record that is gone entirely.
    with store.session_scope(store_app) as session:
        session.execute(update(Volunteer).where(Volunteer.volunteer_no == world.volunteer_no)
                        .values(deleted_at=datetime.now(timezone.utc)))
    with store_app.app_context(), store.session_scope(store_app) as session:
        ctx = ServiceContext(session, Caller("admin"), engine(), vault(), store_app.config)
        ctx.record_change("volunteer", world.volunteer_no, "delete", area=h.BJ)
        ctx.record_change("team", "T110105999999", "update", area=h.BJ, team_no="T110105999999")
    tail = h.page(http, beijing, mark)["changes"][-2:]
    assert [(c["entity"], c["op"], c["data"]) for c in tail] == [
        ("volunteer", "delete", None), ("team", "delete", None)]
    everything = h.page(http, beijing)["changes"]
    assert [c["op"] for c in everything if c["key"] == world.volunteer_no] == ["delete"] * 4, everything


def test_a_bad_cursor_is_refused(store_app, http, beijing):
    for bad in ("not a cursor!", "", "djE6MTox" + "A" * 100,
                base64.urlsafe_b64encode(b"v2:0:5").decode().rstrip("="),
                base64.urlsafe_b64encode(b"v1:-1:5").decode().rstrip("="),
                base64.urlsafe_b64encode(b"v1:0:99999999999999999999").decode().rstrip("="),
                base64.urlsafe_b64encode("v1:０:5".encode()).decode().rstrip("=")):
        answer = http.get(h.FEED, query_string={"since": bad}, headers=beijing)
        assert answer.status_code == 400, bad
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.get_json()["type"] == "/problems/invalid-cursor"
    for limit in (0, 1001, "x"):
        answer = http.get(h.FEED, query_string={"limit": limit}, headers=beijing)
        assert answer.status_code == 422, limit
    assert http.get(h.FEED).status_code == 401


def test_pages_are_signed_and_kept_in_the_message_log(store_app, http, admin, beijing):
    h.register_volunteer(http, admin)
    h.settle(store_app)
    answer = http.get(h.FEED, headers=beijing)
    assert answer.status_code == 200
    for field in ("Signature", "Signature-Input", "Content-Digest"):
        assert field in answer.headers
    with store.session_scope(store_app) as session:
        (entry,) = session.execute(select(MessageLog).where(MessageLog.direction == "out")).scalars()
        assert entry.client_id == "beijing-reader" and entry.signature == answer.headers["Signature"]
        assert entry.summary["kind"] == "feed-page" and entry.summary["changes"] == 1
        assert b"".join(message_log.read_blob(session, entry.body_blob)) == answer.get_data()
        assert message_log.verify_entry(session, entry).verified


def test_a_record_failing_the_schema_is_not_sent_but_counted(store_app, http, admin, beijing,
                                                             caplog):
    first = h.register_volunteer(http, admin)
    second = h.register_volunteer(http, admin)
    # Break the stored first person behind the services' back: an ethnicity code that is not one.
    with store.session_scope(store_app) as session:
        person = session.execute(select(Volunteer).where(Volunteer.volunteer_no == first)).scalar_one()
        person.data = {**person.data, "ethnicity": "XX"}
    answer = h.page(http, beijing)
    assert [c["key"] for c in answer["changes"]] == [second]
    assert answer["next_cursor"] == h.page(http, beijing, limit=2)["next_cursor"]  # moved past it
    assert any(first in r.getMessage() and "not sent" in r.getMessage() for r in caplog.records)
    stats = store_app.extensions["exchange.feed.stats"].snapshot()
    assert stats["skipped_invalid"] == {"volunteer": 2}  # once per page that met it


def test_a_change_recorded_without_region_is_placed_by_its_record(store_app, http, admin, beijing,
                                                                 caller):
    bj_team = h.register_team(http, admin, h.BJ, approve=False)
    gd_team = h.register_team(http, admin, h.GD, approve=False)
    mark = h.page(http, beijing)["next_cursor"]
    with store_app.app_context(), store.session_scope(store_app) as session:
        ctx = ServiceContext(session, Caller("admin"), engine(), vault(), store_app.config)
        for team_no in (bj_team, gd_team, "T110105999999"):  # no area, no team_no given
            ctx.record_change("team", team_no, "update")
    country = caller(store_app, "national", perms=GD_READ)
    team_system = caller(store_app, "bj-team-system", region="11", perms=GD_READ, teams=(bj_team,))

    assert [(c["key"], c["op"]) for c in h.page(http, beijing, mark)["changes"]] == [
        (bj_team, "upsert")]  # Guangdong's team is not Beijing's; the unknown one cannot be placed
    assert (bj_team, "upsert") in [(c["key"], c["op"]) for c in h.page(http, team_system)["changes"]]
    assert [(c["key"], c["op"]) for c in h.page(http, country)["changes"]][-3:] == [
        (bj_team, "upsert"), (gd_team, "upsert"), ("T110105999999", "delete")]
