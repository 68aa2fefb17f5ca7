"""Pushing batches: a local system sends signed JSON and NDJSON batches to a real gateway on
127.0.0.1 (SQLite and PostgreSQL); per-record results, scope, refusals, deletes, hours."""

from __future__ import annotations

import uuid

import orjson
import pytest
import requests
from sqlalchemy import select, text

from gateway.exchange.client_auth import GatewayResponseVerifier
from gateway.store.models import (Change, Complaint, Enrollment, MessageLog, Post, Project,
                                  ServiceRecord, Team, Training, Volunteer, VolunteerSource)
from tests import factories
from tests.integration.exchange import helpers as exchange_helpers
from tests.integration.exchange_push import helpers as h


def _by_index(body):
    return {r["index"]: r for r in body["results"]}


def _rules(result):
    return {(e["pointer"], e["rule"]) for e in result["errors"]}


def _problem(answer, status, slug):
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["type"] == f"/problems/{slug}"
    return answer.json()


# -- a mixed batch ------------------------------------------------------------------------------

def test_mixed_batch_answers_per_record_and_a_repush_is_unchanged(store_app, server, city, seeder):
    team_no = seeder.approved_team()
    records = [
        h.item("volunteer", h.volunteer(1)),
        h.item("volunteer", h.volunteer(2, mobile="23800138000")),           # invalid field
        h.item("team", h.team(1)),
        h.item("project", factories.project(team_no=team_no, source_id="proj-1")),
        h.item("training", factories.training(volunteer_no="V1100002201000004V")),  # unknown link
        h.item("certificate", factories.certificate()),                      # never pushed
        h.item("complaint", factories.complaint(team_no=team_no, project_no=factories.OMIT)),
        h.item("volunteer", h.volunteer(3)),
    ]
    answer = h.push(server, city, h.envelope(records, batch_id="mixed-1"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    GatewayResponseVerifier(server.url).verify(answer)  # signed by the gateway
    body = answer.json()
    assert body["batch_id"] == "mixed-1" and body["idempotency_key"]
    assert body["summary"] == {"total": 8, "created": 5, "updated": 0, "unchanged": 0,
                               "deleted": 0, "rejected": 3}
    results = _by_index(body)
    assert [results[i]["status"] for i in range(8)] == [
        "created", "rejected", "created", "created", "rejected", "rejected", "created", "created"]
    assert results[0]["key"].startswith("V110105") and results[0]["source_id"] == "vol-000001"
    assert results[0]["entity"] == "volunteer" and results[0]["op"] == "upsert"
    assert ("/data/mobile", "schema.pattern") in _rules(results[1]) and results[1]["key"] is None
    assert _rules(results[4]) == {("/data/volunteer_no", "exchange.link_unknown")}
    assert _rules(results[5]) == {("/entity", "exchange.not_pushable")}
    assert results[2]["key"].startswith("T110105") and results[3]["key"].startswith("P110105")

    # a new team waits for review whatever the record said (status 1 in the record)
    (status,), = h.rows(store_app, select(Team.status).where(Team.team_no == results[2]["key"]))
    assert status == "2"
    assert h.count(store_app, Volunteer) == 2
    assert h.count(store_app, VolunteerSource) == 2

    # the same records again, under a new idempotency key: nothing new, nothing changed
    again = h.push(server, city, h.envelope(records, batch_id="mixed-2"))
    assert again.status_code == 200, again.text
    second = _by_index(again.json())
    assert again.json()["summary"] == {"total": 8, "created": 0, "updated": 0, "unchanged": 5,
                                       "deleted": 0, "rejected": 3}
    for i in (0, 2, 3, 6, 7):
        assert second[i]["status"] == "unchanged" and second[i]["key"] == results[i]["key"]
        assert "note" not in second[i]
    assert h.count(store_app, Volunteer) == 2
    assert h.count(store_app, Team) == 2 and h.count(store_app, Project) == 1
    assert h.count(store_app, Complaint) == 1


def test_an_update_answers_updated_with_history_from_the_source(store_app, server, city):
    first = h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(7))]))
    key = first.json()["results"][0]["key"]
    changed = h.volunteer(7, name="王淑芬", source_updated_at="2024-04-01T08:00:00")
    answer = h.push(server, city, h.envelope([h.item("volunteer", changed)]))
    assert answer.json()["results"][0]["status"] == "updated"
    (name,), = h.rows(store_app, select(Volunteer.name).where(Volunteer.volunteer_no == key))
    assert name == "王淑芬"
    actions = h.rows(store_app, select(Change.action, Change.source_system).where(
        Change.entity == "volunteer", Change.entity_no == key).order_by(Change.id))
    assert [tuple(a) for a in actions] == [("create", "city-01"), ("update", "city-01")]
    # a creation's changes are stored as the new values alone (FieldChanges), any other as
    # the mapping; both read back as the mapping
    raw = [orjson.loads(c) if isinstance(c, (str, bytes)) else c for (c,) in h.rows(
        store_app, text("SELECT changes FROM changes WHERE entity = 'volunteer' AND entity_no = :k "
                        "ORDER BY id").bindparams(k=key))]
    created, updated = h.rows(store_app, select(Change.changes).where(
        Change.entity == "volunteer", Change.entity_no == key).order_by(Change.id))
    assert isinstance(raw[0], list) and raw[0][0]["name"] == h.volunteer(7)["name"]
    assert created[0] == {name: {"old": None, "new": new} for name, new in raw[0][0].items()}
    assert created[0]["mobile"]["new"] != h.volunteer(7)["mobile"]  # masked, as before
    assert raw[1] == updated[0] == {"name": {"old": h.volunteer(7)["name"], "new": "王淑芬"}}


