"""预收费 desk rules: money, settings, accounts, fee items, charges, lessons and refunds.
Every refusal is checked for its reason and its field."""
from datetime import date, datetime, timedelta, timezone

import pytest

from services.common.errors import Conflict, ValidationFailed
from services.escrow import account_rules, charge_rules
from services.escrow.account_rules import DEFAULT_RULES, EscrowRules
from services.escrow.charge_rules import FeeItemFacts
from services.escrow.money import parse_fen, yuan

TODAY = date(2021, 11, 10)
NOW = datetime(2021, 11, 10, 12, 0, tzinfo=timezone.utc)


def refused(exc_type, fn, *args, **kwargs):
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    return info.value


# -- money -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value,fragment", [
    (4800.0, "不接受小数"), (48.5, "不接受小数"), ("4800", "不接受字符串"), (True, "不接受布尔值"),
    (None, "请填写金额"), ([1], "整数"), (-1, "负数"), (0, "大于0"), (10**12, "超出上限"),
])
def test_money_is_positive_integer_fen_and_the_refusal_names_the_field(value, fragment):
    error = refused(ValidationFailed, parse_fen, value, "amount_fen")
    assert fragment in error.message and error.field == "amount_fen"


def test_zero_is_accepted_only_where_it_makes_sense():
    assert parse_fen(0, "x", allow_zero=True) == 0
    assert parse_fen(480000, "x") == 480000


def test_yuan_is_exact_from_integer_fen():
    assert (yuan(480000), yuan(5), yuan(123456789), yuan(-250)) == ("4800.00", "0.05", "1234567.89", "-2.50")


# -- settings ----------------------------------------------------------------------------------


def test_settings_default_to_the_national_values():
    assert DEFAULT_RULES.as_dict() == {
        "charge_cap_fen": 500000, "max_class_hours": 60, "max_months": 3, "deemed_confirmation_workdays": 15,
        "refund_answer_workdays": 5, "receipt_grace_days": 3, "delivery_stop_days": 30}


def test_a_county_may_be_stricter_but_not_looser():
    stricter = account_rules.parse_settings_update(DEFAULT_RULES, {"max_class_hours": 40, "charge_cap_fen": 300000,
                                                                   "deemed_confirmation_workdays": 7})
    assert (stricter.max_class_hours, stricter.charge_cap_fen, stricter.deemed_confirmation_workdays) == (40, 300000, 7)
    assert stricter.max_months == 3  # untouched
    error = refused(ValidationFailed, account_rules.parse_settings_update, DEFAULT_RULES, {"max_class_hours": 61})
    assert error.field == "max_class_hours" and "不可放宽" in error.message
    error = refused(ValidationFailed, account_rules.parse_settings_update, DEFAULT_RULES, {"max_months": 4})
    assert error.field == "max_months"
    error = refused(ValidationFailed, account_rules.parse_settings_update, DEFAULT_RULES, {"charge_cap_fen": 5000.0})
    assert error.field == "charge_cap_fen" and "小数" in error.message
    error = refused(ValidationFailed, account_rules.parse_settings_update, DEFAULT_RULES, {"cap": 1})
    assert error.field == "cap" and "未知设置项" in error.message
    error = refused(ValidationFailed, account_rules.parse_settings_update, DEFAULT_RULES,
                    {"refund_answer_workdays": "5"})
    assert error.field == "refund_answer_workdays"


# -- accounts ----------------------------------------------------------------------------------


def opening(**overrides):
    data = {"institution_id": 7, "mode": "custody", "bank_name": "中国农业银行枞阳支行", "bank_code": "ABC",
            "account_no": "12345678901234", "custody_agreement_no": "枞教托管〔2021〕1号"}
    data.update(overrides)
    return data


