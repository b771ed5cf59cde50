"""Registry records on the real bus: status changes and history, the ledger import, staff, courses,
schools — and what other services (reporting) make of their events."""
from __future__ import annotations

import json
import time

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_waiter

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.registry.ledger import HEADERS
from services.registry.service import RegistryService
from services.reporting.service import ReportingService
from shuangjian.codes import make_uscc
from tests.service.support import call, tap_events

PUBLISHED_ID = "11010519491231002X"  # GB 11643's own example number
TOWNSHIPS = [{"code": "340722100", "name": "枞阳镇"}, {"code": "340722106", "name": "浮山镇"}]


@pytest.fixture
def platform(start_services):
    return start_services(RegistryService, ReportingService)


@pytest.fixture
def bus(config):
    """Every registry event published during the test: `bus.drain()` → [(type, envelope)]."""
    with tap_events(config["AMQP_URI"], "registry") as tap:
        yield tap



def wait_until(fetch, done, seconds=15.0):
    deadline = time.monotonic() + seconds
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = fetch()
    return value


def registration(serial=1, **overrides):
    data = {"name": f"枞阳县测试培训学校{serial}", "uscc": make_uscc(serial), "licence_no": f"教民1340722{serial:05d}号",
            "licence_issued_on": "2021-06-18", "category": "学科类", "legal_form": "营利性",
            "township_code": "340722100", "address": "枞阳镇渡江路1号"}
    data.update(overrides)
    return data


def register(platform, token, serial=1, **overrides):
    with entrypoint_waiter(platform["reporting"], "on_institution_registered"):
        return call(platform["registry"], "register_institution", token("education"), registration(serial, **overrides))


def counts(platform, token, as_of):
    return call(platform["reporting"], "get_institution_counts", token("education"), None, as_of)


# -- status, history, as-of ------------------------------------------------------------------------


def test_a_status_change_is_dated_recorded_announced_and_counted_as_of_any_day(platform, token, bus):
    education = token("education")
    created = register(platform, token)
    assert created["registered_on"] == "2021-06-18"
    change = {"status": "停业整顿", "effective_on": "2021-10-31", "reason": "超标超前培训，责令停业整顿"}
    with entrypoint_waiter(platform["reporting"], "on_institution_status_changed"):
        detail = call(platform["registry"], "change_institution_status", education, created["id"], change)

    assert detail["status"] == "suspended_for_rectification" and detail["status_name"] == "停业整顿"
    assert [(h["status_name"], h["effective_on"], h["reason"]) for h in detail["history"]] == [
        ("正常营业", "2021-06-18", "登记"), ("停业整顿", "2021-10-31", "超标超前培训，责令停业整顿")]
    assert detail["history"][1]["changed_by"] == "教体局/测试用户"

    events = dict(bus.drain(expect=2))
    data = events["institution_status_changed"]["data"]
    assert {"id", "township_code", "status", "previous_status", "effective_on", "reason", "changed_by"} <= set(data)
    assert (data["status"], data["previous_status"], data["effective_on"]) == (
        "suspended_for_rectification", "operating", "2021-10-31")
    registered = events["institution_registered"]["data"]
    assert registered["registered_on"] == "2021-06-18"
    assert [(h["status"], h["effective_on"]) for h in registered["history"]] == [("operating", "2021-06-18")]

    on = lambda day: call(platform["registry"], "get_institution_status_on", education, created["id"], day)  # noqa: E731
    assert on("2021-06-17")["status"] is None
    assert on("2021-10-30")["status_name"] == "正常营业"
    assert on("2021-10-31")["status_name"] == "停业整顿" and on("2021-10-31")["since"] == "2021-10-31"

    assert counts(platform, token, "2021-06-17")["institutions_total"] == 0
    assert counts(platform, token, "2021-10-30")["status_counts"]["正常营业"] == 1
    after = counts(platform, token, "2021-10-31")
    assert after["status_counts"]["停业整顿"] == 1 and after["status_counts"]["正常营业"] == 0


