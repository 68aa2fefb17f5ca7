"""The national field-coded adapter against the adapter contract suite (a JSON-file target)."""

from __future__ import annotations

from adapters.national import EXT, NationalAdapter
from gateway.adapter_contract import AdapterContract, example_records


class TestNationalContract(AdapterContract):
    sample_records = example_records("volunteer", "team", "project", "service_record")
    bad_settings = [({}, "/path"), ({"path": ""}, "/path"), ({"path": 7}, "/path"),
                    ({"path": "x", "folder": "y"}, "/folder")]

    def make_adapter(self):
        return NationalAdapter({"path": str(self.tmp_path / "national")})

    def seed(self, adapter, entity, native_records):
        adapter.put_native(entity, native_records)

    def invalid_native_record(self, entity):
        bad = {
            "volunteer": {"albp0029": "V1100002201000099V", "albp0003": "赵六", "albp0004": "X9",
                          "albp0005": "11010519491231002X", "albp0006": "2",
                          "albp0010": "13800138000"},
            "team": {"albe0002": "某队", "albe0003": "9", "albe0019": "13911112222",
                     EXT: {"team_no": "T9", "area": "11"}, "albe0008": "52110105MJ00123422"},
            "project": {"albx0002": "某项目", "albx0011": "T1", "albx0004": "2024-01-01",
                        "albx0009": "0001", "albx0021": "110105000000000000",
                        EXT: {"project_no": "P9"}},
            "service_record": {"albx0175": "V1100002201000004V", "albx0176": "P1",
                               "albx0181": "2024-05-01T09:00", "albx0182": "2024-05-01 10:00:00",
                               "albx0172": 1, "albx0174": "2", EXT: {"record_no": "R9"}},
        }
        return bad[entity]


class TestNationalContractInMemory(TestNationalContract):
    """The same contract over the in-process store (``path = memory:<name>``)."""

    sample_records = example_records("volunteer", "service_record")
    _counter = 0

    def make_adapter(self):
        TestNationalContractInMemory._counter += 1
        return NationalAdapter({"path": f"memory:{self.tmp_path.name}-{self._counter}"})
