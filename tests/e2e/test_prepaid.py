"""预收费资金监管 through the gateway's JSON API on the real processes: settings, account, fee item,
a refused and an accepted charge, a lesson, a refund, the position, the alert and its lead."""
from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from shuangjian.client import ApiError, wait_until
from shuangjian.codes import make_uscc
from shuangjian.demo import load_demo_county
from tests.e2e.support import admin_client, as_user


def refused(call, *args):
    with pytest.raises(ApiError) as info:
        call(*args)
    return info.value


def test_prepaid_fees_through_the_gateway(platform):
    admin = admin_client(platform)
    load_demo_county(admin)
    education, market = as_user(platform, "jiaoti_leader"), as_user(platform, "shichang_leader")
    iid = education.post("/api/institutions", {
        "name": "项铺镇预收费测试学校", "uscc": make_uscc(int(time.time() * 17) % 10**9), "licence_no": "教民E2E004号",
        "category": "非学科类", "legal_form": "营利性", "township_code": "340722102", "address": "项铺镇4号",
    })["id"]
    wait_until(lambda: _known(education, iid), lambda known: known)

    error = refused(education.request, "PUT", "/api/escrow/settings", {"max_class_hours": 90})
    assert (error.status, error.error["field"]) == (400, "max_class_hours")
    assert refused(market.request, "PUT", "/api/escrow/settings", {"charge_cap_fen": 1}).status == 403
    assert education.request("PUT", "/api/escrow/settings", {"charge_cap_fen": 400000})["charge_cap_fen"] == 400000
    try:
        account = education.post("/api/escrow/accounts", {
            "institution_id": iid, "mode": "custody", "bank_name": "中国建设银行枞阳支行", "bank_code": "CCB",
            "account_no": f"43000{iid:010d}", "custody_agreement_no": "枞教托管E2E"})
        item = education.post(f"/api/escrow/institutions/{iid}/fee-items", {"name": "围棋", "price_per_hour_fen": 9000})
        draft = education.post(f"/api/escrow/institutions/{iid}/fee-items",
                               {"name": "书法", "price_per_hour_fen": 5000, "publish": False})
        today = date.today()
        body = {"institution_id": iid, "contract_no": f"E2E-{iid}-1", "fee_item_id": item["id"],
                "student_name": "王小华", "class_hours": 50, "starts_on": today.isoformat(),
                "ends_on": (today + timedelta(days=80)).isoformat(), "amount_fen": 450000, "channel": "bank_card"}
        error = refused(education.post, "/api/escrow/contracts", body)
        assert (error.status, error.error["field"]) == (400, "amount_fen") and "4000.00元" in error.error["message"]
        error = refused(education.post, "/api/escrow/contracts", {**body, "amount_fen": 4500.0})
        assert (error.status, error.error["field"]) == (400, "amount_fen") and "小数" in error.error["message"]
        error = refused(education.post, "/api/escrow/contracts",
                        {**body, "fee_item_id": draft["id"], "class_hours": 40, "amount_fen": 200000})
        assert (error.status, error.error["field"]) == (409, "fee_item_id")
        assert education.get("/api/escrow/contracts", institution=iid)["total"] == 0

        contract = education.post("/api/escrow/contracts", {**body, "class_hours": 40, "amount_fen": 360000})
        lesson = education.post(f"/api/escrow/contracts/{contract['id']}/lessons", {"lesson_no": 1, "hours": 2})
        confirmed = education.post(f"/api/escrow/contracts/{contract['id']}/lessons/1/confirmation")
        assert (lesson["fee_fen"], confirmed["confirmation"]) == (18000, "confirmed")
        refund = education.post(f"/api/escrow/contracts/{contract['id']}/refunds", {"amount_fen": 90000, "reason": "转学"})
        answered = education.post(f"/api/escrow/refunds/{refund['id']}/answer", {"decision": "accept"})
        assert (refund["channel"], answered["status"]) == ("bank_card", "accepted")

        position = market.get(f"/api/escrow/institutions/{iid}/position")  # market regulation may read
        assert (position["paid_fen"], position["unearned_fen"], position["refunds_owed_fen"]) == (360000, 342000, 90000)
        assert position["mode"] == "custody" and position["releasable_fen"] == 18000
        assert refused(market.post, "/api/escrow/contracts", body).status == 403
        detail = education.get(f"/api/escrow/contracts/{contract['id']}")
        assert [x["lesson_no"] for x in detail["lessons"]] == [1] and detail["refunds"][0]["status"] == "accepted"
        history = education.get(f"/api/escrow/accounts/{account['id']}/history")["items"]
        assert [h["change"] for h in history] == ["opened"]

        (alert,) = education.get("/api/escrow/alerts", institution=iid)["items"]
        assert alert["kind"] == "charge_over_cap" and alert["evidence"]["amount_fen"] == 450000
        lead = wait_until(lambda: [x for x in education.get("/api/inspection/leads")["items"] if x["institution_id"] == iid],
                          lambda leads: leads)
        assert lead[0]["reason_kind"] == "charge_over_cap"
        closed = education.post(f"/api/escrow/alerts/{alert['id']}/closure", {"note": "已约谈机构负责人"})
        assert closed["status"] == "closed"
        assert refused(education.post, f"/api/escrow/alerts/{alert['id']}/closure", {"note": "再关"}).status == 409
        summary = education.get("/api/reports/escrow-summary")
        assert summary["accounts_open"] >= 1 and "alerts_open_by_kind" in summary
        assert education.post("/api/escrow/alerts/scan")["institutions_checked"] >= 1
    finally:
        education.request("PUT", "/api/escrow/settings", {"charge_cap_fen": 500000})


def _known(client, iid) -> bool:
    try:
        client.get(f"/api/escrow/institutions/{iid}/eligibility")
        return True
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise
