"""举报 on the real bus and database: public intake → triage (a lead for inspectors) → assignment →
reply → closure, with the wrong department refused; the 互联网+教育督导 CSV import (all or nothing,
idempotent by 线索编号); a complaint received long ago is overdue at once and flagged once."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.workdays import SHANGHAI
from services.inspection.service import InspectionService
from tests.service.support import call, captured

TOWNSHIP = "340722100"


def register(config, container, iid, name):
    data = {"id": iid, "name": name, "township_code": TOWNSHIP, "status": "operating", "category": "academic",
            "registered_on": "2021-06-01", "version": 1,
            "history": [{"status": "operating", "effective_on": "2021-06-01", "seq": iid}]}
    with entrypoint_waiter(container, "on_institution_registered"):
        event_dispatcher(config)("registry", "institution_registered",
                                 make_event("registry", "institution_registered", data, TOWNSHIP))


@pytest.fixture
def inspection(start_services):
    return start_services(InspectionService)["inspection"]


def test_public_complaint_from_intake_to_closure(config, inspection, token, system_token):
    register(config, inspection, 9101, "枞阳县学霸培训学校")
    education, market, police = token("education"), token("market_regulation"), token("public_security")

    with pytest.raises(ValidationFailed) as info:
        call(inspection, "submit_public_complaint", system_token, {"content": " ", "contact_phone": "13800138000"})
    assert info.value.field == "content"
    with pytest.raises(ValidationFailed) as info:
        call(inspection, "submit_public_complaint", system_token, {"content": "周末补课", "contact_phone": "123"})
    assert info.value.field == "contact_phone"
    with pytest.raises(Forbidden):  # only the gateway's public form (the platform) may file one unsigned by a user
        call(inspection, "submit_public_complaint", education, {"content": "周末补课"})
    assert call(inspection, "list_complaints", education)["total"] == 0

    events = ("complaint_received", "complaint_triaged", "complaint_assigned", "complaint_replied", "complaint_closed")
    with captured(config, "inspection", *events) as got:
        receipt = call(inspection, "submit_public_complaint", system_token, {
            "content": "该机构周末仍在上数学课，学生很多", "institution_name": "枞阳县学霸培训学校",
            "township_code": TOWNSHIP, "contact_phone": "13800138000"})
        assert receipt["status"] == "received" and receipt["receipt_no"].startswith("JB")
        listed = call(inspection, "list_complaints", education)["items"]
        assert len(listed) == 1 and listed[0]["contact_phone"] == "138****8000"
        cid = listed[0]["id"]
        assert listed[0]["institution_id"] == 9101 and listed[0]["overdue"] is False

        triaged = call(inspection, "triage_complaint", education, cid, {"result": "verified", "note": "电话核实属实"})
        assert triaged["status"] == "verified" and triaged["lead"]
        leads = call(inspection, "list_leads", education)["items"]
        assert [(l["source"], l["institution_id"], l["source_refs"]) for l in leads] == [("complaint", 9101, [cid])]

        with pytest.raises(Forbidden):  # only education assigns
            call(inspection, "assign_complaint", market, cid, {"department": "market_regulation"})
        assigned = call(inspection, "assign_complaint", education, cid, {"department": "market_regulation"})
        assert assigned["department"] == "market_regulation" and assigned["status"] == "assigned"

        with pytest.raises(Forbidden) as info:  # the wrong department
            call(inspection, "reply_complaint", police, cid, {"reply": "已查处"})
        assert info.value.field == "department"
        with pytest.raises(Conflict):
            call(inspection, "close_complaint", market, cid, {})
        replied = call(inspection, "reply_complaint", market, cid, {"reply": "经查属实，已责令停止违规培训", "note": "内部：已立案"})
        assert replied["status"] == "replied"

        public = call(inspection, "get_public_complaint_status", system_token, receipt["receipt_no"])
        assert public["reply"] == "经查属实，已责令停止违规培训" and public["status"] == "replied"
        assert "contact_phone" not in public and "history" not in public and "content" not in public

        # the handling department may see the number to call back — with a reason, and audited
        with pytest.raises(Forbidden):
            call(inspection, "reveal_complaint_contact", police, cid, {"reason": "回访"})
        with pytest.raises(ValidationFailed) as info:
            call(inspection, "reveal_complaint_contact", market, cid, {})
        assert info.value.field == "reason"
        shown = call(inspection, "reveal_complaint_contact", market, cid, {"reason": "回访举报人核实情况"})
        assert shown["contact_phone"] == "13800138000"
        trail = call(inspection, "list_audit", education, "complaint", str(cid))["items"]
        reveal = [e for e in trail if e["action"] == "inspection.reveal_complaint_contact"]
        assert len(reveal) == 1 and reveal[0]["department_kind"] == "market_regulation"
        assert reveal[0]["after"] == {"receipt_no": receipt["receipt_no"], "contact_phone": "138****8000",
                                      "reason": "回访举报人核实情况"}

        with pytest.raises(Forbidden):
            call(inspection, "close_complaint", police, cid, {})
        closed = call(inspection, "close_complaint", market, cid, {})
        assert closed["status"] == "closed"
        steps = [(h["action"], h["department"]) for h in closed["history"]]
        assert steps == [("received", "system"), ("triaged", "education"), ("assigned", "education"),
                         ("replied", "market_regulation"), ("closed", "market_regulation")]
        assert all(h["at"] and h["by"] for h in closed["history"])
    assert got["complaint_received"][0]["township_code"] == TOWNSHIP
    assert got["complaint_triaged"][0]["verified"] is True
    assert got["complaint_closed"][0]["department"] == "market_regulation"
    assert "contact_phone" not in got["complaint_received"][0] and "content" not in got["complaint_received"][0]

    with pytest.raises(NotFound):
        call(inspection, "get_public_complaint_status", system_token, "JB20260101AAAAAAAAAAAA")
    # the market regulator sees only what is assigned to it
    assert call(inspection, "list_complaints", police)["total"] == 0
    assert call(inspection, "list_complaints", market)["total"] == 1


def _csv(rows, encoding="gbk"):
    header = "线索编号,反映时间,反映内容,涉及机构,所在乡镇,联系电话\n"
    text = header + "".join(",".join(r) + "\n" for r in rows)
    return base64.b64encode(text.encode(encoding)).decode("ascii")


def test_imported_complaints_going_overdue(config, inspection, token, system_token):
    education = token("education")
    long_ago = (datetime.now(SHANGHAI) - timedelta(days=60)).strftime("%Y-%m-%d %H:%M")
    recent = (datetime.now(SHANGHAI) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")

    bad = _csv([["HL-001", long_ago, "周末违规补课", "", TOWNSHIP, "13900001111"],
                ["HL-002", "昨天", "", "", "999999999", "139"]])
    result = call(inspection, "import_complaints_csv", education, bad)
    assert result["state"] == "rejected"
    assert {(e["row"], e["column"]) for e in result["errors"]} == {
        (3, "反映时间"), (3, "反映内容"), (3, "所在乡镇"), (3, "联系电话")}
    assert call(inspection, "list_complaints", education)["total"] == 0  # nothing stored

    good = _csv([["HL-001", long_ago, "周末违规补课", "", TOWNSHIP, "13900001111"],
                 ["HL-002", recent, "假期集中培训", "", "", ""]])
    with captured(config, "inspection", "complaint_received", "complaint_overdue") as got:
        result = call(inspection, "import_complaints_csv", education, good)
        assert (result["state"], result["created"], result["unchanged"]) == ("committed", 2, 0)
        again = call(inspection, "import_complaints_csv", education, good)
        assert (again["created"], again["unchanged"]) == (0, 2)

        overdue = call(inspection, "list_complaints", education, {"overdue": "true"})
        assert [c["channel_ref"] for c in overdue["items"]] == ["HL-001"]
        assert overdue["items"][0]["overdue"] is True
        assert call(inspection, "list_complaints", education, {"overdue": "false"})["total"] == 1

        flagged = call(inspection, "flag_overdue_complaints", system_token)
        assert flagged["flagged"] == 1 and flagged["receipts"] == [result["receipts"]["HL-001"]]
        assert call(inspection, "flag_overdue_complaints", system_token)["flagged"] == 0  # once only
    assert len(got["complaint_received"]) == 2
    assert [e["receipt_no"] for e in got["complaint_overdue"]] == [result["receipts"]["HL-001"]]
    assert got["complaint_overdue"][0]["township_code"] == TOWNSHIP

    # a reply stops the clock: the overdue complaint answered late is no longer overdue
    cid = overdue["items"][0]["id"]
    call(inspection, "triage_complaint", education, cid, {"result": "verified"})
    call(inspection, "assign_complaint", education, cid, {"department": "township"})
    township = token("township", division=TOWNSHIP)
    call(inspection, "reply_complaint", township, cid, {"reply": "已核查并整改"})
    assert call(inspection, "list_complaints", education, {"overdue": "true"})["total"] == 0


def test_sla_settings_per_county(inspection, token):
    leader, clerk = token("education", roles=("leader",)), token("education")
    assert call(inspection, "get_complaint_settings", clerk)["sla_days"]["education"] == 10
    with pytest.raises(Forbidden):
        call(inspection, "set_complaint_settings", clerk, {"sla_days": {"township": 5}})
    with pytest.raises(ValidationFailed) as info:
        call(inspection, "set_complaint_settings", leader, {"sla_days": {"township": 0}})
    assert info.value.field == "sla_days.township"
    assert call(inspection, "set_complaint_settings", leader, {"sla_days": {"township": 5}})["sla_days"]["township"] == 5
