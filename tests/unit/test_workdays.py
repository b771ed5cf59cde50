from datetime import date, datetime, timezone

from services.common.workdays import SHANGHAI, add_workdays, calendar_covers, workday_deadline


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


def test_years_beyond_the_installed_calendar_fall_back_to_weekdays():
    far = date(2040, 1, 2)  # a Monday
    assert not calendar_covers(far)
    assert add_workdays(far, 5) == date(2040, 1, 9)
