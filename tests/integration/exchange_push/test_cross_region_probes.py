"""Cross-region probes (issue 11, finding 3): a client scoped to Beijing (region 11) tries
every path that looks people up to learn about Shanghai's (310101) people and records.

A duplicate document is still refused, but nothing in an answer to the out-of-scope caller
names another region's volunteer number, region or the record's state; where the protocol
allows it, the answer is the same whether the record is active, deleted or never existed.
Real gateway on 127.0.0.1 (signed pushes, JSON and NDJSON = the bulk path), the services'
API with development tokens, the change feed; SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select, update
from stdnum.iso7064 import mod_37_36

from gateway import store
from gateway.store.models import Volunteer
from tests.conftest import ALL_PERMS
from tests.integration.exchange_feed import helpers as feed
from tests.integration.exchange_push import helpers as h

SH = "310101"  # 上海市黄浦区
NEVER = "V3101012405000999" + mod_37_36.calc_check_digit("3101012405000999")  # nobody's

#: What must never reach a Beijing caller about a Shanghai record.
_LEAKS = re.compile(r"V3101|3101\d{2}|31\d{4}|deleted|already deleted|已删除")


def _no_leak(text: str, *numbers: str) -> None:
    assert not _LEAKS.search(text), text
    for number in numbers:
        assert number not in text, text


@pytest.fixture
def world(store_app, caller):
    """Shanghai: an active and a deleted volunteer (registered by a national client), a team
    and everything hanging off it; Beijing: one local system (dev token), one signed client."""
    http = store_app.test_client()
    admin = caller(store_app, "national", perms=ALL_PERMS, pii="full")
    active = h.volunteer(501, area=SH, source_id="sh-501")
    gone = h.volunteer(502, area=SH, source_id="sh-502")
    never = h.volunteer(503, area=SH, source_id="sh-503")  # never registered
    shanghai = feed.build_world(http, admin, area=SH)
    numbers = {}
    for name, record in (("active", active), ("gone", gone)):
        numbers[name] = feed.expect(http.post("/api/v1/volunteers", json=record, headers=admin))[
            "volunteer_no"]
    with store.session_scope(store_app) as session:
        session.execute(update(Volunteer).where(Volunteer.volunteer_no == numbers["gone"])
                        .values(deleted_at=dt.datetime.now(dt.timezone.utc)))
    beijing = caller(store_app, "bj-local", region="11", perms=ALL_PERMS)
    return dict(http=http, admin=admin, beijing=beijing, records={"active": active, "gone": gone,
                "never": never}, numbers=numbers, shanghai=shanghai)


def _shape(answer, sent: str = "") -> tuple:
    """An answer without the number the caller itself sent (for comparing answers)."""
    text = json.dumps(answer.get_json(), ensure_ascii=False, sort_keys=True)
    return answer.status_code, text.replace(sent, "<number>") if sent else text


# -- the services API ----------------------------------------------------------------------------

def test_registering_another_regions_person_is_refused_naming_nothing_of_theirs(world):
    http, beijing = world["http"], world["beijing"]
    answers = {}
    for state in ("active", "gone"):
        record = dict(world["records"][state], service_area="110105", residence_area="110105",
                      registration_area="110105", source_id=f"bj-{state}")
        answer = http.post("/api/v1/volunteers", json=record, headers=beijing)
        assert answer.status_code == 409, answer.get_data(as_text=True)
        body = answer.get_json()
        assert "existing_volunteer_no" not in body
        assert [(e["pointer"], e["rule"]) for e in body["errors"]] == [("/id_number",
                                                                       "volunteer.duplicate")]
        _no_leak(answer.get_data(as_text=True), *world["numbers"].values())
        answers[state] = _shape(answer)
    assert answers["active"] == answers["gone"]
    # The national client (covering Shanghai) still learns the number, as before.
    again = http.post("/api/v1/volunteers", json=world["records"]["active"], headers=world["admin"])
    assert again.status_code == 409 and again.get_json()["existing_volunteer_no"] == \
        world["numbers"]["active"]


def test_patching_or_looking_up_another_regions_person_reads_as_never_there(world):
    http, beijing = world["http"], world["beijing"]
    patches = [_shape(http.patch(f"/api/v1/volunteers/{number}", json={"name": "王五"},
                                 headers=beijing), number)
               for number in (world["numbers"]["active"], world["numbers"]["gone"], NEVER)]
    assert patches[0][0] == 404 and patches[0] == patches[1] == patches[2]
    lookups = []
    for state in ("active", "gone", "never"):
        record = world["records"][state]
        answer = http.post("/api/v1/volunteers/lookup", headers=beijing,
                           json={"id_type": record["id_type"], "id_number": record["id_number"]})
        _no_leak(answer.get_data(as_text=True), *world["numbers"].values())
        lookups.append(_shape(answer))
    assert lookups[0][0] == 404 and lookups[0] == lookups[1] == lookups[2]


def test_team_membership_hours_enrolments_and_certificates_read_as_never_there(world):
    http, beijing, sh = world["http"], world["beijing"], world["shanghai"]
    paths = {
        "join": lambda no: http.post(f"/api/v1/teams/{sh.team_no}/members", headers=beijing,
                                     json={"volunteer_no": no}),
        "leave": lambda no: http.delete(f"/api/v1/teams/{sh.team_no}/members/{no}",
                                        headers=beijing),
        "hours": lambda no: http.post("/api/v1/service-records/applications", headers=beijing,
                                      json=_application(no, sh.project_no)),
        "enrolments": lambda no: http.get(f"/api/v1/volunteers/{no}/enrollments", headers=beijing),
        "certificates": lambda no: http.get(f"/api/v1/volunteers/{no}/certificates",
                                            headers=beijing),
        "history": lambda no: http.get(f"/api/v1/volunteers/{no}/history", headers=beijing),
    }
    for name, call in paths.items():
        shapes = []
        for number in (world["numbers"]["active"], world["numbers"]["gone"], sh.volunteer_no, NEVER):
            answer = call(number)
            assert answer.status_code in (404, 422), (name, answer.get_data(as_text=True))
            shapes.append(_shape(answer, number))
        assert len(set(shapes)) == 1, (name, shapes)


def _application(volunteer_no: str, project_no: str) -> dict:
    from tests import factories

    return factories.service_record(record_no=factories.OMIT, team_no=factories.OMIT,
                                    volunteer_no=volunteer_no, project_no=project_no, status="0",
                                    source="2", started_at="2024-05-02T09:00:00",
                                    ended_at="2024-05-02T12:30:00", recorded_at="2024-05-02")


# -- the signed push (JSON and NDJSON: the bulk path) -----------------------------------------------

@pytest.fixture
def server(store_app):
    from tests.integration.exchange import helpers as exchange_helpers

    live = exchange_helpers.LiveServer(store_app)
    yield live
    live.stop()


@pytest.fixture
def city(store_app):
    from tests.integration.exchange import helpers as exchange_helpers

    return exchange_helpers.register_client(store_app, "city-01")


def _results(answer) -> list[dict]:
    assert answer.status_code == 200, answer.text
    if answer.headers["Content-Type"].startswith("application/x-ndjson"):
        lines = h.ndjson_lines(answer)
        return [line for line in lines if "index" in line]
    return answer.json()["results"]


def _push_both_ways(server, city, records) -> list[list[dict]]:
    """The records pushed as one JSON batch and as one NDJSON batch (each chunk takes the bulk
    path); the per-record results of each."""
    out = []
    for body in (h.envelope(records), h.ndjson(records)):
        # Without the index (line) and the source_id, which echo what the caller sent.
        results = [{k: v for k, v in r.items() if k not in ("index", "line", "source_id")}
                   for r in _results(h.push(server, city, body))]
        _no_leak(json.dumps(results, ensure_ascii=False))
        out.append(results)
    return out


def test_pushing_another_regions_person_is_refused_alike_for_active_and_deleted(
        world, server, city):
    records = []
    for state in ("active", "gone"):
        records.append(h.item("volunteer", dict(
            world["records"][state], service_area="110105", residence_area="110105",
            registration_area="110105", source_id=f"bj-push-{state}")))
    records.append(h.item("volunteer", h.volunteer(601)))  # a fresh Beijing person: created
    for results in _push_both_ways(server, city, records):
        assert results[0] == results[1], results
        assert results[0]["status"] == "rejected"
        assert {(e["pointer"], e["rule"]) for e in results[0]["errors"]} == {
            ("/data/id_number", "volunteer.duplicate")}
        assert results[2]["status"] in ("created", "unchanged")


def test_pushing_a_shanghai_record_answers_alike_whoever_holds_the_document(world, server, city):
    records = [h.item("volunteer", dict(world["records"][state], source_id=f"bj-sh-{state}"))
               for state in ("active", "gone", "never")]
    for results in _push_both_ways(server, city, records):
        assert results[0] == results[1] == results[2], results
        assert {e["rule"] for e in results[0]["errors"]} == {"exchange.out_of_scope"}


def test_deleting_another_regions_records_reads_as_never_there(world, server, city):
    sh = world["shanghai"]
    volunteers = [h.item("volunteer", {"volunteer_no": n}, op="delete")
                  for n in (world["numbers"]["active"], world["numbers"]["gone"], NEVER)]
    for results in _push_both_ways(server, city, volunteers):
        assert results[0] == results[1] == results[2], results
        assert {e["rule"] for e in results[0]["errors"]} == {"exchange.not_found"}
    others = [h.item("team", {"team_no": sh.team_no}, op="delete"),
              h.item("team", {"team_no": "T310101999999"}, op="delete"),
              h.item("project", {"project_no": sh.project_no}, op="delete"),
              h.item("project", {"project_no": "P310101999999"}, op="delete"),
              h.item("service_record", {"record_no": sh.record_no}, op="delete"),
              h.item("service_record", {"record_no": "S310101999999"}, op="delete")]
    results = _push_both_ways(server, city, others)[0]
    for found, missing in zip(results[::2], results[1::2]):
        assert found == missing and found["status"] == "rejected", results
    with store.session_scope(world["http"].application) as session:
        deleted = session.execute(select(Volunteer.deleted_at).where(
            Volunteer.volunteer_no == world["numbers"]["active"])).scalar_one()
    assert deleted is None  # and nothing was deleted


# -- the change feed -----------------------------------------------------------------------------

def test_the_feed_shows_beijing_nothing_of_shanghai(world, server, city):
    http, sh = world["http"], world["shanghai"]
    national = world["admin"]
    feed.delete_hours(http, national, sh.record_no)  # a tombstone in Shanghai
    reader = world["beijing"]
    changes, _ = feed.drain(http, reader)
    text = json.dumps(changes, ensure_ascii=False)
    shanghai_keys = {sh.volunteer_no, sh.team_no, sh.project_no, sh.record_no, sh.certificate_no,
                     *world["numbers"].values()}
    assert not shanghai_keys & {c["key"] for c in changes}
    _no_leak(text, *shanghai_keys)
