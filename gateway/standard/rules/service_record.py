"""Service time (志愿服务时间) rules, as the national system enforces them.

A record is one stretch of actual service: it ends after it starts, within one day, not in
the future, and its ``hours`` is the stretch's length. Whether it falls inside the
project's dates or overlaps another record needs the store and is not checked here.

"The record's local time zone" is the one its ``started_at`` is written in: its own offset
when it has one, the gateway's time zone (``ctx.tz``) when it is naive; ``ended_at`` is
converted to that zone before comparing days.
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterator

from gateway.standard.issues import Issue
from gateway.standard.rules import RuleContext, rule
from gateway.standard.rules.common import parse_local_datetime

# |hours - exact length| may be at most half a hundredth: any value correctly rounded to 2
# decimals passes, whichever way it rounded a half; 3.49 or 3.51 for 3.5 h does not.
HOURS_TOLERANCE = 0.005 + 1e-9
_MIDNIGHT = time(0, 0)
_ONE_DAY = timedelta(days=1)


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
    """Service does not span midnight in the record's local time zone (ending at 00:00:00 is allowed)."""
    if not isinstance(record, dict):
        return
    window = _window(record, ctx)
    if window is None:
        return
    started, ended = window
    if ended <= started:
        return  # service_record.end_after_start
    local_end = ended.astimezone(started.tzinfo)
    start_day, end_day = started.date(), local_end.date()
    if end_day == start_day or (end_day == start_day + _ONE_DAY and local_end.time() == _MIDNIGHT):
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


@rule("service_record.hours_match", "service_record")
def hours_match(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """hours equals ended_at - started_at in hours to 2 decimals (tolerance 0.005)."""
    if not isinstance(record, dict):
        return
    hours = record.get("hours")
    if isinstance(hours, bool) or not isinstance(hours, (int, float)):
        return
    try:
        hours = float(hours)
    except OverflowError:
        return  # an integer beyond float: the schema's maximum reports it
    if not math.isfinite(hours):
        return
    window = _window(record, ctx)
    if window is None or window[1] <= window[0]:
        return
    seconds = (window[1] - window[0]).total_seconds()
    if abs(hours - seconds / 3600) <= HOURS_TOLERANCE:
        return
    expected = (Decimal(round(seconds)) / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP)
    yield Issue("/hours", "service_record.hours_match",
                f"服务时长与开始、结束时间不符：应为 {expected} 小时（结束时间减开始时间，保留 2 位小数）",
                f"hours does not match started_at and ended_at: expected {expected} "
                "(ended_at - started_at in hours, 2 decimals)")
