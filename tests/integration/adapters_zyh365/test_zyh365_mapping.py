"""The zyh365-style adapter: its mapping quirks, paging by maxid, strict replies, pushes."""

from __future__ import annotations

import time

import pytest
import requests

from adapters.zyh365 import (Zyh365Adapter, Zyh365Error, Zyh365Unavailable, percent_encode, sign)
from gateway.adapter import AdapterError, AdapterUnavailable, MappingError
from gateway.adapter_contract import contract_engine
from tests.simulators import zyh365 as sim


def _adapter(**settings) -> Zyh365Adapter:
    """An adapter for mapping only (never connects)."""
    return Zyh365Adapter({"base_url": "http://127.0.0.1:9", "access_key_id": "k",
                          "access_key_secret": "s", **settings})


def _issues(exc: MappingError) -> set[tuple[str, str]]:
    return {(i.pointer, i.rule) for i in exc.issues}


NATIVE_VOLUNTEER = {
    "id": 7, "vcode": "V3301062403000001X", "name": "周晓明", "idcardtype": "1",
    "idcard": "330106199001050017", "mphone": "13800001111", "email": "", "education": "3",
    "job": "", "political": "3", "address": "杭州市文三路1号", "sex": "男", "birthday": "1990/1/5",
    "area": "330106002000", "updatetime": "2024-03-15 10:20:30",
}


# -- native → standard ------------------------------------------------------------------------------

def test_volunteer_quirks_map_to_the_standard():
    record = _adapter().to_standard("volunteer", dict(NATIVE_VOLUNTEER))
    assert record == {
        "volunteer_no": "V3301062403000001X", "name": "周晓明", "id_type": "01",
        "id_number": "330106199001050017", "mobile": "13800001111", "education": "20",
        "political_status": "03", "address": "杭州市文三路1号", "gender": "1",
        "birth_date": "1990-01-05", "service_area": "330106002",
        "source_updated_at": "2024-03-15T10:20:30",
    }   # "" (email, job) is absent, not an empty value; the platform's id is not a field


@pytest.mark.parametrize("kind, number, id_type", [
    ("1", "330106199001050017", "01"), ("2", "E12345678", "05"), ("3", "H12345678", "02"),
    ("3", "M12345678", "03"), ("4", "12345678", "04"), ("5", "军字第123号", "06"),
    ("6", "士字第9号", "07"), ("9", "X1", "99"),
])
def test_id_card_types(kind, number, id_type):
    record = _adapter().to_standard("volunteer", dict(NATIVE_VOLUNTEER, idcardtype=kind, idcard=number))
    assert record["id_type"] == id_type and record["id_number"] == number


@pytest.mark.parametrize("area, code", [("330106000000", "330106"), ("330106002000", "330106002"),
                                        ("330106002001", "330106002001")])
def test_twelve_digit_areas_become_region_codes(area, code):
    assert _adapter().to_standard("volunteer", dict(NATIVE_VOLUNTEER, area=area))["service_area"] == code
    back = _adapter().from_standard("volunteer", {"name": "x", "service_area": code})
    assert back["area"] == area


def test_codes_of_the_platforms_lists():
    adapter = _adapter()
    expected = {"education": ("1", "education", "11"), "job": ("12", "employment_status", "80"),
                "political": ("99", "political_status", "20")}
    for native_key, (value, key, code) in expected.items():
        assert adapter.to_standard("volunteer", dict(NATIVE_VOLUNTEER, **{native_key: value}))[key] == code
    assert adapter.to_standard("volunteer", dict(NATIVE_VOLUNTEER, sex="女"))["gender"] == "2"


