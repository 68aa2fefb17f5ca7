"""The national field-coded mapping: derived from the schemas, lossless, and strict on input."""

from __future__ import annotations

import json

import pytest

import schemas
from adapters import national
from adapters.national import EXT, NationalAdapter, area_from_national, area_to_national
from gateway.adapter import AdapterError, MappingError
from gateway.adapter_contract import example_records

SAMPLES = example_records("volunteer", "team", "project", "service_record")
SAMPLE_ENTITIES = tuple(SAMPLES)


def _codes_in_schema(entity: str, version: str) -> dict[str, tuple[str, ...]]:
    found = {}
    fixes = national._V1_CODES.get(entity, {}) if version == "1" else {}
    for key, prop in schemas.load_schema(version, entity)["properties"].items():
        code = fixes[(key,)] if (key,) in fixes else prop.get("x-national-code")
        if code:
            found[code] = (key,)
        for sub, subprop in prop.get("properties", {}).items():
            if "x-national-code" in subprop:
                found[subprop["x-national-code"]] = (key, sub)
    return found


@pytest.mark.parametrize("version", national.VERSIONS)
@pytest.mark.parametrize("entity", national.ENTITIES)
def test_the_mapping_is_the_schemas_annotations(entity, version):
    m = national.mapping(entity, version)
    assert {code: f.path for code, f in m.by_code.items()} == _codes_in_schema(entity, version)


def test_v1_keeps_the_products_numbers_apart_from_national_internal_ids():
    """v1's schemas annotate team_no / project_no with albx0011 / albx0176 / albx0177, the
    national system's internal record ids: the adapter sends the numbers as albe0041 /
    albx0013 or in the extension, never under an internal-id code."""
    project = national.from_standard("project", SAMPLES["project"][0])
    assert project["albx0013"] == "P110105202404001" and "albx0011" not in project
    assert project[EXT]["team_no"] == "T1101050001"
    record = national.from_standard("service_record", SAMPLES["service_record"][0])
    assert "albx0176" not in record and "albx0177" not in record
    assert record[EXT]["project_no"] == "P110105202404001"
    assert national.from_standard("team", SAMPLES["team"][0])["albe0041"] == "T1101050001"


def test_well_known_codes():
    by_code = {code: f.path for e in national.ENTITIES for code, f in national.mapping(e).by_code.items()}
    assert by_code["albp0003"] == ("name",)
    assert by_code["albp0004"] == ("id_type",)
    assert by_code["albp0005"] == ("id_number",)
    assert by_code["albp0029"] == ("volunteer_no",)
    assert by_code["albe0002"] == ("name",)
    assert by_code["albe0057"] == ("approving_unit", "name")
    assert by_code["albx0021"] == ("area",)
    assert by_code["albx0172"] == ("hours",)


@pytest.mark.parametrize("code, national_id", [
    ("110105", "110105000000000000"),
    ("110000", "110000000000000000"),
    ("110105001", "110105001000000000"),
    ("110105001002", "110105001002000000"),
    ("110105001002003004", "110105001002003004"),
])
def test_area_ids_both_ways(code, national_id):
    assert area_to_national(code) == national_id
    assert area_from_national(national_id) == code


def test_volunteer_in_national_form():
    native = national.from_standard("volunteer", SAMPLES["volunteer"][0])
    assert native["albp0003"] == "王淑兰"
    assert native["albp0004"] == "01"
    assert native["albp0028"] == "110105000000000000"
    assert native["albp0020"] == "110105001000000000"
    assert native["albp0021"] == "0001,0017"
    assert native[EXT] == {"source_id": "vol-000123", "source_updated_at": "2024-03-15T10:20:30"}
    assert not [k for k in native if k != EXT and not k.startswith("albp")]


def test_service_record_date_times_use_a_space_and_keep_offsets():
    native = national.from_standard("service_record", SAMPLES["service_record"][2])
    assert native["albx0181"] == "2024-06-01 08:00:00.0+08:00"
    assert national.to_standard("service_record", native)["started_at"] == "2024-06-01T08:00:00+08:00"


