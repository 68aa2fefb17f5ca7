"""Corrections keep the original and its history; totals and statistics follow every change."""

from __future__ import annotations

from tests.integration.hours import helpers

URL = "/api/v1/service-records"


def _fix(**kw):
    body = {"started_at": "2024-05-01T09:00:00", "ended_at": "2024-05-01T11:00:00", "hours": 2,
            "reason": "志愿者反映实际 11:00 结束"}
    body.update(kw)
    return {k: v for k, v in body.items() if v is not None}


def _totals(http, world, headers):
    return http.get(f"/api/v1/volunteers/{world.volunteer_no}/hours", headers=headers).get_json()


def test_a_correction_keeps_the_original_and_its_history(store_app, http, world, team, volunteer_app):
    original = http.post(URL, json=helpers.record(world), headers=team).get_json()["record_no"]
    assert http.post(f"{URL}/{original}/disputes", json={"reason": "应为 2 小时"},
                     headers=volunteer_app).status_code == 201

    answer = http.post(f"{URL}/{original}/corrections", json=_fix(), headers=team)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    new = answer.get_json()
    assert new["record_no"] != original
    assert new["status"] == "2" and new["hours"] == "2.00" and new["corrects"] == original
    assert new["ended_at"] == "2024-05-01T11:00:00+08:00"
    assert new["history"][0]["action"] == "create"
    assert new["history"][0]["changes"]["corrects"] == {"old": None, "new": original}
    assert new["history"][0]["note"] == "志愿者反映实际 11:00 结束"

    old = http.get(f"{URL}/{original}", headers=team).get_json()
    assert old["status"] == "3" and old["superseded_by"] == new["record_no"]
    assert old["hours"] == "3.50" and old["ended_at"] == "2024-05-01T12:30:00+08:00"  # untouched
    assert [h["action"] for h in old["history"]] == ["create", "dispute", "correct"]
    assert old["history"][2]["changes"] == {"status": {"old": "2", "new": "3"},
                                            "superseded_by": {"old": None, "new": new["record_no"]}}

    totals = _totals(http, world, team)
    assert totals["total_hours"] == "2.00" and totals["effective_records"] == 1
    stats, expected = helpers.aggregates_match(store_app)
    assert stats == expected and sum(h for h, _ in stats.values()) == 2

    # The original can no longer be corrected; the correction can.
    assert http.post(f"{URL}/{original}/corrections", json=_fix(), headers=team).status_code == 409
    again = http.post(f"{URL}/{new['record_no']}/corrections",
                      json=_fix(ended_at="2024-05-01T10:00:00", hours=1), headers=team)
    assert again.status_code == 201
    assert again.get_json()["corrects"] == new["record_no"]
    assert _totals(http, world, team)["total_hours"] == "1.00"


def test_a_correction_may_overlap_its_own_original(store_app, http, world, team):
    original = http.post(URL, json=helpers.record(world), headers=team).get_json()["record_no"]
    answer = http.post(f"{URL}/{original}/corrections",
                       json=_fix(ended_at="2024-05-01T13:00:00", hours=4), headers=team)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert _totals(http, world, team)["total_hours"] == "4.00"


def test_a_correction_overlapping_another_record_is_refused(store_app, http, world, team):
    original = http.post(URL, json=helpers.record(world), headers=team).get_json()["record_no"]
    later = http.post(URL, json=helpers.record(world, start="14:00", end="16:00"), headers=team).get_json()
    before = helpers.counts(store_app)
    answer = http.post(f"{URL}/{original}/corrections",
                       json=_fix(ended_at="2024-05-01T15:00:00", hours=6), headers=team)
    assert answer.status_code == 422
    assert [(e["pointer"], e["rule"]) for e in answer.get_json()["errors"]] == [
        ("/started_at", "service_record.no_overlap")]
    assert later["record_no"] in answer.get_json()["errors"][0]["message_en"]
    assert helpers.counts(store_app) == before
    assert helpers.stored(store_app, original).status == "2"


