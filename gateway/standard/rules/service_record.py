"""Service time (志愿服务时间) rules: one stretch of service, and how its hours may be counted.

A record ends after it starts and not in the future. How its ``hours`` relate to the
stretch is a **policy** (docs/rules.md, "Where each rule comes from"): the 2020 办法 Art. 7
makes service time "志愿者实际付出的时间" that the organisation "科学合理确定", and says nothing
of the clock, so by default hours may be at most the stretch
(``service_record.hours_within_duration``, ``SERVICE_HOURS_POLICY = "within_duration"``).
The national front-end's own behaviour — hours = end − start (``service_record.hours_match``,
``"equal_duration"``) and no record across midnight (``service_record.same_day``,
``SERVICE_RECORD_SAME_DAY``) — is optional, never "the standard". Each rule decides here, in
one place; the fast path (:mod:`gateway.standard.rules.fast`) calls the same predicates.

Whether a record falls inside the project's dates or overlaps another record needs the
store and is not checked here.

"The record's local time zone" is the one its ``started_at`` is written in: its own offset
when it has one, the gateway's time zone (``ctx.tz``) when it is naive; ``ended_at`` is
converted to that zone before comparing days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Iterator

from gateway.standard.issues import Issue
from gateway.standard.rules import RuleContext, rule
from gateway.standard.rules.common import parse_local_datetime

# |hours - exact length| may be at most half a hundredth: any value correctly rounded to 2
# decimals passes, whichever way it rounded a half; 3.49 or 3.51 for 3.5 h does not.
HOURS_TOLERANCE = 0.005 + 1e-9
_MIDNIGHT = time(0, 0)
_ONE_DAY = timedelta(days=1)


WITHIN_DURATION, EQUAL_DURATION = "within_duration", "equal_duration"


# -- the predicates, shared with the fast path ---------------------------------------------

def spans_midnight(started: datetime, ended: datetime) -> bool:
    """True when ``ended`` (> ``started``) falls on a later day than ``started`` in the
    start's zone; ending at exactly 00:00:00 of the next day does not count."""
    local_end = ended.astimezone(started.tzinfo)
    start_day, end_day = started.date(), local_end.date()
    return not (end_day == start_day
                or (end_day == start_day + _ONE_DAY and local_end.time() == _MIDNIGHT))


def hours_equal_duration(hours: float, seconds: float) -> bool:
    """``hours`` is the stretch's length to 2 decimals (tolerance :data:`HOURS_TOLERANCE`)."""
    return abs(hours - seconds / 3600) <= HOURS_TOLERANCE


def hours_within_duration(hours: float, seconds: float) -> bool:
    """``hours`` is at most the stretch's length (to 2 decimals, same tolerance)."""
    return hours - seconds / 3600 <= HOURS_TOLERANCE


def hours_pass(ctx: RuleContext, hours: float, seconds: float) -> bool:
    """Whether ``hours`` for a stretch of ``seconds`` passes the policy of ``ctx``."""
    if ctx.hours_policy == EQUAL_DURATION:
        return hours_equal_duration(hours, seconds)
    return hours_within_duration(hours, seconds)


def _window(record: dict, ctx: RuleContext) -> tuple[datetime, datetime] | None:
    started = parse_local_datetime(record.get("started_at"), ctx.tz)
    if started is None:
        return None
    ended = parse_local_datetime(record.get("ended_at"), ctx.tz)
    if ended is None:
        return None
    return started, ended


