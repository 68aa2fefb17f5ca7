"""The zyh365-style adapter against the adapter contract suite, on a fresh simulated platform.

The sample records use every field the platform can hold (the others have no place there,
see adapters/zyh365.py). ``team`` is not among them: the platform takes no pushes of
departments, so the contract's write-then-read tests cannot run for it; its mapping is
covered both ways in test_zyh365_mapping.py. Every sample carries ``source_updated_at``: the
platform keeps a pushed ``updatetime`` and stamps the time of the push on a record without
one, so such a record would read back with a time it was not written with.
"""

from __future__ import annotations

import pytest

from tests import factories

from adapters.zyh365 import Zyh365Adapter
from gateway.adapter_contract import AdapterContract
from tests.simulators import zyh365 as sim


def _citizen_id(body17: str) -> str:
    return factories.citizen_id(int(body17[14:]), area=body17[:6], born=body17[6:14])


VCODES = (sim.make_vcode("330106", "2403", 1), sim.make_vcode("330108", "2403", 2),
          sim.make_vcode("330102", "2312", 17), sim.make_vcode("330109", "2405", 8))

VOLUNTEERS = [
    {"volunteer_no": VCODES[0], "id_type": "01", "name": "周晓明", "id_number": _citizen_id("33010619900105001"),
     "gender": "1", "birth_date": "1990-01-05", "political_status": "03", "education": "20",
     "employment_status": "31", "mobile": "13800001111", "email": "zhou@example.com",
     "address": "杭州市西湖区文三路1号", "service_area": "330106002",
     "source_updated_at": "2024-03-15T10:20:30"},
    {"volunteer_no": VCODES[1], "id_type": "01", "name": "吴丽", "id_number": _citizen_id("33010319750612002"),
     "gender": "2", "political_status": "13", "education": "00", "employment_status": "80",
     "mobile": "13900002222", "service_area": "330108", "source_updated_at": "2024-03-16T08:00:00"},
    {"volunteer_no": VCODES[2], "id_type": "02", "name": "Chan Tai Man", "id_number": "H12345678",
     "gender": "1", "birth_date": "1988-07-01", "political_status": "20", "education": "99",
     "employment_status": "90", "mobile": "13512345678", "email": "tm.chan@example.hk",
     "service_area": "330102003001", "source_updated_at": "2024-03-17T19:45:00"},
    {"volunteer_no": VCODES[3], "id_type": "05", "name": "Anna Smith", "id_number": "E12345678",
     "gender": "2", "birth_date": "1995-02-28", "education": "14", "mobile": "13612345678",
     "address": "杭州市萧山区市心路2号", "service_area": "330109001",
     "source_updated_at": "2024-03-18T07:00:01"},
]

SERVICE_RECORDS = [
    {"volunteer_no": VCODES[0], "project_no": "A000001", "started_at": "2024-05-01T09:00:00",
     "ended_at": "2024-05-01T12:30:00", "hours": 3.5, "status": "2",
     "source_updated_at": "2024-05-01T13:05:00"},
    {"volunteer_no": VCODES[1], "project_no": "A000002", "started_at": "2024-04-15T14:00:00",
     "ended_at": "2024-04-15T16:00:00", "hours": 2, "status": "2",
     "source_updated_at": "2024-04-15T16:10:00"},
    {"volunteer_no": VCODES[2], "project_no": "A000001", "started_at": "2024-06-01T08:00:00",
     "ended_at": "2024-06-01T08:45:00", "hours": 0.75, "status": "2",
     "source_updated_at": "2024-06-01T09:00:00"},
]


class TestZyh365Contract(AdapterContract):
    sample_records = {"volunteer": VOLUNTEERS, "service_record": SERVICE_RECORDS}
    bad_settings = [
        ({}, None),
        ({"access_key_id": "a", "access_key_secret": "b"}, "/base_url"),
        ({"base_url": "ftp://example.cn", "access_key_id": "a", "access_key_secret": "b"}, "/base_url"),
        ({"base_url": "http://x", "access_key_id": "a", "access_key_secret": "b", "page_size": 81}, "/page_size"),
        ({"base_url": "http://x", "access_key_id": "a", "access_key_secret": "b", "since": "2024-01-01"}, "/since"),
        ({"base_url": "http://x", "access_key_id": "a", "access_key_secret": "b", "secret": "c"}, "/secret"),
    ]

    @pytest.fixture(autouse=True)
    def _fresh_platform(self, request):
        """A new, empty platform per test; service time needs its volunteers to exist there."""
        self.platform = sim.Zyh365Platform()
        params = getattr(request.node, "callspec", None)
        if params is not None and params.params.get("entity") == "service_record":
            converter = Zyh365Adapter({"base_url": "http://unused", "access_key_id": "x",
                                       "access_key_secret": "y"})
            for record in VOLUNTEERS:
                self.platform.insert("volunteer", converter.from_standard("volunteer", record))
        with sim.running(self.platform) as url:
            self.url = url
            yield

    def make_adapter(self):
        return Zyh365Adapter({"base_url": self.url, "access_key_id": sim.DEFAULT_ACCESS_KEY_ID,
                              "access_key_secret": sim.DEFAULT_ACCESS_KEY_SECRET, "since": "20000101"})

    def seed(self, adapter, entity, native_records):
        kind = {"volunteer": "volunteer", "service_record": "duration"}[entity]
        for native in native_records:
            self.platform.insert(kind, native)

    def invalid_native_record(self, entity):
        return {
            "volunteer": {"vcode": VCODES[0], "name": "赵六", "idcardtype": "7", "idcard": "330106199001050017",
                          "mphone": "13800001111", "sex": "未知", "birthday": "1990-01-05",
                          "area": "3301", "updatetime": "2024-03-15 10:20:30"},
            "service_record": {"vcode": VCODES[0], "activity": {"id": "A000001", "name": "助老"},
                               "value": "three", "signInTime": "2024-05-01T09:00:00",
                               "signOutTime": "2024-05-01 10:00:00"},
        }[entity]