# -- scope ---------------------------------------------------------------------------------------

def test_records_outside_the_clients_scope_are_rejected_one_by_one(store_app, server, seeder):
    guangdong = exchange_helpers.register_client(store_app, "gd-01")
    _set_scope(store_app, "gd-01", region="44")
    beijing_team = seeder.approved_team()
    records = [
        h.item("volunteer", h.volunteer(11, area="440106")),     # in 44: fine
        h.item("volunteer", h.volunteer(12)),                     # Beijing: outside
        h.item("team", h.team(12)),                               # Beijing team: outside
        h.item("project", factories.project(team_no=beijing_team)),  # a Beijing team's project
        h.item("volunteer", h.volunteer(13, area="440106")),
    ]
    body = h.push(server, guangdong, h.envelope(records, sender="gd-01")).json()
    results = _by_index(body)
    assert [results[i]["status"] for i in range(5)] == ["created", "rejected", "rejected",
                                                        "rejected", "created"]
    for i in (1, 2, 3):
        assert {e["rule"] for e in results[i]["errors"]} == {"exchange.out_of_scope"}, results[i]
    assert h.count(store_app, Volunteer) == 2
    assert h.count(store_app, Project) == 0


def test_a_client_without_write_permission_on_an_entity_is_rejected_per_record(store_app, server):
    keys = exchange_helpers.register_client(store_app, "vol-only")
    _set_scope(store_app, "vol-only", region="11", permissions={"volunteer": ["read", "write"]})
    body = h.push(server, keys, h.envelope([h.item("team", h.team(21)),
                                            h.item("volunteer", h.volunteer(21))],
                                           sender="vol-only")).json()
    results = _by_index(body)
    assert results[0]["status"] == "rejected"
    assert _rules(results[0]) == {("/data", "exchange.out_of_scope")}
    assert results[1]["status"] == "created"


def _set_scope(app, client_id, *, region, permissions=None):
    from gateway import store
    from gateway.store.models import Client

    with store.session_scope(app) as session:
        client = session.execute(select(Client).where(Client.client_id == client_id)).scalar_one()
        client.region_prefix = region
        if permissions is not None:
            client.permissions = permissions


# -- idempotency ----------------------------------------------------------------------------------

def test_a_repeated_key_with_the_same_body_returns_the_stored_answer(store_app, server, city):
    batch = h.envelope([h.item("volunteer", h.volunteer(i)) for i in range(30, 35)])
    first = h.push(server, city, batch, key="key-001")
    assert first.status_code == 200
    second = h.push(server, city, batch, key="key-001")
    assert second.status_code == 200
    assert second.content == first.content  # byte for byte, received_at included
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Content-Digest"] == first.headers["Content-Digest"]
    GatewayResponseVerifier(server.url).verify(second)  # signed anew
    assert h.count(store_app, Volunteer) == 5 and h.count(store_app, VolunteerSource) == 5
    statuses = [s for (s,) in h.rows(store_app, select(MessageLog.status).order_by(MessageLog.id))]
    assert statuses == ["done", "replayed"]


