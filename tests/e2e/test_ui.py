"""The pages in a real browser (Playwright driving Debian's Chromium, headless): 营转非 carried by
clicks through three departments, a public complaint seen at the education bureau's desk, each
department's home page screenshotted with its Chinese text rendered, a step of another department
refused by URL (403 page), a form post without the CSRF token refused, login throttling."""
from __future__ import annotations

import random
import re
import time
from datetime import date

import pytest
import requests

from services.common.config import project_root
from shuangjian.codes import make_uscc
from shuangjian.demo import DEMO_PASSWORD, load_demo_county
from tests.e2e.browser import ClientAddressProxy, ensure_browser, launch
from tests.e2e.support import admin_client, as_user

pytestmark = pytest.mark.e2e
CERTIFICATE = "%PDF-1.4\n% 民办非企业单位登记证书\n".encode() + bytes(range(256)) * 8 + b"\n%%EOF\n"

HOMES = {  # user → (password or None for the demo one, the home page's title)
    "jiaoti_leader": "教体局工作台",
    "minzheng_leader": "民政局工作台",
    "shichang_leader": "市场监管局工作台",
    "dudao": "督导室工作台",
    "admin": "运维工作台",
}


@pytest.fixture(scope="module")
def ui(platform):
    """The e2e-ui fixture: a browser on its own client address, the demo county loaded."""
    ensure_browser()
    from playwright.sync_api import sync_playwright

    admin = admin_client(platform)
    load_demo_county(admin)
    secrets = (platform["var"] / "secrets.json").read_text()
    import json

    proxy = ClientAddressProxy(platform["url"])
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield {"browser": browser, "url": proxy.url, "platform": platform,
                   "passwords": {"admin": json.loads(secrets)["admin_password"]}}
        finally:
            browser.close()
            proxy.close()


def _new_page(ui, width=1280):
    context = ui["browser"].new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def _login(ui, page, username):
    password = ui["passwords"].get(username, DEMO_PASSWORD)
    username = _admin_name(ui) if username == "admin" else username
    page.goto(ui["url"] + "/ui/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('登录')")
    page.wait_for_url(re.compile(r".*/ui/$"))


def _admin_name(ui):
    import json

    return json.loads((ui["platform"]["var"] / "secrets.json").read_text())["admin_username"]


def _logout(page):
    page.click("button:has-text('退出')")
    page.wait_for_url(re.compile(r".*/ui/login.*"))


def _register_institution(platform, label: str) -> dict:
    education = as_user(platform, "jiaoti_leader")
    serial = random.randrange(10**8, 10**9)
    return education.post("/api/institutions", {
        "name": f"枞阳县{label}培训学校（界面测试{serial % 10000:04d}）", "uscc": make_uscc(serial),
        "licence_no": f"教民134072271{serial % 100000:05d}号", "licence_issued_on": "2021-06-18",
        "category": "学科类", "legal_form": "营利性", "township_code": "340722100", "address": "枞阳镇渡江路1号"})


def _open_inbox_item(page, url, institution_name, seconds=40):
    """Reload the home page until the institution's step is in the inbox, then open it."""
    deadline = time.monotonic() + seconds
    while True:
        page.goto(url + "/ui/")
        row = page.locator("tr", has_text=institution_name)
        if row.count():
            row.first.locator("a").first.click()
            page.wait_for_url(re.compile(r".*/ui/cases/.*"))
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{institution_name} 未出现在待办中：{page.inner_text('main')[:500]}")
        time.sleep(0.5)


def _decide(page, note):
    page.check("input[name=action][value=approve]")
    page.fill("textarea[name=note]", note)
    page.click("button:has-text('提交决定')")
    page.wait_for_selector("text=已提交决定")


