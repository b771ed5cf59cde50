"""The inspection roster follows the registry and the inspections, on the real bus and database:
reporting's three events carry their contract keys; a county's school vacations (registry county
settings) make a 学科类 class on a vacation weekday a lead; an 已注销 institution leaves new sweeps
and draws; each inspection moves the institution's risk grade.

Like test_campaigns, this sends registry events straight to the bus; the file is named to run
right before test_cases, whose services consume what other services' queues kept of them.
Institution ids are large on purpose: other tests' registry events may still be queued for the
inspection service, and they use small ids."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.errors import ValidationFailed
from services.common.events import make_event
from services.common.workdays import SHANGHAI
from services.inspection import campaign_rules as rules
from services.inspection.service import InspectionService
from services.registry.service import RegistryService
from tests.service.support import call, captured

TOWN = "340722111"  # 陈瑶湖镇: no other test uses it
TEAM = [{"department_kind": "education", "name": "王老师"}, {"department_kind": "public_security", "name": "张警官"}]


def publish(config, container, handler, event_type, data):
    """Send a registry event and wait until the inspection service handled *this* one."""
    event = make_event("registry", event_type, data, data.get("township_code") or TOWN)
    with entrypoint_waiter(container, handler, timeout=15,
                           callback=lambda ctx, result, exc: ctx.args[0][-1]["event_id"] == event["event_id"]):
        event_dispatcher(config)("registry", event_type, event)


def register(config, container, iid, category="academic", status="operating"):
    publish(config, container, "on_institution_registered", "institution_registered", {
        "id": iid, "name": f"机构{iid}", "township_code": TOWN, "status": status, "category": category,
        "registered_on": "2021-06-01", "version": 1,
        "history": [{"status": status, "effective_on": "2021-06-01", "seq": iid}]})


def status_changed(config, container, iid, status, previous, version):
    publish(config, container, "on_institution_status_changed", "institution_status_changed", {
        "id": iid, "name": f"机构{iid}", "uscc": "", "township_code": TOWN, "category": "academic",
        "status": status, "status_name": status, "previous_status": previous, "effective_on": "2026-01-05",
        "reason": "测试", "changed_by": "教体局/测试", "seq": version, "version": version})


def window():
    today = datetime.now(SHANGHAI).date()
    return (today - timedelta(days=3)).isoformat(), (today + timedelta(days=3)).isoformat()


def sweep(**extra):
    start, end = window()
    return {"name": "陈瑶湖镇拉网检查", "kind": "sweep", "mode": "open", "townships": [TOWN],
            "start_date": start, "end_date": end, "team": TEAM, **extra}


def visit(iid, outcome="pass", campaign_id=None):
    checklist = {k: {"result": "pass"} for k in rules.CHECKLIST}
    if outcome != "pass":
        checklist["fire_safety"] = {"result": "fail", "notes": "灭火器过期"}
    body = {"kind": outcome, "deadline_workdays": 10} if outcome != "refer" else {
        "kind": "refer", "referred_to": "market_regulation"}
    return {"institution_id": iid, "campaign_id": campaign_id, "mode": "open", "inspectors": TEAM,
            "checklist": checklist, "outcome": body}


def targets(inspection, token):
    return {t["institution_id"]: t for t in call(inspection, "list_inspection_targets", token("education"))["items"]}


@pytest.fixture
def inspection(start_services):
    return start_services(InspectionService)["inspection"]


RECORDED_KEYS = {"record_id", "campaign_id", "institution_id", "institution_name", "township_code", "mode",
                 "inspected_at", "outcome", "findings", "order_id"}
CAMPAIGN_KEYS = {"campaign_id", "name", "kind", "mode", "division_code", "townships", "start_date", "end_date",
                 "in_scope", "created_at"}


def test_reporting_events_carry_their_contract(config, inspection, token):
    register(config, inspection, 9101)
    register(config, inspection, 9102)
    publish(config, inspection, "on_school_registered", "school_registered", {
        "id": 9201, "code": "2134009201", "name": "陈瑶湖中心学校", "type": "小学", "grades": [1, 2, 3, 4, 5, 6],
        "township_code": TOWN, "zone": "第三督学责任区"})
    education, dudao = token("education"), token("supervision_office")
    events = ("campaign_created", "inspection_recorded", "after_school_plan_filed", "after_school_figures_recorded")
    with captured(config, "inspection", *events) as got:
        campaign = call(inspection, "create_campaign", education, sweep())
        passed = call(inspection, "record_inspection", education, visit(9101, campaign_id=campaign["id"]))
        failed = call(inspection, "record_inspection", education, visit(9102, "rectify"))
        call(inspection, "file_after_school_plan", dudao, {"school_id": 9201, "filed_on": "2021-08-20"})
        figures = call(inspection, "record_after_school_figures", dudao, {
            "school_id": 9201, "school_year": 2021, "participating": 450, "enrolled": 500,
            "aware": 480, "surveyed": 500})

    [created] = got["campaign_created"]
    assert set(created) == CAMPAIGN_KEYS
    start, end = window()
    assert created == {"campaign_id": campaign["id"], "name": "陈瑶湖镇拉网检查", "kind": "sweep", "mode": "open",
                       "division_code": "340722", "townships": [TOWN], "start_date": start, "end_date": end,
                       "in_scope": 2, "created_at": campaign["created_at"]}

    recorded = {d["record_id"]: d for d in got["inspection_recorded"]}
    assert set(recorded) == {passed["id"], failed["id"]}  # every record, a pass too
    assert all(set(d) == RECORDED_KEYS for d in recorded.values())
    assert recorded[passed["id"]] == {
        "record_id": passed["id"], "campaign_id": campaign["id"], "institution_id": 9101,
        "institution_name": "机构9101", "township_code": TOWN, "mode": "open",
        "inspected_at": passed["inspected_at"], "outcome": "pass", "findings": [], "order_id": None}
    rectify = recorded[failed["id"]]
    assert (rectify["campaign_id"], rectify["outcome"], rectify["findings"]) == (None, "rectify", ["fire_safety"])
    assert rectify["order_id"] == failed["order_id"] and isinstance(rectify["order_id"], int)
    assert datetime.fromisoformat(rectify["inspected_at"]).utcoffset() == timedelta(0)

    [filed] = got["after_school_plan_filed"]
    [after] = got["after_school_figures_recorded"]
    assert after == figures
    for key in ("school_id", "township_code", "school_year", "filed_on", "participating", "enrolled",
                "aware", "surveyed"):
        assert key in filed and key in after, key
    assert (after["school_id"], after["school_year"], after["filed_on"]) == (9201, 2021, "2021-08-20")
    assert (after["participating"], after["enrolled"], after["aware"], after["surveyed"]) == (450, 500, 480, 500)
    assert (filed["participating"], filed["enrolled"]) == (None, None)  # filed without figures


def course(course_id, iid, weekday):
    return {"id": course_id, "institution_id": iid, "institution_name": f"机构{iid}", "name": "初二数学",
            "subject": "数学", "price_fen": 8000, "class_hours": 40, "mode": "offline",
            "schedule": [{"weekday": weekday, "start": "09:00", "end": "10:30"}], "state": "published",
            "published_at": "2026-06-01T02:00:00+00:00", "township_code": TOWN, "category": "academic"}


def vacation_leads(inspection, token, iid):
    return [l for l in call(inspection, "list_leads", token("education"))["items"]
            if l["institution_id"] == iid and l["reason_kind"] == "vacation_academic"]


def test_county_vacations_make_a_vacation_weekday_class_a_lead(start_services, config, token):
    services = start_services(RegistryService, InspectionService)
    registry, inspection = services["registry"], services["inspection"]
    leader = token("education", roles=("leader", "clerk"))
    # 2026-07-06..08 is Monday to Wednesday of the summer vacation; Thursday is a school day
    summer = [{"name": "暑假", "start": "2026-07-06", "end": "2026-07-08"}]

    publish(config, inspection, "on_course_published", "course_published", course(9501, 9501, 3))
    assert vacation_leads(inspection, token, 9501) == []  # no vacations known yet: Wednesday is a school day

    with pytest.raises(ValidationFailed) as info:  # a bad vacation: refused, nothing stored, nothing sent
        call(registry, "set_county_settings", leader, None, {"school_vacations": [
            *summer, {"name": "寒假", "start": "2027-02-20", "end": "2027-01-20"}]})
    assert info.value.field == "school_vacations[1].end"
    assert call(registry, "get_county_settings", leader, None)["school_vacations"] == []

    with captured(config, "registry", "county_settings_changed") as got:
        with entrypoint_waiter(inspection, "on_county_settings_changed", timeout=15,
                               callback=lambda ctx, res, exc: ctx.args[0][-1]["data"].get("school_vacations") == summer):
            saved = call(registry, "set_county_settings", leader, None, {"school_vacations": summer})
    assert saved["school_vacations"] == summer and saved["conversion_deadline"] == "2021-12-31"
    assert saved["reduction_baseline_date"] == "2021-07-24"
    [announced] = got["county_settings_changed"]
    assert announced["school_vacations"] == summer and announced["reduction_baseline_date"] == "2021-07-24"

    # an old-style body keeps the vacations
    kept = call(registry, "set_county_settings", leader, None, {"conversion_deadline": "2022-06-30"})
    assert kept["school_vacations"] == summer and kept["conversion_deadline"] == "2022-06-30"

    publish(config, inspection, "on_course_published", "course_published", course(9502, 9502, 3))  # Wednesday
    publish(config, inspection, "on_course_published", "course_published", course(9503, 9503, 4))  # Thursday
    [lead] = vacation_leads(inspection, token, 9502)
    assert lead["reason_name"] == "寒暑假开展学科类培训"
    assert lead["evidence"]["dates"] == [{"date": "2026-07-08", "label": "寒暑假", "weekday": 3,
                                          "start": "09:00", "end": "10:30"}]
    assert vacation_leads(inspection, token, 9503) == []
    assert vacation_leads(inspection, token, 9501) == []  # known limit: courses are not rescanned


def test_a_deregistered_institution_leaves_new_sweeps_and_draws(config, inspection, token):
    for iid in (9301, 9302, 9303):
        register(config, inspection, iid)
    register(config, inspection, 9304, status="deregistered")  # a ledger row already 已注销
    education = token("education")
    status_changed(config, inspection, 9302, "deregistering", "operating", 2)
    status_changed(config, inspection, 9302, "deregistered", "deregistering", 3)
    status_changed(config, inspection, 9302, "deregistering", "operating", 2)  # late and older: ignored

    roster = targets(inspection, token)
    assert (roster[9302]["active"], roster[9304]["active"], roster[9301]["active"]) == (False, False, True)
    assert call(inspection, "create_campaign", education, sweep())["scope_ids"] == [9301, 9303]
    drawn = call(inspection, "create_campaign", education, sweep(
        kind="random", seed=5, rates={"A": 100, "B": 100, "C": 100, "D": 100}))
    assert drawn["scope_ids"] == [9301, 9303]

    # should the registry ever re-activate it, it is back in the next sweep
    status_changed(config, inspection, 9302, "operating", "deregistered", 4)
    assert call(inspection, "create_campaign", education, sweep())["scope_ids"] == [9301, 9302, 9303]
    # a suspended one stays in: it is exactly who to check (the longest status key fits)
    status_changed(config, inspection, 9303, "suspended_for_rectification", "operating", 2)
    roster = targets(inspection, token)
    assert (roster[9303]["registry_status"], roster[9303]["active"]) == ("suspended_for_rectification", True)


def test_the_risk_grade_moves_after_each_inspection(config, inspection, token):
    register(config, inspection, 9401)  # 学科类 starts at C
    register(config, inspection, 9402, category="arts")  # others at B
    police = token("public_security")
    assert (targets(inspection, token)[9401]["risk_grade"], targets(inspection, token)[9402]["risk_grade"]) == ("C", "B")
    grades = []
    for outcome in ("pass", "pass", "pass", "rectify", "rectify", "pass"):
        call(inspection, "record_inspection", police, visit(9401, outcome))
        grades.append(targets(inspection, token)[9401]["risk_grade"])
    assert grades == ["B", "A", "A", "B", "C", "B"]
    call(inspection, "record_inspection", police, visit(9401, "suspend"))
    assert targets(inspection, token)[9401]["risk_grade"] == "D"
    call(inspection, "record_inspection", police, visit(9402, "refer"))
    assert targets(inspection, token)[9402]["risk_grade"] == "D"
    with pytest.raises(ValidationFailed):  # a refused record moves nothing
        call(inspection, "record_inspection", police, {**visit(9402), "checklist": {}})
    assert targets(inspection, token)[9402]["risk_grade"] == "D"
