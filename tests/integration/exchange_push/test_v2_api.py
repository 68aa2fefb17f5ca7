"""The services' API in schema v2 (issue 15, item 1): ``GET …?schema_version=2`` answers the
record exactly as the change feed renders it in v2 (gateway.exchange.feed.render_records, one
rendering), masked by the caller's personal-data access; v1 answers are what the services'
views give, byte for byte; an unknown version is a 422 pointing at the parameter. Real signed
HTTP on 127.0.0.1, SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select

from gateway import store
from gateway.api.hours import ServiceRecordDetailSchema
from gateway.api.projects import EnrollmentSchema, ProjectViewSchema
from gateway.api.teams import TeamSchema
from gateway.api.volunteers import VolunteerSchema
from gateway.caller import Caller
from gateway.exchange import national
from gateway.exchange.client_auth import GatewayAuth
from gateway.privacy import vault
from gateway.services import activities, hours, registration
from gateway.services.context import ServiceContext
from gateway.standard import engine
from gateway.store.models import Client
from tests import factories
from tests.integration.certificates import helpers as certificates
from tests.integration.exchange_feed.helpers import settle
from tests.integration.exchange_push import helpers as h
from tests.integration.exchange_push.test_v2_kept import (_client, _project_v2, _reader,
                                                          _team_v2, _v2_push, _volunteer_v2)

#: The API's item path of each entity the feed carries.
ITEM = {"volunteer": "/api/v1/volunteers/{}", "team": "/api/v1/teams/{}",
        "project": "/api/v1/projects/{}", "enrollment": "/api/v1/enrollments/{}",
        "service_record": "/api/v1/service-records/{}", "certificate": "/api/v1/certificates/{}"}
LIST = {"volunteer": "/api/v1/volunteers?per_page=100", "team": "/api/v1/teams?per_page=100",
        "project": "/api/v1/projects?per_page=100&sort=starts_on",
        "service_record": "/api/v1/service-records?per_page=100"}


def _get(server, keys, path: str) -> requests.Response:
    return requests.get(server.url + path, timeout=30,
                        auth=GatewayAuth(keys.client_id, keys.key_id, keys.private_pem))


def _feed_v2(server, keys) -> dict[tuple[str, str], dict]:
    """The latest v2 data of every record the client's feed sends as an upsert."""
    latest: dict[tuple[str, str], dict] = {}
    for change in _reader(server, keys).changes_page(limit=1000, schema_version="2").changes:
        if change["op"] == "upsert":
            latest[(change["entity"], change["key"])] = change["data"]
    return latest


def _push_three(store_app, server, seeder, keys) -> dict[str, str]:
    team_for_project = seeder.approved_team()
    results = _v2_push(server, keys, [h.item("volunteer", _volunteer_v2(31)),
                                      h.item("team", _team_v2(32)),
                                      h.item("project", _project_v2(team_for_project))])
    assert [r["status"] for r in results] == ["created"] * 3, results
    settle(store_app)
    return {e: r["key"] for e, r in zip(("volunteer", "team", "project"), results)}


def test_a_record_pushed_in_v2_read_through_the_api_in_v2_is_what_the_feed_gives(
        store_app, server, seeder):
    full, _ = _client(store_app, "national-full", "full")
    masked, _ = _client(store_app, "national-masked", "masked")
    pushed = _push_three(store_app, server, seeder, full)
    for keys in (full, masked):
        feed = _feed_v2(server, keys)
        for entity, key in pushed.items():
            answer = _get(server, keys, ITEM[entity].format(key) + "?schema_version=2")
            assert answer.status_code == 200, answer.text
            assert answer.json() == feed[(entity, key)], (keys.client_id, entity)
            listed = _get(server, keys, LIST[entity] + "&schema_version=2").json()
            [item] = [i for i in listed["items"] if i.get(f"{entity}_no") == key]
            assert item == feed[(entity, key)], (keys.client_id, entity, "list")
            assert listed["total"] >= len(listed["items"])
    # the v2 answer has v2's members at the top (no `national` member), whole
    volunteer = _get(server, full, ITEM["volunteer"].format(pushed["volunteer"])
                     + "?schema_version=2").json()
    assert "national" not in volunteer and volunteer["wechat"] == "wx_31"
    assert volunteer["service_categories"] == ["0001", "1101"]
    assert volunteer["registration"]["id_number"] == h.citizen_id(31)
    assert store_app.extensions["standard.engine"].validate("volunteer", volunteer, "2").valid