def test_mapping_errors_point_into_the_native_record():
    bad = dict(NATIVE_VOLUNTEER, sex="M", birthday="1990-01-05", idcardtype="7", education="12",
               area="3301", updatetime="2024/03/15", name="")
    with pytest.raises(MappingError) as info:
        _adapter().to_standard("volunteer", bad)
    assert _issues(info.value) == {
        ("/sex", "mapping.unknown_code"), ("/birthday", "mapping.invalid"),
        ("/idcardtype", "mapping.unknown_code"), ("/education", "mapping.unknown_code"),
        ("/area", "mapping.invalid"), ("/updatetime", "mapping.invalid"), ("/name", "mapping.missing"),
    }
    assert all(i.message_zh and i.message_en for i in info.value.issues)
    # impossible dates are refused too, not only malformed ones
    with pytest.raises(MappingError) as info:
        _adapter().to_standard("volunteer", dict(NATIVE_VOLUNTEER, birthday="1990/2/30"))
    assert _issues(info.value) == {("/birthday", "mapping.invalid")}


NATIVE_DURATION = {
    "id": 3, "vcode": "V3301062403000001X", "name": "周晓明", "idcard": "330106199001050017",
    "activity": {"id": "A000001", "name": "社区助老陪伴"}, "address": "杭州市西湖区服务点1",
    "value": "3.5", "signInTime": "2024-05-01 09:00:00", "signOutTime": "2024-05-01 12:30:00",
    "updatetime": "2024-05-01 13:05:00",
}


def test_duration_quirks_map_to_a_service_record():
    record = _adapter().to_standard("service_record", dict(NATIVE_DURATION))
    assert record == {"volunteer_no": "V3301062403000001X", "project_no": "A000001",
                      "started_at": "2024-05-01T09:00:00", "ended_at": "2024-05-01T12:30:00",
                      "hours": 3.5, "status": "2", "source_updated_at": "2024-05-01T13:05:00"}
    # no personal data copied into service time (the volunteer record holds it)
    assert "330106199001050017" not in str(record) and "周晓明" not in str(record)
    whole = _adapter().to_standard("service_record", dict(NATIVE_DURATION, value="3.50",
                                                          signOutTime="2024-05-01 12:30:00"))
    assert whole["hours"] == 3.5
    assert _adapter().to_standard("service_record", dict(NATIVE_DURATION, value="1",
                                                         signOutTime="2024-05-01 10:00:00"))["hours"] == 1


def test_duration_hours_are_checked_against_the_times():
    with pytest.raises(MappingError) as info:
        _adapter().to_standard("service_record", dict(NATIVE_DURATION, value="4"))
    (issue,) = info.value.issues
    assert (issue.pointer, issue.rule) == ("/value", "mapping.invalid") and "3.50" in issue.message_en
    with pytest.raises(MappingError) as info:
        _adapter().to_standard("service_record", dict(NATIVE_DURATION, value="3,5", activity={"name": "x"},
                                                      signInTime="2024-05-01T09:00:00", vcode=""))
    assert _issues(info.value) == {("/value", "mapping.invalid"), ("/activity", "mapping.missing"),
                                   ("/signInTime", "mapping.invalid"), ("/vcode", "mapping.missing")}


NATIVE_DEPARTMENT = {"id": 2, "depid": "100002", "depname": "杭州西湖志愿服务队", "deptype": "02",
                     "uscc": "52330106MA00000233", "area": "330106000000", "linkman": "张伟",
                     "linkphone": "13911112222", "status": "0", "updatetime": "2023-06-01 10:00:00"}


def test_departments_map_to_teams_both_ways():
    adapter = _adapter()
    team = adapter.to_standard("team", dict(NATIVE_DEPARTMENT))
    assert team == {"name": "杭州西湖志愿服务队", "team_type": "2", "uscc": "52330106MA00000233",
                    "area": "330106", "contact_name": "张伟", "contact_mobile": "13911112222",
                    "status": "2", "source_updated_at": "2023-06-01T10:00:00"}
    native = adapter.from_standard("team", team)
    assert native == {k: v for k, v in NATIVE_DEPARTMENT.items() if k not in ("id", "depid")}
    assert adapter.to_standard("team", native) == team
    for status, code in (("-1", "0"), ("1", "1"), ("2", "3"), ("3", "4")):
        assert adapter.to_standard("team", dict(NATIVE_DEPARTMENT, status=status))["status"] == code
    with pytest.raises(MappingError) as info:
        adapter.from_standard("team", dict(team, status="5"))           # 系统锁定: no counterpart
    assert _issues(info.value) == {("/status", "mapping.unknown_code")}


