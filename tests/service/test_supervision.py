"""School supervision (督导) on the real bus: the roster from the registry's school_registered,
monthly visit coverage, homework limits per grade band, 一校一案 deadlines."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.workdays import today_shanghai
from services.inspection.service import InspectionService
from services.registry.service import RegistryService
from tests.service.support import call, tap_events

SCHOOLS = [
    {"code": "2134000001", "name": "枞阳县实验小学", "type": "小学", "grades": [1, 2, 3, 4, 5, 6],
     "township_code": "340722100", "zone": "第一督学责任区"},
    {"code": "2134000002", "name": "枞阳县第二中学", "type": "初中", "grades": [7, 8, 9],
     "township_code": "340722100", "zone": "第一督学责任区"},
    {"code": "2134000003", "name": "浮山中心学校", "type": "九年一贯制", "grades": list(range(1, 10)),
     "township_code": "340722106", "zone": "第二督学责任区"},
]


@pytest.fixture
def events(config):
    """Every inspection event published during the test: `events.drain(n)` → [(type, envelope)]."""
    with tap_events(config["AMQP_URI"], "inspection") as tap:
        yield tap


@pytest.fixture
def platform(start_services, token):
    """Registry and inspection running, three schools registered and on inspection's roster."""
    containers = start_services(RegistryService, InspectionService)
    ids = []
    for school in SCHOOLS:
        with entrypoint_waiter(containers["inspection"], "on_school_registered"):
            ids.append(call(containers["registry"], "register_school", token("supervision_office"), school)["id"])
    containers["ids"] = ids
    return containers


def test_the_roster_is_built_from_school_registered_once(platform, config, token):
    inspection = platform["inspection"]
    dudao = token("supervision_office")
    roster = call(inspection, "list_supervised_schools", dudao)["items"]
    assert [(s["name"], s["zone"], s["grades"]) for s in roster] == [
        (s["name"], s["zone"], s["grades"]) for s in SCHOOLS]
    # the same event delivered again changes nothing
    from services.common.events import make_event

    event = make_event("registry", "school_registered",
                       {"id": 77, "code": "2134000077", "name": "会宫中心学校", "type": "nine_year",
                        "grades": [1, 2, 3], "township_code": "340722106", "zone": "第二督学责任区"}, "340722106")
    for _ in range(2):
        with entrypoint_waiter(inspection, "on_school_registered"):
            event_dispatcher(config)("registry", "school_registered", event)
    assert len(call(inspection, "list_supervised_schools", dudao)["items"]) == 4
    # a township sees its own schools; other departments none at all
    town = token("township", division="340722106")
    with pytest.raises(Forbidden):
        call(inspection, "list_supervised_schools", town)
    assert [s["name"] for s in call(inspection, "list_supervised_schools", token("education", division="340722106"))
            ["items"]] == ["浮山中心学校", "会宫中心学校"]
    with pytest.raises(Forbidden):
        call(inspection, "list_supervised_schools", token("civil_affairs"))


