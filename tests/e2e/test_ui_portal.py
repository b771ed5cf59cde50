"""机构端 and 家长端 of 一课一消 in a real browser (Playwright driving Debian's Chromium), by clicks:
the bureau opens an institution's account; the institution publishes a fee item, records a lesson
and shows the parent code; the parent, with the code alone, confirms the lesson, disputes another
and asks for a refund at phone width; the institution answers it; another institution's contract is
refused on the page. Every page is screenshotted at desktop and phone width and checked for CJK
glyphs and for no raw ids or English status words."""
from __future__ import annotations

import random
import re
from datetime import date, timedelta

import pytest
import requests

from services.common.config import project_root
from shuangjian.client import wait_until
from shuangjian.demo import DEMO_PASSWORD, load_demo_county
from tests.e2e.browser import ClientAddressProxy
from tests.e2e.support import admin_client, as_user
from tests.e2e.test_prepaid import _known
from tests.e2e.test_ui import _new_page, _register_institution, ui  # noqa: F401 - the module's browser fixture

pytestmark = pytest.mark.e2e
PHONE = 390
# what must never reach these users: status codes, field names, record ids
RAW = re.compile(r"\b(pending|confirmed|deemed|disputed|requested|accepted|rejected|active|completed|custody|"
                 r"guarantee|published|draft|withdrawn|wechat|bank_card|institution_id|contract_id|None|null)\b|#\d+")


def _shoot(page, name):
    """Desktop and phone screenshots of the page as it is, each checked: CJK rendered, nothing raw."""
    shots = project_root() / "var" / "ui-screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    text = page.inner_text("main")
    assert not RAW.search(text), f"{name}: {RAW.search(text).group(0)!r} in {text[:800]}"
    assert re.search(r"[\u4e00-\u9fff]", text)
    assert page.evaluate("document.fonts.check('20px \"WenQuanYi Micro Hei\"', '合同')")
    for width, suffix in ((1280, "desktop"), (PHONE, "phone")):
        page.set_viewport_size({"width": width, "height": 900})
        path = shots / f"portal_{name}_{suffix}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5000
        if width == PHONE:  # no sideways scrolling on a phone
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE + 1, name
    page.set_viewport_size({"width": 1280, "height": 900})


