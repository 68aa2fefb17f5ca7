"""Rules and helpers shared by every entity: real date-times and current region codes.

The helpers here are what the entity modules use to read dates and date-times; they accept
any JSON value and return None for anything that is not a well-formed, real value, so a
rule built on them skips what the JSON Schema already reports.
"""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any, Iterator

from gateway.standard.issues import Issue, pointer
from gateway.standard.rules import RuleContext, rule

# Every entity published in schemas/v1 plus the batch envelope.
ALL_ENTITIES = ("volunteer", "team", "project", "enrollment", "service_record", "training",
                "commendation", "evaluation", "complaint", "certificate", "batch")

# The wire shapes (see the schema conventions). re.ASCII: \d must not match other scripts' digits.
_DATETIME_MATCH = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})?", re.ASCII).fullmatch
_DATE_MATCH = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII).fullmatch
_REGION_MATCH = re.compile(r"\d{6}(?:\d{3}(?:\d{3}(?:\d{6})?)?)?", re.ASCII).fullmatch


def is_local_datetime_shape(value: Any) -> bool:
    """Whether ``value`` is a string of the wire's local-date-time shape (real or not)."""
    return isinstance(value, str) and _DATETIME_MATCH(value) is not None


def parse_local_datetime(value: Any, tz: tzinfo) -> datetime | None:
    """An aware datetime from a wire local-date-time, or None.

    ``YYYY-MM-DDTHH:MM:SS`` with an optional ``Z`` / ``±HH:MM`` offset; a naive value is in
    ``tz`` (the gateway's time zone). Returns None for any other value, including strings of
    the right shape that name no real instant (30 February, hour 25, offset +24:00).
    """
    if not isinstance(value, str) or not 19 <= len(value) <= 25:
        return None
    return _parse_local_datetime(value, tz)


# Several rules read the same fields of one record: parse each string once. Bounded, and
# only ever called with short strings; lru_cache is thread-safe.
@lru_cache(maxsize=1024)
def _parse_local_datetime(value: str, tz: tzinfo) -> datetime | None:
    if _DATETIME_MATCH(value) is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def parse_date(value: Any) -> date | None:
    """A date from a wire ``YYYY-MM-DD`` string, or None (wrong type, shape or not a real date)."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    return _parse_date(value)


@lru_cache(maxsize=1024)
def _parse_date(value: str) -> date | None:
    if _DATE_MATCH(value) is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def is_region_shape(value: Any) -> bool:
    """Whether ``value`` is a region code of the wire's shape (6, 9, 12 or 18 ASCII digits)."""
    return isinstance(value, str) and _REGION_MATCH(value) is not None


def age_on(birth: date, day: date) -> int:
    """Completed years on ``day``: the birthday counts on the day itself; 29 Feb counts on 1 Mar."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# --- datetime.real --------------------------------------------------------------------------

# The rule cannot see which entity it runs for, so it checks the union of the local-date-time
# fields of all entities (per the wire key list); the names do not collide between entities.
_DATETIME_FIELDS = ("source_updated_at", "started_at", "ended_at", "applied_at", "decided_at",
                    "submitted_at", "evaluated_at", "generated_at")
_DATETIME_IN_OBJECTS = (("guardian", ("consent_at",)),)
_DATETIME_IN_ARRAYS = (("posts", ("starts_at", "ends_at")),)


def _not_real(value: Any, tz: tzinfo) -> bool:
    """Of the local-date-time shape but no real instant (absent or other shapes: the schema's)."""
    return (isinstance(value, str) and _DATETIME_MATCH(value) is not None
            and parse_local_datetime(value, tz) is None)


def _unreal_issue(ptr: str, key: str) -> Issue:
    return Issue(ptr, "datetime.real",
                 f"{key} 不是真实存在的日期时间（例如 2 月 30 日、25 时或超出范围的时区偏移）",
                 f"{key} is not a real date-time (such as 30 February, hour 25 or an "
                 "out-of-range offset); expected YYYY-MM-DDTHH:MM:SS with an optional offset")


@rule("datetime.real", *ALL_ENTITIES)
def datetime_real(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """Every local-date-time field of the right shape names a real instant."""
    if not isinstance(record, dict):
        return
    tz = ctx.tz
    for key in _DATETIME_FIELDS:
        if _not_real(record.get(key), tz):
            yield _unreal_issue("/" + key, key)
    for obj_key, keys in _DATETIME_IN_OBJECTS:
        obj = record.get(obj_key)
        if isinstance(obj, dict):
            for key in keys:
                if _not_real(obj.get(key), tz):
                    yield _unreal_issue(pointer(obj_key, key), key)
    for arr_key, keys in _DATETIME_IN_ARRAYS:
        items = record.get(arr_key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    for key in keys:
                        if _not_real(item.get(key), tz):
                            yield _unreal_issue(pointer(arr_key, i, key), key)


# --- region.current -------------------------------------------------------------------------

_REGION_FIELDS = ("residence_area", "service_area", "registration_area", "area")


def _region_issue(key: str, code: str, ctx: RuleContext) -> Issue:
    # Name only the 6-digit prefix: an 18-digit value in a region field may be an ID number.
    code6 = code[:6]
    county = ctx.regions.lookup(code6)
    if county is not None:
        # The county is current; the town (or community) part below it is not.
        return Issue("/" + key, "region.current",
                     f"{key} 中的乡镇（街道）部分不是 {code6}（{county.name}）下的现行区划",
                     f"the town/street part of {key} is not a current division of "
                     f"{code6} ({county.name})")
    if ctx.regions.existed(code6):
        return Issue("/" + key, "region.current",
                     f"{key} 的区划代码 {code6} 已撤销或变更，不是现行行政区划，请使用现行代码",
                     f"{key}: region code {code6} has been abolished or changed and is not a "
                     "current division; use the current code")
    return Issue("/" + key, "region.current",
                 f"{key} 的区划代码 {code6} 不是现行行政区划代码",
                 f"{key}: {code6} is not a current administrative division code")


@rule("region.current", "volunteer", "team", "project")
def region_current(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """Every region-code field names a current administrative division (GB/T 2260 / statistics codes)."""
    if not isinstance(record, dict):
        return
    regions = ctx.regions
    for key in _REGION_FIELDS:
        code = record.get(key)
        # lookup first (the common case is a current code); the shape only on a miss
        if isinstance(code, str) and regions.lookup(code) is None and is_region_shape(code):
            yield _region_issue(key, code, ctx)