def test_coverage_reaches_100_only_when_every_school_was_visited_that_month(platform, token, events):
    inspection, ids = platform["inspection"], platform["ids"]
    dudao = token("supervision_office")
    call(inspection, "set_supervision_zone", dudao, {"name": "第一督学责任区", "inspector_name": "汪督学"})
    zones = call(inspection, "list_supervision_zones", dudao)["items"]
    assert [(z["name"], z["schools"], z["inspector_name"]) for z in zones] == [
        ("第一督学责任区", 2, "汪督学"), ("第二督学责任区", 1, None)]

    today = today_shanghai()
    month = today.strftime("%Y-%m")
    last_month_day = today.replace(day=1) - timedelta(days=1)
    empty = call(inspection, "supervision_coverage", dudao, month)
    assert (empty["overall"]["schools"], empty["overall"]["visited"], empty["overall"]["rate"],
            empty["overall"]["complete"]) == (3, 0, 0.0, False)

    # last month's visit to the third school does not count for this month
    call(inspection, "record_school_visit", dudao, {"school_id": ids[2], "visited_on": last_month_day.isoformat(),
                                                    "method": "查阅资料", "findings": "作业公示齐全"})
    visit = call(inspection, "record_school_visit", dudao, {"school_id": ids[0], "visited_on": today.isoformat(),
                                                            "method": "校园巡查", "findings": "课后服务正常"})
    assert visit["inspector"] == "汪督学" and visit["method_name"] == "校园巡查"
    call(inspection, "record_school_visit", dudao, {"school_id": ids[0], "visited_on": today.isoformat(),
                                                    "method": "问卷调查", "inspector": "李督学"})
    call(inspection, "record_school_visit", dudao, {"school_id": ids[1], "visited_on": today.isoformat(),
                                                    "method": "走访座谈"})
    partial = call(inspection, "supervision_coverage", dudao, month)
    assert (partial["overall"]["visited"], partial["overall"]["rate"], partial["overall"]["complete"]) == (
        2, 66.67, False)
    assert [s["name"] for s in partial["overall"]["unvisited"]] == ["浮山中心学校"]
    zone1, zone2 = partial["zones"]
    assert (zone1["zone"], zone1["rate"], zone1["complete"], zone1["inspector_name"]) == (
        "第一督学责任区", 100.0, True, "汪督学")
    assert (zone2["rate"], zone2["complete"]) == (0.0, False)

    call(inspection, "record_school_visit", token("education"), {"school_id": ids[2], "visited_on": today.isoformat(),
                                                                 "method": "campus_patrol"})
    full = call(inspection, "supervision_coverage", dudao, month)
    assert (full["overall"]["visited"], full["overall"]["rate"], full["overall"]["complete"]) == (3, 100.0, True)
    previous = call(inspection, "supervision_coverage", dudao, last_month_day.strftime("%Y-%m"))["overall"]
    assert (previous["visited"], previous["complete"]) == (1, False)

    recorded = [e for kind, e in events.drain(expect=5) if kind == "school_visit_recorded"]
    assert len(recorded) == 5 and recorded[-1]["data"]["school_id"] == ids[2]

    with pytest.raises(ValidationFailed):
        call(inspection, "record_school_visit", dudao, {"school_id": ids[0], "visited_on": today.isoformat(),
                                                        "method": "电话"})
    with pytest.raises(ValidationFailed):
        call(inspection, "record_school_visit", dudao, {"school_id": ids[0], "method": "校园巡查",
                                                        "visited_on": (today + timedelta(days=1)).isoformat()})
    with pytest.raises(Forbidden):
        call(inspection, "record_school_visit", token("market_regulation"),
             {"school_id": ids[0], "visited_on": today.isoformat(), "method": "校园巡查"})
    with pytest.raises(Forbidden):  # a township's 督导 user may not record outside its township
        call(inspection, "record_school_visit", token("supervision_office", division="340722106"),
             {"school_id": ids[0], "visited_on": today.isoformat(), "method": "校园巡查"})


def test_homework_is_flagged_for_the_right_grades_only(platform, token, events):
    inspection, (primary, junior, nine_year) = platform["inspection"], platform["ids"]
    dudao = token("supervision_office")
    monday = date(2021, 11, 1)
    days = [monday + timedelta(days=i) for i in range(5)]

    def publish(school, grade, class_name, minutes_per_day, written=True):
        for day, minutes in zip(days, minutes_per_day):
            call(inspection, "publish_homework", dudao, {
                "school_id": school, "grade": grade, "class_name": class_name, "published_on": day.isoformat(),
                "items": [{"subject": "语文", "minutes": minutes, "written": written}] if minutes else []})

    publish(primary, 1, "一(1)班", [0, 0, 0, 0, 0])  # no written homework: fine
    publish(primary, 1, "一(2)班", [0, 0, 20, 0, 0])  # one written task: flagged
    publish(primary, 2, "二(1)班", [30, 30, 30, 30, 30], written=False)  # oral/practical only: fine
    publish(primary, 3, "三(1)班", [60, 60, 60, 60, 60])  # exactly 60: fine
    publish(primary, 4, "四(1)班", [61, 61, 61, 61, 61])  # 61: flagged
    publish(primary, 6, "六(1)班", [100, 20, 60, 60, 60])  # average 60: fine
    publish(junior, 7, "七(1)班", [90, 90, 90, 90, 90])  # exactly 90: fine
    publish(junior, 9, "九(1)班", [91, 91, 91, 91, 91])  # 91: flagged
    publish(nine_year, 8, "八(1)班", [75, 75, 75, 75, 75])  # 75 in junior high: fine
    publish(nine_year, 5, "五(1)班", [75, 75, 75, 75, 75])  # 75 in primary: flagged
    # republishing a day replaces it
    call(inspection, "publish_homework", dudao, {"school_id": primary, "grade": 3, "class_name": "三(1)班",
                                                 "published_on": days[0].isoformat(),
                                                 "items": [{"subject": "数学", "minutes": 40},
                                                           {"subject": "语文", "minutes": 20}]})
    first_day = call(inspection, "list_homework", dudao, primary, "2021-11-01", "2021-11-01")["items"]
    assert len(first_day) == 6  # six classes, one publication each
    assert next(h for h in first_day if h["class_name"] == "三(1)班")["written_minutes"] == 60

    result = call(inspection, "check_homework", dudao, {"from": "2021-11-01", "to": "2021-11-05"})
    by_class = {r["class_name"]: r for r in result["classes"]}
    assert len(by_class) == 10
    assert sorted(name for name, r in by_class.items() if r["flagged"]) == ["一(2)班", "九(1)班", "五(1)班", "四(1)班"]
    assert (by_class["四(1)班"]["average_minutes"], by_class["四(1)班"]["limit_minutes"]) == (61.0, 60)
    assert (by_class["九(1)班"]["average_minutes"], by_class["九(1)班"]["limit_minutes"]) == (91.0, 90)
    assert (by_class["七(1)班"]["flagged"], by_class["七(1)班"]["limit_minutes"]) == (False, 90)
    assert (by_class["一(2)班"]["limit_minutes"], by_class["一(2)班"]["average_minutes"]) == (0, 4.0)
    assert by_class["六(1)班"]["average_minutes"] == 60.0 and not by_class["六(1)班"]["flagged"]
    assert (result["flagged"], result["schools_checked"], result["schools_compliant"]) == (4, 3, 0)

    checked = [e["data"] for kind, e in events.drain(expect=10) if kind == "homework_checked"]
    assert len(checked) == 10
    assert {(d["grade"], d["flagged"], d["average_minutes"], d["limit_minutes"]) for d in checked
            if d["class_name"] == "九(1)班"} == {(9, True, 91.0, 90)}

    one_school = call(inspection, "check_homework", dudao, {"school_id": junior, "from": "2021-11-01",
                                                            "to": "2021-11-05"})
    assert [(r["class_name"], r["flagged"]) for r in one_school["classes"]] == [("七(1)班", False), ("九(1)班", True)]

    with pytest.raises(ValidationFailed):  # the junior high school has no grade 3
        call(inspection, "publish_homework", dudao, {"school_id": junior, "grade": 3, "class_name": "三(1)班",
                                                     "published_on": "2021-11-01", "items": []})
    with pytest.raises(Forbidden):
        call(inspection, "check_homework", token("public_security"), {"from": "2021-11-01", "to": "2021-11-05"})