def test_the_same_key_with_another_body_is_refused(store_app, server, city):
    assert h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(40))]),
                  key="key-002").status_code == 200
    other = h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(41))]), key="key-002")
    _problem(other, 409, "idempotency-key-reused")
    assert h.count(store_app, Volunteer) == 1


def test_keys_are_per_client(store_app, server, city):
    other = exchange_helpers.register_client(store_app, "city-02")
    h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(42))]), key="shared-key")
    answer = h.push(server, other, h.envelope([h.item("volunteer", h.volunteer(43))],
                                              sender="city-02"), key="shared-key")
    assert answer.status_code == 200 and answer.json()["summary"]["created"] == 1


def test_a_batch_in_progress_answers_409_with_retry_after(store_app, server, city):
    batch = h.envelope([h.item("volunteer", h.volunteer(44))])
    _reserve(store_app, "city-01", "busy-key", orjson.dumps(batch), heartbeat_age_s=1)
    answer = h.push(server, city, batch, key="busy-key")
    _problem(answer, 409, "idempotency-in-progress")
    assert answer.headers["Retry-After"] == "5"
    assert h.count(store_app, Volunteer) == 0


def _reserve(app, client_id, key, body, heartbeat_age_s):
    """What a worker leaves behind while (or after dying while) processing a batch."""
    import datetime as dt
    import hashlib

    from gateway import store
    from gateway.store.models import IdempotencyKey, utcnow

    then = utcnow() - dt.timedelta(seconds=heartbeat_age_s)
    with store.session_scope(app) as session:
        session.add(IdempotencyKey(client_id=client_id, key=key,
                                   request_digest=hashlib.sha256(body).hexdigest(),
                                   status="in_progress", created_at=then, heartbeat_at=then))


def test_a_retry_after_a_dropped_connection_leaves_exactly_one_copy(store_app, server, city):
    records = [h.item("volunteer", h.volunteer(i)) for i in range(100, 400)]
    batch = h.envelope(records, batch_id="dropped-1")
    key = "retry-" + uuid.uuid4().hex
    with pytest.raises(requests.exceptions.ReadTimeout):
        # The client gives up long before the answer; the gateway goes on.
        h.push(server, city, batch, key=key, timeout=(10, 0.05))
    answer = _retry_until_done(server, city, batch, key)
    body = answer.json()
    assert body["summary"]["total"] == 300
    assert body["summary"]["created"] + body["summary"]["unchanged"] == 300
    assert h.count(store_app, Volunteer) == 300
    assert h.count(store_app, VolunteerSource) == 300
    assert h.count(store_app, Change, Change.entity == "volunteer", Change.action == "create") == 300


def _retry_until_done(server, keys, batch, key, attempts=240):
    import time

    for _ in range(attempts):
        answer = h.push(server, keys, batch, key=key)  # signed anew each time: a new nonce
        if answer.status_code == 200:
            return answer
        assert answer.status_code == 409, answer.text
        assert answer.json()["type"] == "/problems/idempotency-in-progress"
        time.sleep(0.5)
    raise AssertionError("the batch never finished")


def test_a_retry_takes_over_a_batch_whose_worker_died(store_app, server, city):
    """A crash after some chunks were committed: the reservation stays in_progress without
    heartbeat; after the lease a retry processes the batch again and converges."""
    records = [h.item("volunteer", h.volunteer(i)) for i in range(500, 520)]
    batch = h.envelope(records, batch_id="crashed-1")
    # the half the dead worker had committed
    h.push(server, city, h.envelope(records[:12], batch_id="crashed-1"))
    _reserve(store_app, "city-01", "crash-key", orjson.dumps(batch), heartbeat_age_s=3600)
    answer = h.push(server, city, batch, key="crash-key")
    assert answer.status_code == 200, answer.text
    statuses = [r["status"] for r in answer.json()["results"]]
    assert statuses == ["unchanged"] * 12 + ["created"] * 8
    assert h.count(store_app, Volunteer) == 20 and h.count(store_app, VolunteerSource) == 20
    # and the answer is now stored under the key
    assert h.push(server, city, batch, key="crash-key").content == answer.content


