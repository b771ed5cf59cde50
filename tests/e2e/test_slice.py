"""End to end: the real processes, started exactly as `make up` starts them, driven over HTTP."""
from __future__ import annotations

import time
import uuid

import pytest

from shuangjian.client import ApiError, Client, wait_until
from shuangjian.codes import make_uscc
from shuangjian.demo import load_demo_county
from tests.e2e.support import admin_client, as_user, cli, verification_state

PROCESSES = ("registry", "escrow", "inspection", "reporting", "gateway", "worker", "temporal", "escrow_feed")


def test_up_reports_every_component_healthy(platform):
    report = Client(platform["url"]).get("/health")
    assert report["status"] == "ok"
    assert set(report["components"]) == {"broker", "registry", "escrow", "inspection", "reporting",
                                         "escrow_feed", "gateway", "worker", "temporal"}
    assert all(v == "ok" for v in report["components"].values())
    for name in PROCESSES:
        assert (platform["var"] / "run" / f"{name}.pid").exists(), name


def test_bad_login_is_refused_clearly(platform):
    with pytest.raises(ApiError) as info:
        Client(platform["url"]).login("admin", "not-the-password")
    assert info.value.status == 401
    assert info.value.error["message"] == "用户名或密码错误"
    with pytest.raises(ApiError) as info:
        Client(platform["url"], token="forged.token.value").get("/api/me")
    assert info.value.status == 401


def test_cli_creates_a_user_as_the_builtin_admin(platform):
    admin = admin_client(platform)
    load_demo_county(admin)
    education = next(d for d in admin.get("/api/departments")["items"] if d["kind"] == "education")
    result = cli(platform["env"], "user", "create", "cli_made_user", "--department-id", str(education["id"]),
                 "--roles", "clerk", "--new-password", "cli-password-1", "--display-name", "命令行用户")
    assert result.returncode == 0, result.stderr
    me = Client(platform["url"])
    me.login("cli_made_user", "cli-password-1")
    assert me.get("/api/me")["department_kind"] == "education"
    bad = cli(platform["env"], "user", "create", "x", "--department-id", str(education["id"]),
              "--new-password", "cli-password-1")
    assert bad.returncode == 2 and "username" in bad.stderr


def test_the_slice_from_registration_to_verification(platform):
    admin = admin_client(platform)
    load_demo_county(admin)
    education = as_user(platform, "jiaoti_leader")
    clerk = as_user(platform, "jiaoti_clerk")
    civil = as_user(platform, "minzheng_leader")
    before = education.get("/api/reports/institution-counts")["institutions_total"]

    cid = "e2e-" + uuid.uuid4().hex[:12]
    education.http.headers["X-Correlation-ID"] = cid
    created = education.post("/api/institutions", {
        "name": "枞阳县端到端培训学校", "uscc": make_uscc(int(time.time()) % 10**9), "licence_no": "教民E2E001号",
        "category": "学科类", "legal_form": "营利性", "township_code": "340722105", "address": "义津镇1号",
    })
    del education.http.headers["X-Correlation-ID"]
    iid = created["id"]

    counts = wait_until(lambda: education.get("/api/reports/institution-counts"),
                        lambda c: c["institutions_total"] == before + 1)
    assert counts["institutions_total"] == before + 1
    assert counts["status_counts"]["正常营业"] >= 1

    def state():
        return verification_state(education, iid)

    pending = wait_until(state, lambda s: s is not None and s["deadline"])
    assert pending["status"] == "pending"

    # the wrong department and a clerk are refused, and nothing changes
    for client, fragment in ((civil, "民政局无权执行此操作"), (clerk, "leader")):
        with pytest.raises(ApiError) as info:
            client.post(f"/api/institutions/{iid}/verification/decision", {"outcome": "verified"})
        assert info.value.status == 403 and fragment in info.value.error["message"]
    assert state()["status"] == "pending" and state()["decision"] is None
    assert education.get(f"/api/institutions/{iid}")["verification"] == "pending"

    with pytest.raises(ApiError) as info:
        education.post(f"/api/institutions/{iid}/verification/decision", {"outcome": "rejected"})
    assert info.value.status == 400 and info.value.error["field"] == "reason"

    decision_cid = "e2e-decision-" + uuid.uuid4().hex[:8]
    education.http.headers["X-Correlation-ID"] = decision_cid
    education.post(f"/api/institutions/{iid}/verification/decision", {"outcome": "verified"})
    del education.http.headers["X-Correlation-ID"]
    record = wait_until(lambda: education.get(f"/api/institutions/{iid}"), lambda r: r["verification"] == "verified")
    assert record["verification_name"] == "已核验"
    assert record["verified_by"].endswith("王科长")

    # correlation ids: the registration's reached the worker through the event; the decision's
    # went gateway → worker → activity → registry and is on the registry's log line
    worker_log = (platform["var"] / "log" / "worker.log").read_text()
    assert cid in worker_log
    registry_lines = (platform["var"] / "log" / "registry.log").read_text().splitlines()
    recorded = [line for line in registry_lines if "licence_verification_recorded" in line]
    assert any(decision_cid in line for line in recorded)


