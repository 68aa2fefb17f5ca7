"""The national adapter in schema v2 against the contract suite, with records shaped as the
national front-end has them (tests/national_samples.py): each maps to a valid v2 record and
back to exactly itself, and every standard sample survives the other way."""

from __future__ import annotations

import copy

import pytest

from adapters import national
from adapters.national import NationalAdapter
from gateway.adapter import MappingError
from gateway.adapter_contract import AdapterContract
from tests.national_samples import NATIVE


def _standard(entity):
    return [national.to_standard(entity, copy.deepcopy(n), "2") for n in NATIVE[entity]]


class TestNationalContractV2(AdapterContract):
    schema_version = "2"
    native_samples = NATIVE
    sample_records = {entity: _standard(entity) for entity in NATIVE}
    bad_settings = [({}, "/path"), ({"path": "x", "schema_version": "3"}, "/schema_version")]

    def make_adapter(self):
        return NationalAdapter({"path": str(self.tmp_path / "national"), "schema_version": "2"})

    def seed(self, adapter, entity, native_records):
        adapter.put_native(entity, native_records)

    def invalid_native_record(self, entity):
        bad = copy.deepcopy(NATIVE[entity][0])
        code = next(f.code for f in national.mapping(entity, "2").fields
                    if f.kind in ("code", "codes", "integer", "number") and f.code in bad)
        bad[code] = "ZZ"
        for number in ("albp0029", "albe0041", "albx0013"):   # not the good record's identity
            bad.pop(number, None)
        return bad


def test_every_front_end_code_of_the_samples_is_carried():
    """No code of the samples falls into the extension: each has its own v2 property."""
    for entity, natives in NATIVE.items():
        m = national.mapping(entity, "2")
        for native in natives:
            for code in native:
                if code in national.NATIVE_ARRAYS.values() or code == national.EXT:
                    continue
                assert code in m.by_code, (entity, code)


def test_the_national_shapes_are_read_as_the_standard_says():
    record = national.to_standard("service_record", NATIVE["service_record"][0], "2")
    assert record["started_at"] == "2024-05-01T09:00:00"
    assert record["links"] == {"project": "nid:8a8c0101", "team": "nid:8a8a0001"}
    assert "project_no" not in record and "team_no" not in record   # internal ids are not numbers
    project = national.to_standard("project", NATIVE["project"][0], "2")
    assert project["project_no"] == "P110105202404001"
    assert project["service_categories"] == ["0001", "0017", "1101"]   # a local code
    assert project["status"] == "5"
    assert project["posts"][0]["name"] == "助老陪伴" and project["posts"][0]["conditions"] == "有耐心"
    assert project["checkin_points"][0]["radius_m"] == 200
    volunteer = national.to_standard("volunteer", NATIVE["volunteer"][0], "2")
    assert volunteer["service_fields"] == ["0003", "1301"]
    assert volunteer["registration"]["id_type"] == "01"
    complaint = national.to_standard("complaint", NATIVE["complaint"][0], "2")
    assert complaint["kind"] == "1" and complaint["complainant"]["id_number"] == "11010519491231002X"
    team = national.to_standard("team", NATIVE["team"][1], "2")
    assert team["registration_authority"] == "100000000000000000"   # 民政部, an area id kept whole


@pytest.mark.parametrize("value", ["2024-05-01 09:00:00", "2024-05-01 09:00:00.0", "2024-05-01T09:00:00"])
def test_date_times_with_or_without_the_fraction_are_read(value):
    native = dict(NATIVE["service_record"][1], albx0181=value)
    assert national.to_standard("service_record", native, "2")["started_at"] == "2024-05-01T09:00:00"
    back = national.from_standard("service_record", national.to_standard("service_record", native, "2"), "2")
    assert back["albx0181"] == "2024-05-01 09:00:00.0"


@pytest.mark.parametrize("code, value", [("albx0181", "2024-05-01 09:00:00.5"),
                                         ("albx0176", "no such/id"), ("albx0009", "0001,9999")])
def test_what_cannot_be_carried_exactly_is_refused_with_a_pointer(code, value):
    entity = "project" if code == "albx0009" else "service_record"
    native = dict(NATIVE[entity][1], **{code: value})
    with pytest.raises(MappingError) as info:
        national.to_standard(entity, native, "2")
    assert [i.pointer for i in info.value.issues] == [f"/{code}"]


def test_v1_refuses_local_codes_v2_accepts_them():
    native = national.from_standard("volunteer", national.to_standard("volunteer", NATIVE["volunteer"][1], "2"), "2")
    with pytest.raises(MappingError):
        national.to_standard("volunteer", native, "1")      # 6101 is not in v1's table