def test_a_refused_transition_names_both_statuses_and_changes_nothing(platform, token):
    education = token("education")
    created = register(platform, token, 2)
    with entrypoint_waiter(platform["reporting"], "on_institution_status_changed"):
        call(platform["registry"], "change_institution_status", education, created["id"],
             {"status": "停业整顿", "effective_on": "2021-10-31", "reason": "整顿"})
    with pytest.raises(Conflict) as info:
        call(platform["registry"], "change_institution_status", education, created["id"],
             {"status": "暂停营业", "reason": "x"})
    assert "不能从“停业整顿”变为“暂停营业”" in info.value.message
    with pytest.raises(ValidationFailed) as info:
        call(platform["registry"], "change_institution_status", education, created["id"],
             {"status": "正常营业", "effective_on": "2021-10-30", "reason": "复业"})
    assert info.value.field == "effective_on"
    history = call(platform["registry"], "get_institution_history", education, created["id"])["items"]
    assert len(history) == 2


def test_education_and_the_platform_may_change_status_others_may_not(platform, token, system_token):
    created = register(platform, token, 3)
    change = {"status": "暂停营业", "reason": "机构申请暂停"}
    for other in (token("civil_affairs"), token("township", division="340722100")):
        with pytest.raises(Forbidden):
            call(platform["registry"], "change_institution_status", other, created["id"], change)
    with entrypoint_waiter(platform["reporting"], "on_institution_status_changed"):
        first = call(platform["registry"], "change_institution_status", system_token, created["id"], change)
    again = call(platform["registry"], "change_institution_status", system_token, created["id"], change)
    assert first["history"] == again["history"] and len(again["history"]) == 2
    assert again["history"][-1]["changed_by"] == "系统/平台流程"
    # a township official reads what lies in their township
    town = token("township", division="340722100")
    assert call(platform["registry"], "get_institution", town, created["id"])["status_name"] == "暂停营业"


def test_filters_and_pages(platform, token):
    education = token("education")
    register(platform, token, 4)
    register(platform, token, 5, category="非学科类", township_code="340722106")
    register(platform, token, 6, category="非学科类", township_code="340722106")
    listed = lambda **f: call(platform["registry"], "list_institutions", education, 1, 0, f)  # noqa: E731
    assert listed()["total"] == 3 and len(listed()["items"]) == 1
    assert listed(category="非学科类", township_code="340722106")["total"] == 2
    assert listed(status="停业整顿")["total"] == 0
    assert listed(q="学校5")["items"][0]["uscc"] == make_uscc(5)
    with pytest.raises(Forbidden):
        listed(township_code="340721100")


def test_platform_registration_flags(platform, token, bus):
    created = register(platform, token, 7)
    view = call(platform["registry"], "update_platform_registration", token("education"), created["id"],
                {"basic_info": True, "staff": True, "fund_supervision": True})
    assert view["platform"]["complete"] is True
    same = call(platform["registry"], "update_platform_registration", token("education"), created["id"], {"staff": True})
    assert same["version"] == view["version"]
    kinds = [t for t, _ in bus.drain(expect=2)]
    assert kinds.count("institution_platform_registration_updated") == 1


# -- the ledger import -----------------------------------------------------------------------------


def ledger_row(serial, **overrides):
    row = {"机构名称": f"枞阳县台账机构{serial}", "统一社会信用代码": make_uscc(1000 + serial),
           "办学许可证号": f"教民2{serial:05d}号", "发证日期": "2019-05-01", "类别": "学科类", "法人类型": "营利性",
           "乡镇": "枞阳镇", "地址": f"枞阳镇{serial}号", "状态": "正常营业", "状态日期": "", "全国平台注册": "是"}
    row.update(overrides)
    return row


def run_import(platform, actor, rows, chunk=2):
    batch = call(platform["registry"], "create_import", actor, {"file_name": "台账.csv", "headers": list(HEADERS)})
    assert batch["state"] == "open"
    numbered = [{"row": n, "cells": cells} for n, cells in enumerate(rows, start=2)]
    for start in range(0, len(numbered), chunk):
        call(platform["registry"], "add_import_rows", actor, batch["id"], numbered[start:start + chunk])
    return call(platform["registry"], "commit_import", actor, batch["id"], TOWNSHIPS)


