"""The copies of the standard shipped inside conformance_tests match the originals.

The data role reads exports in the national field-coded format without reading the
gateway's schemas at run time, so it ships ``conformance_tests/data/national.json``: for
each entity, every ``x-national-code`` of schemas/v1 with the field it names and how its
value is written (adapters/national.py reads the same annotations). When a schema changes,
regenerate it: ``.venv/bin/python tests/conformance/test_national_table.py`` (which also
refreshes the copy of schemas/v1 in ``conformance_tests/data/schemas/v1``, read by the client
role without the gateway's ``schemas`` package, and the county table is checked too).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "conformance_tests" / "data" / "national.json"
ENTITIES = ("volunteer", "team", "project", "service_record")


def _kind(prop: dict) -> str:
    if prop.get("x-region"):
        return "region"
    if prop.get("x-format") == "local-date-time":
        return "datetime"
    if prop.get("type") == "array" and prop.get("items", {}).get("type") == "string":
        return "codes"
    return prop.get("type", "string") if prop.get("type") in ("number", "integer") else "string"


def derive() -> dict:
    table = {}
    for entity in ENTITIES:
        schema = json.loads((ROOT / "schemas" / "v1" / f"{entity}.schema.json").read_text("utf-8"))
        fields = []
        for key, prop in schema["properties"].items():
            if "x-national-code" in prop:
                fields.append({"code": prop["x-national-code"], "path": [key], "kind": _kind(prop)})
            elif prop.get("type") == "object":
                for sub, subprop in prop.get("properties", {}).items():
                    if "x-national-code" in subprop:
                        fields.append({"code": subprop["x-national-code"], "path": [key, sub],
                                       "kind": _kind(subprop)})
        table[entity] = {"table": schema.get("x-national-table"), "fields": fields}
    return {"format": "vgw-national/1", "source": "schemas/v1/*.schema.json x-national-code",
            "entities": table}


def render() -> str:
    return json.dumps(derive(), ensure_ascii=False, indent=1) + "\n"


def test_the_shipped_national_table_matches_the_schemas():
    assert SHIPPED.read_text("utf-8") == render(), (
        "conformance_tests/data/national.json is out of date: run "
        ".venv/bin/python tests/conformance/test_national_table.py")


def test_the_shipped_counties_are_the_current_ones():
    import csv
    shipped = [line for line in (ROOT / "conformance_tests" / "data" / "counties.csv")
               .read_text("utf-8").splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(shipped))
    with open(ROOT / "schemas" / "regions" / "areas.csv", encoding="utf-8") as f:
        current = {r["code"]: r["name"] for r in csv.DictReader(f)}
    assert {r["code"]: r["name"] for r in rows} == current


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_shipped_schemas_are_the_published_ones(version):
    shipped = ROOT / "conformance_tests" / "data" / "schemas" / version
    published = ROOT / "schemas" / version
    names = sorted(p.name for p in published.glob("*.schema.json"))
    assert sorted(p.name for p in shipped.glob("*.schema.json")) == names
    for name in names:
        assert (shipped / name).read_bytes() == (published / name).read_bytes(), (
            f"conformance_tests/data/schemas/{version}/{name} is out of date: run "
            ".venv/bin/python tests/conformance/test_national_table.py")


if __name__ == "__main__":
    import shutil
    for version in ("v1", "v2"):
        for schema in (ROOT / "schemas" / version).glob("*.schema.json"):
            shutil.copyfile(schema, ROOT / "conformance_tests" / "data" / "schemas" / version
                            / schema.name)
    SHIPPED.write_text(render(), encoding="utf-8")
    print(f"wrote {SHIPPED}", file=sys.stderr)
