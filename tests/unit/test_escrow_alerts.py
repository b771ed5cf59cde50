"""预警 rules on plain facts: the position (liability against the supervised money) and each
alert with its evidence, plus dedup and clearing."""
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

from services.escrow import alerts
from services.escrow.account_rules import DEFAULT_RULES, EscrowRules
from services.escrow.alerts import AccountFacts, ContractFacts, InstitutionFacts
from services.escrow.charge_rules import Violation

NOW = datetime(2021, 12, 1, 2, 0, tzinfo=timezone.utc)
TODAY = date(2021, 12, 1)


def contract(no="C1", amount=384000, delivered=0, confirmed=0, matched=True, days_ago=10, starts=date(2021, 11, 15),
             status="active", refunds_paid=0):
    return ContractFacts(contract_id=hash(no) % 1000, contract_no=no, amount_fen=amount,
                         signed_at=NOW - timedelta(days=days_ago), starts_on=starts, ends_on=date(2022, 2, 14),
                         status=status, receipt_matched=matched, delivered_fen=delivered, confirmed_fen=confirmed,
                         refunds_paid_fen=refunds_paid, channel="wechat")


def custody(balance=None, releases=0, status="open"):
    return AccountFacts(1, "6228480001", "custody", status, date(2021, 11, 1), None, balance, 0, releases, 0)


def guarantee(balance=None, minimum=1_000_000, opened=date(2021, 11, 1)):
    return AccountFacts(2, "6228480002", "guarantee", "open", opened, minimum, balance, 0, 0, 0)


def facts(contracts=(), accounts=(), last=None):
    return InstitutionFacts(7, "启明学校", "340722100", tuple(contracts), tuple(accounts), last)


def kinds(found):
    return sorted((f.kind, f.subject) for f in found)


def run(f, rules=DEFAULT_RULES, last_day=None):
    return alerts.evaluate(f, NOW, TODAY, last_day, rules)


# -- position ------------------------------------------------------------------------------------


def test_liability_is_paid_minus_lessons_given_minus_refunds_paid():
    f = facts([contract("C1", 384000, delivered=16000, confirmed=8000),
               contract("C2", 100000, matched=False, refunds_paid=20000)], [custody(balance=400000, releases=8000)])
    pos = alerts.position(f)
    assert pos["paid_fen"] == 484000
    assert pos["unearned_fen"] == 384000 - 16000 + 100000 - 20000
    assert pos["unearned_in_account_fen"] == 368000  # only money the bank booked
    assert pos["unmatched_fen"] == 100000
    assert pos["releasable_fen"] == 0 and pos["confirmed_fen"] == 8000 and pos["releases_fen"] == 8000
    assert (pos["mode"], pos["balance_fen"], pos["required_fen"], pos["shortfall_fen"]) == ("custody", 400000, 368000, 0)


def test_releasable_is_confirmed_lessons_not_yet_released():
    pos = alerts.position(facts([contract(delivered=24000, confirmed=16000)], [custody(balance=384000)]))
    assert pos["releasable_fen"] == 16000


# -- shortfall -------------------------------------------------------------------------------------


def test_custody_shortfall_when_the_balance_is_below_the_booked_liability():
    f = facts([contract(amount=384000, delivered=16000)], [custody(balance=200000)])
    (found,) = run(f)
    assert found.kind == "shortfall" and found.subject == ""
    e = found.evidence
    assert (e["balance_fen"], e["required_fen"], e["shortfall_fen"], e["mode"]) == (200000, 368000, 168000, "custody")
    assert "缺口1680.00元" in e["summary"] and e["accounts"][0]["account_no"] == "6228480001"


def test_no_custody_shortfall_for_money_the_bank_has_not_booked_yet():
    assert run(facts([contract(matched=False, days_ago=1)], [custody()])) == []
    assert run(facts([contract(amount=384000)], [custody(balance=384000)])) == []


def test_guarantee_must_cover_its_minimum_and_the_whole_liability():
    below_minimum = facts([contract(amount=300000, matched=False, days_ago=1)], [guarantee(balance=900000)])
    (found,) = run(below_minimum)
    assert found.evidence["required_fen"] == 1_000_000 and found.evidence["shortfall_fen"] == 100000
    below_liability = facts([contract(amount=1_200_000, matched=False, days_ago=1)], [guarantee(balance=1_100_000)])
    (found,) = run(below_liability)
    assert found.evidence["required_fen"] == 1_200_000 and found.evidence["mode_name"] == "风险保证金"
    assert run(facts([contract(amount=300000, days_ago=1)], [guarantee(balance=1_000_000)])) == []


def test_a_new_guarantee_account_gets_the_grace_days_before_an_unreported_balance_counts():
    fresh = facts([], [guarantee(balance=None, opened=TODAY - timedelta(days=1))])
    assert run(fresh) == []
    (found,) = run(facts([], [guarantee(balance=None, opened=TODAY - timedelta(days=5))]))
    assert found.kind == "shortfall" and found.evidence["balance_reported"] is False


