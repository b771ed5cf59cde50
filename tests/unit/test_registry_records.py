"""Registry rules beyond the licence: status transitions and history, staff, courses, schools."""
from datetime import date

import pytest

from services.common.errors import Conflict, ValidationFailed
from services.registry import courses, domain, schools, staff
from services.registry.domain import HistoryEntry, Status

S = Status
TODAY = date(2021, 11, 10)

# GB 11643-1999's own example number (a published, valid 居民身份证号)
PUBLISHED_ID = "11010519491231002X"


# -- checksums -------------------------------------------------------------------------------------


def test_published_id_number_and_uscc_are_accepted():
    assert staff.validate_id_number(PUBLISHED_ID.lower()) == PUBLISHED_ID
    assert domain.validate_uscc("91110000600037341L") == "91110000600037341L"


@pytest.mark.parametrize("number,fragment", [
    ("110105194912310021", "校验位"),  # check character wrong
    ("110105194913310026", "出生日期"),  # month 13
    ("11010519491231002", "18位"),
    ("11010519491231002Y", "18位"),
])
def test_bad_id_numbers_are_refused_without_echoing_them(number, fragment):
    with pytest.raises(ValidationFailed) as info:
        staff.validate_id_number(number)
    assert fragment in info.value.message and info.value.field == "id_number"
    assert number not in str(info.value) and number[:14] not in str(info.value)


def test_uscc_with_a_wrong_check_character_is_refused():
    with pytest.raises(ValidationFailed) as info:
        domain.validate_uscc("91110000600037341M")
    assert "校验位" in info.value.message
    with pytest.raises(ValidationFailed) as info:
        domain.validate_uscc("91110000600O37341L")
    assert "O" in info.value.message


def test_the_uscc_checksum_agrees_with_python_stdnum():
    import random

    from stdnum.cn import uscc

    rng = random.Random(32100)
    alphabet = domain.USCC_ALPHABET + "IOSVZ"
    for _ in range(3000):
        body = "".join(rng.choice("0123456789") for _ in range(8)) + "".join(rng.choice(alphabet) for _ in range(9))
        code = body + rng.choice(domain.USCC_ALPHABET)
        try:
            ours = domain.validate_uscc(code) == code
        except ValidationFailed:
            ours = False
        assert ours == uscc.is_valid(code), code
        if all(c in domain.USCC_ALPHABET for c in body):
            assert domain.uscc_check_character(body) == uscc.calc_check_digit(body)


# -- masking ---------------------------------------------------------------------------------------


def test_id_numbers_are_masked_to_region_and_last_four():
    assert staff.mask_id_number(PUBLISHED_ID) == "110105********002X"
    assert staff.mask_id_number("123") == "***"


def test_a_staff_draft_never_prints_the_number():
    draft = staff.parse_staff({"name": "王老师", "id_number": PUBLISHED_ID, "qualification_cert_no": "20213400142000123"},
                              domain.Category.academic)
    assert PUBLISHED_ID not in repr(draft) and PUBLISHED_ID not in str(draft) and PUBLISHED_ID not in f"{draft}"
    assert draft.id_number_masked in repr(draft)


def test_the_digest_is_keyed_and_stable():
    a = staff.id_number_digest(PUBLISHED_ID, b"key-1")
    assert a == staff.id_number_digest(PUBLISHED_ID, b"key-1")
    assert a != staff.id_number_digest(PUBLISHED_ID, b"key-2") and PUBLISHED_ID not in a


# -- staff -----------------------------------------------------------------------------------------


def test_academic_teaching_staff_need_a_teacher_qualification_certificate():
    person = {"name": "王老师", "id_number": PUBLISHED_ID}
    with pytest.raises(ValidationFailed) as info:
        staff.parse_staff(person, domain.Category.academic)
    assert info.value.field == "qualification_cert_no" and "教师资格" in info.value.message
    # other roles, and non-academic institutions, do not
    assert staff.parse_staff({**person, "role": "教辅人员"}, domain.Category.academic).role is staff.StaffRole.support
    assert staff.parse_staff(person, domain.Category.non_academic).qualification_cert_no is None


def test_leaving_before_being_hired_is_refused():
    with pytest.raises(ValidationFailed):
        staff.parse_leaving({"left_on": "2021-01-01"}, date(2021, 3, 1), TODAY)
    assert staff.parse_leaving({}, None, TODAY) == TODAY


# -- status transitions ----------------------------------------------------------------------------

ALLOWED = [
    (S.operating, S.paused), (S.operating, S.suspended_for_rectification), (S.operating, S.deregistering),
    (S.paused, S.operating), (S.paused, S.suspended_for_rectification), (S.paused, S.deregistering),
    (S.suspended_for_rectification, S.operating), (S.suspended_for_rectification, S.deregistering),
    (S.deregistering, S.deregistered), (S.deregistering, S.operating),
]


