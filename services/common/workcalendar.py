"""The working-day calendar as data: three layers, the first that knows a year wins.

1. a schedule a county administrator loaded (the State Council notice of that year: 休 days and
   make-up 班 days, every other day by weekday);
2. the schedule published in `chinesecalendar` where it covers the year;
3. the statutory holidays of 全国年节及纪念日放假办法 (2024 revision), computed for any year,
   with the weekend rule of its Article 6 (a holiday on a Saturday or Sunday is made up on the
   next working day) and weekends. Deadlines on such a year are *provisional*: the State
   Council's notice may still move make-up days.

Pure and process-local: services and the workflows worker keep the loaded schedules in
`current()` (filled from their own copy, see calendar_copy.py); workflow code never reads it.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
import chinese_calendar.constants
from holidays.calendars.chinese import _ChineseLunisolar

SHANGHAI = ZoneInfo("Asia/Shanghai")
REST, WORK = "休", "班"
LOADED, PACKAGE, STATUTORY = "loaded", "package", "statutory"
SOURCE_NAMES = {LOADED: "已导入的国务院放假安排", PACKAGE: "内置的国务院放假安排", STATUTORY: "法定节假日推算（暂定）"}

PACKAGE_YEARS = frozenset(d.year for d in chinese_calendar.constants.holidays)
_LUNAR = _ChineseLunisolar()


@dataclass(frozen=True)
class ScheduleDay:
    day: date
    kind: str  # 休 (rest, a holiday or a day off in lieu) | 班 (a make-up working day)
    name: str = ""

    def as_dict(self) -> dict:
        return {"date": self.day.isoformat(), "kind": self.kind, "name": self.name}


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> tuple[tuple[date, str], ...]:
    """The statutory holidays of `year` (2024 revision): 元旦 1, 春节 4 (除夕–初三), 清明 1,
    劳动节 2, 端午 1, 中秋 1, 国庆 3 — lunar dates and the 清明 solar term computed."""
    spring, _ = _LUNAR.lunar_new_year_date(year)
    dragon, _ = _LUNAR.dragon_boat_date(year)
    autumn, _ = _LUNAR.mid_autumn_date(year)
    qingming, _ = _LUNAR.qingming_date(year)
    blocks = [
        ("元旦", [date(year, 1, 1)]),
        ("春节", [spring + timedelta(days=i) for i in range(-1, 3)] if spring else []),
        ("清明节", [qingming]),
        ("劳动节", [date(year, 5, 1), date(year, 5, 2)]),
        ("端午节", [dragon] if dragon else []),
        ("中秋节", [autumn] if autumn else []),
        ("国庆节", [date(year, 10, d) for d in (1, 2, 3)]),
    ]  # past 2099 the lunar table ends: the solar holidays still count, a deadline is never left uncomputed
    return tuple((day, name) for name, days in blocks for day in days)


@lru_cache(maxsize=64)
def statutory_days_off(year: int) -> dict[date, str]:
    """Statutory holidays plus Article 6's days in lieu: each holiday on a weekend adds the next
    day that is neither a weekend nor a holiday (补假)."""
    off = dict(statutory_holidays(year))
    for day, name in statutory_holidays(year):
        if day.weekday() >= 5:
            lieu = day + timedelta(days=1)
            while lieu.weekday() >= 5 or lieu in off:
                lieu += timedelta(days=1)
            off[lieu] = f"{name}（补假）"
    return off


@dataclass(frozen=True)
class Deadline:
    at: datetime  # end of the last working day, Asia/Shanghai
    provisional: bool  # a year counted on has no official schedule (neither loaded nor packaged)


class WorkCalendar:
    """Working days by the three layers; `loaded` maps a year to its loaded schedule days."""

    def __init__(self, loaded: dict[int, list[ScheduleDay]] | None = None):
        self._loaded: dict[int, dict[date, ScheduleDay]] = {}
        for year, days in (loaded or {}).items():
            self.replace_year(year, days)

    def replace_year(self, year: int, days: list[ScheduleDay]) -> None:
        self._loaded[int(year)] = {d.day: d for d in days}

    def loaded_years(self) -> list[int]:
        return sorted(self._loaded)

    def loaded_days(self, year: int) -> list[ScheduleDay]:
        return sorted(self._loaded.get(year, {}).values(), key=lambda d: d.day)

    def overlay(self, loaded: dict[int, list[ScheduleDay]]) -> WorkCalendar:
        """A copy with these years' schedules laid over (what a workflow was told)."""
        copy = WorkCalendar()
        copy._loaded = dict(self._loaded)
        for year, days in loaded.items():
            copy.replace_year(year, days)
        return copy

    def source(self, year: int) -> str:
        if year in self._loaded:
            return LOADED
        return PACKAGE if year in PACKAGE_YEARS else STATUTORY

    def is_official(self, year: int) -> bool:
        return self.source(year) != STATUTORY

    def day_detail(self, day: date) -> tuple[bool, str | None]:
        """(is a working day, the holiday's name or None)."""
        source = self.source(day.year)
        if source == LOADED:
            entry = self._loaded[day.year].get(day)
            if entry is not None:
                return entry.kind == WORK, entry.name or None
            return day.weekday() < 5, None
        if source == PACKAGE:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
            return chinese_calendar.is_workday(day), name if on_holiday else None
        name = statutory_days_off(day.year).get(day)
        return (name is None and day.weekday() < 5), name

    def is_workday(self, day: date) -> bool:
        return self.day_detail(day)[0]

    def add_workdays(self, start: date, days: int) -> date:
        """The date `days` working days after `start` (start itself not counted)."""
        if days < 0:
            raise ValueError("days must be >= 0")
        current, remaining = start, days
        while remaining:
            current += timedelta(days=1)
            if self.is_workday(current):
                remaining -= 1
        return current

    def deadline(self, start: datetime, days: int) -> Deadline:
        local = start.astimezone(SHANGHAI).date()
        due = self.add_workdays(local, days)
        return Deadline(datetime.combine(due, time.max, tzinfo=SHANGHAI), self.provisional_between(local, due))

    def provisional_between(self, first: date, last: date) -> bool:
        return any(not self.is_official(y) for y in range(first.year, last.year + 1))

    def year_days(self, year: int) -> list[dict]:
        """Every non-weekday-ordinary day of `year` as {date, kind, name}: what GET /api/calendar shows."""
        out, day = [], date(year, 1, 1)
        while day.year == year:
            workday, name = self.day_detail(day)
            weekend = day.weekday() >= 5
            if workday and weekend:
                out.append({"date": day.isoformat(), "kind": WORK, "name": name or "调休上班"})
            elif not workday and not weekend:
                out.append({"date": day.isoformat(), "kind": REST, "name": name or "休息"})
            elif not workday and name:
                out.append({"date": day.isoformat(), "kind": REST, "name": name})
            day += timedelta(days=1)
        return out


_lock = threading.Lock()
_current = WorkCalendar()


def current() -> WorkCalendar:
    return _current


def install(loaded: dict[int, list[ScheduleDay]]) -> None:
    """Replace the process's loaded schedules (a service reading its copy, a test resetting)."""
    global _current
    with _lock:
        _current = WorkCalendar(loaded)


def replace_year(year: int, days: list[ScheduleDay]) -> None:
    global _current
    with _lock:
        _current = _current.overlay({year: days})


def next_year_status(now: datetime, calendar: WorkCalendar | None = None) -> dict:
    """Whether next year's official schedule is known, and whether it is time to say so (Nov 1st on)."""
    calendar = calendar or current()
    today = now.astimezone(SHANGHAI).date()
    year = today.year + 1
    official = calendar.is_official(year)
    return {"year": year, "official": official, "source": calendar.source(year),
            "missing_notice": (not official) and today.month >= 11}
