"""Reading an integrator's export files and checking them through a validation API.

Formats, told apart by name and content:

- ``*.ndjson`` / ``*.jsonl``: one record per line (the entity named by the file name,
  ``volunteer*.ndjson``), or one batch item ``{"entity", "op", "data"}`` per line;
- ``*.json``: a batch envelope (``schema_version``, ``sender``, ``batch_id``, ``records``),
  the national field-coded format (``"format": "vgw-national/1"``, docs/adapters.md), an
  array of records or of batch items, or one record;

The records are checked by a gateway's validation API (``POST {validator_url}
{validate_path}/{entity}``, docs/rules.md): NDJSON as NDJSON, envelopes as ``batch``, arrays
as arrays. That API does not read the national format, so a national file is first turned
into standard records here, structurally only — field code → field, 18-digit area id →
shortest region code, ``YYYY-MM-DD HH:MM:SS`` → ``YYYY-MM-DDTHH:MM:SS``, comma-separated
codes → a list, the ``_vgw`` extension merged — using the code table shipped in
``data/national.json`` (a copy of the ``x-national-code`` annotations of schemas/v1). Every
judgement (codes, patterns, rules) is left to the validator, and its pointers are given
back in the file's terms (``/service_area`` → ``/albp0020``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import requests

from ...context import Exchange

ENTITIES = ("service_record", "volunteer", "team", "project", "enrollment", "training",
            "commendation", "evaluation", "complaint", "certificate")
NATIONAL_FORMAT = "vgw-national/1"
_AREA18 = re.compile(r"^[0-9]{18}$")
_NATIONAL_DT = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9]{2}:[0-9]{2}:[0-9]{2}.*)$")


@dataclass
class Problem:
    """One issue of one record: where (record and pointer), which rule, what it says."""

    record: str            # "line 3", "record 0", "item 2", "LBP01 id v-17"
    pointer: str
    rule: str
    message: str
    entity: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"record": self.record, "entity": self.entity, "pointer": self.pointer,
                "rule": self.rule, "message": self.message}


@dataclass
class FileReport:
    """What one file holds and what the validator said of each of its records."""

    name: str
    format: str = "unknown"
    entities: list[str] = field(default_factory=list)
    records: int = 0
    valid: int = 0
    not_checked: int = 0                    # deletions (nothing to validate)
    readable: bool = True
    file_error: str = ""                    # why the file could not be read at all
    envelope_problems: list[Problem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return self.records - self.valid - self.not_checked

    def summary(self, limit: int = 50) -> dict[str, Any]:
        return {"file": self.name, "format": self.format, "entities": self.entities,
                "records": self.records, "valid": self.valid, "invalid": self.invalid,
                "not_checked": self.not_checked, "readable": self.readable,
                "file_error": self.file_error,
                "envelope_problems": [p.as_dict() for p in self.envelope_problems],
                "problems": [p.as_dict() for p in self.problems[:limit]],
                "problems_not_shown": max(0, len(self.problems) - limit)}


@lru_cache(maxsize=1)
def national_table() -> dict[str, Any]:
    text = resources.files("conformance_tests").joinpath("data/national.json").read_text("utf-8")
    return json.loads(text)["entities"]


def entity_from_name(path: Path) -> str | None:
    stem = path.name.lower()
    for entity in ENTITIES:
        if stem.startswith(entity):
            return entity
    return None


def _is_item(value: Any) -> bool:
    return isinstance(value, dict) and set(value) >= {"entity", "data"} and set(value) <= {
        "entity", "op", "data"}


def national_to_standard(entity: str, native: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A national record as a standard one, and the pointer translation back (std → native)."""
    table = national_table()[entity]["fields"]
    record: dict[str, Any] = {}
    back: dict[str, str] = {}
    for f in table:
        code, path, kind = f["code"], f["path"], f["kind"]
        back["/" + "/".join(path)] = "/" + code
        if code not in native or native[code] is None or native[code] == "":
            continue
        value = native[code]
        if kind == "region" and isinstance(value, str) and _AREA18.match(value):
            for size in (6, 9, 12):
                if set(value[size:]) <= {"0"}:
                    value = value[:size]
                    break
        elif kind == "datetime" and isinstance(value, str):
            m = _NATIONAL_DT.match(value)
            if m:
                value = f"{m.group(1)}T{m.group(2)}"
        elif kind == "codes" and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif kind in ("number", "integer") and isinstance(value, str):
            try:
                value = float(value) if kind == "number" else int(value)
            except ValueError:
                pass
        elif kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        node = record
        for step in path[:-1]:
            node = node.setdefault(step, {})
        node[path[-1]] = value
    ext = native.get("_vgw")
    if isinstance(ext, dict):
        for key, value in ext.items():
            if isinstance(value, dict) and isinstance(record.get(key), dict):
                record[key].update(value)
            else:
                record[key] = value
            back.setdefault(f"/{key}", f"/_vgw/{key}")
    return record, back


