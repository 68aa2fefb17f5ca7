"""The spreadsheet adapter's fields and cells: which standard field a column maps to (typed
by the published schema through the adapters' field toolkit, adapters/fields.py), and how a
cell's value becomes the standard's and back (the rules are in the package's docstring)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

import schemas
from adapters.fields import field_type, is_number, number_of_text, restored_code

__all__ = ["Field", "Problem", "cell_json", "field_of", "from_std", "labels", "to_std"]

_SEPARATORS = re.compile(r"[,，、;；\n]")
_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_DATE8_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DT_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?"
                    r"(Z|[+-]\d{2}:\d{2})?$")
_TRUE = {"是", "true", "yes", "y", "1", "√", "✓"}
_FALSE = {"否", "false", "no", "n", "0", "×", "✗"}
_MAX_EXACT_FLOAT = 2 ** 53


# -- fields and their types, from the schema --------------------------------------------

@dataclass(frozen=True, slots=True)
class Field:
    key: str                          # "name" or "guardian.name"
    path: tuple[str, ...]
    kind: str                         # code | codes | number | integer | boolean | date | datetime | string
    table: str | None                 # code table name
    enum: frozenset[str] | None
    title: str


def field_of(entity: str, key: str) -> Field | str:
    """The field a column maps to, or why it cannot be mapped."""
    schema = schemas.load_schema("1", entity)
    path = tuple(key.split("."))
    node: dict = schema
    for step in path:
        props = node.get("properties") if node.get("type") == "object" else None
        if not props or step not in props:
            return f"{key!r} is not a field of {entity}"
        node = props[step]
    typed = field_type(node)
    if typed.kind == "list":
        return f"{key!r} is a list of objects, which has no single cell"
    if typed.kind == "object":
        return f"{key!r} is an object: map its members ({key}.name …)"
    # A region or an internal id is text in a cell.
    kind = "string" if typed.kind in ("region", "nid") else typed.kind
    return Field(key, path, kind, typed.table, typed.enum, node.get("title", key))


@lru_cache(maxsize=None)
def labels(table: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """(label → code, code → label) of a code table; an ambiguous label reads as the
    longest code (``军官证`` → ``06``, not the legacy ``6``)."""
    if not table:
        return {}, {}
    try:
        codes = schemas.code_table(table)
    except FileNotFoundError:
        return {}, {}
    by_label: dict[str, str] = {}
    for code, label in sorted(codes.items(), key=lambda kv: len(kv[0])):
        by_label[label] = code
    return by_label, dict(codes)


# -- cells ---------------------------------------------------------------------------------

def cell_json(value: Any) -> Any:
    """A cell value as JSON: dates and times as text, everything else as it is."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, str):
        return value.strip()
    return value


def excel_serial(value: float) -> datetime | None:
    if 1 <= value < 2958466:
        from openpyxl.utils.datetime import from_excel
        try:
            result = from_excel(value)
        except (ValueError, OverflowError):
            return None
        return result if isinstance(result, datetime) else datetime.combine(result, time())
    return None


class Problem(Exception):
    """Why a value cannot be converted: a rule id and a message in Chinese and English."""

    def __init__(self, rule: str, zh: str, en: str):
        self.rule, self.zh, self.en = rule, zh, en


def _code(f: Field, value: Any, values: dict[str, str]) -> str:
    if is_number(value):
        if isinstance(value, float) and not value.is_integer():
            raise Problem("mapping.unknown_code", f"「{value}」不是{f.title}的代码",
                           f"{value!r} is not a code of {f.key}")
        value = str(int(value))
    text = str(value).strip()
    if text in values:
        return values[text]
    by_label, _ = labels(f.table)
    if f.enum is None or text in f.enum:
        return text
    if text in by_label:
        return by_label[text]
    restored = restored_code(text, f.enum, (2, 3, 4))
    if restored is not None:
        return restored                # Excel dropped the leading zero
    raise Problem("mapping.unknown_code", f"「{text}」不是{f.title}的代码或名称",
                   f"{text!r} is not a code or label of {f.key}")


