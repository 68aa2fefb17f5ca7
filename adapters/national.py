"""The national field-coded format: records keyed by national field codes, both ways.

The national system (全国志愿服务信息系统) names every field by a code — ``albp…`` volunteer
(table LBP01), ``albe…`` team (LBE01), ``albx…`` project (LBX01) and service time — and
gives regions as 18-digit area ids padded with zeros (``110105000000000000``). This adapter
maps such records to the published standard and back, for ``volunteer``, ``team``,
``project`` and ``service_record``.

One mapping, in one place
    The mapping is read from the ``x-national-code`` annotations of ``schemas/v1`` (through
    the :mod:`schemas` package), not written out here: a field of the standard with a
    national code travels under that code; a nested object's coded members are flattened to
    top-level codes (a team's ``approving_unit.name`` is ``albe0057``), as the national
    tables are flat. Fields the standard publishes without a known national code (the
    central store's numbers ``team_no`` / ``project_no`` / ``record_no``, ``source_id``,
    ``source_updated_at``, a project's ``posts`` (LBX03) and ``checkin_points``, …) travel in
    one extension object ``"_vgw"`` in standard form, so that nothing is lost.

Values
    Region fields (``x-region``): 18-digit area ids; read back to the shortest of 6 / 9 / 12 /
    18 digits that leaves only zeros (``110105000000000000`` → ``110105``). Date-times: the
    national ``YYYY-MM-DD HH:MM:SS`` (a space, not ``T``; an offset is kept). Multi-valued
    codes (service categories, skills, …): comma-separated (``"0001,0017"``). Code values are
    the national ones already (the standard's code tables were read from the national
    system), so they pass unchanged; a code no table has is refused (``mapping.unknown_code``)
    with a pointer to the national field (``/albp0004``).

Target and source
    The real national system speaks ``POST …/{Service}/query`` with a form field holding
    SM4-encrypted JSON, which cannot be reached from here; that transport is left for a
    later step (docs/adapters.md). This adapter reads and writes the same records in a
    folder (``settings.path``): one JSON file per entity, ``<path>/<entity>.json``::

        {"format": "vgw-national/1", "entity": "volunteer", "table": "LBP01", "seq": 7,
         "records": {"<native id>": {"seq": 7, "op": "upsert", "native": {"albp0003": …}}}}

    Every change takes the next ``seq``; the cursor is the ``seq`` of the last item read, so
    a read resumes after it. Writing a record identical to the stored one changes nothing
    (idempotent). ``delete`` (the gateway's tombstones) turns a record's entry into
    ``op: "delete"`` with the next ``seq``, read back as a delete. ``path = "memory:<name>"`` keeps the same structure in this process only
    (tests). One writer at a time; files are replaced atomically.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import schemas
from adapters.fields import field_type, is_number, number_of_text, restored_code
from gateway.adapter import (Adapter, AdapterError, CheckResult, Issue, MappingError, NativeItem,
                             Page, WriteResult, pointer)

EXT = "_vgw"
"""The key of the extension object carrying standard fields without a national code."""

ENTITIES = ("volunteer", "team", "project", "enrollment", "service_record", "training",
            "commendation", "evaluation", "complaint")
FORMAT = "vgw-national/1"
VERSIONS = ("1", "2")

# Arrays of objects travel as arrays of coded objects under these native keys (named after
# the national tables: LBX03 posts, LBX56 check-in points, LBX31 training participants).
NATIVE_ARRAYS = {"posts": "lbx03", "checkin_points": "lbx56", "participants": "lbx31"}

# Schema v1 annotated the product's team / project numbers with albx0011 / albx0176 /
# albx0177, which are the national system's internal record ids, and a commendation level
# with albx0357 (the complainant's ID number nationally). The adapter corrects that for v1
# without changing the published v1 schemas: the numbers travel under the national number
# codes (albe0041, albx0013) or in ``_vgw``.
_V1_CODES: dict[str, dict[tuple[str, ...], str | None]] = {
    "team": {("team_no",): "albe0041"},
    "project": {("project_no",): "albx0013", ("team_no",): None},
    "service_record": {("project_no",): None, ("team_no",): None},
    "commendation": {("level",): None},
}

# The identity of a record in the national store, by entity: the first present of these
# standard keys (a volunteer without any falls back to a digest of their document).
_IDENTITY = {
    "volunteer": ("volunteer_no", "source_id"),
    "team": ("team_no", "source_id"),
    "project": ("project_no", "source_id"),
    "service_record": ("record_no", "source_id"),
    "enrollment": ("enrollment_no", "source_id"),
    "training": ("training_no", "source_id"),
    "commendation": ("commendation_no", "source_id"),
    "evaluation": ("evaluation_no", "source_id"),
    "complaint": ("complaint_no", "source_id"),
}

# Entities with a number of their own (a record without it, nor a source_id, is refused);
# the others are identified by their content when they have neither.
_NUMBERED = ("volunteer", "team", "project")

_AREA_RE = re.compile(r"^[0-9]{18}$")
_SHORT_AREA_RE = re.compile(r"^[0-9]{6}([0-9]{3}([0-9]{3})?)?$")
# The national API's date-times: ``YYYY-MM-DD HH:mm:ss.0`` (a java.sql.Timestamp printed);
# the fraction is optional on input and must be zero (the standard counts whole seconds).
_NATIONAL_DT_RE = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}:[0-9]{2}:[0-9]{2})(\.0+)?(Z|[+-][0-9]{2}:[0-9]{2})?$")
_NATIONAL_DATE_RE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})( 00:00:00(\.0+)?)?$")
_NID_PREFIX = "nid:"

_memory: dict[str, dict[str, dict]] = {}
_memory_lock = threading.Lock()


# -- the mapping, derived from the schemas -----------------------------------------------

@dataclass(frozen=True, slots=True)
class Field:
    """One coded field: where it sits in the standard record and how its value converts."""

    path: tuple[str, ...]      # ("name",) or ("approving_unit", "name")
    code: str                  # "albp0003"
    kind: str                  # region | datetime | date | nid | codes | code | number | integer | boolean | string | list
    enum: frozenset[str] | None
    title: str


@dataclass(frozen=True)
class Mapping:
    entity: str
    table: str | None
    fields: tuple[Field, ...]
    by_path: dict[tuple[str, ...], Field]
    by_code: dict[str, Field]
    required: tuple[str, ...]         # required top-level standard keys
    properties: dict[str, dict]       # the schema's (or the array item's) properties
    arrays: dict[str, "Mapping"]      # standard array key -> the mapping of its items


def _kind(prop: dict) -> tuple[str, frozenset[str] | None]:
    typed = field_type(prop)  # the adapters' one reading of a schema property
    return typed.kind, typed.enum


def _coded_members(prop: dict) -> bool:
    return any("x-national-code" in p for p in prop.get("properties", {}).values())


def _build(entity: str, version: str, schema: dict, table: str | None) -> Mapping:
    fixes: dict = _V1_CODES.get(entity, {}) if version == "1" else {}
    fields: list[Field] = []
    arrays: dict[str, Mapping] = {}

    def code_of(path: tuple[str, ...], prop: dict) -> str | None:
        return fixes[path] if path in fixes else prop.get("x-national-code")

    for key, prop in schema["properties"].items():
        code = code_of((key,), prop)
        if code:
            kind, enum = _kind(prop)
            fields.append(Field((key,), code, kind, enum, prop.get("title", key)))
        elif prop.get("type") == "object":
            for sub, subprop in prop.get("properties", {}).items():
                if "x-national-code" in subprop:
                    kind, enum = _kind(subprop)
                    fields.append(Field((key, sub), subprop["x-national-code"], kind, enum,
                                        subprop.get("title", sub)))
        elif (prop.get("type") == "array" and isinstance(prop.get("items"), dict)
              and prop["items"].get("type") == "object" and _coded_members(prop["items"])):
            if key not in NATIVE_ARRAYS:
                raise AdapterError(f"{entity}.{key}: no native key for this array")
            arrays[key] = _build(f"{entity}.{key}", version, prop["items"], None)
    by_code = {f.code: f for f in fields}
    if len(by_code) != len(fields):
        raise AdapterError(f"{entity}: a national code is used twice in the schema")
    return Mapping(entity, table, tuple(fields), {f.path: f for f in fields}, by_code,
                   tuple(schema.get("required", ())), schema["properties"], arrays)


@lru_cache(maxsize=None)
def mapping(entity: str, version: str = "1") -> Mapping:
    """The national mapping of ``entity`` in schema ``version``, read from its schema's
    ``x-national-code``s (v1 with the corrections of ``_V1_CODES``)."""
    if entity not in ENTITIES:
        raise AdapterError(f"the national adapter does not handle {entity!r}")
    if version not in VERSIONS:
        raise AdapterError(f"the national adapter does not speak schema version {version!r}")
    schema = schemas.load_schema(version, entity)
    return _build(entity, version, schema, schema.get("x-national-table"))


# -- value conversions -----------------------------------------------------------------

def area_to_national(code: str) -> str:
    """A region code of 6, 9, 12 or 18 digits as an 18-digit national area id."""
    return code.ljust(18, "0")


def area_from_national(area: str) -> str:
    """An 18-digit national area id as the shortest region code (6 / 9 / 12 / 18 digits)."""
    for size in (6, 9, 12):
        if set(area[size:]) <= {"0"}:
            return area[:size]
    return area


def _messages_unknown_code(code: str, value: Any, title: str) -> tuple[str, str]:
    return (f"字段 {code}（{title}）的代码值「{value}」不在代码表中",
            f"{code} ({title}): code {value!r} is not in its code table")


def _to_std_value(f: Field, value: Any, ptr: str, issues: list[Issue]) -> Any:
    """A national value as the standard's (``_MISSING`` when empty), or an issue."""
    if value is None:
        return _MISSING
    if f.kind == "codes":
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",")] if value.strip() else []
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = list(value)
        else:
            issues.append(Issue(ptr, "mapping.invalid", f"字段 {f.code}（{f.title}）应为逗号分隔的代码",
                                f"{f.code} ({f.title}): expected comma-separated codes"))
            return _MISSING
        bad = [v for v in items if f.enum is not None and v not in f.enum]
        if bad:
            issues.append(Issue(ptr, "mapping.unknown_code", *_messages_unknown_code(f.code, bad[0], f.title)))
            return _MISSING
        return items
    if value == "":
        return _MISSING
    if f.kind == "nid":
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if isinstance(text, str) and re.fullmatch(r"[0-9A-Za-z_-]{1,64}", text):
            return _NID_PREFIX + text
        issues.append(Issue(ptr, "mapping.invalid", f"字段 {f.code}（{f.title}）不是内部记录标识",
                            f"{f.code} ({f.title}): not an internal record id"))
        return _MISSING
    if f.kind == "region":
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if isinstance(text, str) and _AREA_RE.match(text):
            return area_from_national(text)
        if isinstance(text, str) and _SHORT_AREA_RE.match(text):
            return text
        issues.append(Issue(ptr, "mapping.invalid", f"字段 {f.code}（{f.title}）不是18位区划代码",
                            f"{f.code} ({f.title}): not an 18-digit area id"))
        return _MISSING
    if f.kind == "datetime":
        match = _NATIONAL_DT_RE.match(value) if isinstance(value, str) else None
        if not match:
            issues.append(Issue(ptr, "mapping.invalid",
                                f"字段 {f.code}（{f.title}）应为“年-月-日 时:分:秒.0”",
                                f"{f.code} ({f.title}): expected 'YYYY-MM-DD HH:mm:ss.0'"))
            return _MISSING
        return f"{match.group(1)}T{match.group(2)}{match.group(4) or ''}"
    if f.kind == "date":
        match = _NATIONAL_DATE_RE.match(value) if isinstance(value, str) else None
        if not match:
            issues.append(Issue(ptr, "mapping.invalid", f"字段 {f.code}（{f.title}）应为“年-月-日”",
                                f"{f.code} ({f.title}): expected 'YYYY-MM-DD'"))
            return _MISSING
        return match.group(1)
    if f.kind == "code":
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if isinstance(text, str) and f.enum is not None and text not in f.enum:
            padded = restored_code(text, f.enum)
            if padded is not None:
                return padded            # a code stored as a number lost its leading zero
            issues.append(Issue(ptr, "mapping.unknown_code", *_messages_unknown_code(f.code, text, f.title)))
            return _MISSING
        if not isinstance(text, str):
            issues.append(Issue(ptr, "mapping.invalid", f"字段 {f.code}（{f.title}）应为代码文本",
                                f"{f.code} ({f.title}): expected a code as text"))
            return _MISSING
        return text
    if f.kind in ("number", "integer"):
        if isinstance(value, str):
            number = number_of_text(value)
            if number is not None and (f.kind == "number" or number.is_integer()):
                return int(number) if number.is_integer() and f.kind == "integer" else number
        elif is_number(value):
            return value
        issues.append(Issue(ptr, "mapping.invalid", f"字段 {f.code}（{f.title}）应为数值",
                            f"{f.code} ({f.title}): expected a number"))
        return _MISSING
    if f.kind == "string":
        if is_number(value):
            return str(value)
        if not isinstance(value, str):
            issues.append(Issue(ptr, "mapping.invalid", f"字段 {f.code}（{f.title}）应为文本",
                                f"{f.code} ({f.title}): expected text"))
            return _MISSING
    return value