@pytest.mark.parametrize("current,new", ALLOWED)
def test_allowed_transitions(current, new):
    domain.check_transition(current, new)


@pytest.mark.parametrize("current,new", [
    (a, b) for a in S for b in S if a is not b and (a, b) not in ALLOWED
])
def test_every_other_transition_is_refused_naming_both_statuses(current, new):
    with pytest.raises(Conflict) as info:
        domain.check_transition(current, new)
    names = domain.STATUS_NAMES
    assert f"不能从“{names[current]}”变为“{names[new]}”" in info.value.message
    assert info.value.field == "status"


def test_deregistered_is_final_and_a_repeat_is_refused():
    with pytest.raises(Conflict) as info:
        domain.check_transition(S.deregistered, S.operating)
    assert "最终状态" in info.value.message
    with pytest.raises(Conflict) as info:
        domain.check_transition(S.paused, S.paused)
    assert "当前已是“暂停营业”" in info.value.message


def test_a_change_may_not_predate_the_last_one_nor_lie_in_the_future():
    domain.check_effective_on(date(2021, 10, 31), date(2021, 10, 31), TODAY)
    with pytest.raises(ValidationFailed) as info:
        domain.check_effective_on(date(2021, 10, 30), date(2021, 10, 31), TODAY)
    assert "2021-10-31" in info.value.message and info.value.field == "effective_on"
    with pytest.raises(ValidationFailed):
        domain.check_effective_on(date(2021, 11, 11), date(2021, 10, 31), TODAY)


def test_a_status_change_needs_a_reason_and_a_real_date():
    change = domain.parse_status_change({"status": "停业整顿", "reason": "无证培训"}, TODAY)
    assert change == domain.StatusChangeDraft(S.suspended_for_rectification, TODAY, "无证培训")
    for bad, field in (({"status": "停业整顿"}, "reason"), ({"status": "关门", "reason": "x"}, "status"),
                       ({"status": "停业整顿", "reason": "x", "effective_on": "2021-02-30"}, "effective_on")):
        with pytest.raises(ValidationFailed) as info:
            domain.parse_status_change(bad, TODAY)
        assert info.value.field == field


# -- history and "as of" ---------------------------------------------------------------------------


def test_a_ledger_row_becomes_a_two_step_history():
    history = domain.initial_history(date(2019, 5, 1), S.suspended_for_rectification, date(2021, 10, 31))
    assert history == [HistoryEntry(S.operating, date(2019, 5, 1)),
                       HistoryEntry(S.suspended_for_rectification, date(2021, 10, 31))]
    assert domain.status_on(history, date(2019, 4, 30)) is None
    assert domain.status_on(history, date(2021, 10, 30)).status is S.operating
    assert domain.status_on(history, date(2021, 10, 31)).status is S.suspended_for_rectification
    assert domain.initial_history(date(2019, 5, 1), S.operating, None) == [HistoryEntry(S.operating, date(2019, 5, 1))]


def test_of_two_changes_on_one_day_the_later_holds():
    history = [HistoryEntry(S.operating, date(2021, 1, 1)), HistoryEntry(S.paused, date(2021, 3, 1)),
               HistoryEntry(S.operating, date(2021, 3, 1))]
    assert domain.status_on(history, date(2021, 3, 1)).status is S.operating


def test_a_ledger_status_needs_its_date_and_not_before_the_licence():
    with pytest.raises(ValidationFailed) as info:
        domain.initial_history(date(2019, 5, 1), S.paused, None)
    assert info.value.field == "status_on"
    with pytest.raises(ValidationFailed) as info:
        domain.initial_history(date(2019, 5, 1), S.paused, date(2019, 4, 1))
    assert "不能早于发证日期" in info.value.message


# -- institution details ---------------------------------------------------------------------------


def test_a_non_academic_institution_may_not_list_academic_subjects():
    with pytest.raises(ValidationFailed) as info:
        domain.parse_subjects(["美术", "数学"], domain.Category.non_academic)
    assert "数学" in info.value.message
    assert domain.parse_subjects(["数学", "数学", "英语"], domain.Category.academic) == ("数学", "英语")
    assert domain.parse_stages(["初中", "primary"]) == (domain.Stage.primary, domain.Stage.junior)


def test_a_licence_issued_in_the_future_is_refused():
    with pytest.raises(ValidationFailed) as info:
        domain.parse_registration({
            "name": "x", "uscc": "91110000600037341L", "licence_no": "1", "licence_issued_on": "2021-11-11",
            "category": "学科类", "legal_form": "营利性", "township_code": "340722100", "address": "y"}, TODAY)
    assert info.value.field == "licence_issued_on"