# -- standard → native ------------------------------------------------------------------------------

def test_from_standard_writes_the_platforms_forms():
    native = _adapter().from_standard("volunteer", {
        "volunteer_no": "V3301062403000001X", "name": "周晓明", "id_type": "01",
        "id_number": "330106199001050017", "gender": "1", "birth_date": "1990-01-05",
        "mobile": "13800001111", "service_area": "330106002", "ethnicity": "01",
        "source_updated_at": "2024-03-15T10:20:30+08:00"})
    assert native["sex"] == "男" and native["birthday"] == "1990/1/5" and native["area"] == "330106002000"
    assert native["updatetime"] == "2024-03-15 10:20:30" and native["email"] == ""
    assert "ethnicity" not in native           # no place on the platform
    utc = _adapter().from_standard("volunteer", {"name": "x", "source_updated_at": "2024-03-15T02:20:30Z"})
    assert utc["updatetime"] == "2024-03-15 10:20:30"                  # the platform keeps local time
    duration = _adapter().from_standard("service_record", {
        "volunteer_no": "V3301062403000001X", "project_no": "A000001", "started_at": "2024-05-01T09:00:00",
        "ended_at": "2024-05-01T12:30:00", "hours": 3.5, "status": "2"})
    assert duration == {"vcode": "V3301062403000001X", "activity": {"id": "A000001", "name": ""},
                        "value": "3.5", "signInTime": "2024-05-01 09:00:00",
                        "signOutTime": "2024-05-01 12:30:00", "updatetime": ""}


def test_from_standard_refuses_what_the_platform_cannot_hold():
    adapter = _adapter()
    with pytest.raises(MappingError) as info:
        adapter.from_standard("volunteer", {"name": "x", "education": "90", "id_type": "02",
                                            "id_number": "A123456(7)", "service_area": "330106002001000001"})
    assert _issues(info.value) == {("/education", "mapping.unknown_code"), ("/id_number", "mapping.invalid"),
                                   ("/service_area", "mapping.invalid")}
    with pytest.raises(MappingError) as info:
        adapter.from_standard("volunteer", {"name": "x", "id_type": "03", "id_number": "H12345678"})
    assert _issues(info.value) == {("/id_number", "mapping.invalid")}   # a Macau resident's permit is M…
    with pytest.raises(MappingError) as info:
        adapter.from_standard("service_record", {"volunteer_no": "V3301062403000001X", "project_no": "A1",
                                                 "started_at": "2024-05-01T09:00:00",
                                                 "ended_at": "2024-05-01T10:20:00", "hours": 1.333,
                                                 "status": "1"})
    assert _issues(info.value) == {("/status", "mapping.unknown_code"), ("/hours", "mapping.invalid")}


# -- generated platform data against the standard ---------------------------------------------------

def test_everything_the_platform_serves_maps_to_valid_records(platform, make_adapter):
    platform.seed(volunteers=1200, departments=150, durations=1500, hisdurations=100)
    adapter, engine = make_adapter(), contract_engine()
    counts = {}
    for entity in adapter.entities:
        cursor, n = None, 0
        while True:
            page = adapter.read(entity, cursor, 80)
            for item in page.items:
                record = adapter.to_standard(entity, item.native)
                report = engine.validate(entity, record)
                assert report.valid, (item.location, report.as_dict())
                assert adapter.to_standard(entity, adapter.from_standard(entity, record)) == record
                n += 1
            cursor = page.next_cursor
            if not page.has_more:
                break
        counts[entity] = n
    assert counts == {"team": 150, "volunteer": 1200, "service_record": 1600}


