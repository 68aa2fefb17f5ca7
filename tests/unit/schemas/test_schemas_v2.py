"""Schema version 2: generated from v1 and the national mapping, v1 untouched, every national
field code of the ten entities carried (or listed as not carried, with a reason), the
coverage table in docs/data-elements.md the generated one, and the national required flags
enforced or reported as warnings by a setting."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from jsonschema import Draft202012Validator

import schemas
from gateway.standard.engine import Engine
from gateway.standard.regions import Regions
from schemas import build_v2, coverage

ROOT = Path(schemas.ROOT)
DOC = ROOT.parent / "docs" / "data-elements.md"
SHIPPED_V1 = ROOT.parent / "conformance_tests" / "data" / "schemas" / "v1"


def test_v2_files_are_what_the_generator_writes():
    for name, text in build_v2.rendered().items():
        assert (ROOT / "v2" / name).read_text("utf-8") == text, (
            f"schemas/v2/{name} is out of date: run python -m schemas.build_v2")
    assert sorted(p.name for p in (ROOT / "v2").glob("*.schema.json")) == sorted(build_v2.rendered())


def test_v1_is_unchanged():
    """v1 is byte for byte the copy the conformance suite ships (taken before v2 existed)."""
    for path in sorted((ROOT / "v1").glob("*.schema.json")):
        assert path.read_bytes() == (SHIPPED_V1 / path.name).read_bytes(), path.name


@pytest.mark.parametrize("name", schemas.schema_names("2"))
def test_v2_schemas_are_valid_and_annotated(name):
    schema = schemas.load_schema("2", name)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"https://schemas.vgw.invalid/v2/{name}.schema.json"

    def walk(props, where):
        for key, prop in props.items():
            assert ("x-national-code" in prop) != bool(prop.get("x-product")) or prop.get(
                "type") in ("object", "array"), f"{where}{key}: neither national nor x-product"
            if "x-code-table" in prop:
                assert prop["enum"] == list(schemas.code_table(prop["x-code-table"]))
            inner = prop.get("items") if prop.get("type") == "array" else prop
            if isinstance(inner, dict) and "properties" in inner:
                walk(inner["properties"], f"{where}{key}.")
    if name != "batch":
        walk(schema["properties"], "")


def test_every_national_code_of_the_ten_entities_is_carried_or_explained():
    for row in coverage.rows():
        assert row["v2"] or row["reason"], f"{row['group']} {row['code']}: not mapped, no reason"
        if row["entity"]:
            assert row["v2"] or row["code"] in {"albp0053"}, row


def test_the_coverage_table_in_the_docs_is_the_generated_one():
    text = DOC.read_text("utf-8")
    table = text.split("<!-- national-coverage:start -->\n", 1)[1].split(
        "<!-- national-coverage:end -->", 1)[0]
    assert table == coverage.coverage_markdown(), (
        "docs/data-elements.md is out of date: paste `python -m schemas.coverage` between the "
        "national-coverage markers")


def test_the_product_ships_its_own_copy_of_the_field_list():
    rows = coverage._rows("national_fields.tsv")
    assert len(rows) == 321 and len({r["national_code"] for r in rows}) == 321


def test_national_numbers_and_internal_ids_are_apart():
    team, project, record = (schemas.load_schema("2", e) for e in ("team", "project", "service_record"))
    assert team["properties"]["team_no"]["x-national-code"] == "albe0041"
    assert project["properties"]["project_no"]["x-national-code"] == "albx0013"
    assert "x-national-code" not in project["properties"]["team_no"]
    assert project["properties"]["links"]["properties"]["team"]["x-national-code"] == "albx0011"
    assert record["properties"]["links"]["properties"]["project"]["x-national-code"] == "albx0176"
    assert record["properties"]["links"]["properties"]["team"]["x-national-code"] == "albx0177"
    assert "x-national-code" not in record["properties"]["project_no"]


def test_complete_code_tables():
    assert {"0", "5"} <= set(schemas.code_table("project_status_v2"))
    assert "0" not in schemas.code_table("project_status")              # v1's table is kept
    rows = schemas.read_table("codes", "service_category_v2")
    local = {r["code"] for r in rows if r["extension"] == "local"}
    assert local == {"1101", "1102", "1301", "3201", "3202", "3203", "3204", "6101"}
    assert len(rows) - len(local) == len(schemas.code_table("service_category")) == 21
    assert len(schemas.code_table("service_field")) == 23
    assert "08" in schemas.code_table("registration_id_type")


def _engine(mode):
    return Engine(Regions.load(), ZoneInfo("Asia/Shanghai"), national_required=mode)


VOLUNTEER = {"name": "王淑兰", "id_type": "01", "id_number": "11010519491231002X", "gender": "2",
             "mobile": "13800138000"}


def test_national_required_is_enforced_by_default_and_can_be_relaxed_to_warnings():
    strict = _engine("enforce").validate("volunteer", VOLUNTEER, "2")
    assert {(i.pointer, i.rule) for i in strict.issues} == {
        ("/residence_area", "schema.required"), ("/service_area", "schema.required")}
    relaxed = _engine("warn").validate("volunteer", VOLUNTEER, "2")
    assert relaxed.valid
    assert {(i.pointer, i.rule) for i in relaxed.warnings} == {
        ("/residence_area", "national.required"), ("/service_area", "national.required")}
    assert relaxed.as_dict()["warnings"]
    # v1 is not affected by either
    assert _engine("enforce").validate("volunteer", VOLUNTEER, "1").valid
    assert "warnings" not in _engine("warn").validate("volunteer", VOLUNTEER, "1").as_dict()


def test_relaxed_nested_requirements_warn_per_item():
    from tests.national_samples import NATIVE
    from adapters import national
    project = national.to_standard("project", NATIVE["project"][0], "2")
    del project["posts"][0]["conditions"]
    del project["contact"]
    assert not _engine("enforce").validate("project", project, "2").valid
    report = _engine("warn").validate("project", project, "2")
    assert report.valid, report.as_dict()
    assert {i.pointer for i in report.warnings} == {"/posts/0/conditions", "/contact"}


def test_validation_api_and_catalog_speak_v2(client):
    answer = client.post("/api/v1/validate/volunteer?version=2", json=VOLUNTEER).get_json()
    assert answer["schema_version"] == "2" and answer["valid"] is False
    assert client.post("/api/v1/validate/volunteer", json=VOLUNTEER).get_json()["valid"] is True
    assert client.get("/api/v1/schemas/2/project").get_json()["x-schema-version"] == "2"
    assert "x-schema-version" not in client.get("/api/v1/schemas/1/project").get_json()


def test_validation_api_reports_warnings_when_relaxed(tmp_path):
    from gateway import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite3'}",
                      "KEYS_DIR": str(tmp_path / "keys"), "NATIONAL_REQUIRED": "warn"})
    answer = app.test_client().post("/api/v1/validate/volunteer?version=2", json=VOLUNTEER).get_json()
    assert answer["valid"] is True
    assert {w["rule"] for w in answer["results"][0]["warnings"]} == {"national.required"}


def test_batch_envelope_names_version_2():
    engine = _engine("enforce")
    from tests.national_samples import NATIVE
    from adapters import national
    record = national.to_standard("volunteer", NATIVE["volunteer"][1], "2")
    envelope = {"schema_version": "2", "sender": "s", "batch_id": "b1",
                "records": [{"entity": "volunteer", "op": "upsert", "data": record}]}
    header, reports = engine.validate_envelope(envelope)
    assert header.valid and reports[0].valid, [r.as_dict() for r in reports]
    envelope["schema_version"] = "1"          # a local code (6101) is not in v1's table
    _, reports = engine.validate_envelope(envelope)
    assert not reports[0].valid


def test_the_copy_corrects_two_labels_of_the_shared_list_and_says_so():
    """albe0004 and albe0065 keep the shared list's label in a ``# corrected`` row (issue 15);
    the corrected labels are in the copy's rows, the table and docs/data-elements.md."""
    fixed = coverage.corrections()
    assert set(fixed) == {"albe0004", "albe0065"}
    labels = {r["national_code"]: r["label_zh"] for r in coverage._rows("national_fields.tsv")}
    assert fixed["albe0004"][0] == "上级/挂靠组织 (type ≠ 1)" and "联络组织" in labels["albe0004"]
    assert fixed["albe0065"][0] == "团体类型 (type 1 subset)" and "直属组织" in labels["albe0065"]
    for code, (source_label, why) in fixed.items():
        assert labels[code] != source_label and why
    table = coverage.coverage_markdown()
    assert "联络组织 (内部 id; albe0063 = 1) (corrected; shared list: 上级/挂靠组织 (type ≠ 1))" in table
    text = DOC.read_text("utf-8")
    assert "albe0004 is the liaison organisation's internal id" in text
    assert "albe0065 is whether a type 1 team has a direct parent" in text
