"""A State Council holiday notice for any year, for tests that must keep running as the years pass:
the statutory days off and one make-up Saturday, the second of January (as the 2027 notice's 01-09),
which no New Year's holiday reaches."""
from __future__ import annotations

from datetime import date

from services.common.workcalendar import REST, WORK, statutory_days_off


def make_up_saturday(year: int) -> date:
    return next(date(year, 1, d) for d in range(8, 15) if date(year, 1, d).weekday() == 5)


def notice_days(year: int) -> list[tuple[date, str, str]]:
    """(date, kind, name) in date order."""
    off = [(d, REST, name) for d, name in sorted(statutory_days_off(year).items())]
    return off + [(make_up_saturday(year), WORK, "调休上班")]