def _from_std_value(f: Field, value: Any, ptr: str, issues: list[Issue]) -> Any:
    if f.kind == "codes":
        if not isinstance(value, list) or not all(isinstance(v, str) and "," not in v for v in value):
            issues.append(Issue(ptr, "mapping.invalid", f"{f.title}应为代码数组",
                                f"{ptr[1:]}: expected an array of codes"))
            return _MISSING
        bad = [v for v in value if f.enum is not None and v not in f.enum]
        if bad:
            issues.append(Issue(ptr, "mapping.unknown_code", f"{f.title}的代码值「{bad[0]}」不在代码表中",
                                f"{ptr[1:]}: code {bad[0]!r} is not in its code table"))
            return _MISSING
        return ",".join(value)
    if f.kind == "nid":
        if not (isinstance(value, str) and value.startswith(_NID_PREFIX) and len(value) > 4):
            issues.append(Issue(ptr, "mapping.invalid", f"{f.title}应为“nid:内部标识”",
                                f"{ptr[1:]}: expected 'nid:<internal id>'"))
            return _MISSING
        return value[len(_NID_PREFIX):]
    if f.kind == "region":
        if not (isinstance(value, str) and (_SHORT_AREA_RE.match(value) or _AREA_RE.match(value))):
            issues.append(Issue(ptr, "mapping.invalid", f"{f.title}不是6、9、12或18位区划代码",
                                f"{ptr[1:]}: not a region code of 6, 9, 12 or 18 digits"))
            return _MISSING
        return area_to_national(value)
    if f.kind == "datetime":
        match = _NATIONAL_DT_RE.match(value) if isinstance(value, str) else None
        if not match or match.group(3):
            issues.append(Issue(ptr, "mapping.invalid", f"{f.title}应为本地日期时间",
                                f"{ptr[1:]}: expected a local date-time"))
            return _MISSING
        return f"{match.group(1)} {match.group(2)}.0{match.group(4) or ''}"
    if f.kind == "code" and f.enum is not None and value not in f.enum:
        issues.append(Issue(ptr, "mapping.unknown_code", f"{f.title}的代码值「{value}」不在代码表中",
                            f"{ptr[1:]}: code {value!r} is not in its code table"))
        return _MISSING
    return value


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