@rule("service_record.end_after_start", "service_record")
def end_after_start(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """Service ends after it starts (ended_at > started_at)."""
    if not isinstance(record, dict):
        return
    window = _window(record, ctx)
    if window is not None and window[1] <= window[0]:
        yield Issue("/ended_at", "service_record.end_after_start",
                    "服务结束时间应晚于开始时间（started_at）",
                    "ended_at must be after started_at")


@rule("service_record.same_day", "service_record")
def same_day(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """Policy SERVICE_RECORD_SAME_DAY (off by default): service does not span midnight in the record's local time zone (ending at 00:00:00 is allowed)."""
    if not ctx.same_day or not isinstance(record, dict):
        return
    window = _window(record, ctx)
    if window is None:
        return
    started, ended = window
    if ended <= started:
        return  # service_record.end_after_start
    if not spans_midnight(started, ended):
        return
    yield Issue("/ended_at", "service_record.same_day",
                "一条服务时间记录不能跨越午夜：开始与结束须在同一天，跨天的服务请按天拆分为多条记录",
                "a service record must not span midnight: started_at and ended_at must be on "
                "the same day; split service that crosses midnight into one record per day")


@rule("service_record.not_future", "service_record")
def not_future(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """Service has ended by now (ended_at is not after ctx.now)."""
    if not isinstance(record, dict):
        return
    ended = parse_local_datetime(record.get("ended_at"), ctx.tz)
    if ended is not None and ended > ctx.now:
        yield Issue("/ended_at", "service_record.not_future",
                    "服务结束时间晚于当前时间：不能登记尚未完成的服务",
                    "ended_at is in the future: only service already done can be recorded")


def _hours_and_seconds(record: dict, ctx: RuleContext) -> tuple[float, float] | None:
    """The record's hours and the stretch's length in seconds, or None when either cannot
    be judged (wrong type, not finite, no valid window: other rules or the schema speak)."""
    hours = record.get("hours")
    if isinstance(hours, bool) or not isinstance(hours, (int, float)):
        return None
    try:
        hours = float(hours)
    except OverflowError:
        return None  # an integer beyond float: the schema's maximum reports it
    if not math.isfinite(hours):
        return None
    window = _window(record, ctx)
    if window is None or window[1] <= window[0]:
        return None
    return hours, (window[1] - window[0]).total_seconds()


def _expected(seconds: float) -> Decimal:
    return (Decimal(round(seconds)) / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass(frozen=True)
class _HoursPolicy:
    rule_id: str
    passes: Callable[[float, float], bool]
    message_zh: str  # formatted with {expected}: ended_at - started_at in hours, 2 decimals
    message_en: str


_HOURS_POLICIES = {
    EQUAL_DURATION: _HoursPolicy(
        "service_record.hours_match", hours_equal_duration,
        "服务时长与开始、结束时间不符：应为 {expected} 小时（结束时间减开始时间，保留 2 位小数）",
        "hours does not match started_at and ended_at: expected {expected} "
        "(ended_at - started_at in hours, 2 decimals)"),
    WITHIN_DURATION: _HoursPolicy(
        "service_record.hours_within_duration", hours_within_duration,
        "服务时长超过了开始至结束的时间：最多 {expected} 小时（结束时间减开始时间，保留 2 位小数）",
        "hours exceeds the time from started_at to ended_at: at most {expected} "
        "(ended_at - started_at in hours, 2 decimals)"),
}


def _hours_against(policy: str, record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """The issue of ``policy``'s rule, when ``policy`` is the context's and the hours fail it."""
    if ctx.hours_policy != policy or not isinstance(record, dict):
        return
    found = _hours_and_seconds(record, ctx)
    check = _HOURS_POLICIES[policy]
    if found is None or check.passes(*found):
        return
    expected = _expected(found[1])
    yield Issue("/hours", check.rule_id, check.message_zh.format(expected=expected),
                check.message_en.format(expected=expected))


@rule("service_record.hours_match", "service_record")
def hours_match(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """Policy SERVICE_HOURS_POLICY = equal_duration: hours equals ended_at - started_at in hours to 2 decimals (tolerance 0.005)."""
    return _hours_against(EQUAL_DURATION, record, ctx)


@rule("service_record.hours_within_duration", "service_record")
def hours_within(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """Policy SERVICE_HOURS_POLICY = within_duration (default): hours is at most ended_at - started_at in hours, 2 decimals (tolerance 0.005)."""
    return _hours_against(WITHIN_DURATION, record, ctx)
