"""预收费资金监管 on the real bus and database: every refused charge stores nothing (and a charge
over the caps raises its alert), lessons and refunds announce what the Temporal timers need, the
deadline RPCs are idempotent, and a shortfall reaches inspection and reporting."""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from kombu import Connection
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.common.config import database_url
from services.common.db import make_engine
from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.events import make_event
from services.common.workdays import today_shanghai
from services.escrow.models import (
    AccountBalance,
    Alert,
    BankTransaction,
    Contract,
    EscrowAccount,
    FeeItem,
    Lesson,
    Refund,
)
from services.escrow.service import EscrowService
from services.inspection.service import InspectionService
from services.reporting.service import ReportingService
from shuangjian.client import wait_until
from tests.service.support import call, captured

TOWNSHIP = "340722100"


def _event_queues() -> list[str]:
    """nameko's durable queue of every event handler these services declare."""
    from services.registry.service import RegistryService

    names = []
    for cls in (EscrowService, InspectionService, ReportingService, RegistryService):
        for attr in vars(cls).values():
            for entrypoint in getattr(attr, "nameko_entrypoints", ()):
                if hasattr(entrypoint, "event_type"):
                    names.append(f"evt-{entrypoint.source_service}-{entrypoint.event_type}--{cls.name}.{attr.__name__}")
    return names


@pytest.fixture(autouse=True)
def quiet_bus(config):
    """Events published here for a service not running in this test would wait in its durable queue
    and reach a later test: empty those queues before and after each test."""
    def purge():
        with Connection(config["AMQP_URI"]) as conn:
            for name in _event_queues():
                channel = conn.channel()
                try:
                    channel.queue_purge(name)
                except Exception:  # noqa: BLE001 - the queue does not exist (yet): nothing to purge
                    pass
                finally:
                    try:
                        channel.close()
                    except Exception:  # noqa: BLE001
                        pass

    purge()
    yield
    purge()


@pytest.fixture
def db():
    engine = make_engine(database_url("escrow"))
    yield engine
    engine.dispose()


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def register(config, containers, iid, status="operating", name=None):
    data = {"id": iid, "name": name or f"枞阳县测试培训学校{iid}", "township_code": TOWNSHIP, "status": status,
            "category": "academic", "registered_on": "2021-06-01", "version": 1,
            "history": [{"status": status, "effective_on": "2021-06-01", "seq": iid}]}
    event = make_event("registry", "institution_registered", data, TOWNSHIP)
    with _waiting(containers, "on_institution_registered"):
        event_dispatcher(config)("registry", "institution_registered", event)


@contextmanager
def _waiting(containers, method):
    waiters = [entrypoint_waiter(c, method) for c in containers]
    for w in waiters:
        w.__enter__()
    yield
    for w in reversed(waiters):
        w.__exit__(None, None, None)


STATUS_SEQ = iter(range(9000, 10**6))


def registry_event(config, escrow, event_type, data):
    handler = {"institution_status_changed": "on_institution_status_changed",
               "conversion_applied": "on_conversion_applied",
               "conversion_step_decided": "on_conversion_step_decided"}[event_type]
    if event_type == "institution_status_changed":  # the registry's whole message, as reporting reads it
        data = {"township_code": TOWNSHIP, "effective_on": today_shanghai().isoformat(), "seq": next(STATUS_SEQ),
                "version": 2, **data}
    with entrypoint_waiter(escrow, handler):
        event_dispatcher(config)("registry", event_type, make_event("registry", event_type, data, TOWNSHIP))


def custody_account(iid, account_no=None):
    return {"institution_id": iid, "mode": "custody", "bank_name": "中国农业银行枞阳县支行", "bank_code": "ABC",
            "account_no": account_no or f"62284800{iid:06d}", "custody_agreement_no": f"枞教托管〔2021〕{iid}号"}


