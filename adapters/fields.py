"""The built-in adapters' field toolkit: what a schema property is, and the conversions of a
value that every format needs the same way.

An adapter that maps a native format to the standard reads the published schema to know
each field's type (:func:`field_type`) and converts values by it; how a value is written
natively differs (a spreadsheet cell, a national field code), the type and the small
conversions below do not. The national adapter (adapters/national.py) and the spreadsheet
adapter (adapters/spreadsheet/cells.py) both use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

__all__ = ["FieldType", "field_type", "is_number", "number_of_text", "restored_code"]


@dataclass(frozen=True, slots=True)
class FieldType:
    """How a schema property's value is typed.

    ``kind`` is one of ``region`` (``x-region``), ``nid`` (``x-national-internal-id``),
    ``datetime`` (``x-format: local-date-time``), ``date`` (``format: date``), ``codes`` (an
    array of strings, usually codes), ``list`` (an array of anything else), ``object``,
    ``code`` (an ``enum``), ``number``, ``integer``, ``boolean``, ``string``; ``enum`` the
    codes allowed (of the items, for ``codes``), ``table`` the code table
    (``x-code-table``) they come from.
    """

    kind: str
    enum: frozenset[str] | None = None
    table: str | None = None


def field_type(prop: dict) -> FieldType:
    """The type of the schema property ``prop`` (see :class:`FieldType`)."""
    if prop.get("x-region"):
        return FieldType("region")
    if prop.get("x-national-internal-id"):
        return FieldType("nid")
    if prop.get("x-format") == "local-date-time":
        return FieldType("datetime")
    if prop.get("format") == "date":
        return FieldType("date")
    if prop.get("type") == "array":
        items = prop.get("items", {})
        if items.get("type") == "string":
            return FieldType("codes", frozenset(items["enum"]) if "enum" in items else None,
                             items.get("x-code-table"))
        return FieldType("list")
    if "enum" in prop:
        return FieldType("code", frozenset(prop["enum"]), prop.get("x-code-table"))
    return FieldType(prop.get("type", "string"))


def is_number(value: Any) -> bool:
    """An int or a float, not a bool (JSON numbers; spreadsheet number cells)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number_of_text(text: str, *, thousands: bool = False) -> float | None:
    """The number a text spells (``"1,234.5"`` with ``thousands``), else None."""
    try:
        return float(text.replace(",", "") if thousands else text)
    except ValueError:
        return None


def restored_code(text: str, enum: Iterable[str], widths: Iterable[int] = (2,)) -> str | None:
    """A code that lost its leading zeros (kept as a number: ``1`` for ``01``) given back at
    the first of ``widths`` that makes it one of ``enum``; None if none does."""
    if not text.isdigit():
        return None
    for width in widths:
        padded = text.zfill(width)
        if padded in enum:
            return padded
    return None