def test_masking_in_v2_follows_the_callers_personal_data_access(store_app, server, seeder):
    full, _ = _client(store_app, "national-full", "full")
    masked, _ = _client(store_app, "national-masked", "masked")
    pushed = _push_three(store_app, server, seeder, full)
    path = ITEM["volunteer"].format(pushed["volunteer"]) + "?schema_version=2"
    clear, hidden = _get(server, full, path).json(), _get(server, masked, path).json()
    assert clear["id_number"] == h.citizen_id(31)
    assert hidden["id_number"] != clear["id_number"] and "*" in hidden["id_number"]
    assert hidden["mobile"] != clear["mobile"] and "*" in hidden["mobile"]
    for personal in ("registration", "wechat", "landline", "real_name_photos", "albp0012"):
        assert personal in clear and personal not in hidden, personal
    assert hidden["native_place"] == "北京" and hidden["service_fields"] == ["0003", "1301"]
    body = _get(server, masked, LIST["volunteer"] + "&schema_version=2").text
    assert h.citizen_id(31) not in body and "wx_31" not in body and '"registration":' not in body
    team = _get(server, masked, ITEM["team"].format(pushed["team"]) + "?schema_version=2").json()
    assert "leader" not in team          # the person in charge: personal in v2
    assert "leader" in _get(server, full, ITEM["team"].format(pushed["team"])
                            + "?schema_version=2").json()


def test_every_entity_of_the_feed_reads_the_same_through_the_api_in_v2(
        store_app, server, city, seeder):
    """Volunteers, teams, projects, enrolments and service records pushed in v1 and in v2:
    each one's v2 answer is the feed's v2 data, item and (where there is a list) list."""
    keys, _ = _client(store_app, "national-full", "full")
    _push_three(store_app, server, seeder, keys)
    team_no = seeder.approved_team()
    project = factories.project(team_no=team_no, source_id="proj-api")
    out = h.push(server, city, h.envelope([h.item("project", project),
                                           h.item("volunteer", h.volunteer(42))])).json()["results"]
    project_no, volunteer_no = out[0]["key"], out[1]["key"]
    more = h.push(server, city, h.envelope([
        h.item("enrollment", factories.enrollment(volunteer_no=volunteer_no, project_no=project_no,
                                                  post_no=factories.POST_NO)),
        h.item("service_record", factories.service_record(
            volunteer_no=volunteer_no, project_no=project_no, team_no=team_no))])).json()
    assert [r["status"] for r in more["results"]] == ["created"] * 2, more
    settle(store_app)
    feed = _feed_v2(server, keys)
    entities = {entity for entity, _key in feed}
    assert {"volunteer", "team", "project", "enrollment", "service_record"} <= entities, entities
    for (entity, key), data in feed.items():
        answer = _get(server, keys, ITEM[entity].format(key) + "?schema_version=2")
        assert answer.status_code == 200, (entity, key, answer.text)
        assert answer.json() == data, (entity, key)
    for entity, path in LIST.items():
        listed = _get(server, keys, path + "&schema_version=2").json()
        number = {"service_record": "record_no"}.get(entity, f"{entity}_no")
        assert listed["items"]
        for item in listed["items"]:
            assert item == feed[(entity, item[number])], (entity, item[number])
    for path in (f"/api/v1/volunteers/{volunteer_no}/enrollments",
                 f"/api/v1/projects/{project_no}/enrollments"):
        [item] = _get(server, keys, path + "?schema_version=2").json()["items"]
        assert item == feed[("enrollment", item["enrollment_no"])]


def test_a_certificate_reads_the_same_through_the_api_in_v2(store_app, server):
    world = certificates.seed(store_app)
    keys, _ = _client(store_app, "national-full", "full")
    with store_app.test_client() as client:
        issued = client.post("/api/v1/certificates", json=certificates.issue_body(world),
                             headers=_token(store_app, "issuer"))
        assert issued.status_code == 201, issued.get_data(as_text=True)
    number = issued.get_json()["certificate_no"]
    settle(store_app)
    feed = _feed_v2(server, keys)
    answer = _get(server, keys, ITEM["certificate"].format(number) + "?schema_version=2")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert answer.json() == feed[("certificate", number)]
    listed = _get(server, keys, f"/api/v1/volunteers/{world.volunteer_no}/certificates"
                                "?schema_version=2").json()
    assert [c["certificate_no"] for c in listed["items"]] == [number]
    assert listed["items"][0] == feed[("certificate", number)]


def _token(app, client_id: str) -> dict[str, str]:
    from tests.conftest import make_caller

    return make_caller(app, client_id, perms={"*": ["read", "write", "review"]}, pii="full")