def charge(iid, fee_item_id, no, **overrides):
    today = today_shanghai()
    data = {"institution_id": iid, "contract_no": no, "template_version": "2021", "fee_item_id": fee_item_id,
            "student_name": "张小明", "class_hours": 40, "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=60)).isoformat(), "amount_fen": 320000, "channel": "wechat"}
    data.update(overrides)
    return data


@pytest.fixture
def leader(token):
    return token("education", roles=("leader", "clerk"))


def test_every_refused_charge_says_why_and_stores_nothing(start_services, config, token, leader, db):
    escrow = start_services(EscrowService)["escrow"]
    clerk = token("education")
    register(config, [escrow], 501)
    item = call(escrow, "create_fee_item", clerk, {"institution_id": 501, "name": "初中数学", "price_per_hour_fen": 8000})
    draft = call(escrow, "create_fee_item", clerk, {"institution_id": 501, "name": "高中物理",
                                                    "price_per_hour_fen": 9000, "publish": False})
    gone = call(escrow, "create_fee_item", clerk, {"institution_id": 501, "name": "小学英语", "price_per_hour_fen": 6000})
    call(escrow, "withdraw_fee_item", clerk, gone["id"])
    assert (item["state"], draft["state"]) == ("published", "draft")

    def refused(exc_type, data, field, fragment, actor=clerk):
        with pytest.raises(exc_type) as info:
            call(escrow, "sign_contract", actor, data)
        assert info.value.field == field and fragment in info.value.message, repr(info.value)

    refused(Conflict, charge(501, item["id"], "N-0"), "institution_id", "尚未开设资金监管账户")
    call(escrow, "open_account", clerk, custody_account(501))
    settings = call(escrow, "set_escrow_settings", leader, "340722", {"charge_cap_fen": 300000})
    assert settings["charge_cap_fen"] == 300000 and settings["max_class_hours"] == 60

    with captured(config, "escrow", "escrow_alert_raised") as events:  # over the caps: refused *and* an alert
        refused(ValidationFailed, charge(501, item["id"], "N-1", class_hours=61, amount_fen=488000), "class_hours",
                "不得超过60课时")
        later = (today_shanghai() + timedelta(days=100)).isoformat()
        refused(ValidationFailed, charge(501, item["id"], "N-2", class_hours=30, amount_fen=240000, ends_on=later),
                "ends_on", "不得超过3个月")
        refused(ValidationFailed, charge(501, item["id"], "N-3"), "amount_fen", "不得超过本县上限3000.00元")
        refused(ValidationFailed, charge(501, item["id"], "N-1", class_hours=61, amount_fen=488000), "class_hours",
                "60课时")  # tried again: the same alert, not a second one
    raised = events["escrow_alert_raised"]
    assert [(e["kind"], e["evidence"]["contract_no"]) for e in raised] == [
        ("charge_over_cap", "N-1"), ("charge_over_cap", "N-2"), ("charge_over_cap", "N-3")]
    assert raised[0]["kind_name"] == "超限收费" and raised[0]["evidence"]["max_class_hours"] == 60
    assert raised[2]["evidence"]["charge_cap_fen"] == 300000 and raised[2]["township_code"] == TOWNSHIP

    ok = {"class_hours": 30, "amount_fen": 240000}
    refused(ValidationFailed, charge(501, item["id"], "N-4", class_hours=30, amount_fen=2400.0), "amount_fen", "小数")
    refused(ValidationFailed, charge(501, item["id"], "N-4", class_hours=30, amount_fen="240000"), "amount_fen", "字符串")
    refused(ValidationFailed, charge(501, item["id"], "N-4", class_hours=30, amount_fen=-240000), "amount_fen", "负数")
    refused(ValidationFailed, charge(501, item["id"], "N-4", class_hours=30, amount_fen=250000), "amount_fen",
            "30课时×80.00元=2400.00元")
    refused(ValidationFailed, charge(501, item["id"], "N-4", template_version="机构自拟", **ok), "template_version",
            "示范合同文本")
    refused(ValidationFailed, charge(501, item["id"], "N-4", channel="cash", **ok), "channel", "不得收取现金")
    refused(Conflict, charge(501, draft["id"], "N-4", class_hours=30, amount_fen=270000), "fee_item_id", "尚未公示")
    refused(Conflict, charge(501, gone["id"], "N-4", class_hours=30, amount_fen=180000), "fee_item_id", "已撤下")
    refused(Forbidden, charge(501, item["id"], "N-4", **ok), None, "仅限：教体局", actor=token("civil_affairs"))

    registry_event(config, escrow, "institution_status_changed", {"id": 501, "status": "suspended_for_rectification"})
    refused(Conflict, charge(501, item["id"], "N-4", **ok), "institution_id", "停业整顿")
    registry_event(config, escrow, "institution_status_changed", {"id": 501, "status": "operating"})
    registry_event(config, escrow, "conversion_applied", {"institution_id": 501})
    refused(Conflict, charge(501, item["id"], "N-4", **ok), "institution_id", "营转非办理中")
    registry_event(config, escrow, "conversion_step_decided", {"institution_id": 501, "resumes_enrolment": True})
    registry_event(config, escrow, "institution_status_changed", {"id": 501, "status": "deregistering"})
    refused(Conflict, charge(501, item["id"], "N-4", **ok), "institution_id", "注销中")

    assert count(db, Contract) == 0 and count(db, Lesson) == 0 and count(db, Refund) == 0
    assert count(db, Alert) == 3  # the three over-cap attempts, nothing else

    registry_event(config, escrow, "institution_status_changed", {"id": 501, "status": "operating"})
    signed = call(escrow, "sign_contract", clerk, charge(501, item["id"], "N-4", **ok))
    assert (signed["status"], signed["template_version"], signed["amount_fen"]) == ("active", "2021", 240000)
    with pytest.raises(Conflict) as info:
        call(escrow, "sign_contract", clerk, charge(501, item["id"], "N-4", **ok))
    assert info.value.field == "contract_no"
    assert count(db, Contract) == 1


def test_lessons_and_refunds_announce_the_timers_and_deadline_calls_are_idempotent(
        start_services, config, token, leader, system_token, db):
    escrow = start_services(EscrowService)["escrow"]
    clerk = token("education")
    register(config, [escrow], 502)
    call(escrow, "open_account", clerk, custody_account(502))
    item = call(escrow, "create_fee_item", clerk, {"institution_id": 502, "name": "初中数学", "price_per_hour_fen": 8000})
    contract = call(escrow, "sign_contract", clerk, charge(502, item["id"], "L-1"))
    cid = contract["id"]
    call(escrow, "set_escrow_settings", leader, "340722", {"deemed_confirmation_workdays": 7})

    with captured(config, "escrow", "lesson_delivered", "lesson_confirmed") as events:
        first = call(escrow, "deliver_lesson", clerk, cid, {"lesson_no": 1, "hours": 2})
        call(escrow, "deliver_lesson", clerk, cid, {"lesson_no": 2, "hours": 2})
        assert call(escrow, "deliver_lesson", clerk, cid, {"lesson_no": 2, "hours": 2})["lesson_no"] == 2  # repeat
        deemed = call(escrow, "deem_lesson_confirmed", system_token, cid, 1)
        again = call(escrow, "deem_lesson_confirmed", system_token, cid, 1)
        call(escrow, "confirm_lesson", clerk, cid, 2)
        call(escrow, "deem_lesson_confirmed", system_token, cid, 2)  # the parent was first: nothing changes
    assert first["fee_fen"] == 16000 and first["confirmation"] == "pending" and first["confirm_by"]
    assert (deemed["confirmation"], again["confirmation"]) == ("deemed", "deemed")
    delivered = events["lesson_delivered"]
    assert [d["lesson_no"] for d in delivered] == [1, 2]
    assert set(delivered[0]) >= {"contract_id", "contract_no", "institution_id", "township_code", "lesson_no",
                                 "fee_fen", "delivered_at", "confirm_within_workdays"}
    assert (delivered[0]["contract_id"], delivered[0]["contract_no"], delivered[0]["confirm_within_workdays"],
            delivered[0]["township_code"]) == (cid, "L-1", 7, TOWNSHIP)
    assert datetime.fromisoformat(delivered[0]["delivered_at"]).tzinfo is not None
    assert [(c["lesson_no"], c["how"]) for c in events["lesson_confirmed"]] == [(1, "deemed"), (2, "parent")]
    with pytest.raises(Forbidden):  # only the platform applies deadlines
        call(escrow, "deem_lesson_confirmed", leader, cid, 1)
    with pytest.raises(ValidationFailed) as info:
        call(escrow, "deliver_lesson", clerk, cid, {"lesson_no": 3, "hours": 37})
    assert info.value.field == "hours" and "合同40课时，已上4课时" in info.value.message

    with captured(config, "escrow", "refund_requested", "refund_answered") as events:
        with pytest.raises(ValidationFailed) as info:  # 320000 paid − 32000 given: at most 288000
            call(escrow, "request_refund", clerk, cid, {"amount_fen": 288001, "reason": "搬家"})
        assert info.value.field == "amount_fen" and "可退金额2880.00元" in info.value.message
        refund = call(escrow, "request_refund", clerk, cid, {"amount_fen": 100000, "reason": "搬家"})
        with pytest.raises(Conflict):  # one request at a time
            call(escrow, "request_refund", clerk, cid, {"amount_fen": 1000, "reason": "再退"})
        first = call(escrow, "deem_refund_accepted", system_token, refund["id"])
        again = call(escrow, "deem_refund_accepted", system_token, refund["id"])
        with pytest.raises(Conflict):
            call(escrow, "answer_refund", clerk, refund["id"], {"decision": "reject", "answer": "不同意"})
        second = call(escrow, "request_refund", clerk, cid, {"amount_fen": 8000, "reason": "调课"})
        call(escrow, "answer_refund", clerk, second["id"], {"decision": "reject", "answer": "课时已排定"})
    assert (refund["channel"], refund["status"], bool(refund["answer_by"])) == ("wechat", "requested", True)
    assert (first["status"], again["status"]) == ("deemed_accepted", "deemed_accepted")
    (requested, _) = events["refund_requested"]
    assert requested == {**requested, "refund_id": refund["id"], "contract_id": cid, "contract_no": "L-1",
                         "institution_id": 502, "township_code": TOWNSHIP, "amount_fen": 100000,
                         "channel": "wechat", "answer_within_workdays": 5}
    assert [(a["refund_id"], a["status"]) for a in events["refund_answered"]] == [
        (refund["id"], "deemed_accepted"), (second["id"], "rejected")]

    position = call(escrow, "get_position", clerk, 502)
    # paid 320000 − lessons 32000; the accepted refund is owed until the bank pays it back
    assert (position["unearned_fen"], position["refunds_owed_fen"], position["confirmed_fen"]) == (288000, 100000, 32000)
    paid = call(escrow, "record_refund_paid", clerk, refund["id"])
    assert paid["status"] == "paid"
    assert call(escrow, "get_prepaid_position", system_token, 502)["unearned_fen"] == 188000
    detail = call(escrow, "get_contract", token("market_regulation"), cid)  # market regulation may read
    assert [x["confirmation"] for x in detail["lessons"]] == ["deemed", "confirmed"]
    assert detail["refundable_fen"] == 188000 and detail["refunded_fen"] == 100000


def test_accounts_keep_their_history_and_refuse_to_close_while_holding_money(start_services, config, token, db):
    escrow = start_services(EscrowService)["escrow"]
    clerk = token("education")
    register(config, [escrow], 503)
    opened = call(escrow, "open_account", clerk, custody_account(503))
    with pytest.raises(Conflict) as info:
        call(escrow, "open_account", clerk, custody_account(503))
    assert info.value.field == "account_no"
    with pytest.raises(Conflict) as info:
        call(escrow, "open_account", clerk, {**custody_account(503, "6228480099"), "mode": "guarantee",
                                             "guarantee_minimum_fen": 1_000_000, "custody_agreement_no": None})
    assert info.value.field == "mode"
    changed = call(escrow, "change_account", clerk, opened["id"], {"bank_name": "农行枞阳县支行营业部", "reason": "更名"})
    assert changed["version"] == 2
    with pytest.raises(Conflict):
        call(escrow, "change_account", clerk, opened["id"], {"bank_name": "x", "version": 1})
    item = call(escrow, "create_fee_item", clerk, {"institution_id": 503, "name": "美术", "price_per_hour_fen": 5000})
    call(escrow, "sign_contract", clerk, charge(503, item["id"], "A-1", class_hours=20, amount_fen=100000))
    with pytest.raises(Conflict) as info:
        call(escrow, "close_account", clerk, opened["id"], {"reason": "更换银行"})
    assert "尚有未消课预收费 1000.00 元" in info.value.message
    second = call(escrow, "open_account", clerk, custody_account(503, "6228480077"))
    closed = call(escrow, "close_account", clerk, opened["id"], {"reason": "更换银行"})
    assert closed["status"] == "closed" and second["status"] == "open"
    history = call(escrow, "get_account", token("market_regulation"), opened["id"])["history"]
    assert [(h["change"], h["by"]) for h in history] == [
        ("opened", "教体局/测试用户"), ("changed", "教体局/测试用户"), ("closed", "教体局/测试用户")]
    assert history[1]["detail"]["changes"] == {"bank_name": ["中国农业银行枞阳县支行", "农行枞阳县支行营业部"]}
    assert [a["id"] for a in call(escrow, "list_accounts", clerk, 503, "open")["items"]] == [second["id"]]
    with pytest.raises(Forbidden):
        call(escrow, "open_account", token("market_regulation"), custody_account(503, "6228480055"))
    neighbour = token("education", division="340721")
    assert call(escrow, "list_accounts", neighbour, 503)["items"] == []
    with pytest.raises(Forbidden):
        call(escrow, "get_account", neighbour, opened["id"])


def book(db, config, escrow, iid, rows, balance):
    """Stand in for the bank feed: its rows, the account's running totals, then its event."""
    batch = f"b-{time.monotonic_ns()}"
    with Session(db) as session:
        for bank_tx_id, kind, amount, contract_no in rows:
            session.add(BankTransaction(bank_code="ABC", bank_tx_id=bank_tx_id, account_no=f"62284800{iid:06d}",
                                        institution_id=iid, kind=kind, amount_fen=amount,
                                        occurred_at=datetime.now(timezone.utc), contract_no=contract_no,
                                        batch_id=batch))
        session.merge(AccountBalance(account_no=f"62284800{iid:06d}", institution_id=iid, **balance,
                                     tx_count=len(rows), last_tx_at=datetime.now(timezone.utc)))
        session.commit()
    data = {"batch_id": batch, "institutions": [{"institution_id": iid, "township_code": TOWNSHIP,
                                                 "receipts_fen": balance["receipts_fen"],
                                                 "releases_fen": balance["releases_fen"],
                                                 "refunds_fen": balance["refunds_fen"],
                                                 "balance_fen": balance["balance_fen"]}],
            "contract_nos": [r[3] for r in rows if r[1] == "receipt"]}
    with entrypoint_waiter(escrow, "on_bank_transactions_booked"):
        event_dispatcher(config)("escrow", "bank_transactions_booked",
                                 make_event("escrow", "bank_transactions_booked", data, TOWNSHIP))


def test_a_shortfall_reaches_inspection_and_reporting(start_services, config, token, leader, db):
    platform = start_services(EscrowService, InspectionService, ReportingService)
    escrow, inspection, reporting = platform["escrow"], platform["inspection"], platform["reporting"]
    clerk = token("education")
    register(config, platform.values(), 505, name="枞阳县启明学科培训学校")
    with entrypoint_waiter(reporting, "on_escrow_account_opened"):
        call(escrow, "open_account", clerk, custody_account(505))
    item = call(escrow, "create_fee_item", clerk, {"institution_id": 505, "name": "初中数学", "price_per_hour_fen": 8000})
    contract = call(escrow, "sign_contract", clerk, charge(505, item["id"], "S-1"))

    book(db, config, escrow, 505, [("t1", "receipt", 320000, "S-1")],
         {"receipts_fen": 320000, "releases_fen": 0, "refunds_fen": 0, "balance_fen": 320000})
    assert call(escrow, "get_contract", clerk, contract["id"])["receipt_matched_at"] is not None
    assert call(escrow, "list_alerts", clerk)["items"] == []

    # the bank pays out 80,000 fen with no lesson confirmed: 240,000 left for 320,000 owed
    book(db, config, escrow, 505, [("t2", "release", 80000, None)],
         {"receipts_fen": 320000, "releases_fen": 80000, "refunds_fen": 0, "balance_fen": 240000})
    alerts = call(escrow, "list_alerts", clerk, 100, 0, {"institution_id": 505})["items"]
    assert sorted(a["kind"] for a in alerts) == ["outflow_exceeds_lessons", "shortfall"]
    shortfall = next(a for a in alerts if a["kind"] == "shortfall")
    assert (shortfall["evidence"]["balance_fen"], shortfall["evidence"]["required_fen"],
            shortfall["evidence"]["shortfall_fen"]) == (240000, 320000, 80000)

    leads = wait_until(lambda: call(inspection, "list_leads", clerk)["items"], lambda items: len(items) == 2, 10)
    lead = next(x for x in leads if x["reason_kind"] == "shortfall")
    assert (lead["source"], lead["institution_id"], lead["institution_name"], lead["status"]) == (
        "escrow_alert", 505, "枞阳县启明学科培训学校", "open")
    assert lead["reason_name"] == "监管资金不足" and lead["evidence"]["shortfall_fen"] == 80000
    summary = wait_until(lambda: call(reporting, "get_escrow_summary", clerk),
                         lambda s: s["alerts_open"] == 2 and s["funds_under_supervision_fen"] == 240000, 10)
    assert (summary["accounts_open"], summary["alerts_open"], summary["funds_under_supervision_fen"]) == (1, 2, 240000)
    assert summary["alerts_open_by_kind"] == {"shortfall": 1, "outflow_exceeds_lessons": 1}

    # the same state booked again: no second alert, no second lead
    book(db, config, escrow, 505, [("t3", "receipt", 1, "S-9")],
         {"receipts_fen": 320001, "releases_fen": 80000, "refunds_fen": 0, "balance_fen": 240001})
    assert count(db, Alert) == 2
    with entrypoint_waiter(reporting, "on_escrow_alert_closed"):
        closed = call(escrow, "close_alert", leader, shortfall["id"], {"note": "已约谈，责令补足"})
    assert closed["status"] == "closed" and closed["evidence"]["closing"]["note"] == "已约谈，责令补足"
    assert call(reporting, "get_escrow_summary", clerk)["alerts_open"] == 1
    assert call(reporting, "get_escrow_summary", clerk, None, "2021-11-10")["alerts_open"] == 0
    with pytest.raises(Forbidden):
        call(escrow, "close_alert", clerk, shortfall["id"], {"note": "x"})  # a leader's decision
    assert len(call(inspection, "list_leads", clerk)["items"]) == 2


def test_the_daily_scan_finds_money_outside_the_account_and_stopped_lessons(
        start_services, config, token, system_token, db):
    escrow = start_services(EscrowService)["escrow"]
    clerk = token("education")
    register(config, [escrow], 506)
    call(escrow, "open_account", clerk, custody_account(506))
    item = call(escrow, "create_fee_item", clerk, {"institution_id": 506, "name": "书法", "price_per_hour_fen": 5000})
    today = today_shanghai()
    started = {"starts_on": (today - timedelta(days=40)).isoformat(), "ends_on": (today + timedelta(days=40)).isoformat()}
    with captured(config, "escrow", "escrow_alert_raised") as events:  # no lesson for 40 days while holding the money
        contract = call(escrow, "sign_contract", clerk, charge(506, item["id"], "D-1", class_hours=20,
                                                               amount_fen=100000, **started))
    assert [e["kind"] for e in events["escrow_alert_raised"]] == ["delivery_stopped"]
    assert events["escrow_alert_raised"][0]["evidence"]["idle_days"] == 40

    assert call(escrow, "scan_alerts", system_token, "340722")["raised"] == []  # within the receipt grace
    with Session(db) as session:  # five days pass with no receipt from the bank
        session.execute(update(Contract).where(Contract.id == contract["id"])
                        .values(signed_at=datetime.now(timezone.utc) - timedelta(days=5)))
        session.commit()
    with captured(config, "escrow", "escrow_alert_raised", "escrow_alert_closed") as events:
        scan = call(escrow, "scan_alerts", system_token, "340722")
        assert call(escrow, "scan_alerts", system_token, "340722")["raised"] == []  # once only
        call(escrow, "deliver_lesson", clerk, contract["id"], {"lesson_no": 1})  # lessons resume
    assert scan["institutions_checked"] == 1
    assert [(r["kind"], r["institution_id"]) for r in scan["raised"]] == [("collected_outside_account", 506)]
    outside = events["escrow_alert_raised"][0]
    assert outside["evidence"]["contract_no"] == "D-1" and outside["evidence"]["days_without_receipt"] == 5
    assert [c["kind"] for c in events["escrow_alert_closed"]] == ["delivery_stopped"]
    assert events["escrow_alert_closed"][0]["how"] == "resolved"
    with pytest.raises(Forbidden):
        call(escrow, "scan_alerts", token("market_regulation"), "340722")
    assert count(db, EscrowAccount) == 1 and count(db, FeeItem) == 1