def test_a_worker_failing_mid_batch_keeps_its_chunks_and_a_retry_converges(
        store_app, server, city, monkeypatch):
    """The processing dies after two committed chunks (an unexpected error on record 12):
    500, the log says failed, the committed records stay, and the key is given back (issue
    11: it used to stay in_progress, every retry 409): the same key and body retried at
    once finish the batch with exactly one copy of each record."""
    from gateway.exchange import push, upserts
    from gateway.store.models import IdempotencyKey

    monkeypatch.setattr(push, "COMMIT_EVERY", 5)
    # groups of exactly five however slow the machine (the pace sizes groups to fit
    # COMMIT_SECONDS: a loaded machine made them smaller and the count below 10)
    monkeypatch.setattr(push, "COMMIT_SECONDS", 1e6)
    real = upserts._UPSERTS["volunteer"]

    def dies_on_the_twelfth(ctx, source, data):
        if data["source_id"] == "vol-000611":
            raise RuntimeError("worker killed")
        return real(ctx, source, data)

    monkeypatch.setitem(upserts._UPSERTS, "volunteer", dies_on_the_twelfth)
    records = [h.item("volunteer", h.volunteer(i)) for i in range(600, 620)]
    batch = h.envelope(records, batch_id="dies-1")
    answer = h.push(server, city, batch, key="dies-key")
    assert answer.status_code == 500
    assert h.count(store_app, Volunteer) == 10  # two chunks of five were committed
    (status,), = h.rows(store_app, select(MessageLog.status).where(MessageLog.batch_id == "dies-1"))
    assert status == "failed"
    assert h.count(store_app, IdempotencyKey, IdempotencyKey.key == "dies-key") == 0

    monkeypatch.setitem(upserts._UPSERTS, "volunteer", real)
    answer = h.push(server, city, batch, key="dies-key")
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["unchanged"] * 10 + ["created"] * 10
    assert h.count(store_app, Volunteer) == 20 and h.count(store_app, VolunteerSource) == 20


def test_a_reservation_left_by_a_killed_worker_lapses_after_its_lease(store_app, server, city):
    """A worker killed outright (SIGKILL) cannot give its key back: the retry is answered 409
    in-progress until IDEMPOTENCY_LEASE_SECONDS without heartbeat, then takes the batch over."""
    from gateway import store
    from gateway.store.models import IdempotencyKey, utcnow

    records = [h.item("volunteer", h.volunteer(i)) for i in range(620, 625)]
    batch = h.envelope(records, batch_id="killed-1")
    body = orjson.dumps(batch)
    import hashlib

    with store.session_scope(store_app) as session:
        session.add(IdempotencyKey(client_id="city-01", key="killed-key", status="in_progress",
                                   request_digest=hashlib.sha256(body).hexdigest(),
                                   batch_id="killed-1", message_id=0, created_at=utcnow(),
                                   heartbeat_at=utcnow()))
    _problem(h.push(server, city, body, key="killed-key", content_type="application/json"),
             409, "idempotency-in-progress")
    _age_reservation(store_app, "killed-key",
                     seconds=store_app.config["IDEMPOTENCY_LEASE_SECONDS"] + 1)
    answer = h.push(server, city, body, key="killed-key", content_type="application/json")
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["created"] * 5


def _age_reservation(app, key, seconds):
    import datetime as dt

    from sqlalchemy import update

    from gateway import store
    from gateway.store.models import IdempotencyKey, utcnow

    with store.session_scope(app) as session:
        session.execute(update(IdempotencyKey).where(IdempotencyKey.key == key).values(
            heartbeat_at=utcnow() - dt.timedelta(seconds=seconds)))


# -- refusals of the whole batch ---------------------------------------------------------------------

def test_unsigned_push_is_refused(store_app, server, city):
    answer = requests.post(server.url + h.URL, data=orjson.dumps(h.envelope([])), timeout=30,
                           headers={"Content-Type": "application/json", "Idempotency-Key": "k"})
    _problem(answer, 401, "signature-missing")


