"""Working days by the State Council holiday schedule, make-up days included (chinesecalendar).

For years the installed calendar does not yet cover, Monday–Friday are taken as working days
(and `calendar_covers` says so): a deadline is never left uncomputed. Upgrade
`chinesecalendar` each December when the next year's schedule is published.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import chinese_calendar.constants

SHANGHAI = ZoneInfo("Asia/Shanghai")


# the years whose State Council schedule the installed package knows
_COVERED_YEARS = frozenset(d.year for d in chinese_calendar.constants.holidays)


def calendar_covers(day: date) -> bool:
    return day.year in _COVERED_YEARS


def is_workday(day: date) -> bool:
    if calendar_covers(day):
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


def add_workdays(start: date, days: int) -> date:
    """The date `days` working days after `start` (start itself not counted)."""
    if days < 0:
        raise ValueError("days must be >= 0")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_workday(current):
            remaining -= 1
    return current


def workday_deadline(start: datetime, days: int) -> datetime:
    """End of the `days`-th working day after `start`, Shanghai time (23:59:59.999999)."""
    local = start.astimezone(SHANGHAI)
    due = add_workdays(local.date(), days)
    return datetime.combine(due, time.max, tzinfo=SHANGHAI)


def today_shanghai(now: datetime | None = None) -> date:
    return (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()