def to_std(f: Field, value: Any, values: dict[str, str]) -> Any:
    """A cell's value as the standard's; raises :class:`Problem`."""
    if f.kind == "code":
        return _code(f, value, values)
    if f.kind == "codes":
        if is_number(value):
            value = str(int(value)) if float(value).is_integer() else str(value)
        parts = [p.strip() for p in _SEPARATORS.split(str(value))]
        return [_code(f, p, values) for p in parts if p]
    if f.kind in ("number", "integer"):
        number: float | int | None = None
        if is_number(value):
            number = value
        elif isinstance(value, str):
            number = number_of_text(value, thousands=True)
            if number is not None and number.is_integer() and "." not in value:
                number = int(number)
        if number is None or (f.kind == "integer" and not float(number).is_integer()):
            raise Problem("mapping.invalid", f"{f.title}应为{'整数' if f.kind == 'integer' else '数值'}",
                           f"{f.key} must be {'an integer' if f.kind == 'integer' else 'a number'}")
        return int(number) if f.kind == "integer" else number
    if f.kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(int(value) if is_number(value) else value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise Problem("mapping.invalid", f"{f.title}应为“是”或“否”", f"{f.key} must be yes or no")
    if f.kind == "date":
        if is_number(value):
            serial = excel_serial(float(value))
            if serial is not None:
                return serial.date().isoformat()
        text = str(value).strip()
        match = _DATE_RE.match(text) or _DATE8_RE.match(text)
        if match is None:
            dt = _DT_RE.match(text)
            if dt and int(dt.group(4)) == 0 and dt.group(5) == "00" and (dt.group(6) or "00") == "00":
                match = dt                 # an Excel date cell: midnight
        if match:
            try:
                return date(int(match.group(1)), int(match.group(2)), int(match.group(3))).isoformat()
            except ValueError:
                pass
        raise Problem("mapping.invalid", f"{f.title}不是有效日期（如 2024-05-01）",
                       f"{f.key} is not a valid date (e.g. 2024-05-01)")
    if f.kind == "datetime":
        if is_number(value):
            serial = excel_serial(float(value))
            if serial is not None:
                return serial.replace(microsecond=0).isoformat()
        match = _DT_RE.match(str(value).strip())
        if match:
            y, mo, d, h, mi, s, tz = match.groups()
            try:
                moment = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
            except ValueError:
                moment = None
            if moment is not None:
                return moment.isoformat() + (tz or "")
        raise Problem("mapping.invalid", f"{f.title}不是有效的日期时间（如 2024-05-01 09:00:00）",
                       f"{f.key} is not a valid date-time (e.g. 2024-05-01 09:00:00)")
    # text
    if isinstance(value, bool):
        return "是" if value else "否"
    if is_number(value):
        if isinstance(value, float) and not value.is_integer():
            return repr(value)
        if abs(value) >= _MAX_EXACT_FLOAT:
            raise Problem("mapping.invalid", f"{f.title}以数值形式保存，Excel 已丢失末几位数字，请把该列设为文本",
                           f"{f.key} was stored as a number and Excel lost its last digits; "
                           "format the column as text")
        return str(int(value))
    return str(value)


def from_std(f: Field, value: Any, labels_out: dict[str, str], write_labels: bool) -> Any:
    """A standard value as a cell; raises :class:`Problem`."""
    if f.kind in ("code", "codes"):
        items = value if f.kind == "codes" else [value]
        if f.kind == "codes" and not isinstance(value, list):
            raise Problem("mapping.invalid", f"{f.title}应为代码数组", f"{f.key} must be a list of codes")
        cells = []
        for code in items:
            if not isinstance(code, str) or (f.enum is not None and code not in f.enum):
                raise Problem("mapping.unknown_code", f"「{code}」不是{f.title}的代码",
                               f"{code!r} is not a code of {f.key}")
            by_label, by_code = labels(f.table)
            if code in labels_out:
                cells.append(labels_out[code])
            elif write_labels and by_code.get(code) and by_label.get(by_code[code]) == code:
                cells.append(by_code[code])
            else:
                cells.append(code)
        return ",".join(cells) if f.kind == "codes" else cells[0]
    if f.kind == "boolean":
        if not isinstance(value, bool):
            raise Problem("mapping.invalid", f"{f.title}应为布尔值", f"{f.key} must be true or false")
        return "是" if value else "否"
    if f.kind in ("number", "integer"):
        if not is_number(value):
            raise Problem("mapping.invalid", f"{f.title}应为数值", f"{f.key} must be a number")
        return value
    if f.kind == "datetime" and isinstance(value, str):
        return value.replace("T", " ", 1)
    if not isinstance(value, str):
        raise Problem("mapping.invalid", f"{f.title}应为文本", f"{f.key} must be text")
    return value