def test_push_without_idempotency_key_is_refused(server, city):
    req = requests.Request("POST", server.url + h.URL, data=orjson.dumps(h.envelope([])),
                           headers={"Content-Type": "application/json"}, auth=city.auth()).prepare()
    _problem(exchange_helpers.send(req), 400, "idempotency-key-required")


def test_other_media_types_are_refused(server, city):
    _problem(h.push(server, city, b"a,b\n1,2\n", content_type="text/csv"), 415,
             "unsupported-media-type")


def test_sender_mismatch_is_refused_and_nothing_written(store_app, server, city):
    batch = h.envelope([h.item("volunteer", h.volunteer(50))], sender="someone-else")
    body = _problem(h.push(server, city, batch), 403, "sender-mismatch")
    assert body["sender"] == "someone-else" and body["client_id"] == "city-01"
    assert h.count(store_app, Volunteer) == 0
    (status, http_status), = h.rows(store_app, select(MessageLog.status, MessageLog.http_status))
    assert (status, http_status) == ("rejected", 403)


def test_an_invalid_envelope_is_refused_with_pointers(store_app, server, city):
    batch = h.envelope([h.item("volunteer", h.volunteer(51))])
    batch["schema_version"] = "9"
    batch["extra"] = {"x": 1}
    body = _problem(h.push(server, city, batch), 422, "invalid-envelope")
    assert {(e["pointer"], e["rule"]) for e in body["errors"]} >= {
        ("/schema_version", "schema.const"), ("/extra", "schema.additionalProperties")}
    assert h.count(store_app, Volunteer) == 0
    body = _problem(h.push(server, city, h.envelope([])), 422, "invalid-envelope")
    assert body["errors"][0]["pointer"] == "/records"


def test_malformed_json_is_refused_before_any_record(store_app, server, city):
    good = orjson.dumps(h.envelope([h.item("volunteer", h.volunteer(52))]))
    body = _problem(h.push(server, city, good[:-5], content_type="application/json"), 400,
                    "invalid-json")
    assert "malformed JSON" in body["detail"]
    assert h.count(store_app, Volunteer) == 0


def test_json_digest_mismatch_is_refused(store_app, server, city):
    batch = orjson.dumps(h.envelope([h.item("volunteer", h.volunteer(53))]))
    req = requests.Request("POST", server.url + h.URL, data=batch, auth=city.auth(), headers={
        "Content-Type": "application/json", "Idempotency-Key": "k-digest"}).prepare()
    req.body = batch.replace(b"vol-000053", b"vol-000054")  # same length, other bytes
    _problem(exchange_helpers.send(req), 401, "digest-mismatch")
    assert h.count(store_app, Volunteer) == 0 and h.count(store_app, MessageLog) == 0


def test_a_body_over_max_push_bytes_is_refused(store_app, server, city):
    store_app.config["MAX_PUSH_BYTES"] = 2000
    batch = h.envelope([h.item("volunteer", h.volunteer(i)) for i in range(60, 70)])
    _problem(h.push(server, city, batch), 413, "body-too-large")
    assert h.count(store_app, Volunteer) == 0


def test_a_batch_larger_than_max_body_bytes_is_accepted(store_app, server, city):
    store_app.config["MAX_CONTENT_LENGTH"] = 1000  # the limit of every other endpoint
    answer = h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(i)) for i in range(3)]))
    assert answer.status_code == 200, answer.text


# -- NDJSON ----------------------------------------------------------------------------------------