def test_approving_unit_is_flattened_and_its_rest_kept():
    team = dict(SAMPLES["team"][1])
    native = national.from_standard("team", team)
    assert native["albe0057"] == "永安里社区居民委员会"
    assert native["albe0059"] == "010-65001234"
    assert "approving_unit" not in native.get(EXT, {})
    assert national.to_standard("team", native) == team
    # an empty object survives too
    team["approving_unit"] = {}
    assert national.to_standard("team", national.from_standard("team", team)) == team


@pytest.mark.parametrize("entity", SAMPLE_ENTITIES)
def test_round_trip_of_every_sample(entity):
    for record in SAMPLES[entity]:
        native = national.from_standard(entity, record)
        json.dumps(native, ensure_ascii=False)
        assert national.to_standard(entity, native) == record


def test_national_data_quirks_are_read():
    native = national.from_standard("volunteer", SAMPLES["volunteer"][0])
    native["albp0008"] = 1                     # a code that lost its leading zero
    native["albp0013"] = ""                    # empty means absent
    native["albp0048"] = "1"                   # blood type: not published by the standard
    native["albp0021"] = ["0001", "0017"]      # a list instead of comma-separated text
    native["albp0028"] = "110105"              # a short code is accepted as it is
    record = national.to_standard("volunteer", native)
    assert record["ethnicity"] == "01"
    assert "address" not in record
    assert record["service_categories"] == ["0001", "0017"]
    assert record["residence_area"] == "110105"
    native = national.from_standard("service_record", SAMPLES["service_record"][0])
    native["albx0172"] = "3.5"
    assert national.to_standard("service_record", native)["hours"] == 3.5


def _issues(entity, native):
    with pytest.raises(MappingError) as info:
        national.to_standard(entity, native)
    return {(i.pointer, i.rule) for i in info.value.issues}, info.value.issues


def test_to_standard_errors_point_at_national_fields():
    native = national.from_standard("volunteer", SAMPLES["volunteer"][0])
    native["albp0004"] = "X9"
    native["albp0021"] = "0001,9999"
    native["albp0028"] = "11010"
    del native["albp0003"]
    native[EXT]["nickname"] = "兰姐"
    native[EXT]["name"] = "王淑兰"             # a coded field does not belong in the extension
    found, issues = _issues("volunteer", native)
    assert found == {("/albp0004", "mapping.unknown_code"), ("/albp0021", "mapping.unknown_code"),
                     ("/albp0028", "mapping.invalid"), ("/albp0003", "mapping.missing"),
                     ("/_vgw/nickname", "mapping.unknown_field"),
                     ("/_vgw/name", "mapping.unknown_field")}
    for issue in issues:
        assert issue.message_zh and issue.message_en
        assert "11010519491231002X" not in issue.message_zh + issue.message_en


def test_missing_required_field_without_a_national_code_points_into_the_extension():
    native = national.from_standard("team", SAMPLES["team"][0])
    del native[EXT]["area"]
    found, _ = _issues("team", native)
    assert found == {("/_vgw/area", "mapping.missing")}


def test_bad_date_time_and_number():
    native = national.from_standard("service_record", SAMPLES["service_record"][0])
    native["albx0181"] = "2024/05/01 9:00"
    native["albx0172"] = "three"
    found, _ = _issues("service_record", native)
    assert found == {("/albx0181", "mapping.invalid"), ("/albx0172", "mapping.invalid")}


def test_from_standard_errors_point_at_standard_fields():
    record = dict(SAMPLES["volunteer"][0], gender="M", nickname="兰姐", residence_area="1101")
    del record["mobile"]
    with pytest.raises(MappingError) as info:
        national.from_standard("volunteer", record)
    assert {(i.pointer, i.rule) for i in info.value.issues} == {
        ("/gender", "mapping.unknown_code"), ("/nickname", "mapping.unknown_field"),
        ("/residence_area", "mapping.invalid"), ("/mobile", "mapping.missing")}


def test_not_a_record():
    with pytest.raises(MappingError):
        national.to_standard("volunteer", ["albp0003"])  # type: ignore[arg-type]
    with pytest.raises(AdapterError):
        national.mapping("certificate")


# -- the store ---------------------------------------------------------------------------