# -- reading: 80-row pages, maxid cursors -------------------------------------------------------------

def test_paging_through_80_row_pages_and_resuming_from_a_mid_cursor(platform, make_adapter):
    platform.seed(volunteers=1000)
    adapter = make_adapter(since="20240103")                   # updatetime = 2024-01-01 + id hours
    pages, cursor, ids = [], None, []
    while True:
        page = adapter.read("volunteer", cursor, 500)          # the platform serves 80 at most
        pages.append(page)
        ids += [int(item.native["id"]) for item in page.items]
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert ids == list(range(48, 1001))                        # from 2024-01-03 00:00 (id 48) on
    assert [len(p.items) for p in pages] == [80] * 11 + [73] and pages[0].next_cursor == "volunteer:127"
    sent = [params for path, params in platform.requests if path == "/api/syn/volunteer"]
    assert all(p["time"] == "20240103" and p["rows"] == "80" for p in sent)
    assert [p["maxid"] for p in sent[:3]] == ["0", "127", "207"]
    # a restart from the cursor stored after page 5 reads the rest exactly once
    mid = pages[4].next_cursor
    rest, cursor = [], mid
    while True:
        page = make_adapter(since="20240103").read("volunteer", cursor, 80)
        rest += [int(item.native["id"]) for item in page.items]
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert rest == ids[400:] and cursor == "volunteer:1000"
    assert all(item.source_id.startswith("V") for item in pages[0].items)      # the vcode


def test_an_empty_page_keeps_the_cursor_despite_maxid_0(platform, make_adapter):
    platform.seed(volunteers=5)
    adapter = make_adapter()
    page = adapter.read("volunteer", "volunteer:5", 80)
    assert page.items == [] and page.next_cursor == "volunteer:5" and page.has_more is False
    assert adapter.read("volunteer", None, 80).next_cursor == "volunteer:5"


def test_service_time_reads_history_then_current(platform, make_adapter):
    platform.seed(volunteers=50, durations=100, hisdurations=90)
    adapter = make_adapter()
    first = adapter.read("service_record", None, 80)
    assert [i.location for i in first.items][:1] == ["hisduration id=1"] and first.has_more
    assert first.next_cursor == "service_record:hisduration=80,duration=0"
    second = adapter.read("service_record", first.next_cursor, 80)
    assert [i.location.split()[0] for i in second.items] == ["hisduration"] * 10 + ["duration"] * 70
    assert second.next_cursor == "service_record:hisduration=90,duration=70"
    third = adapter.read("service_record", second.next_cursor, 80)
    assert len(third.items) == 30 and third.has_more is False
    assert third.next_cursor == "service_record:hisduration=90,duration=100"
    # a new historical record later is still found
    platform.insert("hisduration", dict(platform.record("hisduration", 1), signInTime="2016-01-01 07:00:00",
                                        signOutTime="2016-01-01 07:30:00", value="0.5"))
    later = adapter.read("service_record", third.next_cursor, 80)
    assert [i.location for i in later.items] == ["hisduration id=91"]
    assert later.items[0].source_id == f"{later.items[0].native['vcode']}|2016-01-01 07:00:00"
    current_only = make_adapter(history=False).read("service_record", None, 80)
    assert {i.location.split()[0] for i in current_only.items} == {"duration"}
    with pytest.raises(AdapterError):
        adapter.read("service_record", "volunteer:3", 80)              # another entity's cursor


def test_an_updated_record_comes_round_again_under_the_same_source_id(platform, make_adapter):
    platform.seed(volunteers=10)
    adapter = make_adapter()
    page = adapter.read("volunteer", None, 80)
    target = page.items[3]
    record = adapter.to_standard("volunteer", target.native)
    (result,) = adapter.write("volunteer", [dict(record, mobile="13700001234",
                                                 source_updated_at="2024-06-01T08:00:00")])
    assert result.ok and result.native_id == target.source_id
    later = adapter.read("volunteer", page.next_cursor, 80)
    assert [i.source_id for i in later.items] == [target.source_id]
    assert adapter.to_standard("volunteer", later.items[0].native)["mobile"] == "13700001234"


