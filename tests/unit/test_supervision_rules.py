"""School supervision rules: homework limits per grade band, coverage, the 一校一案 deadline."""
from datetime import date

import pytest

from services.common.errors import ValidationFailed
from services.inspection import supervision_rules as rules


# -- homework: exactly the right grades flagged ---------------------------------------------------


@pytest.mark.parametrize("grade", [1, 2])
def test_lower_primary_any_written_homework_is_flagged(grade):
    assert rules.check_class(grade, [0, 0, 0])["flagged"] is False
    result = rules.check_class(grade, [0, 5, 0])
    assert result["flagged"] is True and result["limit_minutes"] == 0 and result["band"] == "lower_primary"
    assert result["days_with_written_homework"] == 1


@pytest.mark.parametrize("grade", [3, 4, 5, 6])
def test_other_primary_grades_limit_60_on_average(grade):
    assert rules.check_class(grade, [60, 60, 60])["flagged"] is False
    assert rules.check_class(grade, [61, 61])["flagged"] is True
    # a heavy day balanced by a light one stays within the daily average
    ok = rules.check_class(grade, [90, 30])
    assert ok["flagged"] is False and ok["average_minutes"] == 60.0 and ok["limit_minutes"] == 60
    over = rules.check_class(grade, [61, 60, 60])  # 60.33…: over, though it rounds to 60.3
    assert over["flagged"] is True and over["average_minutes"] == 60.3


@pytest.mark.parametrize("grade", [7, 8, 9])
def test_junior_high_limit_90_on_average(grade):
    assert rules.check_class(grade, [90])["flagged"] is False
    result = rules.check_class(grade, [91])
    assert result["flagged"] is True and result["limit_minutes"] == 90 and result["average_minutes"] == 91.0
    assert rules.check_class(grade, [120, 60])["flagged"] is False


def test_the_same_load_is_flagged_for_exactly_the_right_grades():
    # 45 minutes a day: only grades 1–2 are over; 75: grades 1–6; 95: every grade
    flagged = lambda minutes: [g for g in range(1, 10) if rules.check_class(g, [minutes] * 5)["flagged"]]  # noqa: E731
    assert flagged(45) == [1, 2]
    assert flagged(60) == [1, 2]
    assert flagged(61) == [1, 2, 3, 4, 5, 6]
    assert flagged(90) == [1, 2, 3, 4, 5, 6]
    assert flagged(91) == list(range(1, 10))
    assert flagged(0) == []


def test_no_publication_means_no_average_and_no_flag():
    result = rules.check_class(5, [])
    assert result == {**result, "days": 0, "average_minutes": None, "flagged": False}


@pytest.mark.parametrize("grade", [0, 10, "3", True, None])
def test_grade_must_be_1_to_9(grade):
    with pytest.raises(ValidationFailed):
        rules.grade_band(grade)


def test_items_and_written_minutes():
    items = rules.parse_items([{"subject": "数学", "minutes": 20}, {"subject": "阅读", "minutes": 15, "written": False}])
    assert rules.written_minutes(items) == 20
    for bad in ([{"subject": "数学", "minutes": -1}], [{"subject": "", "minutes": 5}],
                [{"subject": "数学", "minutes": 5.5}], {"subject": "数学"}, [{"subject": "语文", "minutes": 5, "written": "yes"}]):
        with pytest.raises(ValidationFailed):
            rules.parse_items(bad)


# -- visits and coverage --------------------------------------------------------------------------


def test_coverage_is_complete_only_when_every_school_was_visited():
    partial = rules.coverage({1, 2, 3}, {1, 2, 9})
    assert partial["rate"] == 66.67 and partial["complete"] is False and partial["unvisited"] == [3]
    full = rules.coverage({1, 2, 3}, {1, 2, 3, 4})
    assert full == {"schools": 3, "visited": 3, "rate": 100.0, "complete": True, "unvisited": []}
    assert rules.coverage(set(), set())["complete"] is False


def test_visit_methods_and_months():
    assert rules.parse_visit_method("走访座谈") == "interview"
    assert rules.parse_visit_method("campus_patrol") == "campus_patrol"
    with pytest.raises(ValidationFailed):
        rules.parse_visit_method("电话")
    assert rules.parse_month("2021-12") == (date(2021, 12, 1), date(2022, 1, 1))
    for bad in ("2021-13", "2021-9", None):
        with pytest.raises(ValidationFailed):
            rules.parse_month(bad)


# -- 一校一案 ----------------------------------------------------------------------------------------


def test_plan_deadline_and_status():
    deadline = rules.plan_deadline(2021)
    assert deadline == date(2021, 8, 25)
    assert rules.plan_status(date(2021, 8, 25), deadline, date(2021, 9, 1)) == "on_time"
    assert rules.plan_status(date(2021, 8, 26), deadline, date(2021, 9, 1)) == "late"
    assert rules.plan_status(None, deadline, date(2021, 8, 25)) == "pending"
    assert rules.plan_status(None, deadline, date(2021, 8, 26)) == "missing"
    assert rules.plan_deadline(2022, "09-01") == date(2022, 9, 1)
    for bad in ("8-25", "02-30", "13-01", None):
        with pytest.raises(ValidationFailed):
            rules.parse_month_day(bad)


def test_school_year_and_figures():
    assert rules.school_year_of(date(2021, 8, 20)) == 2021
    assert rules.school_year_of(date(2022, 3, 1)) == 2021
    assert rules.parse_figures({"participating": 900, "enrolled": 1000}) == {"participating": 900, "enrolled": 1000}
    assert rules.parse_figures({}) == {}
    with pytest.raises(ValidationFailed):
        rules.parse_figures({"participating": 1001, "enrolled": 1000})
    with pytest.raises(ValidationFailed):
        rules.parse_figures({"aware": 10})