def test_conversion_carried_through_three_departments_by_clicks(ui):
    platform, url = ui["platform"], ui["url"]
    as_user(platform, "jiaoti_leader").request(
        "PUT", "/api/settings/county", {"conversion_deadline": f"{date.today().year}-12-31", "conversion_variant": "national"})
    inst = _register_institution(platform, "营转非")
    page = _new_page(ui)

    _login(ui, page, "jiaoti_leader")
    page.click("nav >> text=机构名录")
    page.fill("input[name=q]", inst["name"])
    page.click("button:has-text('查询')")
    page.click(f"a:has-text('{inst['name']}')")
    page.click("button:has-text('受理营转非申请')")
    page.wait_for_selector("text=已受理营转非申请")
    _open_inbox_item(page, url, inst["name"])
    assert "核发非营利性办学许可证并收回原证" in page.inner_text(".current-step")
    _decide(page, "新证号 教民134072270199号")
    _logout(page)

    _login(ui, page, "minzheng_leader")
    _open_inbox_item(page, url, inst["name"])
    assert "登记为民办非企业单位" in page.inner_text(".current-step")
    workflow_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    # the certificate goes with the decision: uploaded by fetch() (X-CSRF-Token) before the form posts
    page.set_input_files("input[name=attachment]",
                         files=[{"name": "民非登记证书.pdf", "mimeType": "application/pdf", "buffer": CERTIFICATE}])
    _decide(page, "民非登记证书 民证字第0199号")
    civil = as_user(platform, "minzheng_leader")
    case_id = int(workflow_id.rsplit("-", 1)[-1])
    [attached] = civil.get(f"/api/cases/{case_id}/attachments")["items"]
    assert (attached["filename"], attached["step_key"]) == ("民非登记证书.pdf", "civil_affairs_registration")
    assert civil.download(f"/api/cases/attachments/{attached['id']}") == (CERTIFICATE, "民非登记证书.pdf")
    _logout(page)

    _login(ui, page, "shichang_leader")
    _open_inbox_item(page, url, inst["name"])
    assert "变更经营范围" in page.inner_text(".current-step")
    assert "民非登记证书.pdf" in page.inner_text(".attachments")  # civil affairs' certificate, listed for the next step
    case_url = page.url
    _decide(page, "营业执照已变更")
    page.goto(case_url)
    assert page.inner_text(".case-status") == "已办结"
    _logout(page)

    _login(ui, page, "jiaoti_leader")
    deadline = time.monotonic() + 30
    while True:
        page.goto(f"{url}/ui/institutions/{inst['id']}")
        if page.inner_text(".legal-form") == "非营利性" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert page.inner_text(".legal-form") == "非营利性"
    assert "营转非：已办结" in page.inner_text("main")
    page.context.close()


def test_public_complaint_reaches_the_education_desk(ui):
    url = ui["url"]
    page = _new_page(ui, width=390)  # a phone
    page.goto(url + "/public/complaint")
    page.fill("textarea[name=content]", "界面测试：某机构周六在居民楼内开设初中数学班")
    page.fill("input[name=institution_name]", "某无证培训点")
    page.select_option("select[name=township_code]", "340722100")
    page.fill("input[name=contact_phone]", "13800138000")
    page.click("button:has-text('提交举报')")
    receipt = page.inner_text(".receipt-no").strip()
    assert receipt.startswith("JB")
    page.click("text=查询办理进度")
    assert page.inner_text(".complaint-status") == "已受理"

    page.goto(url + "/public/institutions")
    assert "白名单" in page.inner_text("main")
    page.context.close()

    page = _new_page(ui)
    _login(ui, page, "jiaoti_leader")
    assert receipt in page.inner_text("main")  # the home page lists the newest complaints
    page.click("nav >> text=举报受理")
    row = page.locator("tr", has_text=receipt)
    assert "界面测试" in row.inner_text()
    row.locator("a").first.click()  # the complaint itself: phone masked; 核实 (triage) from the page
    assert "138****8000" in page.inner_text("main") and "13800138000" not in page.content()
    page.check("input[name=result][value=verified]")
    page.click("button:has-text('提交')")
    page.wait_for_selector("text=已办理")
    assert "已核实待交办" in page.inner_text("main")
    page.context.close()


def test_home_pages_render_chinese(ui, tmp_path):
    shots = project_root() / "var" / "ui-screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for username, title in HOMES.items():
        page = _new_page(ui)
        _login(ui, page, username)
        heading = page.locator("h1")
        assert heading.inner_text() == title and heading.is_visible()
        for path in (shots / f"{username}.png", tmp_path / f"{username}.png"):
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 5000  # a blank page compresses to almost nothing
        # glyphs, not boxes: the CJK font is loaded, and two different words of the same length
        # rasterise differently (missing glyphs would all be the same box)
        assert page.evaluate("document.fonts.check('20px \"WenQuanYi Micro Hei\"', '教体局')")
        shots_of = []
        for word in ("教体局", "民政局"):
            page.evaluate("w => { const h = document.querySelector('h1'); h.textContent = w; }", word)
            shots_of.append(heading.screenshot())
        assert shots_of[0] != shots_of[1]
        page.context.close()