def _institution_with_contract(education, platform, label):
    inst = _register_institution(platform, label)
    iid = inst["id"]
    wait_until(lambda: _known(education, iid), lambda known: known)
    education.post("/api/escrow/accounts", {
        "institution_id": iid, "mode": "custody", "bank_name": "中国农业银行枞阳县支行", "bank_code": "ABC",
        "account_no": f"62284811{iid:08d}", "custody_agreement_no": f"枞教托管〔2021〕{iid}号"})
    item = education.post(f"/api/escrow/institutions/{iid}/fee-items", {"name": "初中数学", "price_per_hour_fen": 8000})
    today = date.today()
    contract = education.post("/api/escrow/contracts", {
        "institution_id": iid, "contract_no": f"UI-{iid}-{random.randrange(10**6)}", "fee_item_id": item["id"],
        "student_name": "张小明", "class_hours": 30, "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=60)).isoformat(), "amount_fen": 240000, "channel": "wechat"})
    return inst, contract


def _see(page, text):
    """Wait for `text` on the page; a timeout shows what the page said instead."""
    try:
        page.get_by_text(text).first.wait_for(timeout=15_000)
    except Exception as exc:  # noqa: BLE001 - the page's words are the useful part of the failure
        raise AssertionError(f"{text!r} not on {page.url}: {page.inner_text('body')[:1500]}") from exc


def _login(ui, page, username, password):
    page.goto(ui["url"] + "/ui/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('登录')")


def test_lesson_confirmed_and_refund_answered_through_both_portals(ui):
    platform, url = ui["platform"], ui["url"]
    education = as_user(platform, "jiaoti_leader")
    mine, contract = _institution_with_contract(education, platform, "机构端")
    _, theirs = _institution_with_contract(education, platform, "别家")

    # the bureau opens the institution's account on the institution's page
    page = _new_page(ui)
    _login(ui, page, "jiaoti_leader", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r".*/ui/$"))
    page.goto(f"{url}/ui/institutions/{mine['id']}")
    username, password = f"jigou_{mine['id']}", "Jigou@2021-kecheng"
    form = page.locator("form.portal-account-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=display_name]").fill("刘校长")
    form.locator("input[name=password]").fill(password)
    form.locator("button").click()
    _see(page, f"已开通机构端账户 {username}")
    page.context.close()

    # the institution logs in to its own pages
    inst = _new_page(ui)
    _login(ui, inst, username, password)
    inst.wait_for_url(re.compile(r".*/ui/portal$"))
    assert mine["name"] in inst.inner_text("header")
    _shoot(inst, "home")

    inst.click("nav >> text=收费与课程")
    fee_form = inst.locator("form.fee-form")
    fee_form.locator("input[name=name]").fill("初中物理")
    fee_form.locator("input[name=price_yuan]").fill("85.5")
    fee_form.locator("button").click()
    _see(inst, "收费项目“初中物理”已公示")
    assert "85.50元" in inst.inner_text("main")
    fee_form = inst.locator("form.fee-form")
    fee_form.locator("input[name=name]").fill("高中化学")
    fee_form.locator("input[name=price_yuan]").fill("80.555")
    fee_form.locator("button").click()
    assert "最多两位小数" in inst.locator(".field-error[data-field=price_yuan]").inner_text()
    course = inst.locator("form.course-form")
    course.locator("input[name=name]").fill("初二数学提高班")
    course.locator("input[name=subject]").fill("数学")
    course.locator("input[name=course_price_yuan]").fill("2400")
    course.locator("input[name=class_hours]").fill("30")
    course.locator("select[name=weekday]").select_option("3")
    course.locator("input[name=start]").fill("18:30")
    course.locator("input[name=end]").fill("20:00")
    course.locator("button").click()
    _see(inst, "课程“初二数学提高班”已发布")
    assert "周三 18:30–20:00" in inst.inner_text("main")
    _shoot(inst, "fees")

    # another institution's contract, asked for by its number: refused next to the search field
    inst.click("nav >> text=合同与课消")
    inst.fill("input[name=contract_no]", theirs["contract_no"])
    inst.click("button:has-text('查找')")
    refusal = inst.locator(".field-error[data-field=contract_search]")
    assert "只能查看和办理本机构的业务" in refusal.inner_text()
    _shoot(inst, "contracts_refused")

    # a charge signed by the institution itself: over 60 class hours refused next to the field
    sign = inst.locator("form.sign-form")
    number = f"UI-SELF-{mine['id']}"
    sign.locator("input[name=contract_no]").fill(number)
    sign.locator("input[name=student_name]").fill("李小红")
    sign.locator("input[name=class_hours]").fill("61")
    sign.locator("input[name=ends_on]").fill((date.today() + timedelta(days=60)).isoformat())
    sign.locator("input[name=amount_yuan]").fill("4880")
    sign.locator("button").click()
    assert "不得超过60课时" in inst.locator(".field-error[data-field=class_hours]").inner_text()
    assert inst.locator("form.sign-form input[name=student_name]").input_value() == "李小红"  # kept
    sign = inst.locator("form.sign-form")
    sign.locator("input[name=class_hours]").fill("20")
    sign.locator("input[name=amount_yuan]").fill("1600")
    sign.locator("button").click()
    _see(inst, f"已签订合同 {number}")
    inst.click("nav >> text=合同与课消")
    inst.click(f"text={contract['contract_no']}")
    inst.wait_for_url(re.compile(rf".*/ui/portal/contracts/{contract['id']}$"))
    code = inst.locator(".access-code").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code) and inst.locator(".qr svg").count() == 1
    inst.fill("input[name=hours]", "2")
    inst.click("button:has-text('登记课消')")
    _see(inst, "已登记第1次课（2课时），等待家长确认")
    inst.fill("input[name=hours]", "2")
    inst.click("button:has-text('登记课消')")
    _see(inst, "已登记第2次课（2课时），等待家长确认")
    _shoot(inst, "contract")

    # the parent: a phone, no account, the code typed in lower case
    parent = _new_page(ui, width=PHONE)
    parent.goto(url + "/public/")
    parent.click("text=家长查培训合同")
    parent.fill("input[name=code]", code.lower())
    _shoot(parent, "parent_code")
    parent.click("button:has-text('查看合同')")
    _see(parent, f"{mine['name']}")
    text = parent.inner_text("main")
    assert "2,400.00元" in text and "张小明" in text and "共30课时" in text
    assert theirs["contract_no"] not in text
    lesson1 = parent.locator("[data-lesson='1']")
    lesson1.locator("button:has-text('确认已上课')").click()
    _see(parent, "已确认第1次课")
    assert "家长已确认" in parent.locator("[data-lesson='1']").inner_text()
    lesson2 = parent.locator("[data-lesson='2']")
    lesson2.locator("input[name=reason]").fill("当天孩子请假，未上课")
    lesson2.locator("button:has-text('提出异议')").click()
    _see(parent, "已对第2次课提出异议")
    assert "家长有异议" in parent.locator("[data-lesson='2']").inner_text()
    parent.fill("input[name=amount_yuan]", "5000")
    parent.fill("textarea[name=reason]", "孩子转学")
    parent.click("button:has-text('申请退费')")
    assert "超过可退金额" in parent.locator(".field-error[data-field=amount_yuan]").inner_text()
    parent.fill("input[name=amount_yuan]", "800")
    parent.fill("textarea[name=reason]", "孩子转学")
    parent.click("button:has-text('申请退费')")
    _see(parent, "退费申请已提交")
    assert "待机构答复" in parent.locator("#refund").inner_text()
    _shoot(parent, "parent_contract")

    # the institution answers the refund from its home page
    inst.click("nav >> text=本机构首页")
    box = inst.locator("#refunds")
    assert contract["contract_no"] in box.inner_text() and "800.00元" in box.inner_text()
    _shoot(inst, "home_refund")
    box.locator("button:has-text('提交答复')").click()
    _see(inst, "已答复退费申请：机构同意")
    inst.goto(f"{url}/ui/portal/contracts/{contract['id']}")
    assert "家长有异议" in inst.inner_text("main") and "当天孩子请假" in inst.inner_text("main")

    parent.reload()
    assert "机构同意" in parent.locator("#refund").inner_text()

    # the code slip to print; a leaked code replaced — the parent's old one opens nothing any more
    inst.click("text=打印合同码")
    assert inst.locator(".access-code").inner_text().strip() == code and inst.locator(".qr svg").count() == 1
    _shoot(inst, "code_slip")
    inst.click("button:has-text('重新生成')")
    _see(inst, "已重新生成合同码")
    assert inst.locator(".access-code").inner_text().strip() != code
    parent.reload()
    assert "合同码无效" in parent.inner_text("main")
    parent.context.close()
    inst.context.close()


def test_codes_are_rate_limited_per_client(platform):
    """Ten codes that open nothing from one client, and that client is refused even the right code
    for a while (429 with Retry-After); the JSON API answers like the pages."""
    load_demo_county(admin_client(platform))
    education = as_user(platform, "jiaoti_leader")
    _, contract = _institution_with_contract(education, platform, "限流")
    code = education.get(f"/api/escrow/contracts/{contract['id']}")["access_code"]
    proxy = ClientAddressProxy(platform["url"])  # a client address of this test's own
    try:
        opened = requests.get(f"{proxy.url}/api/public/contracts/{code}", timeout=30)
        assert opened.status_code == 200 and opened.json()["contract_no"] == contract["contract_no"]
        assert "institution_id" not in opened.json()
        for n in range(10):
            miss = requests.get(f"{proxy.url}/api/public/contracts/{n:04d}-0000-0000-0000", timeout=30)
            assert miss.status_code == 404 and "合同码无效" in miss.json()["error"]["message"]
        limited = requests.get(f"{proxy.url}/api/public/contracts/{code}", timeout=30)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert "操作过于频繁" in limited.json()["error"]["message"]
    finally:
        proxy.close()