def good_rows():
    return [ledger_row(1), ledger_row(2, 乡镇="浮山镇", 类别="非学科类"),
            ledger_row(3, 状态="停业整顿", 状态日期="2021-10-31"), ledger_row(4, 乡镇="340722106", 全国平台注册="否")]


def test_a_large_import_reaches_the_report_as_compressed_bundles_of_500(platform, token, bus):
    education = token("education")
    rows = [ledger_row(100 + n, 乡镇=("枞阳镇", "浮山镇")[n % 2]) for n in range(620)]
    result = run_import(platform, education, rows, chunk=620)
    assert (result["state"], result["created"]) == ("committed", 620)
    events = bus.drain(expect=620)
    assert len(events) == 620 and len({e["event_id"] for _, e in events}) == 620
    assert bus.messages == 2  # 500 + 120: two messages through the broker, not 620
    assert bus.compressed == 2  # ~200 kB of JSON each: zlib-compressed, decompressed by the consumers
    final = wait_until(lambda: counts(platform, token, "2021-10-31"), lambda c: c["institutions_total"] == 620)
    assert final["status_counts"]["正常营业"] == 620


def test_an_import_with_one_bad_row_stores_nothing_and_names_the_row(platform, token, bus):
    education = token("education")
    rows = good_rows()
    rows[2] = ledger_row(3, 统一社会信用代码=make_uscc(1003)[:-1] + "0" if not make_uscc(1003).endswith("0")
                         else make_uscc(1003)[:-1] + "1")
    result = run_import(platform, education, rows)
    assert result["state"] == "rejected" and result["created"] == 0
    assert result["errors"] == [{"row": 4, "column": "统一社会信用代码", "reason": "统一社会信用代码校验位错误"}]
    assert "未导入任何记录" in result["message"]
    assert call(platform["registry"], "list_institutions", education)["total"] == 0
    assert bus.drain(seconds=0.5) == []
    assert call(platform["registry"], "get_import", education, result["id"])["state"] == "rejected"


def test_an_import_stores_everything_once_and_a_reimport_changes_nothing(platform, token, bus):
    education = token("education")
    result = run_import(platform, education, good_rows())
    assert (result["state"], result["created"], result["updated"], result["unchanged"]) == ("committed", 4, 0, 0)
    events = bus.drain(expect=4)
    assert sorted(t for t, _ in events) == ["institution_registered"] * 4
    assert bus.messages == 1  # the import's events travel as one bundle, each with its own id
    assert len({e["event_id"] for _, e in events}) == 4
    suspended = next(e["data"] for _, e in events if e["data"]["uscc"] == make_uscc(1003))
    assert suspended["status"] == "suspended_for_rectification" and suspended["origin"] == "ledger_import"
    assert [(h["status"], h["effective_on"]) for h in suspended["history"]] == [
        ("operating", "2019-05-01"), ("suspended_for_rectification", "2021-10-31")]

    # reporting answers "as of" for records whose status changed before they were imported
    final = wait_until(lambda: counts(platform, token, "2021-10-31"), lambda c: c["institutions_total"] == 4)
    assert final["status_counts"] == {"正常营业": 3, "暂停营业": 0, "停业整顿": 1, "注销中": 0, "已注销": 0}
    assert counts(platform, token, "2021-10-30")["status_counts"]["正常营业"] == 4
    assert counts(platform, token, "2019-04-30")["institutions_total"] == 0

    again = run_import(platform, education, good_rows(), chunk=4)
    assert (again["state"], again["created"], again["updated"], again["unchanged"]) == ("committed", 0, 0, 4)
    assert bus.drain(seconds=0.5) == []
    listed = call(platform["registry"], "list_institutions", education)
    assert listed["total"] == 4
    assert {i["platform"]["basic_info"] for i in listed["items"]} == {True, False}


