"""Working days (工作日) of China's official calendar, for the 2020 办法's time limits.

《志愿服务记录与证明出具办法（试行）》 Art. 11: service is recorded within 10 working days
after the activity ends. Working days are those of the State Council's yearly holiday
notice, with its 调休 days (a Saturday or Sunday made a working day, a weekday made a
holiday): the calendar comes from the maintained ``chinesecalendar`` package (PyPI; import
name ``chinese_calendar``), not from a list kept here. Upgrade it each year once the notice
for the next year is out (the State Council publishes it around November).

Past the years the installed package knows (``chinese_calendar`` raises for them), a day is
counted as a working day when it is Monday to Friday; the answer then says so
(:attr:`WorkingDays.estimated`), and callers never refuse on an estimate — they report it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

__all__ = ["WorkingDays", "add_working_days", "calendar_years", "is_working_day",
           "working_days_between"]


def calendar_years() -> tuple[int, int]:
    """The first and last year the installed calendar knows."""
    years = sorted({day.year for day in chinese_calendar.holidays} |
                   {day.year for day in chinese_calendar.workdays})
    return years[0], years[-1]


def is_working_day(day: date) -> tuple[bool, bool]:
    """``(working, known)``: whether ``day`` is a working day, and whether the official
    calendar says so (False: past its years, Monday–Friday assumed)."""
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        return day.weekday() < 5, False


@dataclass(frozen=True)
class WorkingDays:
    count: int          # working days after ``start`` up to and including ``end``
    estimated: bool     # some day was past the calendar's years (Monday–Friday assumed)


def working_days_between(start: date, end: date) -> WorkingDays:
    """The working days in (start, end]: how many working days after ``start`` ``end`` is
    (0 when ``end`` is ``start`` or before)."""
    count, estimated = 0, False
    if end <= start:  # (also keeps date.max + 1 day from being computed)
        return WorkingDays(0, False)
    day = start + timedelta(days=1)
    while day <= end:
        working, known = is_working_day(day)
        count += working
        estimated = estimated or not known
        day += timedelta(days=1)
    return WorkingDays(count, estimated)


def add_working_days(start: date, count: int) -> tuple[date, bool]:
    """The ``count``-th working day after ``start`` and whether it is an estimate (some day
    past the calendar's years)."""
    day, left, estimated = start, count, False
    while left > 0:
        day += timedelta(days=1)
        working, known = is_working_day(day)
        estimated = estimated or not known
        left -= working
    return day, estimated