def test_ndjson_push_with_a_bad_line_in_the_middle(store_app, server, city, seeder):
    team_no = seeder.approved_team()
    records = [h.item("volunteer", h.volunteer(i)) for i in range(1000, 1300)]
    records += [h.item("complaint", factories.complaint(team_no=team_no, project_no=factories.OMIT,
                                                        complaint_no=f"CP-{i:05d}"))
                for i in range(2200)]
    lines = h.ndjson(records, batch_id="nd-1").splitlines(keepends=True)
    middle = 1 + len(records) // 2           # line index (0-based) of an item in the middle
    lines[middle] = b'{"entity": "complaint", "op": "upsert", "data": {\n'
    body = b"".join(lines)
    answer = h.push(server, city, body)
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["Content-Type"] == "application/x-ndjson"
    GatewayResponseVerifier(server.url).verify(answer)
    out = h.ndjson_lines(answer)
    results, last = out[:-1], out[-1]
    assert last["summary"] == {"total": 2500, "created": 2499, "updated": 0, "unchanged": 0,
                               "deleted": 0, "rejected": 1}
    assert last["batch_id"] == "nd-1"
    assert [r["index"] for r in results] == list(range(2500))
    bad = results[middle - 1]
    assert bad["line"] == middle + 1 and bad["status"] == "rejected"
    assert [e["rule"] for e in bad["errors"]] == ["input.invalid-json"]
    assert h.count(store_app, Volunteer) == 300
    assert h.count(store_app, Complaint) == 2199


def test_ndjson_digest_mismatch_is_refused_and_nothing_written(store_app, server, city):
    body = h.ndjson([h.item("volunteer", h.volunteer(i)) for i in range(70, 80)])
    req = requests.Request("POST", server.url + h.URL, data=body, auth=city.auth(), headers={
        "Content-Type": "application/x-ndjson", "Idempotency-Key": "nd-digest"}).prepare()
    req.body = body.replace(b"vol-000071", b"vol-000099")
    _problem(exchange_helpers.send(req), 401, "digest-mismatch")
    assert h.count(store_app, Volunteer) == 0 and h.count(store_app, MessageLog) == 0


def test_ndjson_header_must_name_the_sender(store_app, server, city):
    body = h.ndjson([h.item("volunteer", h.volunteer(81))], sender="intruder")
    _problem(h.push(server, city, body), 403, "sender-mismatch")
    assert h.count(store_app, Volunteer) == 0


def test_ndjson_item_that_is_not_an_object_is_rejected(store_app, server, city):
    body = h.ndjson([h.item("volunteer", h.volunteer(82))]) + b'[1, 2]\n{"entity": "volunteer"}\n'
    out = h.ndjson_lines(h.push(server, city, body))
    assert [r["status"] for r in out[:-1]] == ["created", "rejected", "rejected"]
    assert out[1]["errors"][0]["rule"] == "exchange.item"
    assert {e["rule"] for e in out[2]["errors"]} == {"exchange.op", "exchange.data"}


# -- deletes ------------------------------------------------------------------------------------------

def test_deleting_a_volunteer_marks_it_and_a_repush_brings_it_back(store_app, server, city):
    key = h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(90))])).json()["results"][0]["key"]
    delete = h.envelope([h.item("volunteer", {"source_id": "vol-000090"}, op="delete")])
    result = h.push(server, city, delete).json()["results"][0]
    assert (result["status"], result["key"]) == ("deleted", key)
    (deleted_at,), = h.rows(store_app, select(Volunteer.deleted_at).where(Volunteer.volunteer_no == key))
    assert deleted_at is not None
    assert h.count(store_app, Change, Change.entity_no == key, Change.action == "delete") == 1
    # again: already deleted
    again = h.push(server, city, delete).json()["results"][0]
    assert again["status"] == "unchanged" and again["note"] == "already deleted"
    # by the store's number works too; an unknown one is rejected with a pointer
    unknown = h.push(server, city, h.envelope([h.item("volunteer", {"volunteer_no": "V1100002201000004V"},
                                                      op="delete")])).json()["results"][0]
    assert _rules(unknown) == {("/data/volunteer_no", "exchange.not_found")}
    # an upsert brings the person back
    back = h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(90))])).json()["results"][0]
    assert back["status"] == "updated"
    (deleted_at,), = h.rows(store_app, select(Volunteer.deleted_at).where(Volunteer.volunteer_no == key))
    assert deleted_at is None
    assert h.count(store_app, Volunteer) == 1


def test_a_pushed_delete_reaches_the_change_feed_as_a_tombstone(store_app, server, city):
    key = h.push(server, city, h.envelope([h.item("volunteer", h.volunteer(92))])).json()["results"][0]["key"]
    h.push(server, city, h.envelope([h.item("volunteer", {"source_id": "vol-000092"}, op="delete")]))
    answer = requests.get(server.url + "/api/v1/exchange/changes?entity=volunteer", auth=city.auth(),
                          timeout=30)
    assert answer.status_code == 200, answer.text
    mine = [(c["op"], c["data"]) for c in answer.json()["changes"] if c["key"] == key]
    assert mine[-1] == ("delete", None)