def test_custody_needs_the_filed_agreement_and_guarantee_its_minimum():
    draft = account_rules.parse_account_opening(opening(), TODAY)
    assert (draft.mode, draft.custody_agreement_no, draft.guarantee_minimum_fen, draft.opened_on) == (
        "custody", "枞教托管〔2021〕1号", None, TODAY)
    error = refused(ValidationFailed, account_rules.parse_account_opening, opening(custody_agreement_no=""), TODAY)
    assert error.field == "custody_agreement_no" and "备案" in error.message
    error = refused(ValidationFailed, account_rules.parse_account_opening, opening(guarantee_minimum_fen=100), TODAY)
    assert error.field == "guarantee_minimum_fen"
    guarantee = account_rules.parse_account_opening(opening(mode="风险保证金", custody_agreement_no=None,
                                                            guarantee_minimum_fen=2_000_000), TODAY)
    assert (guarantee.mode, guarantee.guarantee_minimum_fen) == ("guarantee", 2_000_000)
    error = refused(ValidationFailed, account_rules.parse_account_opening, opening(mode="guarantee"), TODAY)
    assert error.field == "guarantee_minimum_fen"
    error = refused(ValidationFailed, account_rules.parse_account_opening,
                    opening(mode="guarantee", guarantee_minimum_fen=20000.5), TODAY)
    assert error.field == "guarantee_minimum_fen" and "小数" in error.message


@pytest.mark.parametrize("overrides,field", [
    ({"mode": "cash_box"}, "mode"), ({"account_no": "12 34"}, "account_no"), ({"bank_code": "农行"}, "bank_code"),
    ({"bank_name": ""}, "bank_name"), ({"institution_id": "7"}, "institution_id"),
    ({"opened_on": "2021-11-11"}, "opened_on"), ({"opened_on": "2021/11/01"}, "opened_on"),
])
def test_account_fields_are_checked_by_name(overrides, field):
    assert refused(ValidationFailed, account_rules.parse_account_opening, opening(**overrides), TODAY).field == field


def test_one_mode_per_institution_and_no_account_for_a_deregistered_one():
    account_rules.check_may_open("operating", "custody", {"custody"})  # a second custody account (moving banks)
    error = refused(Conflict, account_rules.check_may_open, "operating", "guarantee", {"custody"})
    assert error.field == "mode" and "银行托管" in error.message
    assert refused(Conflict, account_rules.check_may_open, "deregistered", "custody", set()).field == "institution_id"


def test_account_changes_list_what_changed_and_keep_the_mode_terms():
    current = {"mode": "custody", "bank_name": "农行", "custody_agreement_no": "A1", "guarantee_minimum_fen": None}
    changes, reason = account_rules.parse_account_change({"bank_name": "农行枞阳支行", "reason": "更名"}, current)
    assert changes == {"bank_name": ("农行", "农行枞阳支行")} and reason == "更名"
    changes, _ = account_rules.parse_account_change({"mode": "guarantee", "guarantee_minimum_fen": 1_500_000}, current)
    assert changes == {"mode": ("custody", "guarantee"), "guarantee_minimum_fen": (None, 1_500_000)}
    assert refused(ValidationFailed, account_rules.parse_account_change, {"mode": "guarantee"}, current).field == \
        "guarantee_minimum_fen"
    assert refused(ValidationFailed, account_rules.parse_account_change, {"account_no": "999999"}, current).field == \
        "account_no"
    assert account_rules.parse_account_change({"bank_name": "农行"}, current) == ({}, None)


def test_an_account_holding_unearned_money_closes_only_when_another_is_open():
    error = refused(Conflict, account_rules.check_may_close, "open", 120000, 0)
    assert "1200.00" in error.message and error.field == "account_id"
    account_rules.check_may_close("open", 120000, 1)
    account_rules.check_may_close("open", 0, 0)
    assert refused(Conflict, account_rules.check_may_close, "closed", 0, 0).field == "account_id"
    error = refused(ValidationFailed, account_rules.parse_account_closing, {"closed_on": "2021-01-01", "reason": "x"},
                    TODAY, date(2021, 6, 1))
    assert error.field == "closed_on"
    assert refused(ValidationFailed, account_rules.parse_account_closing, {}, TODAY, date(2021, 6, 1)).field == "reason"


# -- fee items and charges -----------------------------------------------------------------------


