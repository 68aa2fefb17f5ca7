"""The adapter contract suite: pytest tests any adapter must pass (docs/adapters.md, R1–R16).

A third party runs it against their adapter with a few lines in a test module::

    from gateway.adapter_contract import AdapterContract
    from my_package.adapter import MyAdapter

    class TestMyAdapter(AdapterContract):
        sample_records = {"volunteer": [volunteer_1, volunteer_2, volunteer_3]}
        def make_adapter(self): return MyAdapter({"url": "http://127.0.0.1:8099"})

What the subclass provides
    ``make_adapter()`` — a *fresh* adapter pointed at a *fresh, empty* target (every test
    calls it once; ``self.tmp_path`` is a new temporary folder per test, handy for
    file-based targets). The suite builds a second instance over the same target with
    ``type(adapter)(adapter.settings, http=adapter.http)`` to check that a cursor survives
    a restart, so the settings must be all an adapter needs to find its target.

    ``sample_records`` — ``{entity: [standard records]}``: valid records (the gateway's
    engine must find them valid) using every field the adapter can carry; at least three
    per entity so that paging and cursors are exercised (page size 2).

Deletions (R15): an adapter that declares ``can_delete = True`` is tested on ``delete``
(the samples are written, the first is deleted by its number, it reads back deleted or
absent while the others stay; deleting again, or a number never written, answers ``ok``);
one that does not must refuse ``delete`` with :class:`~gateway.adapter.DeletesNotSupported`
and say why (``cannot_delete_reason``).

``schema_version`` — the version of the standard records (default "1"); ``native_samples``
— ``{entity: [native records]}`` as the target really sends them; each must round-trip
native → standard → native unchanged.

Optional hooks
    ``seed(adapter, entity, native_records)`` — put native records into the target; needed
    for read-only adapters (``writable = False``), whose write tests are skipped.
    ``invalid_native_record(entity)`` — a native record ``to_standard`` must refuse with
    :class:`~gateway.adapter.MappingError`; without it the native error tests are skipped.
    ``invalid_standard_record(entity, record)`` — a standard record ``write`` must refuse;
    the default puts an unknown code into every coded field.
    ``bad_settings`` — ``[(settings, field pointer or None)]`` that must be refused; the
    default is ``[({}, None)]`` when the settings schema has required properties.
    ``entry_point_name`` — the name the adapter is registered under (default: its ``name``);
    ``None`` skips the registration test.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import jsonschema
import pytest

import schemas
from gateway.adapter import (NUMBER_KEYS, Adapter, AdapterError, AdapterSettingsError, CheckResult,
                             DeletesNotSupported, MappingError, NativeItem, Page, WriteResult,
                             discover)
from gateway.standard.engine import Engine
from gateway.standard.regions import Regions

__all__ = ["AdapterContract", "CannotSeed", "contract_engine", "example_records", "read_all"]


class CannotSeed(Exception):
    """Raised by the default :meth:`AdapterContract.seed`: this suite subclass has no way to put
    native records into the target (writable adapters are seeded through ``write``)."""

_PAGE = 2
_MAX_PAGES = 10_000


@lru_cache(maxsize=1)
def contract_engine() -> Engine:
    """The gateway's validation engine with the shipped tables (Asia/Shanghai)."""
    return Engine(Regions.load(), ZoneInfo("Asia/Shanghai"))


def read_all(adapter: Adapter, entity: str, cursor: str | None = None,
             page_size: int = _PAGE) -> tuple[list[NativeItem], str | None, list[Page]]:
    """Every item from ``cursor`` to the end, the final cursor, and the pages read."""
    items: list[NativeItem] = []
    pages: list[Page] = []
    for _ in range(_MAX_PAGES):
        page = adapter.read(entity, cursor, page_size)
        assert isinstance(page, Page), f"read() must return a Page, not {type(page).__name__}"
        assert len(page.items) <= page_size, (
            f"{entity}: a page of {len(page.items)} items for page_size {page_size}")
        pages.append(page)
        items.extend(page.items)
        if page.items:
            assert page.next_cursor is not None, f"{entity}: a non-empty page without next_cursor"
            assert isinstance(page.next_cursor, str), "cursors are text"
        cursor = page.next_cursor if page.next_cursor is not None else cursor
        if not page.has_more:
            return items, cursor, pages
        assert page.items, f"{entity}: has_more=True on an empty page would loop forever"
    raise AssertionError(f"{entity}: read() did not finish within {_MAX_PAGES} pages")