def test_store_file_format_and_change_sequence(tmp_path):
    adapter = NationalAdapter({"path": str(tmp_path)})
    volunteers = SAMPLES["volunteer"]
    results = adapter.write("volunteer", volunteers)
    assert [r.native_id for r in results] == [v["volunteer_no"] for v in volunteers]
    data = json.loads((tmp_path / "volunteer.json").read_text(encoding="utf-8"))
    assert data["format"] == "vgw-national/1" and data["table"] == "LBP01" and data["seq"] == 3
    # unchanged: nothing written; changed: a new sequence number, read after the cursor
    mtime = (tmp_path / "volunteer.json").stat().st_mtime_ns
    adapter.write("volunteer", volunteers)
    assert (tmp_path / "volunteer.json").stat().st_mtime_ns == mtime
    page = adapter.read("volunteer", None, 10)
    assert page.next_cursor == "3" and not page.has_more
    assert [i.location for i in page.items] == ["volunteer.json#1", "volunteer.json#2", "volunteer.json#3"]
    adapter.write("volunteer", [dict(volunteers[0], mobile="13800138001")])
    later = adapter.read("volunteer", page.next_cursor, 10)
    assert [i.source_id for i in later.items] == [volunteers[0]["volunteer_no"]]
    assert later.items[0].native["albp0010"] == "13800138001"
    assert later.next_cursor == "4"


def test_identity_without_a_number(tmp_path):
    adapter = NationalAdapter({"path": str(tmp_path)})
    volunteer = {k: v for k, v in SAMPLES["volunteer"][0].items() if k not in ("volunteer_no", "source_id")}
    [result] = adapter.write("volunteer", [volunteer])
    assert result.ok and result.native_id.startswith("id:")
    assert volunteer["id_number"] not in result.native_id
    team = {k: v for k, v in SAMPLES["team"][0].items() if k not in ("team_no",)}
    assert adapter.write("team", [team])[0].native_id == "src:team-0001"
    del team["source_id"]
    [refused] = adapter.write("team", [team])
    assert not refused.ok and refused.errors[0].pointer == "/team_no"


def test_exports_and_deletions(tmp_path):
    adapter = NationalAdapter({"path": str(tmp_path)})
    native = national.from_standard("project", SAMPLES["project"][0])
    [pid] = adapter.put_native("project", [native])
    assert pid == "P110105202404001"
    adapter.put_native("project", [{"albx0013": pid}], op="delete")
    page = adapter.read("project", None, 5)
    assert [(i.source_id, i.op) for i in page.items] == [(pid, "delete")]
    assert list(adapter.iter_natives("project")) == []
    # a record without any identity still gets a stable id
    [doc_id] = adapter.put_native("project", [{"albx0002": "无编号项目"}])
    assert doc_id.startswith("doc:")


def test_bad_cursor_unknown_entity_and_damaged_file(tmp_path):
    adapter = NationalAdapter({"path": str(tmp_path)})
    with pytest.raises(AdapterError):
        adapter.read("volunteer", "yesterday", 5)
    with pytest.raises(AdapterError):
        adapter.read("certificate", None, 5)
    with pytest.raises(AdapterError):
        adapter.read("volunteer", None, 0)
    (tmp_path / "team.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(AdapterError):
        adapter.read("team", None, 5)


def test_check(tmp_path):
    assert NationalAdapter({"path": str(tmp_path / "new")}).check().ok
    assert not NationalAdapter({"path": str(tmp_path / "a" / "b")}).check().ok
    (tmp_path / "file").write_text("x")
    assert not NationalAdapter({"path": str(tmp_path / "file")}).check().ok
    assert NationalAdapter({"path": "memory:check"}).check().ok


def test_memory_stores_are_separate():
    one = NationalAdapter({"path": "memory:unit-one"})
    two = NationalAdapter({"path": "memory:unit-two"})
    try:
        one.write("service_record", SAMPLES["service_record"])
        assert len(one.read("service_record", None, 10).items) == 3
        assert two.read("service_record", None, 10).items == []
        again = NationalAdapter({"path": "memory:unit-one"})
        assert len(again.read("service_record", None, 10).items) == 3
    finally:
        national.forget_memory("unit-one")
        national.forget_memory("unit-two")
