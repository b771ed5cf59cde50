"""Reports from read models: the seed county's 压减率, "as of" a past day, frozen submissions,
drafting and overdue flags, the xlsx, and the inspection / complaint / school figures."""
from __future__ import annotations

import base64
import io
import time

import pytest
from nameko.standalone.events import event_dispatcher
from openpyxl import load_workbook

from services.common.errors import Forbidden, ValidationFailed
from services.common.events import make_event
from services.registry.service import RegistryService
from services.reporting.service import ReportingService
from shuangjian.codes import make_uscc
from tests.service.support import call, tap_events

TOWNSHIP = "340722100"
SEED_CHANGES = {"suspended_for_rectification": 5, "deregistering": 2, "paused": 4}


@pytest.fixture
def platform(start_services):
    return start_services(RegistryService, ReportingService)


def wait_for(fetch, done, seconds=20.0):
    deadline = time.monotonic() + seconds
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def seed_county(platform, token) -> list[int]:
    """The county of the seed: 26 licensed before the baseline, 18 学科类; on 2021-11-01 five 学科类
    are suspended, two deregistering and four paused. Returns the 学科类 ids still operating."""
    education = token("education")
    academic = []
    for serial in range(1, 27):
        created = call(platform["registry"], "register_institution", education, {
            "name": f"枞阳县培训学校{serial}", "uscc": make_uscc(serial), "licence_no": f"教民{serial:04d}号",
            "licence_issued_on": "2021-06-01", "category": "学科类" if serial <= 18 else "非学科类",
            "legal_form": "营利性", "township_code": TOWNSHIP, "address": "枞阳镇渡江路1号"})
        if serial <= 18:
            academic.append(created["id"])
    ids = iter(academic)
    for status, n in SEED_CHANGES.items():
        for _ in range(n):
            call(platform["registry"], "change_institution_status", education, next(ids),
                 {"status": status, "effective_on": "2021-11-01", "reason": "双减专项治理"})
    return list(ids)


def report(platform, actor, as_of, kind="half_monthly", division=None):
    return call(platform["reporting"], "get_report", actor, kind, division, as_of)


def test_the_seed_county_reports_a_reduction_rate_of_61_11_percent(platform, token):
    seed_county(platform, token)
    reader = token("education")
    figures = wait_for(lambda: report(platform, reader, "2021-11-15"),
                       lambda r: r["institutions_total"] == 26 and r["academic_operating"] == 7)
    assert figures["institutions_academic"] == 18
    assert figures["academic_baseline"] == 18 and figures["academic_operating"] == 7
    assert figures["reduction_rate"] == 0.6111
    assert figures["academic_status_counts"] == {"正常营业": 7, "暂停营业": 4, "停业整顿": 5, "注销中": 2, "已注销": 0}
    assert figures["status_counts"]["正常营业"] == 15
    assert figures["reduction"]["inputs"] == {"基数": 18, "仍正常营业的学科类机构数": 7}
    assert figures["period_start"] == "2021-11-01"
    # as of a day before the changes: the figure that day gave
    before = report(platform, reader, "2021-10-31")
    assert (before["academic_operating"], before["reduction_rate"]) == (18, 0.0)
    # the city and the province roll the county up
    assert report(platform, token("education", division="340700"), "2021-11-15", division="340700")["reduction_rate"] == 0.6111
    # another county sees none of it
    with pytest.raises(Forbidden):
        report(platform, token("education", division="340721"), "2021-11-15", division="340722")


def test_a_submitted_report_is_frozen_and_a_correction_is_a_new_version(platform, token, amqp):
    operating = seed_county(platform, token)
    leader = token("education", roles=("leader",))
    wait_for(lambda: report(platform, leader, "2021-11-15"), lambda r: r["academic_operating"] == 7)
    with pytest.raises(Forbidden):  # a clerk may read but not submit
        call(platform["reporting"], "submit_report", token("education"), "half_monthly", "340722", "2021-11-15")
    with pytest.raises(ValidationFailed) as not_a_period_end:
        call(platform["reporting"], "submit_report", leader, "half_monthly", "340722", "2021-11-14")
    assert not_a_period_end.value.field == "as_of"
    with tap_events(amqp, "reporting", ["report_submitted"]) as tap:
        first = call(platform["reporting"], "submit_report", leader, "half_monthly", "340722", "2021-11-15")
        announced = tap.by_type(["report_submitted"])["report_submitted"]
    assert first["version"] == 1 and first["content"]["reduction_rate"] == 0.6111 and first["hash_verified"]
    assert announced[0]["content_hash"] == first["content_hash"]

    # a late change dated inside the period: the live report moves, the submission does not
    call(platform["registry"], "change_institution_status", leader, operating[0],
         {"status": "paused", "effective_on": "2021-11-10", "reason": "补录停业"})
    wait_for(lambda: report(platform, leader, "2021-11-15"), lambda r: r["academic_operating"] == 6)
    kept = call(platform["reporting"], "get_report_submission", leader, first["id"])
    assert kept["content"] == first["content"] and kept["content_hash"] == first["content_hash"]
    assert kept["hash_verified"] and kept["content"]["academic_operating"] == 7

    with pytest.raises(ValidationFailed) as no_reason:
        call(platform["reporting"], "submit_report", leader, "half_monthly", "340722", "2021-11-15")
    assert no_reason.value.field == "note"
    second = call(platform["reporting"], "submit_report", leader, "half_monthly", "340722", "2021-11-15",
                  "补录一家暂停营业")
    assert second["version"] == 2 and second["content"]["reduction_rate"] == 0.6667
    history = call(platform["reporting"], "list_report_submissions", leader, first["cycle_id"])
    assert [(s["version"], s["content_hash"]) for s in history["items"]] == [
        (1, first["content_hash"]), (2, second["content_hash"])]


