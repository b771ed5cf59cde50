"""County settings (registry): 寒暑假 and the 压减率 baseline date. A partial body keeps the other
fields; a bad vacation is refused naming the item and field, e.g. school_vacations[1].end."""
import pytest

from services.common.errors import ValidationFailed
from services.registry import case_rules

SAVED = {"conversion_deadline": "2022-06-30", "conversion_variant": "hunan",
         "school_vacations": [{"name": "寒假", "start": "2027-01-20", "end": "2027-02-20"}],
         "reduction_baseline_date": "2021-09-01"}


def refused(data, current=None) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        case_rules.parse_settings(data, current)
    return info.value


def test_defaults_when_nothing_is_saved_or_given():
    parsed = case_rules.parse_settings({}, None)
    assert parsed["conversion_deadline"].isoformat() == "2021-12-31"
    assert parsed["conversion_variant"] == "national"
    assert parsed["school_vacations"] == []
    assert parsed["reduction_baseline_date"].isoformat() == "2021-07-24"


def test_an_old_style_body_keeps_the_saved_vacations_and_baseline():
    parsed = case_rules.parse_settings({"conversion_deadline": "2022-03-31"}, SAVED)
    assert parsed["conversion_deadline"].isoformat() == "2022-03-31"
    assert parsed["conversion_variant"] == "hunan"
    assert parsed["school_vacations"] == SAVED["school_vacations"]
    assert parsed["reduction_baseline_date"].isoformat() == "2021-09-01"


def test_vacations_are_sorted_and_the_baseline_set():
    parsed = case_rules.parse_settings({"school_vacations": [
        {"name": " 暑假 ", "start": "2026-07-05", "end": "2026-08-31"},
        {"name": "寒假", "start": "2026-01-20", "end": "2026-02-20"},
        {"name": "清明补假", "start": "2026-04-05", "end": "2026-04-05"}],  # one day: start == end
        "reduction_baseline_date": "2021-08-01"}, SAVED)
    assert parsed["school_vacations"] == [
        {"name": "寒假", "start": "2026-01-20", "end": "2026-02-20"},
        {"name": "清明补假", "start": "2026-04-05", "end": "2026-04-05"},
        {"name": "暑假", "start": "2026-07-05", "end": "2026-08-31"}]
    assert parsed["reduction_baseline_date"].isoformat() == "2021-08-01"
    assert parsed["conversion_deadline"].isoformat() == "2022-06-30"  # kept


@pytest.mark.parametrize("vacations, field", [
    ([{"name": "寒假", "start": "2026-01-20", "end": "2026-02-20"},
      {"name": "暑假", "start": "2026-08-31", "end": "2026-07-05"}], "school_vacations[1].end"),
    ([{"name": "暑假", "start": "2026/07/05", "end": "2026-08-31"}], "school_vacations[0].start"),
    ([{"name": "暑假", "start": "2026-07-05", "end": "2026-02-30"}], "school_vacations[0].end"),
    ([{"name": "", "start": "2026-07-05", "end": "2026-08-31"}], "school_vacations[0].name"),
    ([{"name": "暑假", "start": "2026-07-05", "end": "2026-08-31"},
      {"name": "暑期托管", "start": "2026-08-31", "end": "2026-09-05"}], "school_vacations[1].start"),
    (["暑假"], "school_vacations[0]"),
    ({"name": "暑假"}, "school_vacations"),
    ([{"name": f"假{i}", "start": f"2026-01-{i + 1:02d}", "end": f"2026-01-{i + 1:02d}"} for i in range(21)],
     "school_vacations"),
])
def test_a_bad_vacation_names_its_field_in_chinese(vacations, field):
    error = refused({"school_vacations": vacations}, SAVED)
    assert error.field == field
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error.message)


def test_an_overlap_names_both_vacations():
    error = refused({"school_vacations": [{"name": "暑假", "start": "2026-07-05", "end": "2026-08-31"},
                                          {"name": "暑期托管", "start": "2026-08-01", "end": "2026-08-10"}]})
    assert "暑假" in error.message and "暑期托管" in error.message


def test_twenty_vacations_are_allowed():
    many = [{"name": f"假{i}", "start": f"2026-01-{i + 1:02d}", "end": f"2026-01-{i + 1:02d}"} for i in range(20)]
    assert len(case_rules.parse_settings({"school_vacations": many})["school_vacations"]) == 20


@pytest.mark.parametrize("data, field", [
    ({"reduction_baseline_date": "2021-7-24"}, "reduction_baseline_date"),
    ({"reduction_baseline_date": 20210724}, "reduction_baseline_date"),
    ({"conversion_deadline": "2021/12/31"}, "conversion_deadline"),
    ({"conversion_variant": "guangdong"}, "conversion_variant"),
])
def test_other_bad_fields_are_named(data, field):
    assert refused(data, SAVED).field == field