def test_a_township_official_sees_only_their_township(platform):
    admin = admin_client(platform)
    load_demo_county(admin)
    education = as_user(platform, "jiaoti_leader")
    education.post("/api/institutions", {
        "name": "浮山镇艺术培训中心", "uscc": make_uscc(int(time.time() * 7) % 10**9), "licence_no": "教民E2E002号",
        "category": "非学科类", "legal_form": "营利性", "township_code": "340722106", "address": "浮山镇2号",
    })
    items = education.get("/api/institutions")["items"]
    # a township official sees only their township
    township_dept = next(d for d in admin.get("/api/departments")["items"]
                         if d["kind"] == "township" and d["division_code"] == "340722100")
    admin.post("/api/users", {"username": "zongyang_town", "password": "town-password-1",
                              "department_id": township_dept["id"], "roles": ["clerk"]})
    town = Client(platform["url"])
    town.login("zongyang_town", "town-password-1")
    visible = {i["township_code"] for i in town.get("/api/institutions")["items"]}
    assert visible <= {"340722100"}
    other = next(i for i in items if i["township_code"] != "340722100")
    with pytest.raises(ApiError) as info:
        town.get(f"/api/institutions/{other['id']}")
    assert info.value.status == 403


def test_conversion_carried_by_three_departments_end_to_end(platform):
    admin = admin_client(platform)
    load_demo_county(admin)
    education, civil, market = (as_user(platform, u) for u in ("jiaoti_leader", "minzheng_leader", "shichang_leader"))
    education.request("PUT", "/api/settings/county", {"conversion_deadline": "2099-12-31"})
    created = education.post("/api/institutions", {
        "name": "枞阳县营转非测试学校", "uscc": make_uscc(int(time.time() * 13) % 10**9), "licence_no": "教民E2E003号",
        "licence_issued_on": "2019-05-01", "category": "学科类", "legal_form": "营利性",
        "township_code": "340722101", "address": "横埠镇3号",
    })
    iid = created["id"]

    def charge_allowed():
        try:
            return education.get(f"/api/escrow/institutions/{iid}/charge-check")["allowed"]
        except ApiError as exc:
            assert exc.status in (404, 409)  # 404: escrow has not had the registration event yet
            return False

    assert wait_until(charge_allowed, lambda ok: ok)
    wid = education.post(f"/api/institutions/{iid}/conversion")["workflow_id"]
    assert wait_until(charge_allowed, lambda ok: not ok) is False  # 营转非办理中: no new charges

    inbox = wait_until(lambda: education.get("/api/inbox")["items"], lambda items: any(i["workflow_id"] == wid for i in items))
    assert next(i for i in inbox if i["workflow_id"] == wid)["step"] == "education_permit"
    with pytest.raises(ApiError) as info:
        civil.post(f"/api/cases/{wid}/decision", {"action": "approve"})
    assert info.value.status == 403 and "由教体局办理" in info.value.error["message"]

    live = wait_until(lambda: education.get(f"/api/cases/{wid}"), lambda c: c["step_seconds_left"] is not None)
    assert live["current_step"]["key"] == "education_permit" and 0 < live["step_seconds_left"] <= 8 * 86400
    education.post(f"/api/cases/{wid}/decision", {"action": "approve", "note": "新证号 教民E2E003-1号"})
    assert [i["workflow_id"] for i in civil.get("/api/inbox")["items"]] == [wid]
    civil.post(f"/api/cases/{wid}/decision", {"action": "approve"})
    assert wait_until(charge_allowed, lambda ok: ok) is True  # registered as 民非: fees may resume
    with pytest.raises(ApiError) as info:
        market.post(f"/api/cases/{wid}/decision", {"action": "return", "return_to": "civil_affairs_registration"})
    assert info.value.status == 400 and info.value.error["field"] == "reason"
    market.post(f"/api/cases/{wid}/decision", {"action": "approve"})

    case = wait_until(lambda: education.get(f"/api/institutions/{iid}/cases/conversion"),
                      lambda c: any(h["action"] == "completed" for h in c["history"]))
    approvals = [(h["step"], h["actor"]) for h in case["history"] if h["action"] == "approve"]
    assert approvals == [("education_permit", "枞阳县教育体育局/王科长"),
                         ("civil_affairs_registration", "枞阳县民政局/张科长"),
                         ("market_regulation_change", "枞阳县市场监督管理局/赵科长")]
    assert education.get(f"/api/institutions/{iid}")["legal_form"] == "non_profit"
    state = education.get(f"/api/cases/{wid}")
    assert state["status"] == "completed" and state["current_step"] is None
    assert state["step_seconds_left"] is None and state["county_seconds_left"] > 0  # deadline 2099-12-31