def test_drafting_notifies_and_an_unsubmitted_report_goes_overdue(platform, token, system_token, amqp):
    seed_county(platform, token)
    leader = token("education", roles=("leader",))
    wait_for(lambda: report(platform, leader, "2021-11-15"), lambda r: r["academic_operating"] == 7)
    with tap_events(amqp, "reporting", ["report_drafted", "report_overdue"]) as tap:
        drafted = call(platform["reporting"], "draft_due_reports", system_token, "half_monthly", "340722",
                       "2021-12-01")
        again = call(platform["reporting"], "draft_due_reports", system_token, "half_monthly", "340722",
                     "2021-12-01")
        events = tap.by_type(["report_drafted"])
        assert (drafted["period_start"], drafted["period_end"]) == ("2021-11-16", "2021-11-30")
        assert drafted["due_at"] == "2021-12-06T16:00:00+00:00" and drafted["drafted"] == 1 and again["drafted"] == 0
        assert [e["division_code"] for e in events["report_drafted"]] == ["340722"]
        # the bureau submits the 1–15 report, not the 16–30 one; both deadlines pass
        call(platform["reporting"], "submit_report", leader, "half_monthly", "340722", "2021-11-15")
        late = call(platform["reporting"], "flag_overdue_reports", system_token, "half_monthly", "2021-11-30")
        on_time = call(platform["reporting"], "flag_overdue_reports", system_token, "half_monthly", "2021-11-15")
        assert late["flagged"] == ["340722"] and on_time["flagged"] == []
        assert [e["period_end"] for e in tap.by_type(["report_overdue"])["report_overdue"]] == ["2021-11-30"]
    with pytest.raises(Forbidden):  # only the platform drafts
        call(platform["reporting"], "draft_due_reports", leader, "half_monthly", "340722", "2021-12-01")
    listed = call(platform["reporting"], "list_reports", leader)["items"]
    assert [(c["period_end"], c["status_name"]) for c in listed] == [("2021-11-30", "逾期未报"),
                                                                     ("2021-11-15", "已报送")]


def test_the_xlsx_export_opens_with_the_right_figures(platform, token):
    seed_county(platform, token)
    reader = token("education")
    wait_for(lambda: report(platform, reader, "2021-11-15"), lambda r: r["academic_operating"] == 7)
    answer = call(platform["reporting"], "export_report", reader, "half_monthly", None, "2021-11-15", "xlsx", "枞阳县")
    assert answer["filename"] == "半月报_340722_2021-11-15.xlsx"
    sheet = load_workbook(io.BytesIO(base64.b64decode(answer["content_b64"])))["半月报"]
    values = {row[2]: row[3] for row in sheet.iter_rows(min_row=4, values_only=True) if row[2]}
    assert values["有证有照机构总数"] == 26 and values["其中：学科类机构数"] == 18
    assert values["压减率"] == pytest.approx(0.6111)
    with pytest.raises(ValidationFailed) as bad:
        call(platform["reporting"], "export_report", reader, "half_monthly", None, "2021-11-15", "pdf")
    assert bad.value.field == "format"


