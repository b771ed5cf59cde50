"""Issue 16 end to end, on the real platform: a session cookie stops working after logout, after
a password change, after the user is disabled and after 30 idle minutes (the gateway's clock moved
by the test's offset file); failed logins count together across two gateway processes; a forged
actor sent straight to the Temporal frontend is refused; deleting the last audit rows after an
anchor is detected by `shuangjian audit verify`; the generated admin password must be changed."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from services.common.config import project_root
from services.common.identity import Actor, ActorSigner
from services.gateway.sessions import COOKIE_NAME, csrf_token_for
from shuangjian.client import ApiError, Client, wait_until
from shuangjian.codes import make_uscc
from shuangjian.demo import load_demo_county
from tests.e2e.support import admin_client, as_user, cli, verification_state, free_port

pytestmark = pytest.mark.e2e
PASSWORD = "Security@2026-e2e"


def _user(platform, admin, prefix="sec") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    ops = next(d for d in admin.get("/api/departments")["items"] if d["kind"] == "ops")
    admin.post("/api/users", {"username": name, "password": PASSWORD, "department_id": ops["id"], "roles": ["clerk"]})
    return name


def _cookie_login(platform, username, password=PASSWORD) -> tuple[requests.Session, str]:
    """A browser-like session: the cookie the gateway sets at login, and its value (what a thief copies)."""
    browser = requests.Session()
    answer = browser.post(platform["url"] + "/api/login", json={"username": username, "password": password}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert "HttpOnly" in answer.headers["Set-Cookie"] and "SameSite=Strict" in answer.headers["Set-Cookie"]
    return browser, browser.cookies[COOKIE_NAME]


def _works(platform, token) -> tuple[int, str]:
    """A copy of the cookie used from elsewhere: the status of /api/me and the message."""
    answer = requests.get(platform["url"] + "/api/me", cookies={COOKIE_NAME: token}, timeout=30)
    return answer.status_code, answer.json().get("error", {}).get("message", "")


def test_a_session_cookie_stops_working_after_logout(platform):
    name = _user(platform, admin_client(platform))
    browser, token = _cookie_login(platform, name)
    assert _works(platform, token)[0] == 200
    out = browser.post(platform["url"] + "/api/logout", headers={"X-CSRF-Token": csrf_token_for(token)}, timeout=30)
    assert out.status_code == 200
    assert _works(platform, token) == (401, "登录已失效，请重新登录")
    page = requests.get(platform["url"] + "/ui/", cookies={COOKIE_NAME: token}, allow_redirects=False, timeout=30)
    assert page.status_code == 303 and "/ui/login" in page.headers["Location"]


def test_a_password_change_ends_every_session_of_the_user(platform):
    name = _user(platform, admin_client(platform))
    _, laptop = _cookie_login(platform, name)
    phone = Client(platform["url"])
    phone.login(name, PASSWORD)
    with pytest.raises(ApiError) as info:
        phone.post("/api/password", {"current_password": PASSWORD, "new_password": "short"})
    assert (info.value.status, info.value.error["field"]) == (400, "new_password")
    phone.change_password(PASSWORD, "一个更长的新密码-2026")
    assert _works(platform, laptop)[0] == 401
    assert phone.get("/api/me")["username"] == name  # the session the change gave back
    with pytest.raises(ApiError):
        Client(platform["url"]).login(name, PASSWORD)


def test_disabling_a_user_ends_the_session_at_once(platform):
    admin = admin_client(platform)
    name = _user(platform, admin)
    _, token = _cookie_login(platform, name)
    uid = next(u["id"] for u in admin.get("/api/users", limit=500)["items"] if u["username"] == name)
    assert admin.post(f"/api/users/{uid}/disable")["active"] is False
    assert _works(platform, token)[0] == 401
    with pytest.raises(ApiError) as info:
        Client(platform["url"]).login(name, PASSWORD)
    assert info.value.status == 401

    # the same from the users page (用户管理), as an admin does it
    other = _user(platform, admin)
    _, token = _cookie_login(platform, other)
    secrets = json.loads((platform["var"] / "secrets.json").read_text())
    page, _ = _cookie_login(platform, secrets["admin_username"], secrets["admin_password"])
    users = page.get(platform["url"] + "/ui/users", timeout=30)
    assert users.status_code == 200 and other in users.text
    csrf = users.text.split('name="csrf-token" content="')[1].split('"')[0]
    oid = next(u["id"] for u in admin.get("/api/users", limit=500)["items"] if u["username"] == other)
    done = page.post(platform["url"] + f"/ui/users/{oid}/disable", data={"csrf_token": csrf}, allow_redirects=False,
                     timeout=30)
    assert done.status_code == 303 and _works(platform, token)[0] == 401


def test_a_session_ends_after_30_idle_minutes(platform):
    name = _user(platform, admin_client(platform))
    _, idle = _cookie_login(platform, name)
    _, busy = _cookie_login(platform, name)
    offset = platform["var"] / "clock-offset"
    try:
        offset.write_text(str(20 * 60))
        assert _works(platform, busy)[0] == 200  # used after 20 minutes: its idle time starts again
        offset.write_text(str(31 * 60))
        status, message = _works(platform, idle)
        assert status == 401 and "30分钟未操作" in message
        assert _works(platform, busy)[0] == 200  # 11 minutes since its last use
    finally:
        offset.unlink(missing_ok=True)
    assert _works(platform, idle)[0] == 401  # ended on the server: setting the clock back does not revive it


def test_failed_logins_count_together_across_two_gateway_processes(platform):
    env = dict(platform["env"], SHUANGJIAN_METRICS_PORT="0")
    port = free_port()
    env["SHUANGJIAN_GATEWAY_ADDRESS"] = f"127.0.0.1:{port}"
    second_url = f"http://127.0.0.1:{port}"
    nameko = os.path.join(os.path.dirname(os.sys.executable), "nameko")
    log = open(platform["var"] / "second-gateway.log", "ab")
    proc = subprocess.Popen([nameko, "run", "services.gateway.service", "--config",
                             str(project_root() / "deploy" / "nameko.yaml")],
                            cwd=project_root(), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        ready = wait_until(lambda: _alive(second_url), bool, seconds=60, interval=0.5)
        assert ready, (platform["var"] / "second-gateway.log").read_text()[-2000:]
        name = f"nobody_{uuid.uuid4().hex[:6]}"
        for i in range(5):  # alternately on the two replicas, as a balancer would spread them
            url = (platform["url"], second_url)[i % 2]
            answer = requests.post(url + "/api/login", json={"username": name, "password": "wrong-guess"}, timeout=30)
            assert answer.status_code == 401, answer.text
        for url in (platform["url"], second_url):
            answer = requests.post(url + "/api/login", json={"username": name, "password": "wrong-guess"}, timeout=30)
            assert answer.status_code == 429 and "登录失败次数过多" in answer.json()["error"]["message"]
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        log.close()


def _alive(url) -> bool:
    try:
        return requests.get(url + "/health/live", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_a_forged_actor_sent_straight_to_the_workflow_is_refused(platform):
    from temporalio.client import Client as TemporalClient, WorkflowUpdateFailedError

    from workflows.verification.contracts import UPDATE_DECIDE, DecisionInput, workflow_id

    admin = admin_client(platform)
    load_demo_county(admin)
    education = as_user(platform, "jiaoti_leader")
    iid = education.post("/api/institutions", {
        "name": "枞阳县安全测试培训学校", "uscc": make_uscc((int(time.time()) + 77) % 10**9),
        "licence_no": "教民SEC001号", "category": "学科类", "legal_form": "营利性", "township_code": "340722105",
        "address": "义津镇2号"})["id"]

    def state():
        return verification_state(education, iid)

    assert wait_until(state, lambda s: s is not None and s["deadline"])["status"] == "pending"
    leader = education.get("/api/me")
    leader.pop("must_change_password", None)

    guessed = ActorSigner("a-guessed-key").sign(Actor.from_dict(leader))

    async def forge():
        client = await TemporalClient.connect(platform["env"]["SHUANGJIAN_TEMPORAL_ADDRESS"])
        handle = client.get_workflow_handle(workflow_id(iid))
        causes = []
        for token in ("", guessed):  # the education leader's fields, unsigned or signed with a guess
            with pytest.raises(WorkflowUpdateFailedError) as info:
                await handle.execute_update(UPDATE_DECIDE, DecisionInput(actor=leader, outcome="verified",
                                                                         actor_token=token))
            causes.append(info.value.cause)
        return causes

    unsigned, guessed_key = asyncio.run(asyncio.wait_for(forge(), 60))
    assert unsigned.type == guessed_key.type == "NotAuthenticated"
    assert "操作人身份签名无效" in guessed_key.message
    assert state()["decision"] is None
    education.post(f"/api/institutions/{iid}/verification/decision", {"outcome": "verified"})  # the real path
    assert wait_until(state, lambda s: s["decision"] is not None)["decision"]["outcome"] == "verified"


def test_deleting_the_last_audit_rows_after_an_anchor_is_detected(platform):
    admin = admin_client(platform)
    for _ in range(2):
        _user(platform, admin, prefix="audited")  # entries in the gateway's chain
    anchored = cli(platform["env"], "audit", "anchor")
    assert anchored.returncode == 0, anchored.stderr
    assert (platform["var"] / "audit-anchors.jsonl").exists()
    before = cli(platform["env"], "audit", "verify")
    assert before.returncode == 0, before.stdout + before.stderr
    assert "与锚点第" in before.stdout

    # someone with the gateway database deletes the last entries and sets the head back
    engine = create_engine(_database_url(platform, "gateway"))
    anchor_seq = json.loads((platform["var"] / "audit-anchors.jsonl").read_text().splitlines()[-1])[
        "heads"]["gateway"]["seq"]
    keep = anchor_seq - 2
    with engine.begin() as db:
        saved = [dict(row._mapping) for row in db.execute(text("SELECT * FROM audit_log WHERE seq > :k"), {"k": keep})]
        head = dict(db.execute(text("SELECT last_seq, last_hash FROM audit_head")).one()._mapping)
        db.execute(text("DELETE FROM audit_log WHERE seq > :keep"), {"keep": keep})
        last = db.execute(text("SELECT hash FROM audit_log WHERE seq = :keep"), {"keep": keep}).scalar_one()
        db.execute(text("UPDATE audit_head SET last_seq = :keep, last_hash = :h"), {"keep": keep, "h": last})
    try:
        after = cli(platform["env"], "audit", "verify")
        assert after.returncode == 1
        line = next(x for x in after.stdout.splitlines() if x.startswith("gateway"))
        assert "尾部条目被删除" in line or "与锚点哈希不符" in line, after.stdout
        assert "审计链校验未通过" in after.stderr
        # the next anchor (as the schedule would write it) does not bless the shortened chain
        again = cli(platform["env"], "audit", "anchor")
        assert again.returncode == 1 and "gateway" in again.stderr
        assert cli(platform["env"], "audit", "verify").returncode == 1
    finally:  # the platform is shared by the session: put the rows back
        with engine.begin() as db:
            db.execute(text("DELETE FROM audit_log WHERE seq > :keep"), {"keep": keep})  # logins since
            for row in saved:  # the JSON columns as JSON text (PostgreSQL hands back dicts)
                row = {k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v for k, v in row.items()}
                db.execute(text("INSERT INTO audit_log (" + ", ".join(row) + ") VALUES ("
                                + ", ".join(":" + k for k in row) + ")"), row)
            db.execute(text("UPDATE audit_head SET last_seq = :last_seq, last_hash = :last_hash"), head)
        engine.dispose()
    restored = cli(platform["env"], "audit", "verify")
    assert restored.returncode == 0, restored.stdout + restored.stderr


def _database_url(platform, service) -> str:
    template = platform["env"].get("SHUANGJIAN_DB_URL_TEMPLATE")
    return template.format(service=service) if template else f"sqlite:///{platform['var'] / (service + '.db')}"


def test_an_initial_password_must_be_changed_before_anything_else(platform):
    """The generated admin password (replaced by the CLI on the platform's machine at its first
    login: support.admin_client) and an initial password an admin hands over open only the
    password change: the pages lead there, the API answers 403 password_change_required."""
    admin = admin_client(platform)
    assert admin.get("/api/me")["must_change_password"] is False
    assert oct((platform["var"] / "secrets.json").stat().st_mode & 0o777) == "0o600"
    ops = next(d for d in admin.get("/api/departments")["items"] if d["kind"] == "ops")
    name = f"fresh_{uuid.uuid4().hex[:6]}"
    admin.post("/api/users", {"username": name, "password": PASSWORD, "department_id": ops["id"],
                              "roles": ["clerk"], "must_change_password": True})
    api = Client(platform["url"])
    assert api.login(name, PASSWORD)["must_change_password"] is True
    with pytest.raises(ApiError) as info:
        api.get("/api/departments")
    assert (info.value.status, info.value.error["code"]) == (403, "password_change_required")

    page = requests.Session()
    login = page.get(platform["url"] + "/ui/login", timeout=30)
    csrf = login.text.split('name="csrf_token" value="')[1].split('"')[0]
    answer = page.post(platform["url"] + "/ui/login", data={"username": name, "password": PASSWORD, "csrf_token": csrf},
                       allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["Location"] == "/ui/password"
    home = page.get(platform["url"] + "/ui/", allow_redirects=False, timeout=30)
    assert home.status_code == 303 and home.headers["Location"] == "/ui/password"
    form = page.get(platform["url"] + "/ui/password", timeout=30)
    assert "首次登录须先设置自己的密码" in form.text
    csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    new = "自己设的新密码-2026"
    mismatch = page.post(platform["url"] + "/ui/password", data={
        "csrf_token": csrf, "current_password": PASSWORD, "new_password": new, "confirm_password": new + "x"},
        allow_redirects=False, timeout=30)
    assert mismatch.status_code == 400 and "两次输入的新密码不一致" in mismatch.text
    done = page.post(platform["url"] + "/ui/password", data={
        "csrf_token": csrf, "current_password": PASSWORD, "new_password": new, "confirm_password": new},
        allow_redirects=False, timeout=30)
    assert done.status_code == 303 and done.headers["Location"].startswith("/ui/")
    assert page.get(platform["url"] + "/ui/", allow_redirects=False, timeout=30).status_code == 200
    with pytest.raises(ApiError):
        api.get("/api/me")  # the session from before the change has ended