def test_fee_items_are_priced_per_class_hour_in_fen():
    assert charge_rules.parse_fee_item({"institution_id": 3, "name": "初中数学", "price_per_hour_fen": 8000}) == (
        3, "初中数学", 8000, True)
    assert refused(ValidationFailed, charge_rules.parse_fee_item,
                   {"institution_id": 3, "name": "数学", "price_per_hour_fen": 80.0}).field == "price_per_hour_fen"
    assert refused(ValidationFailed, charge_rules.parse_fee_item,
                   {"institution_id": 3, "name": "数学", "price_per_hour_fen": 8000, "publish": "yes"}).field == "publish"


def charge(**overrides):
    data = {"institution_id": 7, "contract_no": "ZY-2021-0001", "template_version": "2021", "fee_item_id": 2,
            "student_name": "张小明", "class_hours": 48, "starts_on": "2021-11-10", "ends_on": "2022-02-09",
            "amount_fen": 384000, "channel": "wechat"}
    data.update(overrides)
    return data


ITEM = FeeItemFacts(institution_id=7, name="初中数学", price_per_hour_fen=8000, published=True, withdrawn=False)


def test_a_charge_within_every_cap_passes():
    draft = charge_rules.parse_charge(charge())
    assert charge_rules.cap_violations(draft, DEFAULT_RULES) == []
    charge_rules.check_charge_state("启明学校", True, None, 1, 7, ITEM)
    charge_rules.check_amount(draft, ITEM)
    assert draft.template_version == "2021" and draft.channel == "wechat"
    unnamed = {k: v for k, v in charge().items() if k != "template_version"}
    assert charge_rules.parse_charge(unnamed).template_version == "2021"


@pytest.mark.parametrize("overrides,field,fragment", [
    ({"class_hours": 61, "amount_fen": 488000}, "class_hours", "不得超过60课时"),
    ({"ends_on": "2022-02-10"}, "ends_on", "不得超过3个月"),
    ({"class_hours": 60, "amount_fen": 600000}, "amount_fen", "不得超过本县上限5000.00元"),
])
def test_each_cap_is_refused_with_its_reason(overrides, field, fragment):
    draft = charge_rules.parse_charge(charge(**overrides))
    county = EscrowRules(charge_cap_fen=500000)
    violations = charge_rules.cap_violations(draft, county)
    assert [v.field for v in violations] == [field]
    error = refused(ValidationFailed, charge_rules.refuse_over_caps, violations)
    assert fragment in error.message and error.field == field


def test_every_broken_cap_is_listed():
    draft = charge_rules.parse_charge(charge(class_hours=80, amount_fen=640000, ends_on="2022-06-30"))
    violations = charge_rules.cap_violations(draft, DEFAULT_RULES)
    assert [v.field for v in violations] == ["class_hours", "ends_on", "amount_fen"]
    assert refused(ValidationFailed, charge_rules.refuse_over_caps, violations).message.count("；") == 2


def test_three_calendar_months_end_the_day_before_the_same_date():
    assert charge_rules.period_end(date(2021, 11, 10), 3) == date(2022, 2, 9)
    assert charge_rules.period_end(date(2021, 11, 30), 3) == date(2022, 2, 28)  # no 30 February: its last day
    assert charge_rules.period_end(date(2021, 12, 1), 1) == date(2021, 12, 31)
    assert charge_rules.period_end(date(2021, 10, 31), 3) == date(2022, 1, 30)


@pytest.mark.parametrize("overrides,field,fragment", [
    ({"amount_fen": 3840.0}, "amount_fen", "小数"),
    ({"amount_fen": "3840"}, "amount_fen", "字符串"),
    ({"amount_fen": -384000}, "amount_fen", "负数"),
    ({"amount_fen": 0}, "amount_fen", "大于0"),
    ({"amount_fen": True}, "amount_fen", "布尔"),
    ({"class_hours": 0}, "class_hours", "正整数"),
    ({"class_hours": 4.5}, "class_hours", "正整数"),
    ({"template_version": "自拟合同"}, "template_version", "示范合同文本"),
    ({"channel": "cash"}, "channel", "不得收取现金"),
    ({"channel": "培训贷"}, "channel", "培训贷"),
    ({"channel": "paypal"}, "channel", "未知付款方式"),
    ({"ends_on": "2021-11-01"}, "ends_on", "不能早于"),
    ({"starts_on": "11/10/2021"}, "starts_on", "YYYY-MM-DD"),
    ({"contract_no": "ZY 0001"}, "contract_no", "合同编号"),
    ({"student_name": " "}, "student_name", "学员姓名"),
    ({"fee_item_id": None}, "fee_item_id", "编号"),
])
def test_malformed_charges_are_refused_by_field(overrides, field, fragment):
    error = refused(ValidationFailed, charge_rules.parse_charge, charge(**overrides))
    assert error.field == field and fragment in error.message


