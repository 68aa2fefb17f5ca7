"""Working days of China's official calendar (gateway.standard.workdays) and what happens past
the years the installed calendar knows (an estimate, reported, never refused)."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from gateway.services.hours import recording_lateness
from gateway.standard import workdays

TZ = ZoneInfo("Asia/Shanghai")


def test_the_2026_notice_holidays_and_adjusted_working_days():
    # 春节 2月15日至23日放假，2月14日（周六）、2月28日（周六）上班 (国办发明电〔2025〕7号)
    assert workdays.is_working_day(date(2026, 2, 14)) == (True, True)
    assert workdays.is_working_day(date(2026, 2, 16)) == (False, True)
    assert workdays.is_working_day(date(2026, 2, 28)) == (True, True)
    assert workdays.working_days_between(date(2026, 2, 13), date(2026, 3, 5)) == \
        workdays.WorkingDays(10, False)


def test_the_calendar_covers_the_current_year():
    first, last = workdays.calendar_years()
    assert first <= 2020 and last >= 2026


def test_past_the_calendar_monday_to_friday_is_assumed_and_marked():
    first, last = workdays.calendar_years()
    monday = date(last + 1, 1, 4) if date(last + 1, 1, 4).weekday() == 0 else None
    day = monday or date(last + 1, 1, 5)
    working, known = workdays.is_working_day(day)
    assert known is False and working == (day.weekday() < 5)
    counted = workdays.working_days_between(date(last, 12, 24), date(last + 1, 1, 20))
    assert counted.estimated


def _ctx(policy):
    return SimpleNamespace(config={"RECORDING_DEADLINE": policy, "RECORDING_DEADLINE_DAYS": 10},
                           tz=TZ)


def test_an_estimate_is_reported_but_never_refused():
    _first, last = workdays.calendar_years()
    ended = datetime(last + 1, 3, 2, 12, 0, tzinfo=TZ)
    late, issue = recording_lateness(_ctx("refuse"), ended, date(last + 1, 4, 30))
    assert late is not None and late > 10 and issue is None
    # within the calendar's years the same policy refuses
    late, issue = recording_lateness(_ctx("refuse"), datetime(2026, 10, 9, 12, tzinfo=TZ),
                                     date(2026, 10, 23))
    assert late == 11 and issue is not None and issue.rule == "service_record.recorded_late"
    # an end at 00:00 belongs to the day before
    late, issue = recording_lateness(_ctx("refuse"), datetime(2026, 10, 10, 0, 0, tzinfo=TZ),
                                     date(2026, 10, 23))
    assert late == 11 and issue is not None


def test_an_end_at_or_after_the_recording_counts_nothing_even_at_the_calendars_edges():
    """A fuzzed correction ending 9999-12-31 answered 500: the count began at the day after
    the end, past date.max. Nothing lies between an end and an earlier (or the same) day."""
    from datetime import date

    from gateway.standard.workdays import working_days_between
    assert working_days_between(date.max, date(2026, 1, 5)).count == 0
    assert working_days_between(date.max, date.max).count == 0
    assert working_days_between(date(2026, 1, 5), date(2026, 1, 5)).count == 0
