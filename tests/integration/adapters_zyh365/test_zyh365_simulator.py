"""The simulated zyh365-style platform behaves like the real one: signatures, paging, quirks.

These tests talk to the simulator over HTTP with the simulator's own signing helper, not the
adapter's, so that the adapter is checked against an independent implementation.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.simulators import zyh365 as sim

KEY, SECRET = sim.DEFAULT_ACCESS_KEY_ID, sim.DEFAULT_ACCESS_KEY_SECRET


def _params(business: dict[str, str], *, secret: str = SECRET, key: str = KEY,
            nonce: str | None = None, at: datetime | None = None) -> dict[str, str]:
    return sim.signed_params(business, key, secret, nonce=nonce or uuid.uuid4().hex,
                             timestamp=at or datetime.now(timezone.utc))


def _pull(url: str, kind: str, **business) -> tuple[int, dict]:
    response = requests.post(f"{url}/api/syn/{kind}", data=_params(business), timeout=10)
    return response.status_code, response.json()


def _push(url: str, kind: str, data: list) -> dict:
    response = requests.post(f"{url}/api/push/{kind}", params=_params({}), json={"data": data}, timeout=10)
    assert response.status_code == 200
    return response.json()


# -- signatures ------------------------------------------------------------------------------------

def test_signature_reproduces_aliyuns_documented_example():
    # Aliyun's RPC signature documentation: DescribeRegions signed with "testsecret" (GET).
    params = {"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
              "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26"}
    assert sim.signature(params, "testsecret", "GET") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert sim.percent_encode("a b*~/é") == "a%20b%2A~%2F%C3%A9"


def test_a_signed_request_is_served(platform, base_url):
    platform.seed(volunteers=5)
    status, reply = _pull(base_url, "volunteer", time="20240101", maxid="0", rows="80")
    assert status == 200 and reply["errCode"] == "000" and reply["errMsg"] == ""
    assert [r["id"] for r in reply["data"]] == [1, 2, 3, 4, 5] and reply["maxid"] == 5
    # form or query parameters alike
    response = requests.post(f"{base_url}/api/syn/volunteer", params=_params({"maxid": "3"}), timeout=10)
    assert [r["id"] for r in response.json()["data"]] == [4, 5]


def test_a_bad_signature_is_refused_with_http_200(platform, base_url):
    platform.seed(volunteers=5)
    tampered = _params({"maxid": "0"})
    tampered["maxid"] = "1"                                     # changed after signing
    wrong_secret = _params({"maxid": "0"}, secret="not-the-secret")
    for params in (tampered, wrong_secret):
        response = requests.post(f"{base_url}/api/syn/volunteer", data=params, timeout=10)
        assert response.status_code == 200                    # quirk: errors are not HTTP errors
        assert response.json()["errCode"] == "001" and response.json()["data"] == []
    missing = _params({"maxid": "0"})
    del missing["Signature"]
    assert requests.post(f"{base_url}/api/syn/volunteer", data=missing, timeout=10).json()["errCode"] == "001"
    unknown_key = _params({"maxid": "0"}, key="someone-else")
    assert requests.post(f"{base_url}/api/syn/volunteer", data=unknown_key, timeout=10).json()["errCode"] == "004"


def test_an_old_or_future_timestamp_is_refused(base_url):
    for skew in (timedelta(minutes=-16), timedelta(minutes=16)):
        params = _params({"maxid": "0"}, at=datetime.now(timezone.utc) + skew)
        assert requests.post(f"{base_url}/api/syn/volunteer", data=params, timeout=10).json()["errCode"] == "002"
    inside = _params({"maxid": "0"}, at=datetime.now(timezone.utc) - timedelta(minutes=14))
    assert requests.post(f"{base_url}/api/syn/volunteer", data=inside, timeout=10).json()["errCode"] == "000"


def test_a_replayed_nonce_is_refused(base_url):
    params = _params({"maxid": "0"})
    first = requests.post(f"{base_url}/api/syn/volunteer", data=params, timeout=10).json()
    replay = requests.post(f"{base_url}/api/syn/volunteer", data=params, timeout=10).json()
    assert first["errCode"] == "000" and replay["errCode"] == "003"
    # the same nonce with a fresh timestamp (so a new signature) is still a replay
    again = _params({"maxid": "0"}, nonce=params["SignatureNonce"])
    assert requests.post(f"{base_url}/api/syn/volunteer", data=again, timeout=10).json()["errCode"] == "003"


def test_a_forged_request_does_not_use_up_a_nonce(base_url):
    nonce = uuid.uuid4().hex
    forged = _params({"maxid": "0"}, nonce=nonce, secret="guess")
    assert requests.post(f"{base_url}/api/syn/volunteer", data=forged, timeout=10).json()["errCode"] == "001"
    genuine = _params({"maxid": "0"}, nonce=nonce)
    assert requests.post(f"{base_url}/api/syn/volunteer", data=genuine, timeout=10).json()["errCode"] == "000"


# -- pulling ----------------------------------------------------------------------------------------

def test_pages_of_80_rows_by_maxid(platform, base_url):
    platform.seed(volunteers=250)
    seen, maxid, pages = [], 0, 0
    while True:
        _, reply = _pull(base_url, "volunteer", maxid=str(maxid), rows="500")   # capped at 80
        assert reply["errCode"] == "000" and len(reply["data"]) <= 80
        if not reply["data"]:
            assert reply["maxid"] == 0          # quirk: an empty page answers maxid 0
            break
        ids = [r["id"] for r in reply["data"]]
        assert ids == sorted(ids) and ids[0] > maxid and reply["maxid"] == ids[-1]
        seen += ids
        maxid = reply["maxid"]
        pages += 1
    assert seen == list(range(1, 251)) and pages == 4


def test_time_selects_records_changed_on_or_after_the_day(platform, base_url):
    platform.seed(volunteers=200)                       # updatetime: 2024-01-01 + id hours
    _, reply = _pull(base_url, "volunteer", time="20240105", maxid="0", rows="3")
    assert [r["id"] for r in reply["data"]] == [96, 97, 98]
    assert reply["data"][0]["updatetime"] == "2024-01-05 00:00:00"
    assert platform.record("volunteer", 95)["updatetime"] == "2024-01-04 23:00:00"
    _, reply = _pull(base_url, "volunteer", time="20240105", maxid="150", rows="1")
    assert [r["id"] for r in reply["data"]] == [151]
    _, reply = _pull(base_url, "volunteer", time="2024-01-05")
    assert reply["errCode"] == "005"


def test_every_kind_and_its_field_quirks(platform, base_url):
    platform.seed(volunteers=120, departments=3, durations=2, hisdurations=1)
    _, volunteers = _pull(base_url, "volunteer", rows="80")
    first = volunteers["data"][0]
    assert set(first) == {"id", "vcode", "name", "idcardtype", "idcard", "mphone", "email", "education",
                          "job", "political", "address", "sex", "birthday", "area", "updatetime"}
    assert first["sex"] in ("男", "女") and first["birthday"].count("/") == 2 and len(first["area"]) == 12
    assert any(r["email"] == "" for r in volunteers["data"])        # missing values as ""
    _, departments = _pull(base_url, "department")
    assert set(departments["data"][0]) == {"id", "depid", "depname", "deptype", "uscc", "area",
                                           "linkman", "linkphone", "status", "updatetime"}
    for kind in ("duration", "hisduration"):
        _, durations = _pull(base_url, kind)
        record = durations["data"][0]
        assert set(record) == {"id", "vcode", "name", "idcard", "activity", "address", "value",
                               "signInTime", "signOutTime", "updatetime"}
        assert isinstance(record["value"], str) and record["signInTime"][10] == " "
        assert set(record["activity"]) == {"id", "name"}


def test_errors_are_error_codes(platform, base_url):
    status, reply = _pull(base_url, "nonsense")
    assert status == 200 and reply["errCode"] == "404"
    platform.fail_next("500")
    status, reply = _pull(base_url, "volunteer")
    assert status == 200 and reply["errCode"] == "500"
    assert _pull(base_url, "volunteer")[1]["errCode"] == "000"
    assert _pull(base_url, "volunteer", maxid="x")[1]["errCode"] == "005"


def test_a_million_generated_records_cost_no_memory(base_url):
    big = sim.Zyh365Platform().seed(volunteers=1_000_000, durations=1_000_000)
    assert big.count("volunteer") == 1_000_000
    page = big.pull("volunteer", None, 999_950, 500)
    assert [r["id"] for r in page] == list(range(999_951, 1_000_001))
    assert big.pull("duration", None, 1_000_000, 80) == []
    # deterministic: the same id gives the same record on any platform
    assert sim.Zyh365Platform().seed(volunteers=1_000_000).record("volunteer", 777_777) == \
        big.record("volunteer", 777_777)
    assert not big.tables["volunteer"].stored and not big.tables["duration"].stored
    # natural keys of generated records are found without an index
    volunteer = big.record("volunteer", 654_321)
    assert big.find_volunteer(idcard=volunteer["idcard"])["id"] == 654_321
    assert big.find_volunteer(vcode=volunteer["vcode"])["id"] == 654_321
    duration = big.record("duration", 123_456)
    assert big.find_duration(duration["vcode"], duration["signInTime"])["id"] == 123_456


# -- pushing ----------------------------------------------------------------------------------------

def _volunteer(**overrides):
    record = {"name": "周晓", "idcardtype": "1", "idcard": "330106199001050017", "mphone": "13800001111",
              "email": "", "education": "3", "job": "7", "political": "3", "address": "杭州市文三路1号",
              "sex": "男", "birthday": "1990/1/5", "area": "330106002000"}
    record.update(overrides)
    return record


def test_push_is_idempotent_by_natural_key(platform, base_url):
    reply = _push(base_url, "volunteer", [_volunteer()])
    assert reply["errCode"] == "000"
    (result,) = reply["results"]
    assert result["code"] == "000" and result["vcode"].startswith("V330106")
    again = _push(base_url, "volunteer", [_volunteer()])["results"][0]
    assert again == result and platform.count("volunteer") == 1        # unchanged: same id
    changed = _push(base_url, "volunteer", [_volunteer(mphone="13800002222")])["results"][0]
    assert changed["vcode"] == result["vcode"] and changed["id"] > result["id"]
    assert platform.count("volunteer") == 1 and platform.record("volunteer", result["id"]) is None
    _, reply = _pull(base_url, "volunteer", maxid=str(result["id"]))
    assert [r["mphone"] for r in reply["data"]] == ["13800002222"]     # the update comes round again


def test_push_of_an_updated_generated_record_supersedes_it(platform, base_url):
    platform.seed(volunteers=10)
    original = platform.record("volunteer", 4)
    native = {k: v for k, v in original.items() if k not in ("id", "updatetime")}
    result = _push(base_url, "volunteer", [dict(native, address="杭州市新地址9号")])["results"][0]
    assert result["code"] == "000" and result["vcode"] == original["vcode"] and result["id"] == 11
    assert platform.record("volunteer", 4) is None and platform.count("volunteer") == 10
    _, reply = _pull(base_url, "volunteer", maxid="0", rows="80")
    assert [r["id"] for r in reply["data"]] == [1, 2, 3, 5, 6, 7, 8, 9, 10, 11]


def test_push_reports_each_record(platform, base_url):
    platform.seed(volunteers=3)
    vcode = platform.record("volunteer", 2)["vcode"]
    duration = {"vcode": vcode, "activity": {"id": "A000001", "name": "助老"}, "address": "",
                "value": "1.5", "signInTime": "2024-05-01 09:00:00", "signOutTime": "2024-05-01 10:30:00"}
    reply = _push(base_url, "duration", [duration, dict(duration, vcode="V3301062401999999X"),
                                         dict(duration, signInTime="2024/05/01 09:00"), "junk"])
    codes = [(r["index"], r["code"]) for r in reply["results"]]
    assert codes == [(0, "000"), (1, "E11"), (2, "E10"), (3, "E10")]
    stored = platform.find_duration(vcode, "2024-05-01 09:00:00")
    assert stored["name"] == platform.record("volunteer", 2)["name"]        # joined by the platform
    bad = _push(base_url, "volunteer", [_volunteer(sex="M"), _volunteer(idcard="")])["results"]
    assert [r["code"] for r in bad] == ["E10", "E10"] and "sex" in bad[0]["msg"]
    too_many = _push(base_url, "volunteer", [_volunteer()] * 81)
    assert too_many["errCode"] == "005" and "results" not in too_many
    assert _push(base_url, "department", [{"depname": "x"}])["errCode"] == "404"


def test_a_vcode_of_someone_else_is_a_conflict(platform, base_url):
    platform.seed(volunteers=3)
    taken = platform.record("volunteer", 1)["vcode"]
    result = _push(base_url, "volunteer", [_volunteer(vcode=taken)])["results"][0]
    assert result["code"] == "E12"


def test_the_simulator_clock_governs_the_window():
    now = [time.time()]
    platform = sim.Zyh365Platform(clock=lambda: now[0])
    with sim.running(platform) as url:
        params = _params({"maxid": "0"})
        now[0] += 20 * 60
        assert requests.post(f"{url}/api/syn/volunteer", data=params, timeout=10).json()["errCode"] == "002"


# -- serving given records (benchmarks/sync_pull.py: the pull loads the other paths' records) ----

def test_a_platform_seeded_with_given_volunteers_serves_them_in_pages(platform, make_adapter):
    """``seed(volunteer_records=…)``: the adapter reads benchmarks/push.py's volunteers, each
    once, in id order over several pages, with the fields the platform's form holds; a page
    read again from an earlier cursor (a retry) gets the same records again."""
    from benchmarks.push import volunteers
    from benchmarks.sync_pull import platform_volunteers

    platform.seed(volunteers=200, volunteer_records=platform_volunteers)
    adapter = make_adapter()
    expected = list(volunteers(0, 200))
    got, cursors, cursor = [], [], None
    while True:
        cursors.append(cursor)
        page = adapter.read("volunteer", cursor, 80)
        got += [adapter.to_standard("volunteer", item.native) for item in page.items]
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert len(cursors) == 3 and len(got) == 200
    held = ("name", "id_type", "id_number", "gender", "birth_date", "political_status",
            "employment_status", "mobile", "email", "address", "service_area")
    assert [{k: r[k] for k in held} for r in got] == [{k: r[k] for k in held} for r in expected]
    # an education code the platform's list lacks is left out, the others come through
    educated = [(r, e) for r, e in zip(got, expected) if "education" in r]
    assert 100 < len(educated) < 200 and all(r["education"] == e["education"] for r, e in educated)
    assert len({item["id_number"] for item in got}) == 200
    again = adapter.read("volunteer", cursors[1], 80)          # back to the second page
    assert [adapter.to_standard("volunteer", i.native)["id_number"] for i in again.items] == \
        [r["id_number"] for r in expected[80:160]]
    with pytest.raises(ValueError):
        sim.Zyh365Platform().seed(volunteers=2, durations=2, volunteer_records=platform_volunteers)
