"""营转非 and 注销 on the registry's and escrow's side, on the real bus. The workflow itself is
stood in for by `record_case_progress` calls as the platform (the workflows suite runs it)."""
from __future__ import annotations

import pytest
from nameko.testing.services import entrypoint_waiter

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.escrow.service import EscrowService
from services.registry.service import RegistryService
from services.reporting.service import ReportingService
from shuangjian.codes import make_uscc
from tests.service.support import call



@pytest.fixture
def platform(start_services):
    return start_services(RegistryService, EscrowService, ReportingService)


@pytest.fixture
def leader(token):
    return token("education", roles=("leader", "clerk"))


def register(platform, token, serial, category="学科类", legal_form="营利性"):
    with entrypoint_waiter(platform["escrow"], "on_institution_registered"):
        return call(platform["registry"], "register_institution", token("education"), {
            "name": f"测试培训学校{serial}", "uscc": make_uscc(serial), "licence_no": f"教民{serial}号",
            "licence_issued_on": "2020-03-01", "category": category, "legal_form": legal_form,
            "township_code": "340722100", "address": "枞阳镇1号",
        })


def progress(workflow_id, seq, step, action, status, current_step, current_department, **extra):
    return {
        "workflow_id": workflow_id, "process": workflow_id.split("-")[0], "institution_id": 0,
        "division_code": "340722100", "seq": seq, "status": status, "current_step": current_step,
        "current_department": current_department, "deadline": extra.pop("deadline", None),
        "resumes_enrolment": extra.pop("resumes_enrolment", False),
        "entry": {"seq": seq, "step": step, "step_title": step, "action": action, "department": "education",
                  "actor": extra.pop("actor", "系统"), "at": "2026-11-30T09:00:00+08:00", **extra},
    }


def test_conversion_suspends_charges_until_civil_affairs_registers(platform, token, leader, system_token):
    created = register(platform, token, 301)
    iid = created["id"]
    call(platform["escrow"], "check_new_charge", leader, iid)  # allowed before the application

    with pytest.raises(Forbidden):  # a clerk may not open a case
        call(platform["registry"], "apply_for_conversion", token("education"), iid)
    with entrypoint_waiter(platform["escrow"], "on_conversion_applied"):
        case = call(platform["registry"], "apply_for_conversion", leader, iid)
    wid = case["workflow_id"]
    assert wid == f"conversion-{iid}-{wid.rsplit('-', 1)[1]}" and case["current_step"] == "education_permit"
    with pytest.raises(Conflict) as info:
        call(platform["escrow"], "check_new_charge", leader, iid)
    assert "营转非办理中" in info.value.message
    with pytest.raises(Conflict):
        call(platform["registry"], "apply_for_conversion", leader, iid)

    # the workflow reports: education approved → civil affairs' inbox
    record = progress(wid, 2, "education_permit", "approve", "in_progress", "civil_affairs_registration",
                      "civil_affairs", deadline="2026-12-14T23:59:59+08:00", actor="教体局/王科长")
    call(platform["registry"], "record_case_progress", system_token, record)
    call(platform["registry"], "record_case_progress", system_token, record)  # a retried activity
    civil_inbox = call(platform["registry"], "list_inbox", token("civil_affairs"))["items"]
    assert [(i["workflow_id"], i["step_title"]) for i in civil_inbox] == [(wid, "登记为民办非企业单位")]
    assert call(platform["registry"], "list_inbox", leader)["items"] == []

    call(platform["registry"], "record_case_progress", system_token,
         progress(wid, 3, "civil_affairs_registration", "escalated", "in_progress", "civil_affairs_registration",
                  "civil_affairs", deadline="2026-12-14T23:59:59+08:00"))
    assert call(platform["registry"], "list_inbox", token("civil_affairs"))["items"][0]["escalated"] is True

    with entrypoint_waiter(platform["escrow"], "on_conversion_step_decided"):
        call(platform["registry"], "record_case_progress", system_token,
             progress(wid, 4, "civil_affairs_registration", "approve", "in_progress", "market_regulation_change",
                      "market_regulation", deadline="2026-12-23T23:59:59+08:00", resumes_enrolment=True,
                      actor="民政局/张科长"))
    assert call(platform["escrow"], "check_new_charge", leader, iid)["allowed"] is True
    # 市场监管's step arrives with its own deadline and none of 民政's alarms (issue 12)
    [market] = call(platform["registry"], "list_inbox", token("market_regulation"))["items"]
    assert (market["step"], market["escalated"], market["reminded"]) == ("market_regulation_change", False, False)
    assert market["deadline"].startswith("2026-12-23")

    call(platform["registry"], "record_case_progress", system_token,
         progress(wid, 5, "market_regulation_change", "completed", "completed", None, None))
    detail = call(platform["registry"], "get_case", leader, "conversion", iid)
    assert detail["status"] == "completed" and [h["seq"] for h in detail["history"]] == [2, 3, 4, 5]
    assert call(platform["registry"], "get_institution", leader, iid)["legal_form"] == "non_profit"


