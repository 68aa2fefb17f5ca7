"""Adapters are found through the ``vgw.adapters`` entry points, built-in ones included; the
example adapter of docs/adapters.md is run from the page through the contract suite."""

from __future__ import annotations

import logging
import re
import sys
import types
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from tests import factories

import gateway.adapter as adapter_module
from adapters.national import NationalAdapter
from adapters.spreadsheet import SpreadsheetAdapter
from gateway.adapter import (Adapter, AdapterError, AdapterNotFound, AdapterSettingsError,
                             ReadOnlyAdapter, discover, load_adapter)
from gateway.adapter_contract import AdapterContract

ROOT = Path(__file__).resolve().parents[3]
GROUP = "vgw.adapters"


# -- the example of docs/adapters.md, executed from the page -------------------------------

def _doc_example() -> types.ModuleType:
    text = (ROOT / "docs" / "adapters.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    source = next(b for b in blocks if "class MemoryAdapter" in b)
    module = types.ModuleType("vgw_doc_example")
    sys.modules["vgw_doc_example"] = module
    exec(compile(source, "docs/adapters.md", "exec"), module.__dict__)
    return module


DOC = _doc_example()


def _citizen_id(region: str, birth: str, seq: int) -> str:
    return factories.citizen_id(seq, area=region, born=birth)


DOC_SAMPLES = [
    {"volunteer_no": "V1100002201000004V", "name": "王淑兰", "id_type": "01",
     "id_number": "11010519491231002X", "gender": "2", "birth_date": "1949-12-31",
     "mobile": "13800138000"},
    {"name": "张伟", "id_type": "01", "id_number": _citizen_id("110105", "19850312", 15),
     "gender": "1", "mobile": "13911112222"},
    {"volunteer_no": "V4403002312000017K", "name": "Chan Tai Man", "id_type": "02",
     "id_number": "H12345678", "gender": "1", "birth_date": "1990-07-01", "mobile": "13512345678"},
]


class TestDocExampleContract(AdapterContract):
    """The three lines of docs/adapters.md, with the page's own adapter."""

    sample_records = {"volunteer": DOC_SAMPLES}
    entry_point_name = None          # registered below through a patched entry-point list
    bad_settings = [({}, "/system"), ({"system": ""}, "/system"), ({"system": "a", "x": 1}, "/x")]

    def make_adapter(self):
        return DOC.MemoryAdapter({"system": str(self.tmp_path)})

    def invalid_native_record(self, entity):
        return {"xm": "赵六", "zjlx": "01", "zjhm": "11010519491231002X", "xb": "X",
                "sjh": "13800138000"}


class ReadOnlyMemory(DOC.MemoryAdapter):
    writable = False
    write = Adapter.write


class TestReadOnlyContract(AdapterContract):
    """A read-only adapter: the write tests are skipped, seed() fills the source."""

    sample_records = {"volunteer": DOC_SAMPLES}
    entry_point_name = None

    def make_adapter(self):
        return ReadOnlyMemory({"system": "ro-" + str(self.tmp_path)})

    def seed(self, adapter, entity, native_records):
        rows = DOC.SYSTEMS.setdefault(adapter.settings["system"], {})
        for native in native_records:
            rows[f"r{len(rows)}"] = (len(rows) + 1, dict(native))

    def invalid_native_record(self, entity):
        return {"xm": "赵六", "xb": "?"}


def test_read_only_write_raises():
    adapter = ReadOnlyMemory({"system": "ro-x"})
    with pytest.raises(ReadOnlyAdapter):
        adapter.write("volunteer", DOC_SAMPLES)


# -- discovery ------------------------------------------------------------------------------

def test_built_in_adapters_are_registered_as_entry_points():
    values = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    assert values["national"] == "adapters.national:NationalAdapter"
    assert values["spreadsheet"] == "adapters.spreadsheet:SpreadsheetAdapter"


def test_discover_finds_the_built_in_adapters():
    found = discover()
    assert found["national"] is NationalAdapter
    assert found["spreadsheet"] is SpreadsheetAdapter
    assert Adapter.discover() == found
    for name, cls in found.items():
        assert cls.name == name, f"entry point {name} names an adapter called {cls.name}"


def test_load_adapter_builds_with_validated_settings(tmp_path):
    adapter = load_adapter("national", {"path": str(tmp_path)})
    assert isinstance(adapter, NationalAdapter)
    assert adapter.check().ok
    with pytest.raises(AdapterSettingsError) as info:
        load_adapter("national", {})
    assert info.value.field == "/path"
    assert "national" in str(info.value)
    with pytest.raises(AdapterNotFound) as missing:
        load_adapter("no-such-adapter", {})
    assert "national" in str(missing.value)


@pytest.fixture
def third_party(monkeypatch):
    """A third party's package installed: its entry points join the gateway's own."""
    real = entry_points

    def patched(**kwargs):
        eps = list(real(**kwargs))
        if kwargs.get("group") == GROUP:
            eps += [EntryPoint("memory-example", "vgw_doc_example:MemoryAdapter", GROUP),
                    EntryPoint("broken", "vgw_no_such_package.adapter:Broken", GROUP),
                    EntryPoint("not-an-adapter", "json:dumps", GROUP)]
        return eps

    monkeypatch.setattr(adapter_module, "entry_points", patched)


def test_a_third_party_adapter_is_found_like_the_built_in_ones(third_party, caplog):
    with caplog.at_level(logging.ERROR, logger="gateway.adapter"):
        found = discover()
    assert found["memory-example"] is DOC.MemoryAdapter
    assert found["national"] is NationalAdapter
    assert "broken" not in found and "not-an-adapter" not in found
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "broken" in logged and "not-an-adapter" in logged
    adapter = load_adapter("memory-example", {"system": "third-party"})
    assert adapter.write("volunteer", DOC_SAMPLES[:1])[0].ok
    with pytest.raises(ModuleNotFoundError):
        load_adapter("broken", {})
    with pytest.raises(AdapterError, match="not a gateway.adapter.Adapter"):
        load_adapter("not-an-adapter", {})


def test_gateway_never_imports_an_adapter_by_name():
    pattern = re.compile(r"^\s*(from\s+adapters(\.|\s)|import\s+adapters\b)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "gateway").rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_an_incomplete_adapter_cannot_be_built():
    class Half(Adapter):
        name = "half"
        entities = ("volunteer",)

        def check(self):
            raise NotImplementedError

    with pytest.raises(TypeError):
        Half({})


def test_settings_errors_name_the_field():
    class Strict(DOC.MemoryAdapter):
        settings_schema = {"type": "object", "required": ["system"],
                           "properties": {"system": {"type": "string"},
                                          "limits": {"type": "object",
                                                     "properties": {"rows": {"type": "integer"}}}}}

    with pytest.raises(AdapterSettingsError) as info:
        Strict({"system": "s", "limits": {"rows": "many"}})
    assert info.value.field == "/limits/rows"
    with pytest.raises(AdapterSettingsError) as info:
        Strict({"limits": {}})
    assert info.value.field == "/system"
    with pytest.raises(AdapterSettingsError) as info:
        Strict("system=s")  # type: ignore[arg-type]
    assert info.value.field == ""
