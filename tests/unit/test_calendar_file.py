"""The schedule file a county loads: CSV or JSON, checked row by row with Chinese errors."""
from pathlib import Path

import pytest

from services.common.calendar_file import parse_schedule, read_schedule_text
from services.common.errors import ValidationFailed

FIXTURE = (Path(__file__).parents[1] / "fixtures" / "calendar_2027.csv").read_text(encoding="utf-8")


def test_csv_and_json_give_the_same_schedule():
    from_csv = parse_schedule(read_schedule_text(FIXTURE))
    rows = read_schedule_text(FIXTURE)
    import json

    from_json = parse_schedule(read_schedule_text(json.dumps({"days": rows}, ensure_ascii=False), "2027.json"))
    assert from_csv == from_json and list(from_csv) == [2027]
    assert sum(d.kind == "班" for d in from_csv[2027]) == 4


def test_chinese_headers_and_a_bom_are_accepted():
    text = "\ufeff日期,类型,名称\n" + FIXTURE.split("\n", 1)[1]
    assert parse_schedule(read_schedule_text(text)) == parse_schedule(read_schedule_text(FIXTURE))


@pytest.mark.parametrize("line, field, words", [
    ("2027-13-01,休,元旦", "days[36].date", "第36行"),
    ("2027-01-04,假,元旦", "days[36].kind", "休 或 班"),
    ("2027-01-04,班,周一", "days[36].kind", "本就是工作日"),
    ("2027-01-01,休,元旦", "days[36].date", "重复"),
])
def test_a_bad_row_is_named_and_nothing_is_kept(line, field, words):
    with pytest.raises(ValidationFailed) as info:
        parse_schedule(read_schedule_text(FIXTURE + line + "\n"))
    assert info.value.field == field and words in info.value.message


def test_a_year_missing_a_statutory_holiday_is_refused():
    without_national_day = "\n".join(line for line in FIXTURE.splitlines() if not line.endswith(",国庆节")) + "\n"
    with pytest.raises(ValidationFailed) as info:
        parse_schedule(read_schedule_text(without_national_day))
    assert "2027-10-01（国庆节）" in info.value.message


def test_a_file_without_the_header_is_refused():
    with pytest.raises(ValidationFailed) as info:
        read_schedule_text("2027-01-01,休,元旦\n")
    assert "表头" in info.value.message