_MISSING: Any = _Missing()


def _get(record: dict, path: tuple[str, ...]) -> Any:
    node: Any = record
    for step in path:
        if not isinstance(node, dict) or step not in node:
            return _MISSING
        node = node[step]
    return node


def _set(record: dict, path: tuple[str, ...], value: Any) -> None:
    node = record
    for step in path[:-1]:
        node = node.setdefault(step, {})
    node[path[-1]] = value


def _merge(into: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _native_to_std(m: Mapping, native: Any, base: tuple, issues: list[Issue],
                   check_required: bool) -> dict[str, Any]:
    if not isinstance(native, dict):
        issues.append(Issue(pointer(*base), "mapping.invalid", "记录应为对象", "a record must be an object"))
        return {}
    record: dict[str, Any] = {}
    for f in m.fields:
        if f.code not in native:
            continue
        value = _to_std_value(f, native[f.code], pointer(*base, f.code), issues)
        if value is not _MISSING:
            _set(record, f.path, value)
    for key, sub in m.arrays.items():
        nkey = NATIVE_ARRAYS[key]
        if nkey not in native or native[nkey] is None:
            continue
        items = native[nkey]
        if not isinstance(items, list):
            issues.append(Issue(pointer(*base, nkey), "mapping.invalid", f"{nkey} 应为数组",
                                f"{nkey} must be an array"))
            continue
        record[key] = [_native_to_std(sub, item, (*base, nkey, i), issues, False)
                       for i, item in enumerate(items)]
    ext = native.get(EXT)
    if ext is not None:
        if not isinstance(ext, dict):
            issues.append(Issue(pointer(*base, EXT), "mapping.invalid", f"{EXT} 应为对象",
                                f"{EXT} must be an object"))
        else:
            for key, value in ext.items():
                if key not in m.properties or (key,) in m.by_path or key in m.arrays:
                    issues.append(Issue(pointer(*base, EXT, key), "mapping.unknown_field",
                                        f"扩展字段「{key}」不是数据规范中的无国标代码字段",
                                        f"{EXT}.{key} is not a standard field without a national code"))
                elif isinstance(value, dict) and isinstance(record.get(key), dict):
                    _merge(record[key], value)
                else:
                    record[key] = copy.deepcopy(value)
    if check_required:
        for key in m.required:
            if key in record:
                continue
            f = m.by_path.get((key,))
            where = pointer(*base, f.code) if f else pointer(*base, EXT, key)
            if not any(i.pointer == where for i in issues):
                title = f.title if f else m.properties[key].get("title", key)
                issues.append(Issue(where, "mapping.missing", f"缺少必填字段 {where[1:]}（{title}）",
                                    f"required field {where[1:]} ({key}) is missing"))
    return record


def to_standard(entity: str, native: dict[str, Any], version: str = "1") -> dict[str, Any]:
    """A national record as a standard one (:class:`MappingError` with native pointers).

    Required fields are not checked here beyond v1's (the engine reports what is missing
    against the schema version in use, with NATIONAL_REQUIRED deciding error or warning).
    """
    m = mapping(entity, version)
    if not isinstance(native, dict):
        raise MappingError([Issue("", "mapping.invalid", "记录应为对象", "a record must be an object")])
    issues: list[Issue] = []
    record = _native_to_std(m, native, (), issues, version == "1")
    if issues:
        raise MappingError(issues)
    return record


def _std_to_native(m: Mapping, record: Any, base: tuple, issues: list[Issue]) -> dict[str, Any]:
    if not isinstance(record, dict):
        issues.append(Issue(pointer(*base), "mapping.invalid", "记录应为对象", "a record must be an object"))
        return {}
    native: dict[str, Any] = {}
    for f in m.fields:
        value = _get(record, f.path)
        if value is _MISSING or value is None:
            continue
        value = _from_std_value(f, value, pointer(*base, *f.path), issues)
        if value is not _MISSING:
            native[f.code] = value
    ext: dict[str, Any] = {}
    for key, value in record.items():
        if key not in m.properties:
            issues.append(Issue(pointer(*base, key), "mapping.unknown_field", f"「{key}」不是数据规范中的字段",
                                f"{key} is not a field of the standard"))
        elif (key,) in m.by_path:
            continue
        elif key in m.arrays and isinstance(value, list):
            native[NATIVE_ARRAYS[key]] = [_std_to_native(m.arrays[key], item, (*base, key, i), issues)
                                          for i, item in enumerate(value)]
        elif isinstance(value, dict) and any(f.path[0] == key for f in m.fields):
            rest = {k: copy.deepcopy(v) for k, v in value.items() if (key, k) not in m.by_path}
            if rest or not value:
                ext[key] = rest
        else:
            ext[key] = copy.deepcopy(value)
    if ext:
        native[EXT] = ext
    return native


def from_standard(entity: str, record: dict[str, Any], version: str = "1") -> dict[str, Any]:
    """A standard record as a national one (:class:`MappingError` with standard pointers)."""
    m = mapping(entity, version)
    if not isinstance(record, dict):
        raise MappingError([Issue("", "mapping.invalid", "记录应为对象", "a record must be an object")])
    issues: list[Issue] = []
    native = _std_to_native(m, record, (), issues)
    for key in m.required:
        # v2: the national required flags are the engine's to report (error or warning, by
        # NATIONAL_REQUIRED); the standard's own required keys are checked here too.
        if version == "1" or not m.properties.get(key, {}).get("x-national-required"):
            if key not in record:
                issues.append(Issue(pointer(key), "mapping.missing", f"缺少必填字段「{key}」",
                                    f"required field {key} is missing"))
    if issues:
        raise MappingError(issues)
    return native


def native_id(entity: str, record: dict[str, Any]) -> str | None:
    """The store's id of a STANDARD record (``None`` when it has no identity)."""
    for key in _IDENTITY[entity]:
        value = record.get(key)
        if isinstance(value, str) and value:
            return value if key != "source_id" else f"src:{value}"
    if entity == "volunteer" and record.get("id_type") and record.get("id_number"):
        digest = hashlib.sha256(f"{record['id_type']}|{record['id_number']}".encode()).hexdigest()
        return f"id:{digest[:32]}"
    return None


def native_id_of_native(entity: str, native: dict[str, Any], version: str = "1") -> str:
    """The store's id of a NATIVE record, mapped or not (a content digest as the last resort)."""
    m = mapping(entity, version)
    probe: dict[str, Any] = {}
    ext = native.get(EXT) if isinstance(native.get(EXT), dict) else {}
    for key in (*_IDENTITY[entity], "id_type", "id_number"):
        f = m.by_path.get((key,))
        value = native.get(f.code) if f else ext.get(key)
        if isinstance(value, str) and value:
            probe[key] = value
    found = native_id(entity, probe)
    if found:
        return found
    digest = hashlib.sha256(json.dumps(native, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"doc:{digest[:32]}"


# -- the store ---------------------------------------------------------------------------

class _Store:
    """The records of one entity, in a JSON file or in this process's memory."""

    def __init__(self, path: str, entity: str):
        self.entity = entity
        self.memory = path.startswith("memory:")
        self.key = path[len("memory:"):] if self.memory else None
        self.file = None if self.memory else Path(path) / f"{entity}.json"

    def load(self) -> dict[str, Any]:
        empty = {"format": FORMAT, "entity": self.entity, "table": mapping(self.entity).table,
                 "seq": 0, "records": {}}
        if self.memory:
            with _memory_lock:
                data = _memory.get(self.key, {}).get(self.entity)
                return copy.deepcopy(data) if data is not None else empty
        try:
            with self.file.open(encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return empty
        except (OSError, ValueError) as err:
            raise AdapterError(f"cannot read {self.file.name}: {err}") from err
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise AdapterError(f"{self.file.name} is not a {FORMAT} file")
        return data

    def save(self, data: dict[str, Any]) -> None:
        if self.memory:
            with _memory_lock:
                _memory.setdefault(self.key, {})[self.entity] = copy.deepcopy(data)
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.entity}.", suffix=".tmp", dir=self.file.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _parse_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not (isinstance(cursor, str) and cursor.isdigit()):
        raise AdapterError(f"not a national adapter cursor: {cursor!r}")
    return int(cursor)


class NationalAdapter(Adapter):
    """Records in the national field-coded format, in a folder of JSON files."""

    name = "national"
    entities = ENTITIES
    can_delete = True
    verification = ("files in a local folder: no transport signature; each record is checked "
                    "field by field against the national field codes")
    settings_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "national adapter settings",
        "type": "object",
        "additionalProperties": False,
        "required": ["path"],
        "properties": {
            "path": {
                "type": "string", "minLength": 1,
                "description": "Folder of the national-format JSON files (one per entity), "
                               "or memory:<name> for a store in this process (tests).",
            },
            "schema_version": {
                "type": "string", "enum": list(VERSIONS), "default": "1",
                "description": "The schema version of the standard records this adapter "
                               "reads and writes: 1 (default) or 2 (every national field code; "
                               "lossless for the national API's records).",
            },
        },
    }

    @property
    def version(self) -> str:
        return self.settings.get("schema_version", "1")

    @property
    def schema_version(self) -> str:
        return self.version

    def _store(self, entity: str) -> _Store:
        self.require_entity(entity)
        return _Store(self.settings["path"], entity)

    def check(self) -> CheckResult:
        path = self.settings["path"]
        if path.startswith("memory:"):
            return CheckResult(True, f"in-memory store {path[7:]!r}")
        folder = Path(path)
        if folder.is_dir():
            if os.access(folder, os.R_OK | os.W_OK | os.X_OK):
                return CheckResult(True, f"folder {folder} is readable and writable")
            return CheckResult(False, f"folder {folder} is not readable and writable")
        if folder.exists():
            return CheckResult(False, f"{folder} is not a folder")
        parent = folder.parent
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return CheckResult(True, f"folder {folder} will be created on the first write")
        return CheckResult(False, f"folder {folder} does not exist")

    def read(self, entity: str, cursor: str | None, page_size: int) -> Page:
        after = _parse_cursor(cursor)
        if page_size < 1:
            raise AdapterError("page_size must be at least 1")
        data = self._store(entity).load()
        newer = sorted(((e["seq"], rid, e) for rid, e in data["records"].items() if e["seq"] > after),
                       key=lambda t: t[0])
        chunk = newer[:page_size]
        items = [NativeItem(native=e["native"], source_id=rid, op=e.get("op", "upsert"),
                            location=f"{entity}.json#{seq}") for seq, rid, e in chunk]
        next_cursor = str(chunk[-1][0]) if chunk else cursor
        return Page(items, next_cursor, len(newer) > page_size)

    def to_standard(self, entity: str, native: dict[str, Any]) -> dict[str, Any]:
        self.require_entity(entity)
        return to_standard(entity, native, self.version)

    def from_standard(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        self.require_entity(entity)
        return from_standard(entity, record, self.version)

    def write(self, entity: str, records: list[dict[str, Any]]) -> list[WriteResult]:
        store = self._store(entity)
        data = store.load()
        results: list[WriteResult] = []
        changed = False
        for record in records:
            try:
                native = from_standard(entity, record, self.version)
            except MappingError as err:
                results.append(WriteResult(False, None, err.issues))
                continue
            rid = native_id(entity, record)
            if rid is None and entity in _NUMBERED:
                key = _IDENTITY[entity][0]
                results.append(WriteResult(False, None, [Issue(
                    pointer(key), "mapping.missing", f"记录没有标识（{key} 或 source_id）",
                    f"the record has no identity ({key} or source_id)")]))
                continue
            if rid is None:      # the national system gives these no number: their content
                rid = native_id_of_native(entity, native, self.version)
            entry = data["records"].get(rid)
            if entry is None or entry.get("op") != "upsert" or entry.get("native") != native:
                data["seq"] += 1
                data["records"][rid] = {"seq": data["seq"], "op": "upsert", "native": native}
                changed = True
            results.append(WriteResult(True, rid, []))
        if changed:
            store.save(data)
        return results

    def delete(self, entity: str, keys: list[str]) -> list[WriteResult]:
        """Mark each record deleted (a tombstone entry ``op: "delete"``, the next ``seq``),
        found by the gateway's number — the id ``write`` stored it under (R15). A number
        the folder does not hold, or holds deleted already, changes nothing (``ok``)."""
        store = self._store(entity)
        data = store.load()
        results: list[WriteResult] = []
        changed = False
        for key in keys:
            entry = data["records"].get(key) if isinstance(key, str) and key else None
            if entry is not None and entry.get("op") != "delete":
                data["seq"] += 1
                data["records"][key] = {"seq": data["seq"], "op": "delete",
                                        "native": entry.get("native") or {}}
                changed = True
            results.append(WriteResult(True, key if entry is not None else None, []))
        if changed:
            store.save(data)
        return results

    # -- for exports and tests: records already in the national format ------------------

    def put_native(self, entity: str, natives: list[dict[str, Any]], op: str = "upsert") -> list[str]:
        """Store national records as they are (an export from the national system); ids."""
        store = self._store(entity)
        data = store.load()
        ids = []
        for native in natives:
            rid = native_id_of_native(entity, native, self.version)
            data["seq"] += 1
            data["records"][rid] = {"seq": data["seq"], "op": op, "native": copy.deepcopy(native)}
            ids.append(rid)
        store.save(data)
        return ids

    def iter_natives(self, entity: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every stored record ``(id, native)`` (deleted ones excluded), in change order."""
        data = self._store(entity).load()
        for rid, entry in sorted(data["records"].items(), key=lambda t: t[1]["seq"]):
            if entry.get("op") == "upsert":
                yield rid, entry["native"]


def forget_memory(name: str) -> None:
    """Drop the in-memory store ``memory:<name>`` (tests)."""
    with _memory_lock:
        _memory.pop(name, None)