def test_deleting_teams_projects_and_small_records(store_app, server, city, seeder):
    team_no = seeder.approved_team()
    created = h.push(server, city, h.envelope([
        h.item("team", h.team(91)),
        h.item("project", factories.project(team_no=team_no, source_id="proj-91")),
        h.item("complaint", factories.complaint(team_no=team_no, project_no=factories.OMIT)),
    ])).json()["results"]
    team_key, project_key, complaint_key = (r["key"] for r in created)
    answer = h.push(server, city, h.envelope([
        h.item("team", {"source_id": "team-0091"}, op="delete"),
        h.item("project", {"project_no": project_key}, op="delete"),    # by the store's number
        h.item("complaint", {"complaint_no": "CP2024050300001"}, op="delete"),  # the sender's number
        h.item("training", {"source_id": "nope"}, op="delete"),
    ])).json()
    results = _by_index(answer)
    assert [results[i]["status"] for i in range(4)] == ["deleted", "deleted", "deleted", "rejected"]
    assert _rules(results[3]) == {("/data/source_id", "exchange.not_found")}
    (team_status,), = h.rows(store_app, select(Team.status).where(Team.team_no == team_key))
    (project_status,), = h.rows(store_app, select(Project.status).where(Project.project_no == project_key))
    assert (team_status, project_status) == ("4", "9")
    # retained as a tombstone (2020 办法 Art. 13; tests/integration/exchange_push/test_retention.py)
    assert h.count(store_app, Complaint, Complaint.deleted_at.is_not(None)) == 1
    for entity, key in (("team", team_key), ("project", project_key), ("complaint", complaint_key)):
        assert h.count(store_app, Change, Change.entity == entity, Change.entity_no == key,
                       Change.action == "delete") == 1
    # a deleted team pushed again waits for review again
    back = h.push(server, city, h.envelope([h.item("team", h.team(91))])).json()["results"][0]
    assert back["status"] == "updated"
    (team_status,), = h.rows(store_app, select(Team.status).where(Team.team_no == team_key))
    assert team_status == "2"


# -- hours, enrolments, trainings: rules across records apply -----------------------------------------

@pytest.fixture
def world(store_app, server, city, seeder):
    """A Beijing team (approved), its project (pushed), a volunteer admitted to its post."""
    team_no = seeder.approved_team()
    project = factories.project(team_no=team_no, source_id="proj-w")
    out = h.push(server, city, h.envelope([
        h.item("project", project), h.item("volunteer", h.volunteer(95)),
    ])).json()["results"]
    project_no, volunteer_no = out[0]["key"], out[1]["key"]
    enrolled = h.push(server, city, h.envelope([h.item("enrollment", factories.enrollment(
        volunteer_no=volunteer_no, project_no=project_no, post_no=factories.POST_NO))])).json()
    assert enrolled["results"][0]["status"] == "created", enrolled
    return {"team_no": team_no, "project_no": project_no, "volunteer_no": volunteer_no}