def test_only_for_profit_academic_institutions_convert(platform, token, leader):
    created = register(platform, token, 302, category="非学科类")
    with pytest.raises(ValidationFailed) as info:
        call(platform["registry"], "apply_for_conversion", leader, created["id"])
    assert "营利性学科类" in info.value.message


def test_only_the_platform_records_case_progress(platform, token, leader):
    created = register(platform, token, 303)
    case = call(platform["registry"], "apply_for_conversion", leader, created["id"])
    record = progress(case["workflow_id"], 2, "education_permit", "approve", "in_progress",
                      "civil_affairs_registration", "civil_affairs")
    with pytest.raises(Forbidden):
        call(platform["registry"], "record_case_progress", leader, record)


def test_deregistration_stops_charges_and_ends_deregistered(platform, token, leader, system_token):
    created = register(platform, token, 304, category="非学科类")
    iid = created["id"]
    with pytest.raises(ValidationFailed) as info:
        call(platform["registry"], "apply_for_deregistration", leader, iid, {})
    assert info.value.field == "reason"
    with entrypoint_waiter(platform["escrow"], "on_institution_status_changed"):
        case = call(platform["registry"], "apply_for_deregistration", leader, iid, {"reason": "举办者申请终止办学"})
    assert call(platform["registry"], "get_institution", leader, iid)["status"] == "deregistering"
    with pytest.raises(Conflict) as info:
        call(platform["escrow"], "check_new_charge", leader, iid)
    assert "注销中" in info.value.message
    assert call(platform["escrow"], "get_prepaid_position", system_token, iid)["unearned_fen"] == 0
    with entrypoint_waiter(platform["escrow"], "on_institution_status_changed"):
        call(platform["registry"], "record_case_progress", system_token,
             progress(case["workflow_id"], 5, "market_regulation_deregister", "completed", "completed", None, None))
    assert call(platform["registry"], "get_institution", leader, iid)["status"] == "deregistered"


def test_county_deadline_removes_academic_scope_from_unconverted(platform, token, leader, system_token):
    academic = register(platform, token, 305)["id"]
    art = register(platform, token, 306, category="非学科类")["id"]
    result = call(platform["registry"], "lapse_academic_scope", system_token, "340722", "2021-12-31")
    assert result["removed"] == [academic]
    assert call(platform["registry"], "get_institution", leader, academic)["category"] == "non_academic"
    assert call(platform["registry"], "get_institution", leader, art)["category"] == "non_academic"
    with pytest.raises(Forbidden):
        call(platform["registry"], "lapse_academic_scope", leader, "340722", "2021-12-31")


def test_county_settings_default_to_the_national_deadline_and_validate(platform, token, leader):
    assert call(platform["registry"], "get_county_settings", leader, None)["conversion_deadline"] == "2021-12-31"
    with pytest.raises(ValidationFailed) as info:
        call(platform["registry"], "set_county_settings", leader, None, {"conversion_deadline": "2021/12/31"})
    assert info.value.field == "conversion_deadline"
    with pytest.raises(ValidationFailed) as info:
        call(platform["registry"], "set_county_settings", leader, None,
             {"conversion_deadline": "2022-06-30", "conversion_variant": "guangdong"})
    assert info.value.field == "conversion_variant" and "national" in info.value.message
    saved = call(platform["registry"], "set_county_settings", leader, None,
                 {"conversion_deadline": "2022-06-30", "conversion_variant": "hunan"})
    assert (saved["conversion_deadline"], saved["conversion_variant"]) == ("2022-06-30", "hunan")
    with pytest.raises(Forbidden):
        call(platform["registry"], "set_county_settings", token("civil_affairs", roles=("leader",)), None,
             {"conversion_deadline": "2022-06-30"})