def _citizen_id(region: str, birth: str, seq: int) -> str:
    from stdnum.cn import ric
    body = f"{region}{birth}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum ignores the 18th character


def _uscc(body16: str) -> str:
    """A unified social credit code from its first 17 characters minus the org check digit."""
    from stdnum.cn import uscc
    org = body16[8:16]
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    total = sum(alphabet.index(c) * w for c, w in zip(org, weights))
    check = 11 - total % 11
    org_check = {10: "X", 11: "0"}.get(check, str(check))
    head = body16 + org_check
    return head + uscc.calc_check_digit(head)


def example_records(*entities: str) -> dict[str, list[dict[str, Any]]]:
    """Three valid, varied standard records of each of ``entities`` (volunteer, team,
    project, service_record), every field used at least once: ready-made ``sample_records``
    for an adapter that carries the whole standard."""
    vol_no = ("V1100002201000004V", "V1100002201000005V", "V4403002312000017K")
    team_no = ("T1101050001", "T1101050002", "T4403050001")
    project_no = ("P110105202404001", "P110105202404002", "P440305202405001")
    samples: dict[str, list[dict[str, Any]]] = {
        "volunteer": [
            {"volunteer_no": vol_no[0], "name": "王淑兰", "id_type": "01",
             "id_number": "11010519491231002X",
             "gender": "2", "birth_date": "1949-12-31", "nationality": "156", "ethnicity": "01",
             "political_status": "01", "education": "40", "employment_status": "80",
             "mobile": "13800138000", "email": "wangshulan@example.com",
             "address": "北京市朝阳区建国路88号院3号楼", "residence_area": "110105",
             "service_area": "110105001", "service_categories": ["0001", "0017"],
             "skills": ["19", "20"], "availability": ["01", "02", "16"], "languages": ["4887"],
             "registered_at": "2024-03-15", "registration_area": "110105",
             "real_name_status": "1", "source_id": "vol-000123",
             "source_updated_at": "2024-03-15T10:20:30"},
            {"volunteer_no": vol_no[1], "name": "李子轩", "id_type": "01",
             "id_number": _citizen_id("110105", "20140901", 13), "gender": "1",
             "nationality": "156", "ethnicity": "03", "political_status": "13",
             "education": "80", "employment_status": "31", "mobile": "13911113333",
             "residence_area": "110105", "service_area": "110105", "service_categories": ["0006"],
             "skills": [], "registered_at": "2024-03-15", "registration_area": "110105",
             "real_name_status": "1",
             "guardian": {"name": "李建国", "relation": "父亲", "mobile": "13700137000",
                          "consent_at": "2024-03-14T20:00:00"},
             "source_id": "vol-000124", "source_updated_at": "2024-03-15T10:21:00+08:00"},
            {"volunteer_no": vol_no[2], "name": "Chan Tai Man", "id_type": "02",
             "id_number": "H12345678", "gender": "1", "birth_date": "1990-07-01",
             "nationality": "344", "mobile": "13512345678", "email": "tm.chan@example.hk",
             "residence_area": "440305", "service_area": "440305", "languages": ["4887", "4888"],
             "registered_at": "2023-12-01", "registration_area": "440305",
             "real_name_status": "0", "star_level": "1", "total_hours": 120.5,
             "source_id": "vol-hk-1"},
        ],
        "team": [
            {"team_no": team_no[0], "name": "北京市朝阳区建外街道社区志愿服务中心", "team_type": "2",
             "unit_type": "14", "registration_dept": "1", "registration_authority": "北京市朝阳区民政局",
             "uscc": "52110105MJ00123422", "contact_name": "张伟", "contact_mobile": "13911112222",
             "area": "110105", "address": "北京市朝阳区建国门外大街1号", "established_on": "2019-06-01",
             "status": "1", "join_policy": "1", "service_categories": ["0001", "0017"],
             "source_id": "team-0001", "source_updated_at": "2024-01-10T09:00:00"},
            {"team_no": team_no[1], "name": "建外街道永安里社区志愿服务队", "team_type": "1",
             "unit_type": "09",
             "approving_unit": {"name": "永安里社区居民委员会", "uscc": _uscc("5711010512345678"),
                                "contact": "刘芳", "phone": "010-65001234"},
             "contact_name": "刘芳", "contact_mobile": "13911114444", "area": "110105001",
             "status": "2", "join_policy": "2", "parent_team_no": team_no[0]},
            {"team_no": team_no[2], "name": "深圳市南山区蓝天应急志愿服务中心", "team_type": "3",
             "unit_type": "15", "uscc": _uscc("5244030587654321"), "contact_name": "陈明",
             "contact_mobile": "13612345678", "area": "440305", "status": "1",
             "source_id": "team-sz-1"},
        ],
        "project": [
            {"project_no": project_no[0], "name": "建外街道社区助老志愿服务", "team_no": team_no[0],
             "starts_on": "2024-04-01", "ends_on": "2024-06-30", "service_category": "0001",
             "service_objects": ["03"], "guarantees": ["01", "05"], "area": "110105",
             "address": "北京市朝阳区建国门外大街1号社区服务站", "recruit_scope": "1", "status": "3",
             "funding_source": "1", "description": "为社区独居老人提供陪伴、代购和健康宣传服务。",
             "contact": {"name": "张伟", "mobile": "13911112222", "landline": "010-65001234",
                         "name_public": True, "mobile_public": False, "landline_public": True},
             "posts": [{"post_no": project_no[0] + "-01", "name": "助老陪伴", "headcount": 10,
                        "starts_at": "2024-04-01T08:00:00", "ends_at": "2024-06-30T18:00:00",
                        "description": "上门陪伴独居老人聊天、读报。"}],
             "checkin_points": [{"name": "建外街道社区服务站", "lng": 116.4439, "lat": 39.9087,
                                 "radius_m": 200}],
             "source_id": "proj-2024-001", "source_updated_at": "2024-03-20T16:45:00"},
            {"project_no": project_no[1], "name": "永安里社区垃圾分类宣传", "team_no": team_no[1],
             "starts_on": "2024-04-15", "ends_on": "2024-04-15", "service_category": "0017",
             "area": "110105001", "status": "6", "service_objects": []},
            {"project_no": project_no[2], "name": "南山区台风应急值守", "team_no": team_no[2],
             "starts_on": "2024-05-01", "ends_on": "2024-10-31", "service_category": "0011",
             "guarantees": ["02"], "area": "440305", "recruit_scope": "3", "status": "4",
             "posts": [{"name": "值守", "headcount": 30}], "source_id": "proj-sz-7"},
        ],
        "service_record": [
            {"record_no": "R2024050100001", "volunteer_no": vol_no[0], "project_no": project_no[0],
             "team_no": team_no[0], "started_at": "2024-05-01T09:00:00",
             "ended_at": "2024-05-01T12:30:00", "hours": 3.5, "source": "1", "status": "2",
             "kind": "1", "recorded_at": "2024-05-01", "applied_at": "2024-05-01T13:00:00",
             "description": "陪伴独居老人并协助购买生活用品。", "source_id": "sr-1",
             "source_updated_at": "2024-05-01T13:05:00"},
            {"record_no": "R2024041500002", "volunteer_no": vol_no[1], "project_no": project_no[1],
             "started_at": "2024-04-15T14:00:00", "ended_at": "2024-04-15T16:00:00",
             "hours": 2, "status": "1"},
            {"record_no": "R2024060100003", "volunteer_no": vol_no[2], "project_no": project_no[2],
             "team_no": team_no[2], "started_at": "2024-06-01T08:00:00+08:00",
             "ended_at": "2024-06-01T08:45:00+08:00", "hours": 0.75, "source": "3",
             "status": "2", "kind": "2"},
        ],
    }
    unknown = [e for e in entities if e not in samples]
    if unknown:
        raise ValueError(f"no example records for {unknown}")
    return {e: copy.deepcopy(samples[e]) for e in entities or samples}


