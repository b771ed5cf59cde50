"""检查执法 and 督导 through the real gateway and processes: campaigns (a sweep and a 双随机 draw
that leave an 已注销 institution out), inspection records with evidence and the risk grade they
move, a 责令整改 order closed by its re-inspection (Rectification workflow), a complaint from
triage to closure, and school supervision (zones, visits, homework, 一校一案).

Everything lives in 白柳镇 (340722113), which no other end-to-end test uses."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from services.common.workdays import today_shanghai
from services.inspection.campaign_rules import CHECKLIST
from shuangjian.client import ApiError, wait_until
from shuangjian.codes import make_uscc
from shuangjian.demo import load_demo_county
from tests.e2e.support import admin_client, as_user

TOWN = "340722113"
TEAM = [{"department_kind": "education", "name": "王科长"}, {"department_kind": "public_security", "name": "张警官"}]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


def refused(call, *args) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args)
    return info.value


def upload(client, path: str, content: bytes):
    return client.http.post(f"{client.url}{path}", data=content,
                            headers={"Authorization": f"Bearer {client.token}"}, timeout=60)


def register(education, name: str, category: str) -> int:
    iid = education.post("/api/institutions", {
        "name": name, "uscc": make_uscc(int(time.time() * 1000) % 10**9), "licence_no": f"教民E2E{name[-2:]}号",
        "licence_issued_on": "2021-06-18", "category": category, "legal_form": "营利性",
        "township_code": TOWN, "address": "白柳镇1号"})["id"]
    time.sleep(0.01)  # the next USCC differs
    return iid


def target(client, iid: int) -> dict | None:
    return next((t for t in client.get("/api/inspection/targets")["items"] if t["institution_id"] == iid), None)


def checklist(**fails) -> dict:
    items = {k: {"result": "pass"} for k in CHECKLIST}
    items.update({k: {"result": "fail", "notes": note} for k, note in fails.items()})
    return items


@pytest.fixture(scope="module")
def users(platform):
    load_demo_county(admin_client(platform))
    return {name: as_user(platform, name) for name in ("jiaoti_leader", "shichang_leader", "dudao")}


def test_campaigns_records_and_orders_over_http(platform, users):
    education = users["jiaoti_leader"]
    tag = f"{uuid.uuid4().int % 10**4:04d}"
    academic = register(education, f"白柳镇学科培训学校{tag}A1", "学科类")
    closing = register(education, f"白柳镇艺术培训学校{tag}B2", "非学科类")
    wait_until(lambda: (target(education, academic), target(education, closing)), lambda ts: all(ts))
    assert target(education, academic)["risk_grade"] == "C" and target(education, academic)["active"]

    # 注销: the registry's status moves, the inspection roster follows
    for status in ("deregistering", "deregistered"):
        education.post(f"/api/institutions/{closing}/status", {"status": status, "reason": "举办者申请注销"})
    wait_until(lambda: target(education, closing), lambda t: t["active"] is False)

    today = today_shanghai()
    window = {"start_date": (today - timedelta(days=1)).isoformat(), "end_date": (today + timedelta(days=6)).isoformat()}
    sweep = education.post("/api/inspection/campaigns", {
        "name": "白柳镇拉网式检查", "kind": "sweep", "mode": "covert", "townships": [TOWN], "team": TEAM, **window})
    assert academic in sweep["scope_ids"] and closing not in sweep["scope_ids"]
    draw = education.post("/api/inspection/campaigns", {
        "name": "白柳镇双随机", "kind": "random", "mode": "open", "townships": [TOWN], "team": TEAM, "seed": 20211001,
        "rates": {"A": 100, "B": 100, "C": 100, "D": 100}, **window})
    assert academic in draw["drawn_ids"] and closing not in draw["drawn_ids"] and draw["seed"] == 20211001
    check = education.get(f"/api/inspection/campaigns/{draw['id']}/draw-check")
    assert check["matches"] and check["recomputed_ids"] == draw["drawn_ids"]
    assert {sweep["id"], draw["id"]} <= {c["id"] for c in education.get("/api/inspection/campaigns")["items"]}
    assert education.get(f"/api/inspection/campaigns/{sweep['id']}")["name"] == "白柳镇拉网式检查"
    error = refused(users["shichang_leader"].post, "/api/inspection/campaigns", {
        "name": "x", "kind": "sweep", "mode": "open", "townships": [TOWN], "team": TEAM, **window})
    assert error.status == 403

    before = education.get(f"/api/inspection/campaigns/{sweep['id']}/coverage")
    assert academic in next(t for t in before["townships"] if t["township_code"] == TOWN)["not_visited"]
    passed = education.post("/api/inspection/records", {
        "institution_id": academic, "campaign_id": sweep["id"], "inspectors": TEAM, "checklist": checklist(),
        "outcome": {"kind": "pass"}})
    assert passed["outcome"] == "pass" and passed["order_id"] is None and passed["mode"] == "covert"
    after = education.get(f"/api/inspection/campaigns/{sweep['id']}/coverage")
    assert academic not in next(t for t in after["townships"] if t["township_code"] == TOWN)["not_visited"]
    assert after["visited"] == before["visited"] + 1
    assert target(education, academic)["risk_grade"] == "B"  # a pass: one grade better

    bad = refused(education.post, "/api/inspection/records", {
        "institution_id": academic, "mode": "open", "inspectors": TEAM,
        "checklist": checklist(fire_safety="灭火器过期"), "outcome": {"kind": "pass"}})
    assert (bad.status, bad.error["field"]) == (400, "outcome.kind")

    record = education.post("/api/inspection/records", {
        "institution_id": academic, "mode": "open", "inspectors": TEAM,
        "checklist": checklist(fire_safety="灭火器过期"), "outcome": {"kind": "rectify", "deadline_workdays": 5},
        "notes": "现场责令整改"})
    assert record["findings"] == ["fire_safety"] and record["order_id"]
    assert target(education, academic)["risk_grade"] == "C"  # 责令整改: one grade worse

    stored = upload(education, f"/api/inspection/records/{record['id']}/evidence?filename=现场.png", PNG)
    assert stored.status_code == 201, stored.text
    assert stored.json()["content_type"] == "image/png" and len(stored.json()["sha256"]) == 64
    assert upload(education, f"/api/inspection/records/{record['id']}/evidence", b"not a picture").status_code == 400
    got = education.get(f"/api/inspection/records/{record['id']}")
    assert [e["filename"] for e in got["evidence"]] == ["现场.png"]
    mine = education.get("/api/inspection/records", institution=str(academic))["items"]
    assert [r["id"] for r in mine] == [record["id"], passed["id"]]
    assert [r["id"] for r in education.get("/api/inspection/records", campaign=str(sweep["id"]))["items"]] == [passed["id"]]

    order_id = record["order_id"]
    order = education.get(f"/api/inspection/orders/{order_id}")
    assert (order["kind"], order["status"], order["deadline_workdays"]) == ("rectify", "open", 5)
    assert order_id in [o["id"] for o in education.get("/api/inspection/orders", status="open")["items"]]
    education.post(f"/api/inspection/orders/{order_id}/reinspection", {"passed": True, "notes": "已更换灭火器"})
    closed = wait_until(lambda: education.get(f"/api/inspection/orders/{order_id}"),
                        lambda o: o["status"] == "closed", seconds=60)
    assert [r["passed"] for r in closed["reinspections"]] == [True]
    assert [s["action"] for s in closed["history"]][:1] == ["issued"] and closed["history"][-1]["action"] == "closed"
    assert order_id in [o["id"] for o in education.get("/api/inspection/orders", status="closed")["items"]]


def test_a_complaint_from_triage_to_closure(platform, users):
    education, market = users["jiaoti_leader"], users["shichang_leader"]
    name = f"白柳镇投诉对象培训学校{uuid.uuid4().int % 10**4:04d}"
    iid = register(education, name, "学科类")
    wait_until(lambda: target(education, iid), lambda t: t is not None)
    clue = f"E2E-INS-{uuid.uuid4().hex[:8]}"
    received = (today_shanghai() - timedelta(days=1)).isoformat()
    csv_text = ("线索编号,反映时间,反映内容,涉及机构,所在乡镇,联系电话\n"
                f"{clue},{received},周六在居民楼开设初中数学班,{name},{TOWN},13912345678\n")
    imported = upload(education, "/api/complaints/imports/file?name=线索.csv", csv_text.encode("utf-8"))
    assert imported.status_code == 200, imported.text
    receipt = imported.json()["receipts"][clue]
    complaint = next(c for c in education.get("/api/complaints", township=TOWN)["items"] if c["receipt_no"] == receipt)
    cid = complaint["id"]
    assert complaint["status"] == "received" and complaint["contact_phone"] == "139****5678"

    assert refused(market.post, f"/api/complaints/{cid}/triage", {"result": "verified"}).status == 403
    triaged = education.post(f"/api/complaints/{cid}/triage", {"result": "verified", "note": "核实属实"})
    assert triaged["status"] == "verified"
    lead = wait_until(lambda: [l for l in education.get("/api/inspection/leads")["items"]
                               if l["institution_id"] == iid and l["source"] == "complaint"], lambda ls: ls)
    assert lead[0]["reason_kind"] == "complaint"

    assert refused(education.post, f"/api/complaints/{cid}/reply", {"reply": "尚未交办"}).status in (403, 409)
    assigned = education.post(f"/api/complaints/{cid}/assignment", {"department": "market_regulation", "note": "请核查"})
    assert (assigned["status"], assigned["department"]) == ("assigned", "market_regulation")
    assert cid in [c["id"] for c in market.get("/api/complaints")["items"]]
    replied = market.post(f"/api/complaints/{cid}/reply", {"reply": "已责令该机构停止违规培训"})
    assert replied["status"] == "replied"
    closed = market.post(f"/api/complaints/{cid}/closure", {"note": "回访满意"})
    assert closed["status"] == "closed"
    seen = education.get(f"/api/complaints/{cid}")
    assert [h["action"] for h in seen["history"]][-3:] == ["assigned", "replied", "closed"]


def test_school_supervision_over_http(platform, users):
    dudao = users["dudao"]
    today = today_shanghai()
    month = today.strftime("%Y-%m")
    code = f"21340{int(time.time()) % 100000:05d}"
    school = dudao.post("/api/schools", {"code": code, "name": "白柳镇中心小学", "type": "小学",
                                         "grades": [1, 2, 3, 4, 5, 6], "township_code": TOWN, "zone": "白柳督学责任区"})
    sid = school["id"]
    wait_until(lambda: dudao.get("/api/supervision/schools", zone="白柳督学责任区")["items"],
               lambda items: sid in [s["school_id"] for s in items])

    zone = dudao.request("PUT", "/api/supervision/zones", {"name": "白柳督学责任区", "inspector_name": "汪督学"})
    assert zone["inspector_name"] == "汪督学"
    assert ("白柳督学责任区", 1) in [(z["name"], z["schools"]) for z in dudao.get("/api/supervision/zones")["items"]]

    empty = dudao.get("/api/supervision/coverage", month=month, division=TOWN)["overall"]
    assert (empty["schools"], empty["visited"], empty["complete"]) == (1, 0, False)
    visit = dudao.post("/api/supervision/visits", {"school_id": sid, "visited_on": today.isoformat(),
                                                   "method": "校园巡查", "findings": "作业公示齐全"})
    assert visit["inspector"] == "汪督学"
    full = dudao.get("/api/supervision/coverage", month=month, division=TOWN)["overall"]
    assert (full["visited"], full["rate"], full["complete"]) == (1, 100.0, True)
    assert [v["school_id"] for v in dudao.get("/api/supervision/visits", month=month, school=str(sid))["items"]] == [sid]

    for day in ("2021-11-01", "2021-11-02"):
        dudao.post("/api/supervision/homework", {"school_id": sid, "grade": 4, "class_name": "四(1)班",
                                                 "published_on": day, "items": [{"subject": "数学", "minutes": 70}]})
        dudao.post("/api/supervision/homework", {"school_id": sid, "grade": 1, "class_name": "一(1)班",
                                                 "published_on": day, "items": []})
    assert len(dudao.get(f"/api/supervision/schools/{sid}/homework", **{"from": "2021-11-01", "to": "2021-11-02"})["items"]) == 4
    checked = dudao.post("/api/supervision/homework-checks", {"school_id": sid, "from": "2021-11-01", "to": "2021-11-02"})
    flags = {c["class_name"]: (c["average_minutes"], c["limit_minutes"], c["flagged"]) for c in checked["classes"]}
    assert flags == {"四(1)班": (70.0, 60, True), "一(1)班": (0.0, 0, False)}

    plan = dudao.post("/api/supervision/after-school-plans", {"school_id": sid, "filed_on": "2021-08-26"})
    assert (plan["school_year"], plan["status"], plan["flagged"]) == (2021, "late", True)
    figures = dudao.request("PUT", "/api/supervision/after-school-figures", {
        "school_id": sid, "school_year": 2021, "participating": 300, "enrolled": 400, "aware": 400, "surveyed": 400})
    assert (figures["participation_rate"], figures["awareness_rate"]) == (75.0, 100.0)
    report = dudao.get("/api/supervision/after-school", school_year="2021", as_of="2021-09-01")
    mine = next(i for i in report["items"] if i["school_id"] == sid)
    assert (mine["status"], mine["participating"], mine["enrolled"]) == ("late", 300, 400)
    assert dudao.get("/api/supervision/settings")["plan_deadline"] == "08-25"
    error = refused(users["shichang_leader"].post, "/api/supervision/visits",
                    {"school_id": sid, "visited_on": today.isoformat(), "method": "校园巡查"})
    assert error.status == 403