def test_inspections_complaints_and_schools_are_counted_in_their_period(container_factory, config, token):
    reporting = container_factory(ReportingService, config)
    reporting.start()
    dispatch = event_dispatcher(config)

    def send(source, event_type, data, at):
        dispatch(source, event_type, make_event(source, event_type, data, TOWNSHIP, None, at))

    from datetime import datetime, timezone
    nov = lambda day, hour=2: datetime(2021, 11, day, hour, tzinfo=timezone.utc)  # noqa: E731
    send("inspection", "campaign_created", {"campaign_id": 1, "name": "国庆暗访", "kind": "sweep", "mode": "covert",
                                            "division_code": "340722", "townships": [TOWNSHIP],
                                            "start_date": "2021-11-02", "end_date": "2021-11-20",
                                            "in_scope": 3, "created_at": "2021-11-01T01:00:00Z"}, nov(1))
    for record_id, outcome, findings in ((1, "pass", []), (2, "suspend", ["advertising", "fire_safety"]),
                                         (3, "pass", [])):
        send("inspection", "inspection_recorded", {
            "record_id": record_id, "campaign_id": 1, "institution_id": 10 + record_id, "institution_name": "x",
            "township_code": TOWNSHIP, "mode": "covert", "inspected_at": nov(3 + record_id).isoformat(),
            "outcome": outcome, "findings": findings, "order_id": 7 if outcome == "suspend" else None}, nov(3))
    send("inspection", "inspection_recorded", {  # the next period
        "record_id": 4, "campaign_id": None, "institution_id": 11, "institution_name": "x", "township_code": TOWNSHIP,
        "mode": "open", "inspected_at": nov(20).isoformat(), "outcome": "pass", "findings": [], "order_id": None},
        nov(20))
    send("inspection", "inspection_order_issued", {"order_id": 7, "institution_id": 12, "township_code": TOWNSHIP,
                                                   "kind": "suspend", "issued_at": nov(5).isoformat()}, nov(5))
    complaint = {"complaint_id": 1, "channel": "public", "division_code": TOWNSHIP,
                 "received_at": nov(2).isoformat()}
    send("inspection", "complaint_received", complaint, nov(2))
    send("inspection", "complaint_triaged", {**complaint, "result": "verified"}, nov(3))
    send("inspection", "complaint_overdue", {**complaint, "as_of": nov(12).isoformat()}, nov(12))
    send("registry", "school_registered", {"id": 1, "township_code": TOWNSHIP,
                                           "created_at": "2021-09-01T00:00:00Z"}, nov(1))
    send("registry", "school_registered", {"id": 2, "township_code": TOWNSHIP,
                                           "created_at": "2021-09-01T00:00:00Z"}, nov(1))
    send("inspection", "school_visit_recorded", {"id": 1, "school_id": 1, "township_code": TOWNSHIP,
                                                 "visited_on": "2021-11-08"}, nov(8))
    for class_name, flagged in (("一年级1班", True), ("一年级2班", False)):
        send("inspection", "homework_checked", {"school_id": 1, "township_code": TOWNSHIP, "class_name": class_name,
                                                "from": "2021-11-01", "to": "2021-11-05", "flagged": flagged}, nov(6))
    send("inspection", "homework_checked", {"school_id": 2, "township_code": TOWNSHIP, "class_name": "七年级1班",
                                            "from": "2021-11-01", "to": "2021-11-05", "flagged": False}, nov(6))
    send("inspection", "after_school_plan_filed", {"school_id": 1, "township_code": TOWNSHIP, "school_year": 2021,
                                                   "deadline": "2021-08-25", "filed_on": "2021-08-20",
                                                   "participating": 900, "enrolled": 1000}, nov(1))

    reader = token("education")
    platform = {"reporting": reporting}
    figures = wait_for(lambda: report(platform, reader, "2021-11-15"),
                       lambda r: r["schools"]["after_school"]["plans_filed"] == 1 and r["inspections"]["records"] == 3
                       and r["complaints"]["overdue_open"] == 1 and r["schools"]["homework_checked"] == 2)
    assert figures["inspections"]["by_outcome"] == {"pass": 2, "rectify": 0, "suspend": 1, "refer": 0}
    assert figures["inspections"]["campaigns_started"] == 1 and figures["illegal_ads_handled"] == 1
    assert figures["orders"]["issued"]["suspend"] == 1 and figures["orders"]["open"]["suspend"] == 1
    assert figures["complaints"] == {"received": 1, "verified": 1, "closed": 0, "overdue_open": 1,
                                     "received_to_date": 1}
    schools = figures["schools"]
    assert (schools["total"], schools["visited_this_month"], schools["visit_coverage"]) == (2, 1, 0.5)
    assert (schools["homework_checked"], schools["homework_compliant"]) == (2, 1)
    assert schools["after_school"]["participation_rate"] == 0.9
    # a weekly report of the week after counts only that week's visit
    weekly = report(platform, reader, "2021-11-25", kind="weekly")
    assert (weekly["period_start"], weekly["inspections"]["records"]) == ("2021-11-19", 1)