def test_other_departments_step_is_refused_and_csrf_is_required(ui):
    platform, url = ui["platform"], ui["url"]
    inst = _register_institution(platform, "越权")
    education = as_user(platform, "jiaoti_leader")
    case = education.post(f"/api/institutions/{inst['id']}/conversion")
    wid = case["workflow_id"]

    page = _new_page(ui)
    _login(ui, page, "minzheng_leader")  # the first step is education's
    deadline = time.monotonic() + 30
    while True:
        response = page.goto(f"{url}/ui/cases/{wid}")
        if response.status != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status == 403
    assert "无权" in page.inner_text("main") and "403" in page.inner_text("main")
    refused = page.request.post(f"{url}/ui/cases/{wid}/decision", form={"action": "approve"})
    assert refused.status == 403
    page.context.close()

    page = _new_page(ui)
    _login(ui, page, "jiaoti_leader")
    page.goto(f"{url}/ui/cases/{wid}")
    # the page's own form carries the token; the same post without it is refused
    no_token = page.request.post(f"{url}/ui/cases/{wid}/decision", form={"action": "approve", "note": "x"})
    assert no_token.status == 403 and "CSRF" in no_token.text()
    wrong = page.request.post(f"{url}/ui/cases/{wid}/decision",
                              form={"action": "approve", "csrf_token": "0" * 40})
    assert wrong.status == 403
    assert education.get(f"/api/cases/{wid}")["current_step"]["key"] == "education_permit"
    # fetch() to the JSON API with the cookie: the X-CSRF-Token header is required for changes
    api_no_token = page.evaluate("""async wid => { const r = await fetch('/api/cases/' + wid + '/decision',
        {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'},
         body: JSON.stringify({action: 'approve'})}); return [r.status, await r.json()]; }""", wid)
    assert api_no_token[0] == 403 and api_no_token[1]["error"]["code"] == "csrf_failed"
    api_with_token = page.evaluate("""async () => { const r = await window.sjFetch('/api/me'); return r.username; }""")
    assert api_with_token == "jiaoti_leader"
    page.context.close()

    # the CLI's Bearer token stays exempt
    assert as_user(platform, "jiaoti_leader").get("/api/me")["username"] == "jiaoti_leader"


def test_login_throttling_and_user_administration(ui):
    url = ui["url"]
    page = _new_page(ui)
    page.goto(url + "/ui/login")
    for _ in range(5):
        page.fill("input[name=username]", "nobody_here")
        page.fill("input[name=password]", "wrong-password")
        page.click("button:has-text('登录')")
        assert "用户名或密码错误" in page.inner_text("main")
    page.fill("input[name=username]", "nobody_here")
    page.fill("input[name=password]", "wrong-password")
    with page.expect_response(lambda r: r.url.endswith("/ui/login") and r.request.method == "POST") as answer:
        page.click("button:has-text('登录')")
    assert answer.value.status == 429
    assert "登录失败次数过多" in page.inner_text("main")

    _login(ui, page, "admin")
    page.click("nav >> text=用户管理")
    name = f"ui_user_{random.randrange(10**6)}"
    page.fill("input[name=username]", name)
    page.fill("input[name=display_name]", "界面测试用户")
    page.fill("input[name=password]", "Ui@Test2021x")
    page.click("button:has-text('创建')")
    page.wait_for_selector(f"text=已创建用户 {name}")
    assert requests.post(f"{ui['platform']['url']}/api/login",
                         json={"username": name, "password": "Ui@Test2021x"}, timeout=30).status_code == 200
    page.context.close()


def test_dashboard_draws_its_charts_from_vendored_echarts(ui):
    page = _new_page(ui)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _login(ui, page, "jiaoti_leader")
    page.click("nav >> text=数据看板")
    page.wait_for_selector("#dashboard-status:has-text('数据期间')")
    assert page.locator("#dashboard canvas").count() == 3
    assert page.evaluate("typeof window.echarts.version") == "string"
    assert errors == []
    page.context.close()