# -- errCode handling and strict replies -------------------------------------------------------------

def test_error_codes_raise_clear_errors(platform, make_adapter):
    platform.seed(volunteers=3)
    adapter = make_adapter()
    platform.fail_next("500")
    with pytest.raises(Zyh365Unavailable) as info:
        adapter.read("volunteer", None, 80)
    assert isinstance(info.value, AdapterUnavailable) and info.value.code == "500"
    assert "errCode 500" in str(info.value)
    assert len(adapter.read("volunteer", None, 80).items) == 3       # a retry works
    wrong = make_adapter(access_key_secret="wrong")
    with pytest.raises(Zyh365Error) as info:
        wrong.read("volunteer", None, 80)
    assert info.value.code == "001" and not isinstance(info.value, AdapterUnavailable)
    result = wrong.check()
    assert result.ok is False and "errCode 001" in result.detail
    skewed = make_adapter()
    skewed.clock = lambda: time.time() - 3600
    with pytest.raises(Zyh365Error) as info:
        skewed.read("volunteer", None, 80)
    assert info.value.code == "002"
    assert make_adapter().check().ok


def test_an_unreachable_platform_is_unavailable():
    adapter = _adapter(timeout=2)
    with pytest.raises(AdapterUnavailable):
        adapter.read("volunteer", None, 80)
    assert adapter.check().ok is False


class _Reply:
    def __init__(self, status: int, body: bytes):
        self.status_code, self.content = status, body


class _FakeHttp:
    """Answers every POST with one canned reply (replies the simulator would never give)."""

    def __init__(self, status: int, body: bytes):
        self.reply = _Reply(status, body)

    def post(self, url, **kwargs):
        return self.reply

    def close(self):
        pass


@pytest.mark.parametrize("status, body, unavailable", [
    (200, b'{"errCode": 0, "data": []}', False),                                  # not the string "000"
    (200, b'{"errCode": "0", "data": []}', False),
    (200, b'{"data": []}', False),
    (200, b'{"errCode": "000", "data": {"id": 1}}', False),
    (200, b'{"errCode": "000", "data": [{"id": 2}, {"id": 1}], "maxid": 1}', False),    # not ascending
    (200, b'{"errCode": "000", "data": [{"id": "1"}], "maxid": 1}', False),
    (200, b'{"errCode": "000", "data": [{"id": 1}, {"id": 2}], "maxid": 7}', False),    # maxid mismatch
    (200, b'{"errCode": "000", "data": [{"id": 1}, {"id": 2}, {"id": 3}], "maxid": 3}', False),
    (200, b'[]', False),
    (200, b'<html>gateway timeout</html>', True),
    (502, b'bad gateway', True),
    (403, b'forbidden', False),
])
def test_replies_are_verified_strictly(status, body, unavailable):
    adapter = Zyh365Adapter({"base_url": "http://zyh.invalid", "access_key_id": "k",
                             "access_key_secret": "s"}, http=_FakeHttp(status, body))
    with pytest.raises(AdapterError) as info:
        adapter.read("volunteer", None, 2)
    assert isinstance(info.value, AdapterUnavailable) is unavailable


def test_push_replies_are_verified_strictly():
    adapter = Zyh365Adapter({"base_url": "http://zyh.invalid", "access_key_id": "k", "access_key_secret": "s"},
                            http=_FakeHttp(200, b'{"errCode": "000", "results": [{"index": 5, "code": "000"}]}'))
    with pytest.raises(Zyh365Error):
        adapter.write("volunteer", [{"name": "x", "id_type": "01", "id_number": "1", "gender": "1",
                                     "mobile": "13800001111"}])