def test_charges_need_an_eligible_institution_an_open_account_and_a_published_item():
    error = refused(Conflict, charge_rules.check_charge_state, "启明学校", False, "营转非办理中，登记为民办非企业单位前暂停招生和收费",
                    1, 7, ITEM)
    assert error.field == "institution_id" and "营转非办理中" in error.message
    error = refused(Conflict, charge_rules.check_charge_state, "启明学校", False, "停业整顿期间不得招生收费", 1, 7, ITEM)
    assert "停业整顿" in error.message
    error = refused(Conflict, charge_rules.check_charge_state, "启明学校", True, None, 0, 7, ITEM)
    assert error.field == "institution_id" and "监管账户" in error.message
    draft_item = FeeItemFacts(7, "初中数学", 8000, published=False, withdrawn=False)
    error = refused(Conflict, charge_rules.check_charge_state, "启明学校", True, None, 1, 7, draft_item)
    assert error.field == "fee_item_id" and "尚未公示" in error.message
    withdrawn = FeeItemFacts(7, "初中数学", 8000, published=True, withdrawn=True)
    assert "已撤下" in refused(Conflict, charge_rules.check_charge_state, "启明学校", True, None, 1, 7, withdrawn).message
    other = FeeItemFacts(8, "初中数学", 8000, published=True, withdrawn=False)
    check = charge_rules.check_charge_state
    assert refused(ValidationFailed, check, "启明学校", True, None, 1, 7, other).field == "fee_item_id"
    assert refused(ValidationFailed, check, "启明学校", True, None, 1, 7, None).field == "fee_item_id"


def test_the_amount_is_hours_times_the_published_price():
    error = refused(ValidationFailed, charge_rules.check_amount, charge_rules.parse_charge(charge(amount_fen=390000)),
                    ITEM)
    assert error.field == "amount_fen" and "48课时×80.00元=3840.00元" in error.message


def test_the_enrolment_decision_behind_the_charge_check():
    from services.escrow.domain import enrolment_decision

    assert enrolment_decision("operating") == (True, None)
    assert enrolment_decision("operating", conversion_suspended=True)[0] is False
    assert enrolment_decision("deregistering")[1] == "注销中不得招生收费"


# -- lessons ---------------------------------------------------------------------------------------


def test_a_lesson_is_its_hours_at_the_contract_price():
    draft = charge_rules.parse_lesson({"lesson_no": 1, "hours": 2, "delivered_at": "2021-11-10T19:00:00+08:00"}, NOW)
    assert (draft.lesson_no, draft.hours) == (1, 2)
    assert charge_rules.lesson_fee(384000, 48, 2) == 16000
    assert charge_rules.parse_lesson({"lesson_no": 2}, NOW).delivered_at == NOW


@pytest.mark.parametrize("data,field,fragment", [
    ({"lesson_no": 0}, "lesson_no", "正整数"),
    ({"lesson_no": 1, "hours": 1.5}, "hours", "正整数"),
    ({"lesson_no": 1, "delivered_at": "2021-11-10T19:00:00"}, "delivered_at", "时区"),
    ({"lesson_no": 1, "delivered_at": "yesterday"}, "delivered_at", "ISO 8601"),
    ({"lesson_no": 1, "delivered_at": (NOW + timedelta(hours=1)).isoformat()}, "delivered_at", "晚于现在"),
])
def test_malformed_lessons_are_refused(data, field, fragment):
    error = refused(ValidationFailed, charge_rules.parse_lesson, data, NOW)
    assert error.field == field and fragment in error.message