def _v1_expected(app, keys, entity: str, key: str) -> bytes:
    """What the v1 item GET answered before schema_version existed: the service's view with
    its ``national`` member, dumped through the operation's schema, as Flask's JSON."""
    with app.app_context(), store.session_scope(app) as session:
        client = session.execute(select(Client).where(Client.client_id == keys.client_id)
                                 ).scalar_one()
        ctx = ServiceContext(session=session, caller=Caller.from_client(client), engine=engine(),
                             vault=vault(), config=app.config)
        view, schema = {
            "volunteer": lambda: (registration.volunteer_view(
                ctx, registration.get_volunteer_for_read(ctx, key)), VolunteerSchema()),
            "team": lambda: (registration.team_view(
                ctx, registration.get_team_for_read(ctx, key)), TeamSchema()),
            "project": lambda: (activities.project_view(
                ctx, activities.read_project(ctx, key)), ProjectViewSchema()),
            "enrollment": lambda: (activities.enrollment_view(
                ctx, activities.get_enrollment(ctx, key)), EnrollmentSchema()),
            "service_record": lambda: (_record_detail(ctx, key), ServiceRecordDetailSchema()),
        }[entity]()
        return app.json.response(schema.dump(national.with_national(ctx, entity, key, view))
                                 ).get_data()


def _record_detail(ctx, key):
    from gateway.api.hours import _detail

    return _detail(ctx, hours.load_record(ctx, key))


@pytest.mark.parametrize("pii", ["full", "masked"])
def test_v1_answers_are_byte_for_byte_the_services_views(store_app, server, seeder, pii):
    full, _ = _client(store_app, "national-full", "full")
    keys = full if pii == "full" else _client(store_app, "national-masked", "masked")[0]
    pushed = _push_three(store_app, server, seeder, full)
    for entity, key in pushed.items():
        expected = _v1_expected(store_app, keys, entity, key)
        for suffix in ("", "?schema_version=1"):
            answer = _get(server, keys, ITEM[entity].format(key) + suffix)
            assert answer.status_code == 200, answer.text
            assert answer.content.rstrip(b"\n") == expected.rstrip(b"\n"), (entity, suffix)
        assert "national" in json.loads(expected)       # v1 still carries v2 there
    plain = _get(server, keys, LIST["volunteer"]).content
    assert plain == _get(server, keys, LIST["volunteer"] + "&schema_version=1").content


@pytest.mark.parametrize("version", ["3", "0", "v2", "2.0", "１"])
def test_an_unknown_schema_version_is_a_422_pointing_at_the_parameter(store_app, server, seeder,
                                                                      version):
    keys, _ = _client(store_app, "national-full", "full")
    pushed = _push_three(store_app, server, seeder, keys)
    for path in (ITEM["volunteer"].format(pushed["volunteer"]) + "?", LIST["team"] + "&",
                 "/api/v1/projects?", "/api/v1/service-records?"):
        answer = _get(server, keys, f"{path}schema_version={version}")
        assert answer.status_code == 422, (path, answer.text)
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        problem = answer.json()
        assert [e["pointer"] for e in problem["errors"]] == ["/schema_version"], problem
    # a blank version is refused the same way (as every blank query argument)
    answer = _get(server, keys, ITEM["team"].format(pushed["team"]) + "?schema_version=")
    assert answer.status_code == 422 and answer.json()["errors"][0]["pointer"] == "/schema_version"


def test_a_v2_body_is_not_taken_by_the_services_writes(store_app, server):
    """The services' POST / PATCH take v1 records (docs/protocol.md): a v2-only member is
    refused by v1's schema with a pointer to it, nothing written; v2 writes go through the push
    (schema_version "2"), the one place that validates v2 and keeps its members."""
    keys, _ = _client(store_app, "national-full", "full")
    before = _get(server, keys, "/api/v1/volunteers").json()["total"]
    auth = GatewayAuth(keys.client_id, keys.key_id, keys.private_pem)
    for query in ("", "?schema_version=2"):   # a version in the query changes nothing either
        record = dict(h.volunteer(41), wechat="wx_41", native_place="北京")
        answer = requests.post(server.url + "/api/v1/volunteers" + query, json=record,
                               timeout=30, auth=auth)
        assert answer.status_code == 422, answer.text
        assert {"/wechat", "/native_place"} <= {e["pointer"] for e in answer.json()["errors"]}
    assert _get(server, keys, "/api/v1/volunteers").json()["total"] == before
    # the same person in v1 is taken: it was the v2 members that were refused
    answer = requests.post(server.url + "/api/v1/volunteers", json=h.volunteer(41), timeout=30,
                           auth=auth)
    assert answer.status_code == 201, answer.text
