"""Working days for deadlines, on the process's calendar (services/common/workcalendar.py).

The calendar has three layers: a schedule loaded by the county (`shuangjian calendar load`), the
State Council schedule packaged in chinesecalendar, and the statutory holidays computed for any
year. A deadline counted on a year with neither official schedule is provisional
(`workday_deadline_detail(...).provisional`, `deadline_provisional`).
"""
from __future__ import annotations

from datetime import date, datetime

from . import workcalendar
from .workcalendar import SHANGHAI, Deadline  # noqa: F401  (SHANGHAI: imported from here by many modules)


def calendar_covers(day: date) -> bool:
    """The year of `day` has an official schedule (loaded or packaged)."""
    return workcalendar.current().is_official(day.year)


def is_workday(day: date) -> bool:
    return workcalendar.current().is_workday(day)


def add_workdays(start: date, days: int) -> date:
    """The date `days` working days after `start` (start itself not counted)."""
    return workcalendar.current().add_workdays(start, days)


def workday_deadline(start: datetime, days: int) -> datetime:
    """End of the `days`-th working day after `start`, Shanghai time (23:59:59.999999)."""
    return workcalendar.current().deadline(start, days).at


def workday_deadline_detail(start: datetime, days: int) -> Deadline:
    return workcalendar.current().deadline(start, days)


def deadline_provisional(start: datetime | None, deadline: datetime | None) -> bool:
    """Whether a stored deadline was counted over a year without an official schedule (as of now)."""
    if start is None or deadline is None:
        return False
    return workcalendar.current().provisional_between(start.astimezone(SHANGHAI).date(),
                                                      deadline.astimezone(SHANGHAI).date())


def today_shanghai(now: datetime | None = None) -> date:
    return (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()