def _translate(pointer: str, back: dict[str, str]) -> str:
    parts = pointer.split("/")
    for size in range(len(parts), 1, -1):
        head = "/".join(parts[:size])
        if head in back:
            return back[head] + ("/" + "/".join(parts[size:]) if parts[size:] else "")
    return pointer


class Validator:
    """Posts records to a validation API; every call is recorded as evidence."""

    def __init__(self, base_url: str, path: str, timeout: float,
                 record: Callable[[Exchange], None], schema_version: str = "1") -> None:
        self.base = base_url.rstrip("/") + path.rstrip("/")
        self.schema_version = schema_version    # the run's version: ?version=2 when 2
        self.timeout = timeout
        self.record = record
        self.session = requests.Session()

    def post(self, entity: str, body: bytes, content_type: str, note: str,
             version: str | None = None) -> dict[str, Any]:
        version = version or self.schema_version
        url = f"{self.base}/{entity}" + ("" if version == "1" else f"?version={version}")
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        try:
            answer = self.session.post(url, data=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            self.record(Exchange("POST", url, headers, body, None, note=f"{note}: {exc}"))
            raise RuntimeError(f"the validator at {url} did not answer: {type(exc).__name__}") from None
        self.record(Exchange("POST", url, headers, body, answer.status_code,
                             dict(answer.headers), answer.content, note=note))
        if answer.status_code != 200:
            raise RuntimeError(f"the validator answered {answer.status_code} to {note} "
                               f"({answer.text[:200]})")
        return answer.json()

    def close(self) -> None:
        self.session.close()


def _problems(result: dict[str, Any], where: str, entity: str,
              back: dict[str, str] | None = None, prefix: str = "") -> list[Problem]:
    out = []
    for err in result.get("errors", []):
        pointer = err.get("pointer", "")
        if prefix and pointer.startswith(prefix):
            pointer = pointer[len(prefix):]
        if back:
            pointer = _translate(pointer, back)
        out.append(Problem(where, pointer, err.get("rule", ""), err.get("message_en", ""), entity))
    return out


def check_file(path: Path, validator: Validator, display: str) -> FileReport:
    report = FileReport(display)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        report.readable, report.file_error = False, f"cannot read: {exc.strerror or exc}"
        return report
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        return _check_ndjson(raw, path, validator, report)
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        report.readable, report.file_error = False, "not UTF-8"
        return report
    except json.JSONDecodeError as exc:
        report.readable, report.file_error = False, f"not JSON: {exc.msg} at line {exc.lineno}"
        return report
    if isinstance(value, dict) and value.get("format") == NATIONAL_FORMAT:
        return _check_national(value, validator, report)
    if isinstance(value, dict) and "records" in value and (
            "schema_version" in value or "batch_id" in value or "sender" in value):
        return _check_envelope(raw, value, validator, report)
    if isinstance(value, list) and value and all(_is_item(v) for v in value):
        report.format = "json items"
        return _check_items([(f"item {i}", v) for i, v in enumerate(value)], validator, report)
    entity = entity_from_name(path)
    if entity is None:
        report.readable = False
        report.file_error = ("cannot tell the entity of its records: name the file after it "
                             "(e.g. volunteer.json) or write batch items {entity, op, data}")
        return report
    records = value if isinstance(value, list) else [value]
    report.format = "json array" if isinstance(value, list) else "json record"
    report.entities = [entity]
    report.records = len(records)
    answer = validator.post(entity, json.dumps(records, ensure_ascii=False).encode(),
                            "application/json", f"{display}: {len(records)} {entity} record(s)")
    for result in answer["results"]:
        where = f"record {result['index']}"
        if result["valid"]:
            report.valid += 1
        report.problems += _problems(result, where, entity)
    return report


def _check_ndjson(raw: bytes, path: Path, validator: Validator, report: FileReport) -> FileReport:
    report.format = "ndjson"
    first = None
    for line in raw.splitlines():
        if line.strip():
            try:
                first = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                pass
            break
    if _is_item(first):
        report.format = "ndjson items"
        items = []
        for number, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((f"line {number}", json.loads(line)))
            except (ValueError, UnicodeDecodeError) as exc:
                report.records += 1
                report.problems.append(Problem(f"line {number}", "", "input.malformed-json",
                                               f"line {number} is not JSON: {exc}"))
        return _check_items(items, validator, report)
    entity = entity_from_name(path)
    if entity is None:
        report.readable = False
        report.file_error = ("cannot tell the entity of its records: name the file after it "
                             "(e.g. volunteer.ndjson) or write batch items {entity, op, data}")
        return report
    report.entities = [entity]
    answer = validator.post(entity, raw, "application/x-ndjson", f"{report.name}: NDJSON of {entity}")
    for result in answer["results"]:
        report.records += 1
        if result["valid"]:
            report.valid += 1
        report.problems += _problems(result, f"line {result.get('line', result['index'] + 1)}", entity)
    return report


def _check_items(items: list[tuple[str, Any]], validator: Validator, report: FileReport) -> FileReport:
    by_entity: dict[str, list[tuple[str, Any]]] = {}
    for where, item in items:
        report.records += 1
        if not _is_item(item) or not isinstance(item.get("data"), dict):
            report.problems.append(Problem(where, "", "item.shape",
                                           "not a batch item {entity, op, data} with an object data"))
            continue
        if item.get("op", "upsert") == "delete":
            report.not_checked += 1
            continue
        if item["entity"] not in ENTITIES:
            report.problems.append(Problem(where, "/entity", "item.entity",
                                           f"unknown entity {item['entity']!r}"))
            continue
        by_entity.setdefault(item["entity"], []).append((where, item["data"]))
    report.entities = sorted(by_entity)
    for entity, rows in by_entity.items():
        answer = validator.post(entity, json.dumps([d for _, d in rows], ensure_ascii=False).encode(),
                                "application/json", f"{report.name}: {len(rows)} {entity} item(s)")
        for result in answer["results"]:
            where = rows[result["index"]][0]
            if result["valid"]:
                report.valid += 1
            report.problems += _problems(result, where, entity, prefix="")
    return report


def _check_envelope(raw: bytes, value: dict, validator: Validator, report: FileReport) -> FileReport:
    report.format = "batch envelope"
    answer = validator.post("batch", raw, "application/json", f"{report.name}: batch envelope")
    envelope = answer.get("envelope") or {}
    report.envelope_problems = _problems(envelope, "envelope", "batch")
    records = value.get("records") if isinstance(value.get("records"), list) else []
    report.entities = sorted({r.get("entity") for r in records
                              if isinstance(r, dict) and isinstance(r.get("entity"), str)})
    for result in answer["results"]:
        report.records += 1
        item = records[result["index"]] if result["index"] < len(records) else {}
        entity = item.get("entity", "") if isinstance(item, dict) else ""
        if isinstance(item, dict) and item.get("op") == "delete" and result["valid"]:
            report.not_checked += 1
            continue
        if result["valid"]:
            report.valid += 1
        report.problems += _problems(result, f"record {result['index']}", entity)
    return report


def _check_national(value: dict, validator: Validator, report: FileReport) -> FileReport:
    report.format = "national"
    entity = value.get("entity")
    table = national_table()
    if entity not in table:
        report.readable = False
        report.file_error = (f"national file of entity {entity!r}: the national format has "
                             f"{', '.join(table)}")
        return report
    report.entities = [entity]
    records = value.get("records")
    if isinstance(records, dict):
        rows = [(f"{table[entity]['table']} id {key}", item) for key, item in records.items()]
    elif isinstance(records, list):
        rows = [(f"{table[entity]['table']} record {i}", item) for i, item in enumerate(records)]
    else:
        report.readable, report.file_error = False, "records must be an object or an array"
        return report
    known = {f["code"] for f in table[entity]["fields"]} | {"_vgw"}
    converted: list[tuple[str, dict, dict]] = []
    for where, item in rows:
        report.records += 1
        native = item.get("native", item) if isinstance(item, dict) else None
        if isinstance(item, dict) and item.get("op") == "delete":
            report.not_checked += 1
            continue
        if not isinstance(native, dict):
            report.problems.append(Problem(where, "", "mapping.invalid", "a record must be an object",
                                           entity))
            continue
        unknown = sorted(k for k in native if k not in known and re.match(r"^alb[a-z][0-9]{4}$", k)
                         and not k.startswith(_code_family(entity)))
        for code in unknown:
            report.problems.append(Problem(where, f"/{code}", "mapping.foreign_code",
                                           f"{code} is a field code of another national table",
                                           entity))
        record, back = national_to_standard(entity, native)
        converted.append((where, record, back))
    if converted:
        answer = validator.post(entity, json.dumps([r for _, r, _ in converted],
                                                   ensure_ascii=False).encode(),
                                "application/json",
                                f"{report.name}: {len(converted)} national {entity} record(s), "
                                "mapped to the standard by the suite",
                                version="1")  # the suite maps by v1's x-national-codes
        for result in answer["results"]:
            where, _, back = converted[result["index"]]
            problems = _problems(result, where, entity, back)
            if result["valid"] and not any(p.record == where for p in report.problems):
                report.valid += 1
            report.problems += problems
    return report


def _code_family(entity: str) -> str:
    fields = national_table()[entity]["fields"]
    return fields[0]["code"][:4] if fields else "alb"