# -- outflows, money outside the account, stopped lessons --------------------------------------------


def test_releases_beyond_confirmed_lessons():
    f = facts([contract(delivered=32000, confirmed=16000)], [custody(balance=384000 - 50000, releases=50000)])
    found = [x for x in run(f) if x.kind == "outflow_exceeds_lessons"]
    assert found and found[0].evidence["excess_fen"] == 34000 and found[0].evidence["confirmed_fen"] == 16000
    ok = facts([contract(delivered=32000, confirmed=16000)], [custody(balance=384000 - 16000, releases=16000)])
    assert [x for x in run(ok) if x.kind == "outflow_exceeds_lessons"] == []


def test_a_contract_with_no_bank_receipt_after_the_grace_days():
    f = facts([contract("C1", matched=False, days_ago=4), contract("C2", matched=False, days_ago=2),
               contract("C3", matched=True, days_ago=9)], [custody(balance=384000)])
    found = [x for x in run(f) if x.kind == "collected_outside_account"]
    assert [x.subject for x in found] == ["C1"]
    assert found[0].evidence["days_without_receipt"] == 4 and found[0].evidence["grace_days"] == 3
    # guarantee institutions are not paid through the supervised account: no such alert
    g = facts([contract("C1", matched=False, days_ago=40)], [guarantee(balance=2_000_000)])
    assert [x for x in run(g) if x.kind == "collected_outside_account"] == []


def test_delivery_stopped_while_holding_money_for_started_courses():
    started = facts([contract(starts=date(2021, 10, 20), delivered=16000)], [custody(balance=384000)])
    last = date(2021, 10, 25)
    found = [x for x in run(started, last_day=last) if x.kind == "delivery_stopped"]
    assert found and found[0].evidence["idle_days"] == 37 and found[0].evidence["last_delivered_on"] == "2021-10-25"
    assert [x for x in run(started, last_day=date(2021, 11, 20)) if x.kind == "delivery_stopped"] == []
    not_begun = facts([contract(starts=date(2021, 12, 20))], [custody(balance=384000)])
    assert [x for x in run(not_begun) if x.kind == "delivery_stopped"] == []
    never = facts([contract(starts=date(2021, 10, 1))], [custody(balance=384000)])
    assert [x.evidence["idle_since"] for x in run(never) if x.kind == "delivery_stopped"] == ["2021-10-01"]
    strict = EscrowRules(delivery_stop_days=60)
    assert [x for x in run(started, rules=strict, last_day=last) if x.kind == "delivery_stopped"] == []


def test_charge_over_cap_carries_every_broken_cap():
    finding = alerts.charge_over_cap("C9", [Violation("class_hours", "一次收费不得超过60课时（本次80课时）")], 80,
                                     date(2021, 11, 1), date(2022, 1, 31), 640000, DEFAULT_RULES)
    assert finding.kind == "charge_over_cap" and finding.subject == "C9"
    assert finding.evidence["refused"] is True and finding.evidence["max_class_hours"] == 60
    assert "80课时" in finding.evidence["summary"]


# -- dedup and clearing ---------------------------------------------------------------------------------


def test_dedup_keys_per_contract_or_per_day():
    assert alerts.dedup_key(7, "shortfall", "", TODAY) == "7:shortfall:2021-12-01"
    assert alerts.dedup_key(7, "collected_outside_account", "ZY-1", TODAY) == "7:collected_outside_account:ZY-1"
    assert alerts.subject_of("collected_outside_account", "7:collected_outside_account:ZY-1") == "ZY-1"
    assert alerts.subject_of("shortfall", "7:shortfall:2021-12-01") == ""


def test_plan_raises_only_new_alerts_and_clears_resolved_ones_but_not_refusals():
    open_ = [alerts.OpenAlert(1, "shortfall", ""), alerts.OpenAlert(2, "collected_outside_account", "C1"),
             alerts.OpenAlert(3, "charge_over_cap", "C9")]
    findings = [alerts.Finding("shortfall", "", {}), alerts.Finding("collected_outside_account", "C2", {})]
    new, cleared = alerts.plan(findings, open_)
    assert [(f.kind, f.subject) for f in new] == [("collected_outside_account", "C2")]
    assert cleared == [2]
    assert alerts.plan(findings, open_)[0] == new  # re-evaluation: the same answer, no duplicates


def test_every_kind_has_a_chinese_name():
    assert set(alerts.KIND_NAMES) == {"shortfall", "outflow_exceeds_lessons", "collected_outside_account",
                                      "delivery_stopped", "charge_over_cap"}
    assert alerts.KIND_NAMES["shortfall"] == "监管资金不足"


def test_a_refund_paid_reduces_the_liability():
    f = facts([replace(contract(amount=384000), refunds_paid_fen=384000, status="refunded")], [custody(balance=0)])
    assert alerts.position(f)["unearned_fen"] == 0 and run(f) == []