def test_platform_flags_are_booleans_by_name():
    assert domain.parse_platform_flags({"staff": True}) == {"staff": True}
    for bad in ({}, {"staff": "是"}, {"teachers": True}, None):
        with pytest.raises(ValidationFailed):
            domain.parse_platform_flags(bad)
    view = domain.platform_view(True, False, True)
    assert view["complete"] is False and view["missing"] == ["培训人员"]


# -- courses ---------------------------------------------------------------------------------------


def course(**overrides):
    data = {"name": "初二数学提高班", "subject": "数学", "price_fen": 240000, "class_hours": 40, "mode": "线下",
            "schedule": [{"weekday": 2, "start": "18:00", "end": "19:30"}, {"weekday": 4, "start": "18:00", "end": "19:30"}]}
    data.update(overrides)
    return data


def test_a_course_parses_with_its_weekly_schedule():
    draft = courses.parse_course(course(), domain.Category.academic)
    assert draft.mode is courses.CourseMode.offline and draft.price_fen == 240000
    assert [s.as_dict() for s in draft.schedule] == [{"weekday": 2, "start": "18:00", "end": "19:30"},
                                                     {"weekday": 4, "start": "18:00", "end": "19:30"}]


@pytest.mark.parametrize("price", [2400.5, -1, True, "240000", None, 10**10])
def test_money_is_a_non_negative_integer_of_fen(price):
    with pytest.raises(ValidationFailed) as info:
        courses.parse_course(course(price_fen=price), domain.Category.academic)
    assert info.value.field == "price_fen"


def test_a_free_course_is_allowed():
    assert courses.parse_money_fen(0) == 0


@pytest.mark.parametrize("hours", [0, -3, 1.5, True])
def test_class_hours_are_a_positive_integer(hours):
    with pytest.raises(ValidationFailed) as info:
        courses.parse_course(course(class_hours=hours), domain.Category.academic)
    assert info.value.field == "class_hours"


@pytest.mark.parametrize("schedule,field", [
    ([], "schedule"),
    ([{"weekday": 0, "start": "18:00", "end": "19:00"}], "schedule[0].weekday"),
    ([{"weekday": 8, "start": "18:00", "end": "19:00"}], "schedule[0].weekday"),
    ([{"weekday": True, "start": "18:00", "end": "19:00"}], "schedule[0].weekday"),
    ([{"weekday": 1, "start": "8:00", "end": "9:00"}], "schedule[0].start"),
    ([{"weekday": 1, "start": "18:00", "end": "24:00"}], "schedule[0].end"),
    ([{"weekday": 1, "start": "19:00", "end": "18:00"}], "schedule[0].end"),
    ([{"weekday": 1, "start": "18:00", "end": "19:00"}, {"weekday": 1, "start": "18:30", "end": "20:00"}], "schedule"),
])
def test_bad_schedules_name_the_slot(schedule, field):
    with pytest.raises(ValidationFailed) as info:
        courses.parse_course(course(schedule=schedule), domain.Category.academic)
    assert info.value.field == field


def test_back_to_back_slots_are_fine_and_a_non_academic_institution_may_not_teach_maths():
    slots = [{"weekday": 6, "start": "09:00", "end": "10:00"}, {"weekday": 6, "start": "10:00", "end": "11:00"}]
    assert len(courses.parse_schedule(slots)) == 2
    with pytest.raises(ValidationFailed) as info:
        courses.parse_course(course(), domain.Category.non_academic)
    assert info.value.field == "subject"


# -- schools ---------------------------------------------------------------------------------------


def school(**overrides):
    data = {"code": "2134001234", "name": "枞阳县实验小学", "type": "小学", "grades": [1, 2, 3, 4, 5, 6],
            "township_code": "340722100", "zone": "第一督学责任区"}
    data.update(overrides)
    return data


def test_a_school_parses():
    draft = schools.parse_school(school(grades=[6, 1, 1]))
    assert draft.school_type is schools.SchoolType.primary and draft.grades == (1, 6)


@pytest.mark.parametrize("overrides,field", [
    ({"code": "213400123"}, "code"), ({"type": "高中"}, "type"), ({"grades": [7]}, "grades"),
    ({"grades": [0]}, "grades"), ({"grades": []}, "grades"), ({"zone": ""}, "zone"),
    ({"township_code": "340722"}, "township_code"),
])
def test_bad_schools_name_the_field(overrides, field):
    with pytest.raises(ValidationFailed) as info:
        schools.parse_school(school(**overrides))
    assert info.value.field == field


def test_junior_and_nine_year_schools_take_their_grades():
    assert schools.parse_school(school(type="初中", grades=[7, 8, 9])).grades == (7, 8, 9)
    assert schools.parse_school(school(type="九年一贯制", grades=list(range(1, 10)))).grades[-1] == 9
