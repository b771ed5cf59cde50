from datetime import date

from services.inspection.schedule_rules import schedule_findings

FRIDAY_EVENING = [{"weekday": 5, "start": "18:30", "end": "20:00"}]


def kinds(findings):
    return {f.kind: f for f in findings}


def test_a_friday_academic_class_falls_on_national_day_2021():
    found = kinds(schedule_findings("academic", "offline", FRIDAY_EVENING, date(2021, 9, 20), horizon_days=30))
    dates = [d["date"] for d in found["holiday_academic"].evidence["dates"]]
    assert dates == ["2021-10-01"]
    assert found["holiday_academic"].evidence["dates"][0]["label"] == "国庆节"
    assert found["holiday_academic"].name == "法定节假日开展学科类培训"


def test_the_same_class_for_a_non_academic_institution_is_fine():
    assert schedule_findings("non_academic", "offline", FRIDAY_EVENING, date(2021, 9, 20), horizon_days=30) == []


def test_saturday_classes_are_rest_day_training_but_not_on_a_make_up_working_saturday():
    saturday = [{"weekday": 6, "start": "09:00", "end": "10:30"}]
    found = kinds(schedule_findings("academic", "offline", saturday, date(2021, 10, 8), horizon_days=10))
    # 2021-10-09 was a make-up working day; 2021-10-16 an ordinary Saturday
    assert [d["date"] for d in found["rest_day_academic"].evidence["dates"]] == ["2021-10-16"]


def test_class_end_times_and_online_lesson_length():
    late = schedule_findings("non_academic", "offline", [{"weekday": 2, "start": "19:30", "end": "20:45"}],
                             date(2021, 11, 1), horizon_days=7)
    assert [f.kind for f in late] == ["late_offline_class"]
    on_time = schedule_findings("non_academic", "offline", [{"weekday": 2, "start": "19:30", "end": "20:30"}],
                                date(2021, 11, 1), horizon_days=7)
    assert on_time == []
    online = kinds(schedule_findings("non_academic", "online", [{"weekday": 3, "start": "20:20", "end": "21:05"}],
                                     date(2021, 11, 1), horizon_days=7))
    assert set(online) == {"late_online_class", "long_online_lesson"}
    assert online["long_online_lesson"].evidence["slots"][0]["minutes"] == 45


def test_county_vacations_count_for_academic_classes_on_working_days():
    monday = [{"weekday": 1, "start": "09:00", "end": "10:00"}]
    found = kinds(schedule_findings("academic", "offline", monday, date(2022, 7, 4), horizon_days=14,
                                    vacations=[(date(2022, 7, 9), date(2022, 8, 31))]))
    assert [d["date"] for d in found["vacation_academic"].evidence["dates"]] == ["2022-07-11"]
