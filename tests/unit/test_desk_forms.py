"""The desks' form helpers: sums typed in yuan become exact fen, and a service's refusal lands beside
the field it names (or at the top of the page when the form has no such field)."""
import pytest

from services.common.errors import Conflict, ValidationFailed
from services.gateway.pages.desk_forms import field_of, refusal, yuan_to_fen


@pytest.mark.parametrize("typed, fen", [("3200", 320000), ("3,200.50", 320050), (" 0.01 ", 1), ("80.5", 8050),
                                        ("4880", 488000)])
def test_yuan_typed_by_an_official_becomes_exact_fen(typed, fen):
    assert yuan_to_fen(typed, "amount_fen", "收费金额") == fen


@pytest.mark.parametrize("typed", ["", "三千", "-5", "1.234", "1e3", "12345678901"])
def test_a_sum_that_is_not_yuan_is_refused_naming_the_field(typed):
    with pytest.raises(ValidationFailed) as refused:
        yuan_to_fen(typed, "amount_fen", "收费金额")
    assert refused.value.field == "amount_fen" and "收费金额" in refused.value.message


def test_a_refusal_is_placed_beside_its_field_or_on_top():
    over = ValidationFailed("一次收费不得超过60课时（本次61课时）", field="class_hours")
    assert refusal(over, "charge", ("class_hours", "amount_fen")) == {
        "errors": {"charge": {"class_hours": "一次收费不得超过60课时（本次61课时）"}}}
    elsewhere = Conflict("机构已注销，不能开设监管账户", field="institution_state")
    assert refusal(elsewhere, "charge", ("class_hours",)) == {"error": "机构已注销，不能开设监管账户"}


def test_a_listed_field_names_its_form_input():
    township = ValidationFailed("应为9位乡镇代码", field="townships[1]")
    assert field_of(township) == "townships"
    row = ValidationFailed("假期结束日期不能早于开始日期", field="school_vacations[0].end")
    shown = refusal(row, "vacations", ("vac_end_3",), {"school_vacations[0].end": "vac_end_3"})
    assert shown == {"errors": {"vacations": {"vac_end_3": "假期结束日期不能早于开始日期"}}}