def test_a_reimported_row_with_changes_updates_the_record_and_its_status(platform, token, bus):
    education = token("education")
    run_import(platform, education, good_rows())
    wait_until(lambda: counts(platform, token, None), lambda c: c["institutions_total"] == 4)
    bus.drain(expect=4)
    rows = good_rows()
    rows[0] = ledger_row(1, 地址="枞阳镇新址8号", 状态="暂停营业", 状态日期="2021-11-01")
    rows[2] = ledger_row(3, 状态="已注销", 状态日期="2021-11-01")  # 停业整顿 → 已注销 skips 注销中: refused
    refused = run_import(platform, education, rows)
    assert refused["state"] == "rejected"
    assert [(e["row"], e["column"]) for e in refused["errors"]] == [(4, "状态")]
    assert "不能从“停业整顿”变为“已注销”" in refused["errors"][0]["reason"]

    rows[2] = ledger_row(3, 状态="停业整顿", 状态日期="2021-10-31")
    with entrypoint_waiter(platform["reporting"], "on_institution_status_changed"), \
         entrypoint_waiter(platform["reporting"], "on_institution_updated"):
        result = run_import(platform, education, rows)
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 3)
    kinds = sorted(t for t, _ in bus.drain(expect=2))
    assert kinds == ["institution_status_changed", "institution_updated"]
    first = call(platform["registry"], "list_institutions", education, 100, 0, {"q": make_uscc(1001)})["items"][0]
    assert first["address"] == "枞阳镇新址8号" and first["status_name"] == "暂停营业"
    assert counts(platform, token, "2021-11-01")["status_counts"]["暂停营业"] == 1


def test_header_errors_and_other_peoples_batches(platform, token):
    education = token("education")
    headers = [h for h in HEADERS if h != "乡镇"] + ["负责人"]
    rejected = call(platform["registry"], "create_import", education, {"file_name": "x.csv", "headers": headers})
    assert rejected["state"] == "rejected"
    assert {(e["row"], e["column"]) for e in rejected["errors"]} == {(1, "乡镇")}
    assert rejected["ignored_columns"] == ["负责人"]  # a column the import does not use: listed, never an error
    batch = call(platform["registry"], "create_import", education, {"file_name": "x.csv", "headers": list(HEADERS)})
    with pytest.raises(Forbidden):
        call(platform["registry"], "add_import_rows", token("education", user_id=12), batch["id"],
             [{"row": 2, "cells": ledger_row(1)}])
    with pytest.raises(Forbidden):
        call(platform["registry"], "create_import", token("civil_affairs"), {"headers": list(HEADERS)})


# -- staff, courses, schools -----------------------------------------------------------------------


def test_id_numbers_appear_in_no_result_event_or_log_line(platform, token, config, bus, capfd):
    created = register(platform, token, 8)
    teacher = {"name": "王老师", "id_number": PUBLISHED_ID, "qualification_cert_no": "20213400142000123",
               "subjects": ["数学"], "hired_on": "2021-09-01"}
    with ClusterRpcProxy(config) as rpc:  # through the real serialisation
        added = rpc.registry.add_staff_member(token("education"), created["id"], teacher)
        listed = rpc.registry.list_staff(token("education"), created["id"])
        with pytest.raises(Conflict) as dup:
            rpc.registry.add_staff_member(token("education"), created["id"], teacher)
        with pytest.raises(ValidationFailed) as no_cert:
            rpc.registry.add_staff_member(token("education"), created["id"],
                                          {**teacher, "id_number": "110105194912310038", "qualification_cert_no": ""})
        with pytest.raises(ValidationFailed) as bad:
            rpc.registry.add_staff_member(token("education"), created["id"], {**teacher, "id_number": PUBLISHED_ID[:-1] + "1"})
    assert added["id_number_masked"] == "110105********002X"
    assert listed["items"][0]["id_number_masked"] == "110105********002X" and listed["teaching_total"] == 1
    assert no_cert.value.field == "qualification_cert_no" and bad.value.field == "id_number"
    assert "110105********002X" in dup.value.message
    events = bus.drain(expect=2)
    assert "staff_member_added" in [t for t, _ in events]
    out = capfd.readouterr()
    everything = json.dumps([added, listed, events], ensure_ascii=False) + str(dup.value) + str(bad.value) + \
        out.out + out.err
    assert "staff_member_added" in out.out  # the log line is there…
    for number in (PUBLISHED_ID, PUBLISHED_ID[:-1] + "1", "110105194912310038"):
        assert number not in everything  # …but never the number