def test_lessons_stay_within_the_contract():
    charge_rules.check_lesson("active", 48, 46, 2, 16000, 16000, date(2021, 11, 10), date(2021, 12, 1))
    error = refused(ValidationFailed, charge_rules.check_lesson, "active", 48, 47, 2, 16000, 16000, date(2021, 11, 10),
                    date(2021, 12, 1))
    assert error.field == "hours" and "合同48课时，已上47课时，本次2课时" in error.message
    error = refused(Conflict, charge_rules.check_lesson, "active", 48, 10, 2, 16000, 8000, date(2021, 11, 10),
                    date(2021, 12, 1))
    assert "剩余预付款80.00元" in error.message
    assert refused(Conflict, charge_rules.check_lesson, "refunded", 48, 10, 2, 16000, 80000, date(2021, 11, 10),
                   date(2021, 12, 1)).field == "contract_id"
    assert refused(ValidationFailed, charge_rules.check_lesson, "active", 48, 0, 2, 16000, 80000, date(2021, 11, 10),
                   date(2021, 11, 9)).field == "delivered_at"


# -- refunds ---------------------------------------------------------------------------------------


def test_refunds_go_back_by_the_original_channel():
    assert charge_rules.parse_refund_request({"amount_fen": 8000, "reason": "搬家"}, "wechat") == (8000, "搬家")
    assert charge_rules.parse_refund_request({"amount_fen": 8000, "reason": "搬家", "channel": "微信支付"}, "wechat")
    error = refused(ValidationFailed, charge_rules.parse_refund_request,
                    {"amount_fen": 8000, "reason": "搬家", "channel": "alipay"}, "wechat")
    assert error.field == "channel" and "原路退回（微信支付）" in error.message
    assert refused(ValidationFailed, charge_rules.parse_refund_request, {"amount_fen": 80.5, "reason": "x"},
                   "wechat").field == "amount_fen"
    assert refused(ValidationFailed, charge_rules.parse_refund_request, {"amount_fen": 800}, "wechat").field == "reason"


def test_a_refund_is_at_most_paid_minus_lessons_given_minus_refunds():
    assert charge_rules.refundable(384000, 16000, 100000) == 268000
    charge_rules.check_refund(268000, 384000, 16000, 100000, pending=False)
    error = refused(ValidationFailed, charge_rules.check_refund, 268001, 384000, 16000, 100000, False)
    assert error.field == "amount_fen" and "可退金额2680.00元" in error.message
    assert refused(Conflict, charge_rules.check_refund, 100, 384000, 0, 0, True).field == "contract_id"


def test_answers_come_within_the_period_and_a_refusal_says_why():
    assert charge_rules.parse_refund_answer({"decision": "accept"}) == ("accepted", None)
    assert charge_rules.parse_refund_answer({"decision": "拒绝", "answer": "已上课时超过一半"}) == ("rejected", "已上课时超过一半")
    assert refused(ValidationFailed, charge_rules.parse_refund_answer, {"decision": "reject"}).field == "answer"
    assert refused(ValidationFailed, charge_rules.parse_refund_answer, {"decision": "maybe"}).field == "decision"
    deadline = NOW + timedelta(days=7)
    charge_rules.check_refund_answerable("requested", deadline, NOW)
    assert "视为同意" in refused(Conflict, charge_rules.check_refund_answerable, "requested", deadline,
                                  deadline + timedelta(seconds=1)).message
    assert refused(Conflict, charge_rules.check_refund_answerable, "deemed_accepted", deadline,
                   NOW).field == "refund_id"


@pytest.mark.parametrize("fen, plain, grouped", [
    (0, "0.00", "0.00"), (5, "0.05", "0.05"), (12345, "123.45", "123.45"),
    (123456789, "1234567.89", "1,234,567.89"), (-150, "-1.50", "-1.50"),
    (10**17 + 1, "1000000000000000.01", "1,000,000,000,000,000.01"),  # past float's exact range
])
def test_yuan_is_exact_and_grouped_for_pages(fen, plain, grouped):
    assert yuan(fen) == plain
    assert yuan(fen, grouping=True) == grouped