def test_service_records_are_recorded_corrected_and_deleted(store_app, server, city, world):
    record = factories.service_record(volunteer_no=world["volunteer_no"], project_no=world["project_no"],
                                      team_no=world["team_no"], source_updated_at="2024-05-01T18:00:00")
    first = h.push(server, city, h.envelope([h.item("service_record", record)])).json()["results"][0]
    assert first["status"] == "created" and first["source_id"] == "R2024050100001"
    # the same again: unchanged; a correction (new times, newer) makes a new record
    assert h.push(server, city, h.envelope([h.item("service_record", record)])).json()["results"][0][
        "status"] == "unchanged"
    corrected = dict(record, ended_at="2024-05-01T12:00:00", hours=3,
                     source_updated_at="2024-05-02T09:00:00")
    second = h.push(server, city, h.envelope([h.item("service_record", corrected)])).json()["results"][0]
    assert second["status"] == "updated" and second["key"] != first["key"]
    rows = dict(h.rows(store_app, select(ServiceRecord.record_no, ServiceRecord.status)))
    assert rows == {first["key"]: "3", second["key"]: "2"}
    (total,), = h.rows(store_app, select(Volunteer.total_hours).where(
        Volunteer.volunteer_no == world["volunteer_no"]))
    assert float(total) == 3.0
    # an older version of the record is stale: kept as is, with a note
    stale = h.push(server, city, h.envelope([h.item("service_record", record)])).json()["results"][0]
    assert stale["status"] == "unchanged" and "newer" in stale["note"]
    # rules across records: overlapping another effective record
    overlap = dict(record, record_no="R-other", started_at="2024-05-01T11:00:00",
                   ended_at="2024-05-01T13:00:00", hours=2)
    rejected = h.push(server, city, h.envelope([h.item("service_record", overlap)])).json()["results"][0]
    assert _rules(rejected) == {("/data/started_at", "service_record.no_overlap")}
    outside = dict(record, record_no="R-late", started_at="2024-07-01T09:00:00",
                   ended_at="2024-07-01T12:30:00")
    rejected = h.push(server, city, h.envelope([h.item("service_record", outside)])).json()["results"][0]
    assert ("/data/started_at", "service_record.within_project") in _rules(rejected)
    # delete by the sender's number
    deleted = h.push(server, city, h.envelope([
        h.item("service_record", {"record_no": "R2024050100001"}, op="delete")])).json()["results"][0]
    assert (deleted["status"], deleted["key"]) == ("deleted", second["key"])
    (total,), = h.rows(store_app, select(Volunteer.total_hours).where(
        Volunteer.volunteer_no == world["volunteer_no"]))
    assert float(total) == 0.0


def test_enrolments_take_and_free_places(store_app, server, city, world):
    (admitted,), = h.rows(store_app, select(Post.admitted).join(Project).where(
        Project.project_no == world["project_no"]))
    assert admitted == 1
    left = factories.enrollment(volunteer_no=world["volunteer_no"], project_no=world["project_no"],
                                post_no=factories.POST_NO, status="8",
                                source_updated_at="2024-06-01T10:00:00")
    result = h.push(server, city, h.envelope([h.item("enrollment", left)])).json()["results"][0]
    assert result["status"] == "updated"
    (admitted,), = h.rows(store_app, select(Post.admitted).join(Project).where(
        Project.project_no == world["project_no"]))
    assert admitted == 0
    unknown_post = factories.enrollment(volunteer_no=world["volunteer_no"],
                                        project_no=world["project_no"], post_no="nope",
                                        enrollment_no="E-2")
    result = h.push(server, city, h.envelope([h.item("enrollment", unknown_post)])).json()["results"][0]
    assert _rules(result) == {("/data/post_no", "exchange.link_unknown")}
    deleted = h.push(server, city, h.envelope([
        h.item("enrollment", {"enrollment_no": "E2024042000001"}, op="delete")])).json()["results"][0]
    assert deleted["status"] == "deleted" and h.count(store_app, Enrollment) == 0


def test_trainings_link_to_store_numbers(store_app, server, city, world):
    training = factories.training(volunteer_no=world["volunteer_no"], team_no=world["team_no"])
    result = h.push(server, city, h.envelope([h.item("training", training)])).json()["results"][0]
    assert result["status"] == "created" and result["key"].startswith("TR110105")
    changed = dict(training, hours=3, source_updated_at="2024-04-11T10:00:00")
    assert h.push(server, city, h.envelope([h.item("training", changed)])).json()["results"][0][
        "status"] == "updated"
    assert h.count(store_app, Training) == 1
    no_team = dict(training, training_no="TR-2", team_no="T-unknown")
    result = h.push(server, city, h.envelope([h.item("training", no_team)])).json()["results"][0]
    assert _rules(result) == {("/data/team_no", "exchange.link_unknown")}


def test_the_push_endpoint_is_in_the_openapi_document(store_app):
    paths = store_app.test_client().get("/api/openapi.json").get_json()["paths"]
    operation = paths["/api/v1/exchange/batches"]["post"]
    assert {"application/json", "application/x-ndjson"} <= set(operation["requestBody"]["content"])
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