def test_a_course_is_published_with_its_schedule(platform, token, bus):
    created = register(platform, token, 9)
    course = {"name": "初二数学", "subject": "数学", "price_fen": 240000, "class_hours": 40, "mode": "offline",
              "schedule": [{"weekday": 6, "start": "19:30", "end": "21:00"}]}
    published = call(platform["registry"], "publish_course", token("education"), created["id"], course)
    events = dict(bus.drain(expect=2))
    data = events["course_published"]["data"]
    assert data["schedule"] == [{"weekday": 6, "start": "19:30", "end": "21:00"}]
    assert (data["institution_id"], data["category"], data["price_fen"]) == (created["id"], "academic", 240000)
    withdrawn = call(platform["registry"], "withdraw_course", token("education"), published["id"])
    assert withdrawn["state"] == "withdrawn"
    with entrypoint_waiter(platform["reporting"], "on_institution_status_changed"):
        call(platform["registry"], "change_institution_status", token("education"), created["id"],
             {"status": "暂停营业", "reason": "暂停"})
    with pytest.raises(Conflict):
        call(platform["registry"], "publish_course", token("education"), created["id"], course)


def test_a_school_is_registered_once_and_announced(platform, token, bus):
    school = {"code": "2134001234", "name": "枞阳县实验小学", "type": "小学", "grades": [1, 2, 3, 4, 5, 6],
              "township_code": "340722100", "zone": "第一督学责任区"}
    created = call(platform["registry"], "register_school", token("supervision_office"), school)
    assert created["type_name"] == "小学"
    with pytest.raises(Conflict):
        call(platform["registry"], "register_school", token("education"), school)
    with pytest.raises(Forbidden):
        call(platform["registry"], "register_school", token("civil_affairs"), {**school, "code": "2134001235"})
    (kind, event), = bus.drain(expect=1)
    assert kind == "school_registered" and event["data"]["zone"] == "第一督学责任区"
    town = token("township", division="340722106")
    assert call(platform["registry"], "list_schools", town)["items"] == []
    assert call(platform["registry"], "list_schools", token("education"), 100, 0,
                {"zone": "第一督学责任区"})["items"][0]["code"] == "2134001234"


def test_reporting_answers_as_of_whatever_order_the_events_arrive_in(container_factory, config, token):
    from nameko.standalone.events import event_dispatcher

    from services.common.events import make_event

    reporting = container_factory(ReportingService, config)
    reporting.start()
    base = {"id": 77, "name": "乱序机构", "township_code": "340722100", "category": "academic",
            "registered_on": "2021-03-01"}
    registered = make_event("registry", "institution_registered", {
        **base, "status": "operating", "version": 1,
        "history": [{"status": "operating", "effective_on": "2021-03-01", "seq": 4}]}, "340722100")
    changed = make_event("registry", "institution_status_changed", {
        "id": 77, "township_code": "340722100", "status": "paused", "previous_status": "operating",
        "effective_on": "2021-09-01", "reason": "暂停", "changed_by": "教体局/王", "seq": 5, "version": 2},
        "340722100")
    updated = make_event("registry", "institution_updated", {
        **base, "township_code": "340722106", "category": "non_academic", "status": "paused", "version": 3},
        "340722106")
    stale = make_event("registry", "institution_updated", {**base, "address": "旧", "version": 2}, "340722100")
    dispatch = event_dispatcher(config)
    for event, handler in ((updated, "on_institution_updated"), (changed, "on_institution_status_changed"),
                           (registered, "on_institution_registered"), (stale, "on_institution_updated")):
        with entrypoint_waiter(reporting, handler):
            dispatch("registry", event["type"], event)

    def at(day, division=None):
        return call(reporting, "get_institution_counts", token("education"), division, day)

    assert at("2021-02-28")["institutions_total"] == 0
    assert at("2021-08-31")["status_counts"]["正常营业"] == 1
    assert at("2021-09-01")["status_counts"]["暂停营业"] == 1
    # township and category are the newest version's (3), not the stale one's (2)
    assert at("2021-09-01", "340722106")["institutions_total"] == 1
    assert at("2021-09-01")["institutions_academic"] == 0