def _canon(record: Any) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


class AdapterContract:
    """Base class of an adapter's contract tests; see the module docstring."""

    sample_records: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    bad_settings: ClassVar[list[tuple[dict[str, Any], str | None]] | None] = None
    entry_point_name: ClassVar[str | None] = ""     # "" = the adapter's own ``name``
    schema_version: ClassVar[str] = "1"             # the version of the standard records
    # ``{entity: [native records]}`` as the target system really sends them: each must map to
    # a valid standard record and back to exactly itself (R7 from the native side).
    native_samples: ClassVar[dict[str, list[dict[str, Any]]]] = {}

    tmp_path: Path

    # -- to be provided by the subclass ----------------------------------------------------

    def make_adapter(self) -> Adapter:
        # A required hook: the subclass says how to build its adapter.
        raise TypeError(f"{type(self).__name__} must define make_adapter() (see docs/adapters.md)")

    def seed(self, adapter: Adapter, entity: str, native_records: list[dict[str, Any]]) -> None:
        """Put native records into the target (read-only adapters must override this)."""
        raise CannotSeed(f"{type(self).__name__} defines no seed()")

    def invalid_native_record(self, entity: str) -> dict[str, Any] | None:
        """A native record ``to_standard`` must refuse (``None``: skip those tests)."""
        return None

    def invalid_standard_record(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` made unwritable: every coded field gets a code no table has (or, in a
        record without codes, the first required field is dropped)."""
        bad = copy.deepcopy(record)
        props = schemas.load_schema(self.schema_version, entity).get("properties", {})
        coded = [key for key in bad if "enum" in props.get(key, {})]
        for key in coded:
            bad[key] = "ZZ"
        if coded:
            return bad
        for key in schemas.load_schema(self.schema_version, entity).get("required", []):
            bad.pop(key, None)
            return bad
        raise AssertionError(f"no way to make a {entity} record invalid; override "
                             "invalid_standard_record()")

    # -- plumbing ----------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _contract_tmp_path(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self._adapters: list[Adapter] = []
        yield
        for adapter in self._adapters:
            adapter.close()

    def pytest_generate_tests(self, metafunc):
        if "entity" in metafunc.fixturenames:
            entities = sorted(self.sample_records)
            metafunc.parametrize("entity", entities or [pytest.param(
                None, marks=pytest.mark.skip(reason="no sample_records"))])

    def _adapter(self) -> Adapter:
        adapter = self.make_adapter()
        assert isinstance(adapter, Adapter), "make_adapter() must return a gateway.adapter.Adapter"
        self._adapters.append(adapter)
        return adapter

    def _reopen(self, adapter: Adapter) -> Adapter:
        again = type(adapter)(adapter.settings, http=adapter.http)
        self._adapters.append(again)
        return again

    def _records(self, entity: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.sample_records[entity])

    def _put(self, adapter: Adapter, entity: str, records: list[dict[str, Any]]) -> None:
        if adapter.writable:
            results = adapter.write(entity, records)
            bad = [(i, r.errors) for i, r in enumerate(results) if not r.ok]
            assert not bad, f"{entity}: writing the sample records failed: {bad}"
        else:
            self._seed(adapter, entity, [adapter.from_standard(entity, r) for r in records])

    def _seed(self, adapter: Adapter, entity: str, natives: list[dict[str, Any]]) -> None:
        try:
            self.seed(adapter, entity, natives)
        except CannotSeed:
            pytest.fail("read-only adapters need seed(adapter, entity, native_records) in "
                        "their contract test class")

    def _standard(self, adapter: Adapter, entity: str, items: list[NativeItem]) -> list[str]:
        return sorted(_canon(adapter.to_standard(entity, item.native)) for item in items
                      if item.op == "upsert")

    def _require_writable(self, adapter: Adapter) -> None:
        if not adapter.writable:
            pytest.skip(f"the {adapter.name} adapter is read-only (writable = False)")

    # -- R1–R3, R12: declaration, settings, registration ---------------------------------

    def test_declares_name_entities_and_settings_schema(self):
        adapter = self._adapter()
        cls = type(adapter)
        assert isinstance(cls.name, str) and cls.name, "R1: an adapter has a name"
        engine_entities = set(contract_engine().entities(self.schema_version))
        assert adapter.entities and set(adapter.entities) <= engine_entities, (
            f"R2: entities must be standard entity names, got {adapter.entities}")
        assert set(self.sample_records) <= set(adapter.entities), (
            "sample_records name entities the adapter does not handle")
        jsonschema.Draft202012Validator.check_schema(cls.settings_schema)
        assert isinstance(adapter.settings, dict)
        # the adapter's own settings satisfy its schema
        assert cls.validate_settings(adapter.settings) == adapter.settings

    def test_bad_settings_are_refused(self):
        cls = type(self._adapter())
        cases = self.bad_settings
        if cases is None:
            cases = [({}, None)] if cls.settings_schema.get("required") else []
        if not cases:
            pytest.skip("no bad settings to try (define bad_settings)")
        for settings, field in cases:
            with pytest.raises(AdapterSettingsError) as info:
                cls(settings)
            assert isinstance(info.value.field, str)
            if field is not None:
                assert info.value.field == field, (settings, info.value)
            assert info.value.message
        with pytest.raises(AdapterSettingsError):
            cls(["not", "a", "mapping"])  # type: ignore[arg-type]

    def test_registered_as_entry_point(self):
        adapter = self._adapter()
        name = adapter.name if self.entry_point_name == "" else self.entry_point_name
        if name is None:
            pytest.skip("entry_point_name = None")
        found = discover()
        assert name in found, f"R12: {name!r} is not in the vgw.adapters entry points"
        assert found[name] is type(adapter)

    # -- R4: check ---------------------------------------------------------------------

    def test_check_reaches_the_system(self):
        result = self._adapter().check()
        assert isinstance(result, CheckResult)
        assert result.ok is True, result.detail
        assert isinstance(result.detail, str)

    # -- R7: mapping without loss ------------------------------------------------------

    def test_sample_records_are_valid(self, entity):
        engine = contract_engine()
        for i, record in enumerate(self._records(entity)):
            report = engine.validate(entity, record, self.schema_version)
            assert report.valid, f"sample {entity}[{i}] is not valid: {report.as_dict()}"

    def test_round_trip_without_loss(self, entity):
        adapter = self._adapter()
        engine = contract_engine()
        for i, record in enumerate(self._records(entity)):
            native = adapter.from_standard(entity, copy.deepcopy(record))
            assert isinstance(native, dict)
            json.dumps(native, ensure_ascii=False)  # natives are JSON (dead letters store them)
            back = adapter.to_standard(entity, copy.deepcopy(native))
            assert back == record, f"{entity}[{i}] changed in the round trip"
            assert engine.validate(entity, back, self.schema_version).valid

    def test_native_samples_round_trip_without_loss(self):
        if not self.native_samples:
            pytest.skip("no native_samples")
        adapter = self._adapter()
        engine = contract_engine()
        for entity, natives in self.native_samples.items():
            for i, native in enumerate(natives):
                record = adapter.to_standard(entity, copy.deepcopy(native))
                report = engine.validate(entity, record, self.schema_version)
                assert report.valid, f"native {entity}[{i}] maps to an invalid record: {report.as_dict()}"
                back = adapter.from_standard(entity, copy.deepcopy(record))
                assert back == native, f"native {entity}[{i}] changed in the round trip"

    def test_unknown_entity_is_refused(self):
        adapter = self._adapter()
        with pytest.raises(AdapterError):
            adapter.read("no_such_entity", None, _PAGE)

    # -- R5, R6: reading in pages, resumable cursors -----------------------------------

    def test_write_then_read_back_in_pages(self, entity):
        adapter = self._adapter()
        records = self._records(entity)
        self._put(adapter, entity, records)
        items, cursor, pages = read_all(adapter, entity)
        ids = [item.source_id for item in items]
        assert all(isinstance(i, str) and i for i in ids), "every item has a source_id"
        assert len(ids) == len(set(ids)) == len(records), (
            f"{entity}: expected each of {len(records)} records exactly once, got {ids}")
        assert all(item.op == "upsert" for item in items)
        assert self._standard(adapter, entity, items) == sorted(_canon(r) for r in records)
        if len(records) > _PAGE:
            assert len(pages) >= 2, "records were not paged"
        # at the end: an empty page that keeps the cursor
        last = adapter.read(entity, cursor, _PAGE)
        assert last.items == [] and last.has_more is False
        assert last.next_cursor == cursor

    def test_empty_target_reads_empty(self, entity):
        adapter = self._adapter()
        if not adapter.writable:
            self._seed(adapter, entity, [])
        page = adapter.read(entity, None, _PAGE)
        assert page.items == [] and page.has_more is False

    def test_cursor_resumes_where_it_stopped(self, entity):
        adapter = self._adapter()
        records = self._records(entity)
        if len(records) < 2:
            pytest.skip("cursor tests need at least two sample records")
        page_size = 1 if len(records) <= _PAGE else _PAGE
        self._put(adapter, entity, records)
        first = adapter.read(entity, None, page_size)
        assert first.items and first.has_more and first.next_cursor
        # the same cursor twice yields the same items
        again = adapter.read(entity, None, page_size)
        assert [i.source_id for i in again.items] == [i.source_id for i in first.items]
        assert again.next_cursor == first.next_cursor
        # the rest, from the stored cursor, through a new instance (a restart)
        rest, _, _ = read_all(self._reopen(adapter), entity, first.next_cursor, page_size)
        seen = [i.source_id for i in first.items] + [i.source_id for i in rest]
        assert sorted(seen) == sorted(set(seen)) and len(seen) == len(records), (
            f"{entity}: resuming lost or repeated records: {seen}")
        rest_again, _, _ = read_all(adapter, entity, first.next_cursor, page_size)
        assert [i.source_id for i in rest_again] == [i.source_id for i in rest]

    # -- R8, R9: per-record errors -----------------------------------------------------

    def test_to_standard_errors_point_into_the_native_record(self, entity):
        adapter = self._adapter()
        bad = self.invalid_native_record(entity)
        if bad is None:
            pytest.skip("no invalid_native_record() for this entity")
        with pytest.raises(MappingError) as info:
            adapter.to_standard(entity, copy.deepcopy(bad))
        issues = info.value.issues
        assert issues, "MappingError without issues"
        for issue in issues:
            assert issue.pointer.startswith("/"), issue
            assert issue.rule.startswith("mapping."), issue
            assert issue.message_zh and issue.message_en

    def test_a_bad_native_record_does_not_hide_the_others(self, entity):
        adapter = self._adapter()
        bad = self.invalid_native_record(entity)
        if bad is None:
            pytest.skip("no invalid_native_record() for this entity")
        records = self._records(entity)
        natives = [adapter.from_standard(entity, r) for r in records]
        natives.insert(1, bad)
        try:
            self.seed(adapter, entity, natives)
        except CannotSeed:
            pytest.skip("no seed() to place native records in the target")
        items, _, _ = read_all(adapter, entity)
        assert len(items) == len(natives), "a bad native record must still be read"
        failed, mapped = [], []
        for item in items:
            try:
                mapped.append(_canon(adapter.to_standard(entity, item.native)))
            except MappingError as err:
                assert all(i.pointer.startswith("/") for i in err.issues)
                failed.append(item)
        assert len(failed) == 1, f"{entity}: expected one refused record, got {len(failed)}"
        assert sorted(mapped) == sorted(_canon(r) for r in records)

    def test_write_reports_errors_per_record(self, entity):
        adapter = self._adapter()
        self._require_writable(adapter)
        records = self._records(entity)
        bad = self.invalid_standard_record(entity, records[0])
        batch = [records[0], bad, *records[1:]]
        results = adapter.write(entity, batch)
        assert isinstance(results, list) and len(results) == len(batch), (
            "R9: one WriteResult per record, in order")
        assert all(isinstance(r, WriteResult) for r in results)
        assert results[1].ok is False and results[1].errors, "the bad record must be refused"
        for issue in results[1].errors:
            assert isinstance(issue.pointer, str) and issue.rule, issue
        good = [r for i, r in enumerate(results) if i != 1]
        assert all(r.ok and r.native_id for r in good), [r.errors for r in good]
        items, _, _ = read_all(adapter, entity)
        assert self._standard(adapter, entity, items) == sorted(_canon(r) for r in records)

    # -- R10: idempotent writes --------------------------------------------------------

    def test_writing_twice_leaves_one_copy(self, entity):
        adapter = self._adapter()
        self._require_writable(adapter)
        records = self._records(entity)
        first = adapter.write(entity, records)
        second = adapter.write(entity, copy.deepcopy(records))
        assert all(r.ok for r in first + second), [r.errors for r in first + second]
        assert [r.native_id for r in first] == [r.native_id for r in second], (
            "the same record must keep its native id")
        items, _, _ = read_all(adapter, entity)
        latest: dict[str, NativeItem] = {}
        for item in items:
            latest[item.source_id] = item
        alive = [i for i in latest.values() if i.op == "upsert"]
        assert len(alive) == len(records), (
            f"{entity}: {len(alive)} records in the target after writing {len(records)} twice")
        assert self._standard(adapter, entity, alive) == sorted(_canon(r) for r in records)

    def test_read_only_adapter_refuses_write(self):
        adapter = self._adapter()
        if adapter.writable:
            pytest.skip("the adapter writes")
        with pytest.raises(AdapterError):
            adapter.write(next(iter(adapter.entities)), [])

    # -- R16: no echo -------------------------------------------------------------------

    def test_receiver_origins_are_names(self):
        origins = self._adapter().receiver_origins()
        assert isinstance(origins, frozenset), "R16: receiver_origins() is a frozenset"
        assert all(isinstance(o, str) and o for o in origins), (
            "R16: receiver origins are non-empty names (client ids)")

    # -- R15: deletions ----------------------------------------------------------------

    def test_declares_whether_it_deletes(self):
        adapter = self._adapter()
        assert isinstance(type(adapter).can_delete, bool), "R15: can_delete is True or False"
        if adapter.can_delete:
            assert adapter.writable, "R15: an adapter that deletes also writes"
            return
        assert adapter.cannot_delete_reason, "R15: an adapter that cannot delete says why"
        with pytest.raises(DeletesNotSupported):
            adapter.delete(next(iter(adapter.entities)), ["X1"])

    def test_delete_removes_what_write_wrote(self, entity):
        adapter = self._adapter()
        if not adapter.can_delete:
            pytest.skip(f"the {adapter.name} adapter cannot delete (can_delete = False)")
        records = self._records(entity)
        number = NUMBER_KEYS.get(entity)
        if number is None or not all(isinstance(r.get(number), str) for r in records):
            pytest.skip(f"the {entity} samples do not all carry their number ({number})")
        written = adapter.write(entity, records)
        assert all(r.ok for r in written), [r.errors for r in written]
        gone, kept = records[0][number], records[1:]

        results = adapter.delete(entity, [gone])
        assert isinstance(results, list) and len(results) == 1 and isinstance(results[0], WriteResult)
        assert results[0].ok, f"R15: deleting {entity} {gone} failed: {results[0].errors}"
        latest: dict[str, NativeItem] = {}
        for item in read_all(adapter, entity)[0]:
            latest[item.source_id] = item
        deleted = latest.get(written[0].native_id)
        assert deleted is None or deleted.op == "delete", (
            f"R15: {entity} {gone} is still in the target after its delete")
        alive = [i for i in latest.values() if i.op == "upsert"]
        assert self._standard(adapter, entity, alive) == sorted(_canon(r) for r in kept), (
            "R15: a delete must leave the other records as they were")

        # Idempotent: the same delete again, and one of a number the target never held.
        again = adapter.delete(entity, [gone, "NO-SUCH-NUMBER-0001"])
        assert [r.ok for r in again] == [True, True], [r.errors for r in again]
        assert adapter.delete(entity, []) == []
        after: dict[str, NativeItem] = {}
        for item in read_all(adapter, entity)[0]:
            after[item.source_id] = item
        assert sorted(i.source_id for i in after.values() if i.op == "upsert") == sorted(
            i.source_id for i in alive)