def test_a_correction_is_validated_like_an_entry(store_app, http, world, team):
    original = http.post(URL, json=helpers.record(world), headers=team).get_json()["record_no"]
    before = helpers.counts(store_app)
    answer = http.post(f"{URL}/{original}/corrections", json=_fix(hours=3), headers=team)
    assert answer.status_code == 422  # 3 h for 09:00-11:00, beyond the duration (default policy)
    assert {e["rule"] for e in answer.get_json()["errors"]} == {"service_record.hours_within_duration"}
    answer = http.post(f"{URL}/{original}/corrections",
                       json=_fix(started_at="2024-07-01T09:00:00", ended_at="2024-07-01T11:00:00"),
                       headers=team)
    assert {e["rule"] for e in answer.get_json()["errors"]} == {"service_record.within_project"}
    answer = http.post(f"{URL}/{original}/corrections", json=_fix(reason=None), headers=team)
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["pointer"] == "/reason"
    answer = http.post(f"{URL}/{original}/corrections", json=_fix(reason="   "), headers=team)
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["rule"] == "service_record.reason_required"
    assert helpers.counts(store_app) == before


def test_only_the_recording_team_corrects(store_app, http, world, team, caller):
    original = http.post(URL, json=helpers.record(world), headers=team).get_json()["record_no"]
    other = caller(store_app, "other-team", region="11", perms=helpers.HOURS_PERMS, teams=("T-OTHER",))
    assert http.post(f"{URL}/{original}/corrections", json=_fix(), headers=other).status_code == 404
    haidian = caller(store_app, "haidian", region="110108", perms=helpers.HOURS_PERMS)
    assert http.post(f"{URL}/{original}/corrections", json=_fix(), headers=haidian).status_code == 404
    reader = caller(store_app, "reader", region="11", perms={"service_record": ["read"]})
    assert http.post(f"{URL}/{original}/corrections", json=_fix(), headers=reader).status_code == 403
    assert helpers.stored(store_app, original).status == "2"


def test_statistics_follow_record_correct_and_delete(store_app, http, world, team):
    second_project = helpers.add_project(store_app, world, service_category="0017")
    made = [http.post(URL, json=helpers.record(world, day=day), headers=team).get_json()["record_no"]
            for day in ("2024-04-30", "2024-05-01", "2024-05-02")]
    made.append(http.post(URL, json=helpers.record(world, project_no=second_project, day="2024-05-03"),
                          headers=team).get_json()["record_no"])
    stats, expected = helpers.aggregates_match(store_app)
    assert stats == expected and len(stats) == 3  # April/0001, May/0001, May/0017

    http.post(f"{URL}/{made[1]}/corrections",
              json=_fix(ended_at="2024-05-01T10:15:00", hours=1.25), headers=team)
    stats, expected = helpers.aggregates_match(store_app)
    assert stats == expected

    http.delete(f"{URL}/{made[0]}", json={"reason": "录错项目"}, headers=team)
    http.delete(f"{URL}/{made[3]}", json={"reason": "录错项目"}, headers=team)
    stats, expected = helpers.aggregates_match(store_app)
    assert stats == expected and len(stats) == 1
    key, (total, count) = next(iter(stats.items()))
    assert key[1:] == ("2024-05", "0001") and str(total) == "4.75" and count == 2
    assert _totals(http, world, team)["total_hours"] == "4.75"


def test_a_refused_correction_with_an_idempotency_key_is_a_422_not_a_locked_store(
        store_app, http, world, team):
    """A correction refused by a rule across records, after the volunteer's row was locked
    (on SQLite: the write lock), sent with the services' optional Idempotency-Key: the key's
    row is given back on another connection, which waited for the request's own open
    transaction — "database is locked" and a 500 after busy_timeout (the fuzz campaign found
    it once the header was declared). The request's work is over before its key is settled."""
    original = http.post(URL, json=helpers.record(world), headers=team).get_json()["record_no"]
    other = {**helpers.record(world), "started_at": "2024-05-01T14:00:00",
             "ended_at": "2024-05-01T16:00:00", "hours": 2}
    assert http.post(URL, json=other, headers=team).status_code == 201
    headers = {**team, "Idempotency-Key": "fix-overlap-1"}
    answer = http.post(f"{URL}/{original}/corrections",  # now overlaps the other record
                       json=_fix(ended_at="2024-05-01T15:00:00", hours=6), headers=headers)
    assert answer.status_code == 422, answer.get_data(as_text=True)[:300]
    again = http.post(f"{URL}/{original}/corrections", json=_fix(), headers=headers)
    assert again.status_code == 201, again.get_data(as_text=True)[:300]
