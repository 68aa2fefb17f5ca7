"""The published contract (schemas/v1): well-formed, documented, in step with the code tables,
closed, and giving the same verdicts in jsonschema (Python) and jsonschema_rs (Rust).
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any, Iterator

import jsonschema_rs
import pytest
from jsonschema import Draft202012Validator

import schemas
from tests import factories

VERSION = "1"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://schemas.vgw.invalid/v1/"
ENTITY_NAMES = ["volunteer", "team", "project", "enrollment", "service_record", "training",
                "commendation", "evaluation", "complaint", "certificate"]
SCHEMA_NAMES = [*ENTITY_NAMES, "batch"]
NATIONAL_TABLES = {"volunteer": "LBP01", "team": "LBE01", "project": "LBX01", "enrollment": "LBX02"}
DOCS = Path(schemas.ROOT).parent / "docs" / "data-elements.md"

NATIONAL_CODE = re.compile(r"alb[pex][0-9]{4}")
NATIONAL_TABLE = re.compile(r"LB[PEX][0-9]{2}")
HAN = re.compile(r"[\u3400-\u9fff]")

# The shapes every schema shares (tests/factories and the rules rely on them).
DATE_PATTERN = r"^(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}(?!\n)$"
LOCAL_DATE_TIME_PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                           r"(Z|[+-][0-9]{2}:[0-9]{2})?(?!\n)$")
REGION_PATTERN = r"^[0-9]{6}([0-9]{3}([0-9]{3}([0-9]{6})?)?)?(?!\n)$"
MOBILE_PATTERN = r"^1[3-9][0-9]{9}(?!\n)$"
VOLUNTEER_NO_PATTERN = r"^V[0-9]{16}[0-9A-Z](?!\n)$"

# Objects left open on purpose: a batch record's data is validated separately against the
# schema of its entity.
OPEN_OBJECTS = {("batch", "/properties/records/items/properties/data")}
# Enums that are not code tables (their values are English words fixed by the contract).
PLAIN_ENUMS = {
    ("commendation", "/properties/subject"),
    ("complaint", "/properties/status"),
    ("certificate", "/properties/status"),
    ("batch", "/properties/records/items/properties/entity"),
    ("batch", "/properties/records/items/properties/op"),
    ("batch", "/properties/records/items/properties/home/properties/links/items/properties/field"),
}
# Code tables whose code column is not called "code".
CODE_COLUMN = {"country": "numeric"}

# National field codes given by the standard (shared/spec/README.md, codes/INDEX.csv),
# by dotted key ("a.b" nested object, "a[].b" array of objects).
EXPECTED_NATIONAL_CODES: dict[str, dict[str, str]] = {
    "volunteer": {
        "volunteer_no": "albp0029", "name": "albp0003", "id_type": "albp0004",
        "id_number": "albp0005", "gender": "albp0006", "birth_date": "albp0014",
        "nationality": "albp0002", "ethnicity": "albp0008", "political_status": "albp0007",
        "education": "albp0017", "employment_status": "albp0018", "mobile": "albp0010",
        "email": "albp0081", "address": "albp0013", "residence_area": "albp0028",
        "service_area": "albp0020", "service_categories": "albp0021", "skills": "albp0039",
        "availability": "albp0035", "languages": "albp0036", "registered_at": "albp0034",
        "registration_area": "albp0057", "real_name_status": "albp0063",
        "star_level": "albp0026", "total_hours": "albp0089",
    },
    "team": {
        "name": "albe0002", "team_type": "albe0003", "unit_type": "albe0005",
        "registration_dept": "albe0006", "registration_authority": "albe0009",
        "uscc": "albe0008", "approving_unit.name": "albe0057", "approving_unit.uscc": "albe0061",
        "approving_unit.contact": "albe0058", "approving_unit.phone": "albe0059",
        "contact_name": "albe0018", "contact_mobile": "albe0019", "status": "albe0026",
        "join_policy": "albe0028",
    },
    "project": {
        "name": "albx0002", "starts_on": "albx0004", "ends_on": "albx0005",
        "service_category": "albx0009", "team_no": "albx0011", "service_objects": "albx0014",
        "guarantees": "albx0019", "area": "albx0021", "recruit_scope": "albx0024",
        "status": "albx0015", "funding_source": "albx0485", "checkin_points[].lng": "albx5602",
        "checkin_points[].lat": "albx5603", "checkin_points[].radius_m": "albx5605",
    },
    "enrollment": {"status": "albx0054"},
    "service_record": {
        "volunteer_no": "albx0175", "project_no": "albx0176", "team_no": "albx0177",
        "started_at": "albx0181", "ended_at": "albx0182", "hours": "albx0172",
        "source": "albx0173", "status": "albx0174", "kind": "albx0187",
        "recorded_at": "albx0178", "applied_at": "albx0180",
    },
    "training": {"content": "albx0283", "training_type": "albx0291", "training_mode": "albx0292"},
    "commendation": {"level": "albx0357"},
    "evaluation": {"punctuality": "albx0463", "attitude": "albx0464",
                   "professionalism": "albx0465"},
    "complaint": {"kind": "albp2402", "reason": "albp2303"},
    "certificate": {},
    "batch": {},
}


# ------------------------------------------------------------------------------- helpers

@functools.cache
def schema(name: str) -> dict:
    return schemas.load_schema(VERSION, name)


@functools.cache
def py_validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


@functools.cache
def rs_validator(name: str) -> Any:
    return jsonschema_rs.validator_for(schema(name), validate_formats=True)


@functools.cache
def table_codes(table: str) -> tuple[str, ...]:
    column = CODE_COLUMN.get(table, "code")
    return tuple(row[column] for row in schemas.read_table("codes", table))


_ONE = ("items", "additionalProperties", "contains", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties")
_MAP = ("properties", "patternProperties", "$defs", "dependentSchemas")
_LIST = ("prefixItems", "allOf", "anyOf", "oneOf")
_CONDITIONAL = ("if", "then", "else", "not")


def walk(node: dict, ptr: str = "", conditional: bool = False) -> Iterator[tuple[str, dict, bool]]:
    """Every subschema as (JSON Pointer into the schema, subschema, inside if/then/else/not?)."""
    yield ptr, node, conditional
    for kw in _ONE:
        if isinstance(node.get(kw), dict):
            yield from walk(node[kw], f"{ptr}/{kw}", conditional)
    for kw in _MAP:
        for key, sub in node.get(kw, {}).items():
            yield from walk(sub, f"{ptr}/{kw}/{key}", conditional)
    for kw in _LIST:
        for i, sub in enumerate(node.get(kw, [])):
            yield from walk(sub, f"{ptr}/{kw}/{i}", conditional)
    for kw in _CONDITIONAL:
        if isinstance(node.get(kw), dict):
            yield from walk(node[kw], f"{ptr}/{kw}", True)


def fields(node: dict, prefix: str = "") -> Iterator[tuple[str, dict, bool]]:
    """Every property at every depth as (dotted key, subschema, required in its object?).

    ``a.b`` is property b of object a; ``a[].b`` is property b of the objects in array a.
    """
    required = set(node.get("required", ()))
    for key, sub in node.get("properties", {}).items():
        dotted = f"{prefix}{key}"
        yield dotted, sub, key in required
        if sub.get("type") == "object":
            yield from fields(sub, dotted + ".")
        items = sub.get("items")
        if sub.get("type") == "array" and isinstance(items, dict) and items.get("type") == "object":
            yield from fields(items, dotted + "[].")


def all_nodes() -> list[tuple[str, str, dict, bool]]:
    return [(name, ptr, node, cond) for name in SCHEMA_NAMES for ptr, node, cond in walk(schema(name))]


def code_nodes() -> list[tuple[str, str, dict]]:
    return [(n, p, node) for n, p, node, cond in all_nodes() if "x-code-table" in node and not cond]


def _pointer(parts: Any) -> str:
    return "".join(f"/{p}" for p in parts)


def verdicts(name: str, instance: Any) -> tuple[bool, bool]:
    return py_validator(name).is_valid(instance), rs_validator(name).is_valid(instance)


def errors(name: str, instance: Any) -> tuple[set[tuple[str, str]], set[str]]:
    """(jsonschema's {(instance pointer, keyword)}, jsonschema_rs's {instance pointer})."""
    py = {(_pointer(e.absolute_path), e.validator) for e in py_validator(name).iter_errors(instance)}
    rs = {_pointer(e.instance_path) for e in rs_validator(name).iter_errors(instance)}
    return py, rs


def changed(record: dict, changes: dict[str, Any]) -> dict:
    """A deep copy of ``record`` with values set at JSON Pointers (``factories.OMIT`` deletes)."""
    record = copy.deepcopy(record)
    for ptr, value in changes.items():
        *parents, last = ptr.strip("/").split("/")
        target: Any = record
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is factories.OMIT:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return record


OMIT = factories.OMIT


# --------------------------------------------------------------------- structure and metadata

def test_published_schema_names():
    assert schemas.schema_names(VERSION) == sorted(SCHEMA_NAMES)
    assert factories.ENTITIES.keys() == set(SCHEMA_NAMES)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_2020_12(name):
    Draft202012Validator.check_schema(schema(name))
    jsonschema_rs.meta.validate(schema(name))
    assert rs_validator(name) is not None


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_header(name):
    s = schema(name)
    assert s["$schema"] == DRAFT
    assert s["$id"] == f"{ID_BASE}{name}.schema.json"
    assert HAN.search(s["title"]), "title must be Chinese"
    assert s["description"].strip()
    assert s["type"] == "object"
    assert s.get("x-national-table") == NATIONAL_TABLES.get(name)
    for _, node, _ in walk(s):
        if "x-national-table" in node:
            assert NATIONAL_TABLE.fullmatch(node["x-national-table"])


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_self_contained(name):
    """No reference leaves the document (local "#/$defs/..." only)."""
    for ptr, node, _ in walk(schema(name)):
        for kw in ("$ref", "$dynamicRef"):
            if kw in node:
                assert node[kw].startswith("#"), f"{ptr}: {node[kw]}"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_property_has_title_and_description(name):
    for ptr, node, conditional in walk(schema(name)):
        if conditional:
            continue
        for key, prop in node.get("properties", {}).items():
            where = f"{name}{ptr}/properties/{key}"
            assert HAN.search(prop.get("title", "")), f"{where}: Chinese title missing"
            assert re.search(r"[A-Za-z]{3}", prop.get("description", "")), \
                f"{where}: English description missing"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_conditionals_only_use_declared_properties(name):
    """if/then/else only constrain properties declared (and documented) next to them."""
    for ptr, node, conditional in walk(schema(name)):
        if conditional or "properties" not in node:
            continue
        declared = set(node["properties"])
        branches = [node[kw] for kw in _CONDITIONAL if kw in node]
        branches += [b[kw] for b in node.get("allOf", []) for kw in _CONDITIONAL if kw in b]
        for branch in branches:
            used = set(branch.get("required", ())) | set(branch.get("properties", {}))
            assert used <= declared, f"{name}{ptr}: {sorted(used - declared)}"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_object_is_closed(name):
    seen_open = set()
    for ptr, node, conditional in walk(schema(name)):
        if conditional or not (node.get("type") == "object" or "properties" in node):
            continue
        if (name, ptr) in OPEN_OBJECTS:
            seen_open.add((name, ptr))
            assert "additionalProperties" not in node and node["type"] == "object"
            continue
        assert node.get("additionalProperties") is False, f"{name}{ptr}"
    assert seen_open == {o for o in OPEN_OBJECTS if o[0] == name}


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_national_codes(name):
    found = {key: sub["x-national-code"] for key, sub, _ in fields(schema(name))
             if "x-national-code" in sub}
    for key, code in found.items():
        assert NATIONAL_CODE.fullmatch(code), f"{name}.{key}: {code!r}"
    assert found == EXPECTED_NATIONAL_CODES[name]
    # Annotations only sit on properties, never on items or conditionals.
    on_properties = sum(1 for _, sub, _ in fields(schema(name)) if "x-national-code" in sub)
    anywhere = sum(1 for _, node, _ in walk(schema(name)) if "x-national-code" in node)
    assert on_properties == anywhere


# -------------------------------------------------------------------------------- code tables

@pytest.mark.parametrize(("name", "ptr", "node"), code_nodes(),
                         ids=[f"{n}:{p}" for n, p, _ in code_nodes()])
def test_code_enum_matches_table(name, ptr, node):
    table = node["x-code-table"]
    codes = table_codes(table)
    assert node["type"] == "string"
    assert all(isinstance(c, str) for c in node["enum"])
    assert len(node["enum"]) == len(codes) == len(set(codes))
    assert set(node["enum"]) == set(codes)


def test_code_tables_cover_the_index():
    """Every table that codes/INDEX.csv announces has as many codes as it says."""
    for row in schemas.read_table("codes", "INDEX"):
        assert len(table_codes(row["table"])) == int(row["codes"]), row["table"]


def test_id_type_keeps_legacy_codes_as_strings():
    enum = schema("volunteer")["properties"]["id_type"]["enum"]
    assert {"01", "6", "7", "9", "99"} <= set(enum)
    assert "1" not in enum


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_code_arrays_and_enums(name):
    for ptr, node, conditional in walk(schema(name)):
        if conditional:
            continue
        items = node.get("items")
        if isinstance(items, dict) and "x-code-table" in items:
            assert node["type"] == "array" and node.get("uniqueItems") is True, f"{name}{ptr}"
            assert "enum" not in node and "x-code-table" not in node
        if "enum" in node and "x-code-table" not in node:
            assert (name, ptr) in PLAIN_ENUMS, f"{name}{ptr}: enum without x-code-table"


def test_batch_entities_are_the_published_entities():
    entity = schema("batch")["properties"]["records"]["items"]["properties"]["entity"]
    assert entity["enum"] == ENTITY_NAMES


# ------------------------------------------------------------------------------ shared shapes

@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_shared_shapes(name):
    for ptr, node, conditional in walk(schema(name)):
        if conditional:
            continue
        where = f"{name}{ptr}"
        if "format" in node:
            assert node["format"] == "date", f"{where}: only format date is used"
            assert node["pattern"] == DATE_PATTERN, where
        if "x-format" in node and node["x-format"] == "local-date-time":
            assert node["pattern"] == LOCAL_DATE_TIME_PATTERN, where
        if node.get("x-region"):
            assert node["pattern"] == REGION_PATTERN, where
        if node.get("type") == "string" and "enum" not in node and "const" not in node:
            assert isinstance(node.get("maxLength"), int), f"{where}: maxLength missing"
        if "pattern" in node:
            # Portable: no \d (Unicode digits in Python) and no bare $ (newline in Python).
            assert "\\d" not in node["pattern"], where
            assert node["pattern"].startswith("^") and node["pattern"].endswith("(?!\\n)$"), where
    for key, sub, _ in fields(schema(name)):
        last = key.rsplit(".", 1)[-1]
        if last == "volunteer_no":
            assert sub["pattern"] == VOLUNTEER_NO_PATTERN, f"{name}.{key}"
        if last in ("mobile", "contact_mobile"):
            assert sub["pattern"] == MOBILE_PATTERN, f"{name}.{key}"


def test_derived_volunteer_fields_are_read_only():
    props = schema("volunteer")["properties"]
    assert props["star_level"]["readOnly"] is True
    assert props["total_hours"]["readOnly"] is True


# ------------------------------------------------------------------------------- good records

@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_good_example_is_valid(name):
    record = factories.ENTITIES[name]()
    assert verdicts(name, record) == (True, True), errors(name, record)


def test_batch_records_are_valid_against_their_entity():
    for rec in factories.batch()["records"]:
        assert verdicts(rec["entity"], rec["data"]) == (True, True)


def _minimal(name: str) -> dict:
    record = factories.ENTITIES[name]()
    keep = set(schema(name)["required"]) | {"commendation": {"volunteer_no"}}.get(name, set())
    return {k: v for k, v in record.items() if k in keep}


GOOD_VARIANTS = [
    *[pytest.param(n, _minimal(n), id=f"{n}-minimal") for n in SCHEMA_NAMES],
    pytest.param("volunteer", factories.minor_volunteer(), id="volunteer-minor-with-guardian"),
    pytest.param("volunteer", factories.volunteer(
        name="John Smith", id_type="05", id_number="E12345678", gender="1", nationality="840",
        birth_date="1990-07-04", ethnicity=OMIT, political_status=OMIT), id="volunteer-passport"),
    pytest.param("volunteer", factories.volunteer(
        name="阿卜杜拉·买买提", id_type="6", id_number="军字第2001234号"), id="volunteer-legacy-id-type"),
    pytest.param("volunteer", factories.volunteer(
        name="𠀀明", id_type="01", birth_date=OMIT), id="volunteer-rare-char-no-birth-date"),
    pytest.param("volunteer", factories.volunteer(
        residence_area="110105001", service_area="110105000000000000",
        registration_area="110105001001"), id="volunteer-long-region-codes"),
    pytest.param("volunteer", factories.volunteer(star_level="2", total_hours=350.5),
                 id="volunteer-read-only-fields-accepted"),
    pytest.param("volunteer", factories.volunteer(
        service_categories=[], skills=[], availability=[f"{i:02d}" for i in range(1, 25)]),
        id="volunteer-arrays-empty-and-full"),
    pytest.param("team", factories.team(
        team_type="1", unit_type="09", uscc=OMIT, registration_dept=OMIT,
        registration_authority=OMIT,
        approving_unit={"name": "北京市朝阳区建外街道建国里社区居民委员会",
                        "uscc": "11110105000012343Q", "contact": "赵敏",
                        "phone": "010-65002345-123"}), id="team-type-1-with-approving-unit"),
    pytest.param("service_record", factories.service_record(
        started_at="2024-05-01T01:00:00Z", ended_at="2024-05-01T12:30:00+08:00"),
        id="service-record-with-offsets"),
    pytest.param("commendation", factories.commendation(
        subject="team", volunteer_no=OMIT, name="2024年度朝阳区优秀志愿服务组织"),
        id="commendation-of-team"),
    pytest.param("evaluation", factories.evaluation(punctuality=1, attitude=3, professionalism=5),
                 id="evaluation-score-bounds"),
    pytest.param("project", factories.project(posts=[], checkin_points=[
        {"lng": -180, "lat": 90, "radius_m": 10}, {"lng": 180, "lat": -90, "radius_m": 5000}]),
        id="project-geofence-bounds"),
    pytest.param("batch", factories.batch(records=[
        {"entity": "volunteer", "op": "delete", "data": {"volunteer_no": factories.VOLUNTEER_NO}}]),
        id="batch-delete"),
]


@pytest.mark.parametrize(("name", "record"), GOOD_VARIANTS)
def test_good_variant_is_valid(name, record):
    assert verdicts(name, record) == (True, True), errors(name, record)


# -------------------------------------------------------------------------------- bad records
# (entity, changes by JSON Pointer, instance pointer of the error, jsonschema keyword)

def bad(name: str, case: str, changes: dict[str, Any], at: str, keyword: str) -> Any:
    return pytest.param(name, changes, at, keyword, id=f"{name}-{case}")


BAD = [
    # volunteer
    bad("volunteer", "unknown-property", {"/nickname": "小王"}, "", "additionalProperties"),
    bad("volunteer", "wrong-type", {"/gender": 2}, "/gender", "type"),
    bad("volunteer", "unknown-code", {"/id_type": "08"}, "/id_type", "enum"),
    bad("volunteer", "too-long-name", {"/name": "王" * 21}, "/name", "maxLength"),
    bad("volunteer", "bad-mobile", {"/mobile": "23800138000"}, "/mobile", "pattern"),
    bad("volunteer", "missing-required", {"/mobile": OMIT}, "", "required"),
    bad("volunteer", "region-trailing-newline", {"/residence_area": "110105\n"},
        "/residence_area", "pattern"),
    bad("volunteer", "mobile-fullwidth-digit", {"/mobile": "13８00138000"}, "/mobile", "pattern"),
    bad("volunteer", "region-arabic-indic-digit", {"/residence_area": "11010\u0665"},
        "/residence_area", "pattern"),
    bad("volunteer", "region-7-digits", {"/service_area": "1101051"}, "/service_area", "pattern"),
    bad("volunteer", "name-cjk-with-space", {"/name": "王 淑兰"}, "/name", "pattern"),
    bad("volunteer", "name-trailing-dot", {"/name": "王淑兰·"}, "/name", "pattern"),
    bad("volunteer", "name-latin-digit", {"/name": "John2 Smith"}, "/name", "pattern"),
    bad("volunteer", "name-trailing-newline", {"/name": "王淑兰\n"}, "/name", "pattern"),
    bad("volunteer", "birth-date-required-for-passport",
        {"/id_type": "05", "/birth_date": OMIT}, "", "required"),
    bad("volunteer", "birth-date-required-for-legacy-type",
        {"/id_type": "6", "/birth_date": OMIT}, "", "required"),
    bad("volunteer", "birth-date-not-a-date", {"/birth_date": "1949-02-30"}, "/birth_date", "format"),
    bad("volunteer", "birth-date-year-0000", {"/birth_date": "0000-01-01"}, "/birth_date", "pattern"),
    bad("volunteer", "birth-date-basic-format", {"/birth_date": "19491231"}, "/birth_date", "pattern"),
    bad("volunteer", "nationality-alpha", {"/nationality": "CHN"}, "/nationality", "enum"),
    bad("volunteer", "too-many-categories",
        {"/service_categories": ["0001", "0002", "0003", "0004", "0005"]},
        "/service_categories", "maxItems"),
    bad("volunteer", "duplicate-skill", {"/skills": ["19", "19"]}, "/skills", "uniqueItems"),
    bad("volunteer", "unknown-skill", {"/skills": ["19", "00"]}, "/skills/1", "enum"),
    bad("volunteer", "language-as-number", {"/languages": [4887]}, "/languages/0", "type"),
    bad("volunteer", "email-without-domain", {"/email": "wang@"}, "/email", "pattern"),
    bad("volunteer", "date-time-with-space", {"/source_updated_at": "2024-03-15 10:20:30"},
        "/source_updated_at", "pattern"),
    bad("volunteer", "source-id-too-long", {"/source_id": "x" * 65}, "/source_id", "maxLength"),
    bad("volunteer", "guardian-missing-relation",
        {"/guardian": {"name": "李建国", "mobile": "13700137000"}}, "/guardian", "required"),
    bad("volunteer", "guardian-unknown-property",
        {"/guardian": {**factories.guardian(), "id_number": "110105197001010012"}},
        "/guardian", "additionalProperties"),
    bad("volunteer", "negative-total-hours", {"/total_hours": -1}, "/total_hours", "minimum"),
    # team
    bad("team", "unknown-property", {"/website": "https://example.org"}, "", "additionalProperties"),
    bad("team", "wrong-type", {"/team_type": 2}, "/team_type", "type"),
    bad("team", "unknown-code", {"/unit_type": "00"}, "/unit_type", "enum"),
    bad("team", "too-long-name", {"/name": "社" * 101}, "/name", "maxLength"),
    bad("team", "bad-mobile", {"/contact_mobile": "1391111222"}, "/contact_mobile", "pattern"),
    bad("team", "missing-required", {"/area": OMIT}, "", "required"),
    bad("team", "uscc-with-letter-I", {"/uscc": "52110105MI00123422"}, "/uscc", "pattern"),
    bad("team", "uscc-lowercase", {"/uscc": "52110105mj00123422"}, "/uscc", "pattern"),
    bad("team", "approving-unit-bad-phone", {"/approving_unit": {"phone": "65002345"}},
        "/approving_unit/phone", "pattern"),
    bad("team", "approving-unit-unknown-property", {"/approving_unit": {"address": "x"}},
        "/approving_unit", "additionalProperties"),
    bad("team", "established-on-not-a-date", {"/established_on": "2019-06-31"},
        "/established_on", "format"),
    # project
    bad("project", "unknown-property", {"/budget": 10000}, "", "additionalProperties"),
    bad("project", "wrong-type", {"/posts/0/headcount": "10"}, "/posts/0/headcount", "type"),
    bad("project", "unknown-code", {"/service_category": "0021"}, "/service_category", "enum"),
    bad("project", "too-long-name", {"/name": "项" * 101}, "/name", "maxLength"),
    bad("project", "bad-mobile", {"/contact/mobile": "1391111222a"}, "/contact/mobile", "pattern"),
    bad("project", "missing-required", {"/starts_on": OMIT}, "", "required"),
    bad("project", "bad-landline", {"/contact/landline": "01065001234"}, "/contact/landline",
        "pattern"),
    bad("project", "public-flag-as-string", {"/contact/name_public": "true"},
        "/contact/name_public", "type"),
    bad("project", "headcount-zero", {"/posts/0/headcount": 0}, "/posts/0/headcount", "minimum"),
    bad("project", "headcount-fraction", {"/posts/0/headcount": 1.5}, "/posts/0/headcount", "type"),
    bad("project", "post-missing-name", {"/posts/0/name": OMIT}, "/posts/0", "required"),
    bad("project", "post-unknown-property", {"/posts/0/salary": 0}, "/posts/0",
        "additionalProperties"),
    bad("project", "radius-too-large", {"/checkin_points/0/radius_m": 5001},
        "/checkin_points/0/radius_m", "maximum"),
    bad("project", "longitude-out-of-range", {"/checkin_points/0/lng": 181},
        "/checkin_points/0/lng", "maximum"),
    bad("project", "guarantee-unknown", {"/guarantees": ["12"]}, "/guarantees/0", "enum"),
    # enrollment
    bad("enrollment", "unknown-property", {"/remark": "x"}, "", "additionalProperties"),
    bad("enrollment", "wrong-type", {"/invited": "false"}, "/invited", "type"),
    bad("enrollment", "unknown-code", {"/status": "0"}, "/status", "enum"),
    bad("enrollment", "too-long-post-no", {"/post_no": "P" * 33}, "/post_no", "maxLength"),
    bad("enrollment", "bad-volunteer-no", {"/volunteer_no": "V110000220100004V"}, "/volunteer_no",
        "pattern"),
    bad("enrollment", "missing-required", {"/status": OMIT}, "", "required"),
    # service_record
    bad("service_record", "unknown-property", {"/location": "x"}, "", "additionalProperties"),
    bad("service_record", "wrong-type", {"/hours": "3.5"}, "/hours", "type"),
    bad("service_record", "unknown-code", {"/status": "6"}, "/status", "enum"),
    bad("service_record", "too-long-description", {"/description": "x" * 2001}, "/description",
        "maxLength"),
    bad("service_record", "bad-date-time", {"/started_at": "2024-05-01T09:00"}, "/started_at",
        "pattern"),
    bad("service_record", "missing-required", {"/ended_at": OMIT}, "", "required"),
    bad("service_record", "offset-without-colon", {"/ended_at": "2024-05-01T12:30:00+0800"},
        "/ended_at", "pattern"),
    bad("service_record", "hours-zero", {"/hours": 0}, "/hours", "exclusiveMinimum"),
    bad("service_record", "hours-over-a-day", {"/hours": 24.5}, "/hours", "maximum"),
    bad("service_record", "hours-boolean", {"/hours": True}, "/hours", "type"),
    bad("service_record", "code-as-number", {"/source": 1}, "/source", "type"),
    # training
    bad("training", "unknown-property", {"/teacher": "x"}, "", "additionalProperties"),
    bad("training", "wrong-type", {"/hours": "2"}, "/hours", "type"),
    bad("training", "unknown-code", {"/training_mode": "3"}, "/training_mode", "enum"),
    bad("training", "too-long-name", {"/name": "培" * 101}, "/name", "maxLength"),
    bad("training", "bad-date", {"/held_on": "2024/04/10"}, "/held_on", "pattern"),
    bad("training", "missing-required", {"/held_on": OMIT}, "", "required"),
    # commendation
    bad("commendation", "unknown-property", {"/bonus": 100}, "", "additionalProperties"),
    bad("commendation", "wrong-type", {"/awarded_on": 20241205}, "/awarded_on", "type"),
    bad("commendation", "unknown-code", {"/level": "6"}, "/level", "enum"),
    bad("commendation", "too-long-name", {"/name": "优" * 101}, "/name", "maxLength"),
    bad("commendation", "bad-volunteer-no", {"/volunteer_no": "v1100002201000004v"},
        "/volunteer_no", "pattern"),
    bad("commendation", "missing-required", {"/issuer": OMIT}, "", "required"),
    bad("commendation", "volunteer-subject-without-volunteer",
        {"/volunteer_no": OMIT}, "", "required"),
    bad("commendation", "team-subject-without-team",
        {"/subject": "team", "/team_no": OMIT}, "", "required"),
    bad("commendation", "unknown-subject", {"/subject": "person"}, "/subject", "enum"),
    # evaluation
    bad("evaluation", "unknown-property", {"/overall": 5}, "", "additionalProperties"),
    bad("evaluation", "wrong-type", {"/punctuality": "5"}, "/punctuality", "type"),
    bad("evaluation", "score-out-of-range", {"/attitude": 6}, "/attitude", "maximum"),
    bad("evaluation", "score-zero", {"/punctuality": 0}, "/punctuality", "minimum"),
    bad("evaluation", "score-fraction", {"/professionalism": 4.5}, "/professionalism", "type"),
    bad("evaluation", "too-long-comment", {"/comment": "好" * 2001}, "/comment", "maxLength"),
    bad("evaluation", "bad-date-time", {"/evaluated_at": "2024-05-02T10:00:00+8"},
        "/evaluated_at", "pattern"),
    bad("evaluation", "missing-required", {"/professionalism": OMIT}, "", "required"),
    # complaint
    bad("complaint", "unknown-property", {"/anonymous": True}, "", "additionalProperties"),
    bad("complaint", "wrong-type", {"/content": ["x"]}, "/content", "type"),
    bad("complaint", "unknown-code", {"/kind": "4"}, "/kind", "enum"),
    bad("complaint", "too-long-content", {"/content": "诉" * 2001}, "/content", "maxLength"),
    bad("complaint", "bad-date-time", {"/submitted_at": "2024-05-03"}, "/submitted_at", "pattern"),
    bad("complaint", "missing-required", {"/submitted_at": OMIT}, "", "required"),
    bad("complaint", "unknown-status", {"/status": "pending"}, "/status", "enum"),
    # certificate
    bad("certificate", "unknown-property", {"/qr_code": "x"}, "", "additionalProperties"),
    bad("certificate", "wrong-type", {"/service/hours": "3.5"}, "/service/hours", "type"),
    bad("certificate", "unknown-code", {"/volunteer/id_type": "08"}, "/volunteer/id_type", "enum"),
    bad("certificate", "too-long-name", {"/volunteer/name": "王" * 21}, "/volunteer/name",
        "maxLength"),
    bad("certificate", "bad-phone", {"/issuer/contact": "1380013800"}, "/issuer/contact", "pattern"),
    bad("certificate", "missing-required", {"/verification_code": OMIT}, "", "required"),
    bad("certificate", "item-unknown-property", {"/service/items/0/note": "x"},
        "/service/items/0", "additionalProperties"),
    bad("certificate", "unknown-hours-kind", {"/service/kind": "3"}, "/service/kind", "enum"),
    bad("certificate", "unknown-status", {"/status": "expired"}, "/status", "enum"),
    # batch
    bad("batch", "unknown-property", {"/note": "x"}, "", "additionalProperties"),
    bad("batch", "wrong-type", {"/records": {}}, "/records", "type"),
    bad("batch", "unknown-entity", {"/records/0/entity": "post"}, "/records/0/entity", "enum"),
    bad("batch", "too-long-sender", {"/sender": "s" * 65}, "/sender", "maxLength"),
    bad("batch", "bad-date-time", {"/generated_at": "2024-05-01"}, "/generated_at", "pattern"),
    bad("batch", "missing-required", {"/records": OMIT}, "", "required"),
    bad("batch", "no-records", {"/records": []}, "/records", "minItems"),
    bad("batch", "other-version", {"/schema_version": "2"}, "/schema_version", "const"),
    bad("batch", "version-as-number", {"/schema_version": 1}, "/schema_version", "const"),
    bad("batch", "unknown-op", {"/records/0/op": "insert"}, "/records/0/op", "enum"),
    bad("batch", "data-not-object", {"/records/0/data": "x"}, "/records/0/data", "type"),
    bad("batch", "record-without-data", {"/records/0/data": OMIT}, "/records/0", "required"),
    bad("batch", "record-unknown-property", {"/records/0/id": 1}, "/records/0",
        "additionalProperties"),
]

# Every schema has these kinds of bad case (ids "<schema>-<kind>..."): an unknown property, a
# wrong type, a missing required property, a value outside its code list / enum / range, a
# string that is too long, and a string that breaks its pattern.
BAD_KINDS = ("unknown-property", "wrong-type", "missing-required",
             ("unknown-code", "unknown-entity", "score-out-of-range"),
             ("too-long",), ("bad-",))


def test_every_schema_has_each_kind_of_bad_case():
    ids = [p.id for p in BAD]
    for name in SCHEMA_NAMES:
        for kind in BAD_KINDS:
            prefixes = (kind,) if isinstance(kind, str) else kind
            assert any(i.startswith(f"{name}-{p}") for i in ids for p in prefixes), (name, kind)


@pytest.mark.parametrize(("name", "changes", "at", "keyword"), BAD)
def test_bad_record_is_rejected_by_both(name, changes, at, keyword):
    record = changed(factories.ENTITIES[name](), changes)
    assert verdicts(name, record) == (False, False)
    py, rs = errors(name, record)
    assert (at, keyword) in py, py
    assert {ptr for ptr, _ in py} == rs


# ----------------------------------------------------------------------------------- factories

@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_factories_return_fresh_records(name):
    make = factories.ENTITIES[name]
    first, second = make(), make()
    assert first == second and first is not second
    for value in first.values():
        if isinstance(value, (dict, list)):
            value.clear()
    assert make() == second


def test_factory_overrides_and_omit():
    record = factories.volunteer(mobile="13900139000", birth_date=OMIT)
    assert record["mobile"] == "13900139000"
    assert "birth_date" not in record


def test_factory_identifiers_pass_their_checksums():
    from stdnum.cn import ric, uscc
    assert ric.is_valid(factories.volunteer()["id_number"])
    assert ric.is_valid(factories.minor_volunteer()["id_number"])
    assert uscc.is_valid(factories.team()["uscc"])


# --------------------------------------------------------------------------------------- docs

def _doc_sections() -> dict[str, list[list[str]]]:
    sections: dict[str, list[list[str]]] = {}
    current = None
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## `(\w+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), [])
        elif current is not None and line.startswith("| `"):
            current.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return sections


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_docs_match_schema(name):
    rows = _doc_sections()[name]
    expected = list(fields(schema(name)))
    assert [row[0].strip("`") for row in rows] == [key for key, _, _ in expected]
    for row, (key, sub, required) in zip(rows, expected):
        _, title, code, kind, req = row
        assert title == sub["title"], key
        assert code == sub.get("x-national-code", ""), key
        assert (req == "yes") == required, key
        table = sub.get("x-code-table") or (sub.get("items") or {}).get("x-code-table")
        if table:
            assert f"`{table}`" in kind, key
