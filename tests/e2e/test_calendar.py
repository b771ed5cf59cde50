"""Issue 13 through the real processes: an order whose deadline crosses into a year without an
official holiday schedule is （暂定） in the API and its page, the 运维 page says the schedule is
missing (from November), and `shuangjian calendar load` ends both and moves the deadline. (Where
every year of the deadline is official already, the load replaces its last year all the same.)

Everything lives in 老洲镇 (340722110), which no other end-to-end test uses."""
from __future__ import annotations

import re
import time
import uuid
from datetime import date, datetime
from pathlib import Path

import requests

from services.common.workcalendar import WorkCalendar, ScheduleDay
from services.common.workdays import SHANGHAI, today_shanghai
from services.inspection.campaign_rules import CHECKLIST
from shuangjian.cli import main as cli
from shuangjian.client import wait_until
from shuangjian.codes import make_uscc
from shuangjian.demo import load_demo_county
from tests.calendar_cases import notice_days
from tests.e2e.support import admin_client, as_user

TOWN = "340722110"
TEAM = [{"department_kind": "education", "name": "王科长"}, {"department_kind": "public_security", "name": "张警官"}]
FIXTURE_2027 = Path(__file__).parents[1] / "fixtures" / "calendar_2027.csv"


def schedule_csv(year: int) -> str:
    """The issue's 2027 notice, or for a later year its statutory days off and a make-up Saturday."""
    if year == 2027:
        return FIXTURE_2027.read_text(encoding="utf-8")
    return "date,kind,name\n" + "".join(f"{d.isoformat()},{kind},{name}\n" for d, kind, name in notice_days(year))


def page(platform, client, path: str) -> str:
    answer = requests.get(platform["url"] + path, cookies={"sj_session": client.token}, timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    return answer.text


def test_provisional_until_the_schedule_is_loaded(platform, tmp_path):
    admin = admin_client(platform)  # 运维, admin: may load schedules
    load_demo_county(admin)
    education = as_user(platform, "jiaoti_leader")
    iid = education.post("/api/institutions", {
        "name": f"老洲镇学科培训学校{uuid.uuid4().int % 10**4:04d}", "uscc": make_uscc(int(time.time() * 1000) % 10**9),
        "licence_no": "教民E2E日历号", "licence_issued_on": "2021-06-18", "category": "学科类",
        "legal_form": "营利性", "township_code": TOWN, "address": "老洲镇1号"})["id"]
    wait_until(lambda: [t for t in education.get("/api/inspection/targets")["items"] if t["institution_id"] == iid],
               bool)
    checklist = {k: {"result": "pass"} for k in CHECKLIST}
    checklist["fire_safety"] = {"result": "fail", "notes": "灭火器过期"}
    record = education.post("/api/inspection/records", {
        "institution_id": iid, "mode": "open", "inspectors": TEAM, "checklist": checklist,
        "outcome": {"kind": "rectify", "deadline_workdays": 30}})
    order = education.get(f"/api/inspection/orders/{record['order_id']}")
    issued, due = datetime.fromisoformat(order["issued_at"]), datetime.fromisoformat(order["deadline_at"])
    years = range(issued.astimezone(SHANGHAI).year, due.astimezone(SHANGHAI).year + 1)
    missing = [y for y in years if education.get("/api/calendar", year=str(y))["provisional"]]
    # once chinesecalendar knows next year too, nothing is （暂定）: the load below still replaces a year
    assert order["deadline_provisional"] is bool(missing)
    order_page = page(platform, education, f"/ui/inspection/orders/{order['id']}")
    if missing:
        assert "（暂定）" in order_page and "尚未导入" in order_page  # the mark and its title hint
    else:
        assert "（暂定）" not in order_page
    today = today_shanghai()
    next_year_missing = today.month >= 11 and (today.year + 1) in missing
    assert ("国务院放假安排尚未导入" in page(platform, admin, "/ui/ops")) is next_year_missing

    to_load = missing or [years[-1]]
    loaded = WorkCalendar()
    for year in to_load:
        path = tmp_path / f"calendar_{year}.csv"
        path.write_text(schedule_csv(year), encoding="utf-8")
        assert cli(["calendar", "load", str(path), "--url", platform["url"], "--token", admin.token]) == 0
        days = [ScheduleDay(date.fromisoformat(line.split(",")[0]), line.split(",")[1], line.split(",")[2])
                for line in path.read_text(encoding="utf-8").splitlines()[1:]]
        loaded = loaded.overlay({year: days})
    expected = loaded.deadline(issued, 30).at
    order = wait_until(lambda: education.get(f"/api/inspection/orders/{record['order_id']}"),
                       lambda o: o["deadline_provisional"] is False)
    assert datetime.fromisoformat(order["deadline_at"]) == expected
    assert "（暂定）" not in page(platform, education, f"/ui/inspection/orders/{order['id']}")
    assert "国务院放假安排尚未导入" not in page(platform, admin, "/ui/ops")
    calendar_page = page(platform, admin, f"/ui/calendar?year={to_load[-1]}")
    assert "已导入的国务院放假安排" in calendar_page and "调休上班" in calendar_page
    assert education.get("/api/calendar", year=str(to_load[-1]))["source"] == "loaded"

    # the page's upload: a bad file is refused row by row and nothing changes; a good one replaces the year
    year = to_load[-1]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', calendar_page).group(1)
    post = lambda name, text: requests.post(  # noqa: E731
        platform["url"] + "/ui/calendar", cookies={"sj_session": admin.token}, data={"csrf_token": csrf},
        files={"file": (name, text.encode("gbk"), "text/csv")}, allow_redirects=False, timeout=60)
    wednesday = next(date(year, 3, d) for d in range(1, 8) if date(year, 3, d).weekday() == 2)
    bad = post("放假安排.csv", schedule_csv(year) + f"{wednesday.isoformat()},班,周三\n")
    assert bad.status_code == 400 and "本就是工作日" in bad.text
    assert education.get("/api/calendar", year=str(year))["version"] == 1
    good = post("放假安排.csv", schedule_csv(year))
    assert good.status_code == 303 and f"year={year}" in good.headers["Location"]
    assert education.get("/api/calendar", year=str(year))["version"] == 2
    # the workflows process moved the running timers (the Rectification of this order among them)
    signalled = wait_until(lambda: [line for log in (platform["var"] / "log").glob("*.log")
                                    for line in log.read_text(errors="replace").splitlines()
                                    if "calendar_signalled" in line], bool)
    assert '"workflows": 0' not in signalled[-1] and "workflows=0" not in signalled[-1], signalled[-1]
