"""The working-day calendar: loaded schedule, then chinesecalendar, then the statutory holidays."""
from datetime import date, datetime, timedelta, timezone

import chinese_calendar
import pytest

from services.common import workcalendar
from services.common.workcalendar import REST, WORK, ScheduleDay, WorkCalendar, statutory_holidays
from services.common.workdays import SHANGHAI, add_workdays, calendar_covers, workday_deadline


@pytest.fixture(autouse=True)
def _empty_calendar():
    workcalendar.install({})
    yield
    workcalendar.install({})


def test_seven_working_days_after_national_day_eve_skip_the_golden_week():
    # domain.md: 7 working days after 2021-09-30 is 2021-10-15 (make-up days 9-26 and 10-9)
    assert add_workdays(date(2021, 9, 30), 7) == date(2021, 10, 15)


def test_make_up_saturday_counts_as_a_working_day():
    # 2021-10-09 (Saturday) was a make-up working day
    assert add_workdays(date(2021, 10, 8), 1) == date(2021, 10, 9)


def test_deadline_is_end_of_day_in_shanghai():
    start = datetime(2021, 9, 30, 17, 0, tzinfo=timezone.utc)  # already 10-01 01:00 in Shanghai
    due = workday_deadline(start, 7)
    assert due.tzinfo == SHANGHAI
    assert due.date() == date(2021, 10, 15)
    assert (due.hour, due.minute) == (23, 59)


def test_chinesecalendar_years_are_unchanged():
    cal = WorkCalendar()
    day = date(2004, 1, 1)
    while day.year <= 2026:
        if day.year in workcalendar.PACKAGE_YEARS:
            assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


@pytest.mark.parametrize("year", range(2027, 2100))
def test_new_years_day_is_never_a_working_day(year):
    assert not WorkCalendar().is_workday(date(year, 1, 1))


def test_the_issue_s_order_opened_2026_12_04_is_due_2027_01_18_and_provisional():
    due = WorkCalendar().deadline(datetime(2026, 12, 4, 10, tzinfo=SHANGHAI), 30)
    assert due.at.date() == date(2027, 1, 18)
    assert due.provisional


@pytest.mark.parametrize("year, expected", [
    (2027, {"元旦": ["01-01"], "春节": ["02-05", "02-06", "02-07", "02-08"], "清明节": ["04-05"],
            "劳动节": ["05-01", "05-02"], "端午节": ["06-09"], "中秋节": ["09-15"],
            "国庆节": ["10-01", "10-02", "10-03"]}),
    (2030, {"元旦": ["01-01"], "春节": ["02-02", "02-03", "02-04", "02-05"], "清明节": ["04-05"],
            "劳动节": ["05-01", "05-02"], "端午节": ["06-05"], "中秋节": ["09-12"],
            "国庆节": ["10-01", "10-02", "10-03"]}),
])
def test_statutory_holidays_fall_where_the_law_puts_them(year, expected):
    found: dict[str, list[str]] = {}
    for day, name in statutory_holidays(year):
        found.setdefault(name, []).append(day.strftime("%m-%d"))
    assert found == expected
    cal = WorkCalendar()
    assert not cal.is_official(year)
    for days in expected.values():
        for md in days:
            assert not cal.is_workday(date.fromisoformat(f"{year}-{md}"))


def test_a_holiday_on_a_weekend_is_made_up_on_the_next_working_day():
    # 2027: 初一 (Sat) and 初二 (Sun) → 2-09 and 2-10 off (Article 6)
    cal = WorkCalendar()
    assert not cal.is_workday(date(2027, 2, 9)) and not cal.is_workday(date(2027, 2, 10))
    assert cal.is_workday(date(2027, 2, 11))
    assert cal.day_detail(date(2027, 2, 9)) == (False, "春节（补假）")


def test_a_loaded_schedule_wins_and_its_make_up_saturday_counts():
    days = [ScheduleDay(date(2027, 1, 1), REST, "元旦"), ScheduleDay(date(2027, 1, 2), REST, "元旦"),
            ScheduleDay(date(2027, 1, 3), REST, "元旦"), ScheduleDay(date(2027, 1, 9), WORK, "元旦调休")]
    cal = WorkCalendar({2027: days})
    assert cal.source(2027) == workcalendar.LOADED and cal.is_official(2027)
    assert cal.is_workday(date(2027, 1, 9))  # Saturday, make-up day
    assert not cal.is_workday(date(2027, 1, 10))  # Sunday
    due = cal.deadline(datetime(2026, 12, 4, 10, tzinfo=SHANGHAI), 30)
    assert (due.at.date(), due.provisional) == (date(2027, 1, 15), False)
    assert calendar_covers(date(2027, 1, 1)) is False  # the process calendar is untouched
    workcalendar.replace_year(2027, days)
    assert calendar_covers(date(2027, 1, 1)) and add_workdays(date(2027, 1, 8), 1) == date(2027, 1, 9)


def test_next_year_status_speaks_from_november_first():
    october = workcalendar.next_year_status(datetime(2026, 10, 31, 12, tzinfo=SHANGHAI))
    november = workcalendar.next_year_status(datetime(2026, 11, 1, 0, 30, tzinfo=SHANGHAI))
    assert (october["year"], october["official"], october["missing_notice"]) == (2027, False, False)
    assert november["missing_notice"]
    workcalendar.replace_year(2027, [ScheduleDay(date(2027, 1, 1), REST, "元旦")])
    assert not workcalendar.next_year_status(datetime(2026, 11, 2, tzinfo=SHANGHAI))["missing_notice"]


def test_year_days_lists_holidays_and_make_up_days():
    listed = {d["date"]: d for d in WorkCalendar().year_days(2026)}
    assert listed["2026-10-01"]["kind"] == REST
    assert listed["2026-09-20"]["kind"] == WORK  # a make-up Sunday before National Day
    assert "2026-09-21" not in listed  # an ordinary Monday


def test_past_the_lunar_table_a_deadline_is_still_computed():
    # the time-skipping test server runs decades ahead; 元旦 and 国庆 still count there
    cal = WorkCalendar()
    assert not cal.is_workday(date(2107, 10, 1))
    assert cal.deadline(datetime(2107, 3, 1, tzinfo=SHANGHAI), 10).provisional