def test_a_late_plan_is_flagged_and_participation_counted(platform, token, events):
    inspection, (primary, junior, nine_year) = platform["inspection"], platform["ids"]
    dudao = token("supervision_office")
    on_time = call(inspection, "file_after_school_plan", dudao, {
        "school_id": primary, "filed_on": "2021-08-20", "participating": 900, "enrolled": 1000,
        "aware": 1000, "surveyed": 1000})
    assert (on_time["school_year"], on_time["deadline"], on_time["status"], on_time["flagged"]) == (
        2021, "2021-08-25", "on_time", False)
    late = call(inspection, "file_after_school_plan", dudao, {"school_id": junior, "filed_on": "2021-08-26"})
    assert (late["status"], late["status_name"], late["flagged"]) == ("late", "逾期报备", True)
    with pytest.raises(Conflict):
        call(inspection, "file_after_school_plan", dudao, {"school_id": junior, "filed_on": "2021-08-27"})
    figures = call(inspection, "record_after_school_figures", dudao, {
        "school_id": junior, "school_year": 2021, "participating": 450, "enrolled": 500, "aware": 480, "surveyed": 500})
    assert (figures["participation_rate"], figures["awareness_rate"]) == (90.0, 96.0)

    before = call(inspection, "after_school_report", dudao, 2021, "2021-08-25")
    assert [i["status"] for i in before["items"]] == ["on_time", "late", "pending"]
    report = call(inspection, "after_school_report", dudao, 2021, "2021-09-01")
    assert [(i["status"], i["flagged"]) for i in report["items"]] == [
        ("on_time", False), ("late", True), ("missing", True)]
    assert report["plans"] == {"on_time": 1, "late": 1, "missing": 1, "pending": 0} and report["flagged"] == 2
    assert (report["participating"], report["enrolled"], report["participation_rate"]) == (1350, 1500, 90.0)
    assert (report["aware"], report["surveyed"], report["awareness_rate"]) == (1480, 1500, 98.67)

    filed = [e["data"] for kind, e in events.drain(expect=2) if kind == "after_school_plan_filed"]
    assert [(d["school_id"], d["status"]) for d in filed] == [(primary, "on_time"), (junior, "late")]

    # the county moves its deadline: only a leader may, and the plan filed on 08-26 is then on time
    with pytest.raises(Forbidden):
        call(inspection, "set_supervision_settings", dudao, None, {"plan_deadline": "08-31"})
    leader = token("supervision_office", roles=("leader",))
    assert call(inspection, "set_supervision_settings", leader, None, {"plan_deadline": "08-31"}) == {
        "county_code": "340722", "plan_deadline": "08-31"}
    assert call(inspection, "get_supervision_settings", dudao)["plan_deadline"] == "08-31"
    moved = call(inspection, "after_school_report", dudao, 2021, "2021-09-01")
    assert [i["status"] for i in moved["items"]] == ["on_time", "on_time", "missing"]
    with pytest.raises(ValidationFailed):
        call(inspection, "file_after_school_plan", dudao, {"school_id": nine_year, "filed_on": "2021-08-20",
                                                           "participating": 10, "enrolled": 5})