# -- writing -------------------------------------------------------------------------------------------

def test_write_reports_the_platforms_refusals_per_record(platform, make_adapter):
    platform.seed(volunteers=5)
    adapter = make_adapter()
    known = platform.record("volunteer", 2)["vcode"]
    good = {"volunteer_no": known, "project_no": "A000009", "started_at": "2024-05-01T09:00:00",
            "ended_at": "2024-05-01T10:00:00", "hours": 1, "status": "2"}
    results = adapter.write("service_record", [
        good, dict(good, volunteer_no="V3301062403999999X"), dict(good, status="4"), good])
    assert [r.ok for r in results] == [True, False, False, True]
    assert results[0].native_id == f"{known}|2024-05-01 09:00:00" == results[3].native_id
    assert [(i.pointer, i.rule) for i in results[1].errors] == [("/volunteer_no", "zyh365.E11")]
    assert [(i.pointer, i.rule) for i in results[2].errors] == [("/status", "mapping.unknown_code")]
    assert platform.count("duration") == 1
    with pytest.raises(AdapterError):
        adapter.write("team", [{"name": "x"}])


def test_write_assigns_vcodes_and_pushes_in_batches_of_80(platform, make_adapter):
    from stdnum.cn import ric
    adapter = make_adapter()
    records = []
    for n in range(170):
        body = f"33010619900105{n:03d}"
        records.append({"name": "周晓明", "id_type": "01", "id_number": body + ric.calc_check_digit(body + "0"),
                        "gender": "1" if n % 2 else "2", "mobile": "13800001111", "service_area": "330106"})
    results = adapter.write("volunteer", records)
    assert all(r.ok for r in results) and len({r.native_id for r in results}) == 170
    assert all(r.native_id.startswith("V330106") for r in results)
    pushes = [path for path, _ in platform.requests if path == "/api/push/volunteer"]
    assert len(pushes) == 3 and platform.count("volunteer") == 170
    again = adapter.write("volunteer", records)
    assert [r.native_id for r in again] == [r.native_id for r in results]
    assert platform.count("volunteer") == 170


# -- signatures ------------------------------------------------------------------------------------------

def test_the_adapter_signs_like_aliyun_and_like_the_platform():
    params = {"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
              "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26"}
    assert sign(params, "testsecret", "GET") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert percent_encode("a b*~/é+") == "a%20b%2A~%2F%C3%A9%2B"
    odd = {"time": "20240101", "名称": "a b*c~d", "q": "x+y=z&w", "Timestamp": "2024-01-01T00:00:00Z"}
    assert sign(odd, "s3cr*t ~") == sim.signature(odd, "s3cr*t ~")


def test_every_request_is_signed(platform, base_url, make_adapter):
    seen = []

    class Recording(requests.Session):
        def post(self, url, **kwargs):
            seen.append(kwargs.get("data") if "/api/syn/" in url else kwargs.get("params"))
            return super().post(url, **kwargs)

    with Recording() as http:
        adapter = Zyh365Adapter({"base_url": base_url, "access_key_id": sim.DEFAULT_ACCESS_KEY_ID,
                                 "access_key_secret": sim.DEFAULT_ACCESS_KEY_SECRET}, http=http)
        adapter.read("volunteer", None, 80)
        adapter.write("volunteer", [{"name": "吴丽", "id_type": "05", "id_number": "E12345678",
                                     "gender": "2", "birth_date": "1995-02-28", "mobile": "13612345678"}])
    assert len(seen) == 2
    for params in seen:
        assert {"AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp",
                "Format", "Signature"} <= set(params)
        assert params["SignatureMethod"] == "HMAC-SHA1" and params["Format"] == "JSON"
        assert params["Signature"] == sim.signature(params, sim.DEFAULT_ACCESS_KEY_SECRET)
    assert seen[0]["SignatureNonce"] != seen[1]["SignatureNonce"]