def test_a_suspension_order_is_applied_and_lifted_after_a_passed_reinspection(platform):
    from shuangjian.demo import CHECKLIST_ITEMS

    admin = admin_client(platform)
    load_demo_county(admin)
    education = as_user(platform, "jiaoti_leader")
    iid = education.post("/api/institutions", {
        "name": "枞阳县整改测试学校", "uscc": make_uscc(int(time.time() * 17) % 10**9), "licence_no": "教民E2E004号",
        "licence_issued_on": "2019-05-01", "category": "学科类", "legal_form": "营利性",
        "township_code": "340722102", "address": "项铺镇4号"})["id"]
    wait_until(lambda: education.get("/api/inspection/targets")["items"],
               lambda items: any(t["institution_id"] == iid for t in items))
    checklist = {key: {"result": "pass"} for key in CHECKLIST_ITEMS}
    with pytest.raises(ApiError) as info:  # a suspension needs a failed item
        education.post("/api/inspection/records", {"institution_id": iid, "mode": "open", "checklist": checklist,
                                                   "inspectors": [{"department_kind": "education", "name": "王"}],
                                                   "outcome": {"kind": "suspend", "deadline_workdays": 10}})
    assert info.value.status == 400
    checklist["class_end_times"] = {"result": "fail", "notes": "21:10 仍在上课"}
    record = education.post("/api/inspection/records", {
        "institution_id": iid, "mode": "open", "checklist": checklist,
        "inspectors": [{"department_kind": "education", "name": "王"}],
        "outcome": {"kind": "suspend", "deadline_workdays": 10}})
    assert wait_until(lambda: education.get(f"/api/institutions/{iid}")["status"],
                      lambda s: s == "suspended_for_rectification") == "suspended_for_rectification"
    education.post(f"/api/inspection/orders/{record['order_id']}/reinspection", {"passed": True, "notes": "已整改"})
    order = wait_until(lambda: education.get(f"/api/inspection/orders/{record['order_id']}"),
                       lambda o: o["status"] == "closed")
    assert order["status"] == "closed"
    assert wait_until(lambda: education.get(f"/api/institutions/{iid}")["status"],
                      lambda s: s == "operating") == "operating"
