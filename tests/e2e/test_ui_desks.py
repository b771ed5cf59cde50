"""Every department's desk acts by clicks (Playwright on Debian's Chromium): at the 资金监管 desk an
account opened, a fee item published, a charge within the caps signed and a 61-hour charge refused at
its field, a refund answered; a 双随机 campaign drawn and an inspection recorded at phone width with a
photo; a 督导 visit recorded; a county setting changed and a bad one refused at its field; each
department's home page with its figures; another department's step refused on the page.

Every page visited is screenshotted at desktop and phone width into var/ui-screenshots/desk-*.png, and
checked for rendered CJK text, no raw ids (#12) and no English status codes (open, custody, …)."""
from __future__ import annotations

import random
import re
import time
from datetime import date, timedelta

import pytest

from services.common.config import project_root
from shuangjian.client import ApiError
from shuangjian.codes import make_uscc
from shuangjian.demo import DEMO_PASSWORD
from tests.e2e.support import admin_client, as_user
from tests.e2e.test_ui import _login, _new_page, _register_institution, ui  # noqa: F401 (the fixture)

pytestmark = pytest.mark.e2e
SHOTS = project_root() / "var" / "ui-screenshots"
PHOTO = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360"
                      "f8cfc0f01f0005000201e221bc330000000049454e44ae426082")  # a 1×1 PNG
ENGLISH_CODE = re.compile(r"(?<![A-Za-z0-9/.:@-])[a-z][a-z_]{2,}(?![A-Za-z0-9])")


def _wait(fetch, ok, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = fetch()
            if ok(value):
                return value
        except ApiError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("等待超时")
        time.sleep(0.3)


def _shoot(page, name: str) -> None:
    """The page as officials see it, at desktop and phone width: Chinese rendered, no ids or codes."""
    text = page.inner_text("body")
    assert re.search(r"[\u4e00-\u9fff]{4}", text), f"{name}: 没有中文"
    assert not re.search(r"#\d", text), f"{name}: 页面显示编号：{re.findall(r'.{0,12}#[0-9]+', text)}"
    codes = ENGLISH_CODE.findall(text)
    assert not codes, f"{name}: 页面显示英文代码 {codes[:5]}"
    assert page.evaluate("document.fonts.check('16px \"WenQuanYi Micro Hei\"', '资金监管')")
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        path = SHOTS / f"desk-{name}-{'phone' if width < 700 else 'desktop'}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5000
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name}: 页面宽 {overflow}px，超出 {width}px 屏幕"
    page.set_viewport_size(size)


def _user(platform, username: str, kind: str, division: str = "340722") -> str:
    """A demo user of a department the demo county has no user for (公安, 乡镇), created once."""
    admin = admin_client(platform)
    department = next(d for d in admin.get("/api/departments")["items"]
                      if d["kind"] == kind and d["division_code"] == division)
    try:
        admin.post("/api/users", {"username": username, "password": DEMO_PASSWORD, "display_name": "刘警官"
                                  if kind == "public_security" else "乡镇干部", "department_id": department["id"],
                                  "roles": ["leader", "clerk"]})
    except ApiError as exc:
        assert exc.status == 409
    return username


def _register(education, label: str, township: str) -> dict:
    serial = random.randrange(10**8, 10**9)
    return education.post("/api/institutions", {
        "name": f"枞阳县{label}培训学校（界面测试{serial % 10000:04d}）", "uscc": make_uscc(serial),
        "licence_no": f"教民134072271{serial % 100000:05d}号", "licence_issued_on": "2021-06-18",
        "category": "学科类", "legal_form": "营利性", "township_code": township, "address": "白柳镇老街8号"})


def test_escrow_desk_account_fee_item_charge_and_refund_by_clicks(ui):
    platform = ui["platform"]
    education = as_user(platform, "jiaoti_leader")
    inst = _register_institution(platform, "资金监管")
    _wait(lambda: education.get(f"/api/escrow/institutions/{inst['id']}/position"), lambda p: p["name"])
    page = _new_page(ui)
    _login(ui, page, "jiaoti_leader")
    page.click("nav >> text=资金监管")

    account_no = f"6228{random.randrange(10**11, 10**12)}"
    page.select_option("#open-account select[name=institution_id]", str(inst["id"]))
    page.select_option("#open-account select[name=mode]", "custody")
    page.fill("#open-account input[name=bank_name]", "中国农业银行枞阳县支行")
    page.fill("#open-account input[name=bank_code]", "ABC")
    page.fill("#open-account input[name=account_no]", account_no)
    page.click("#open-account button:has-text('开设账户')")  # no custody agreement: refused at its field
    assert "托管协议" in page.inner_text("#open-account .field-error[data-field=custody_agreement_no]")
    page.fill("#open-account input[name=custody_agreement_no]", f"枞教托管〔2026〕{inst['id']}号")
    page.click("#open-account button:has-text('开设账户')")
    page.wait_for_selector("text=已开设监管账户")
    assert inst["name"] in page.inner_text("h1")

    page.fill("#fee-item input[name=name]", "初中数学（班课）")
    page.fill("#fee-item input[name=price_per_hour]", "80")
    page.click("#fee-item button:has-text('新增收费项目')")
    page.wait_for_selector("text=收费项目“初中数学（班课）”已公示")
    assert "80.00元" in page.inner_text("table.fee-items")

    today = date.today()
    charge = {"contract_no": f"ZY{today:%Y%m%d}-{inst['id']}-1", "student_name": "张小明", "class_hours": "40",
              "starts_on": today.isoformat(), "ends_on": (today + timedelta(days=60)).isoformat(), "amount": "3200"}
    for name, value in charge.items():
        page.fill(f"#charge input[name={name}]", value)
    page.select_option("#charge select[name=fee_item_id]", label="初中数学（班课）（80.00元/课时）")
    page.select_option("#charge select[name=channel]", "wechat")
    page.click("#charge button:has-text('签约收费')")
    page.wait_for_selector("text=已签约收费")
    assert "3,200.00元" in page.inner_text("main") and "示范文本" in page.inner_text("main")
    signed = education.get("/api/escrow/contracts", institution=inst["id"])["items"][0]
    education.post(f"/api/escrow/contracts/{signed['id']}/lessons", {"lesson_no": 1, "hours": 2})  # the institution's
    page.reload()
    lesson = page.inner_text("main")
    assert "第1次" in lesson and "160.00元" in lesson and "视为确认" in lesson and "剩余" in lesson
    _shoot(page, "escrow-contract")
    page.click("a:has-text('打印合同码及二维码')")  # the bureau hands the parent the code slip too
    page.wait_for_selector(".qr svg")
    assert signed["contract_no"] in page.inner_text("main")
    page.go_back()

    page.click(f"a:has-text('{inst['name']}')")
    over = {**charge, "contract_no": f"ZY{today:%Y%m%d}-{inst['id']}-2", "student_name": "李小红", "class_hours": "61",
            "amount": "4880"}
    for name, value in over.items():
        page.fill(f"#charge input[name={name}]", value)
    page.select_option("#charge select[name=fee_item_id]", label="初中数学（班课）（80.00元/课时）")
    with page.expect_response(lambda r: r.request.method == "POST" and "/contracts" in r.url) as answer:
        page.click("#charge button:has-text('签约收费')")
    assert answer.value.status == 400
    refusal = page.locator("#charge .field-error[data-field=class_hours]")
    assert refusal.is_visible() and "不得超过60课时" in refusal.inner_text()
    assert page.input_value("#charge input[name=student_name]") == "李小红"  # the form keeps what was typed
    assert education.get("/api/escrow/contracts", institution=inst["id"])["total"] == 1  # nothing stored
    _shoot(page, "escrow-institution")

    contract = education.get("/api/escrow/contracts", institution=inst["id"])["items"][0]
    education.post(f"/api/escrow/contracts/{contract['id']}/refunds", {"amount_fen": 80000, "reason": "孩子转学"})
    page.click("nav >> text=资金监管")
    row = page.locator("table.refunds tr", has_text=contract["contract_no"])
    assert "800.00元" in row.inner_text() and "剩余" in row.inner_text()  # the answer-by time, Beijing
    row.locator("button:has-text('代机构登记答复')").click()
    page.wait_for_selector("text=退费申请已答复：机构同意")
    page.locator("table.refunds tr", has_text=contract["contract_no"]).locator("button:has-text('登记已原路退回')").click()
    page.wait_for_selector("text=已登记退费原路退回：800.00元")
    accounts = page.locator("table.accounts tr", has_text=inst["name"])
    assert "银行托管" in accounts.inner_text() and "0.00元" in accounts.inner_text()
    _shoot(page, "escrow")
    page.click("button:has-text('立即扫描预警')")
    page.wait_for_selector("text=已扫描")

    accounts.locator("a").click()  # the account changed, and closing it refused while lessons are owed
    page.click("summary:has-text('变更或销户')")
    page.fill("details.account-actions form[action$=changes] input[name=bank_name]", "中国农业银行枞阳县营业部")
    page.fill("details.account-actions form[action$=changes] input[name=reason]", "开户行机构调整")
    page.click("button:has-text('保存变更')")
    page.wait_for_selector(f"text=监管账户 {account_no} 已变更")
    page.click("summary:has-text('变更或销户')")
    page.fill("details.account-actions form[action$=closure] input[name=reason]", "机构申请")
    page.click("details.account-actions button:has-text('销户')")
    assert "尚有未消课预收费" in page.inner_text(".flash.error")
    assert education.get("/api/escrow/accounts", institution=inst["id"])["items"][0]["status"] == "open"
    page.context.close()


def test_random_campaign_drawn_and_inspection_recorded_at_phone_width(ui):
    platform = ui["platform"]
    education = as_user(platform, "jiaoti_leader")
    township = "340722113"  # 白柳镇
    registered = [_register(education, f"白柳{n}", township) for n in range(2)]
    _wait(lambda: education.get("/api/inspection/targets")["items"],
          lambda items: {i["id"] for i in registered} <= {t["institution_id"] for t in items})
    page = _new_page(ui)
    _login(ui, page, "jiaoti_leader")
    page.click("nav >> text=检查执法")
    name = f"白柳镇双随机抽查{random.randrange(1000, 9999)}"
    page.fill("#campaign input[name=name]", name)
    page.select_option("#campaign select[name=kind]", "random")
    page.click("#campaign button:has-text('创建检查计划')")  # no township chosen: refused at the field
    assert "至少选择一个乡镇" in page.inner_text("#campaign .field-error[data-field=townships]")
    page.check(f"#campaign input[name=townships][value='{township}']")
    for grade in "ABCD":  # every institution of the township drawn, whatever its risk grade
        page.fill(f"#campaign input[name=rate_{grade}]", "100")
    page.select_option("#campaign select[name=team_kind_1]", "public_security")
    page.fill("#campaign input[name=team_name_1]", "刘警官")
    page.click("#campaign button:has-text('创建检查计划')")
    page.wait_for_selector("text=已抽取")
    campaign_id = int(re.search(r"/ui/inspection/campaigns/(\d+)", page.url).group(1))
    assert "双随机抽查" in page.inner_text(".campaign-kind") and "复核一致" in page.inner_text(".seed")
    drawn = page.inner_text("table.scope")
    assert all(i["name"] in drawn for i in registered)
    _shoot(page, "campaign")
    page.click("nav >> text=检查执法")
    _shoot(page, "inspection")
    page.context.close()

    phone = _new_page(ui, width=390)
    _login(ui, phone, "jiaoti_leader")
    phone.click("button.menu-toggle")
    phone.click("nav >> text=检查执法")
    phone.click(f"table.campaigns a:has-text('{name}')")
    target = registered[0]
    phone.locator("table.scope tr", has_text=target["name"]).locator("a:has-text('去检查')").click()
    assert phone.locator("select[name=institution_id]").input_value() == str(target["id"])
    assert phone.locator("input[name=team][value='public_security|刘警官']").is_checked()  # the joint team goes along
    phone.check("input[name=item_fire_safety][value=fail]")
    phone.select_option("select[name=outcome]", "rectify")
    phone.click("button:has-text('保存检查记录')")  # a failed item needs its note: refused at that item
    assert "须填写情况说明" in phone.inner_text(".field-error[data-field=item_fire_safety]")
    phone.fill("input[name=notes_fire_safety]", "灭火器过期，安全出口堵塞")
    _shoot(phone, "checklist")
    phone.click("button:has-text('保存检查记录')")
    phone.wait_for_selector("text=检查记录已保存")
    phone.set_input_files("input[name=photo]", files=[{"name": "现场照片.png", "mimeType": "image/png", "buffer": PHOTO}])
    phone.click("button:has-text('上传')")
    phone.wait_for_selector("ul.evidence li:has-text('现场照片.png')")
    assert "责令整改" in phone.inner_text("main") and "王科长、刘警官" in phone.inner_text("main")
    _shoot(phone, "record")
    phone.click("a:has-text('查看整改通知')")  # the order it issued: deadline in Beijing time, then re-inspected
    assert "责令整改" in phone.inner_text("h1") and "整改中" in phone.inner_text("main")
    _shoot(phone, "order")
    phone.fill("textarea[name=notes]", "已更换灭火器，疏通安全出口")
    phone.click("button:has-text('记录复查结果')")
    phone.wait_for_selector("text=复查结果已记录")
    assert education.get(f"/api/inspection/campaigns/{campaign_id}/coverage")["visited"] == 1
    phone.context.close()

    police = _user(platform, "gongan_ui", "public_security")  # a joint-team member sees the campaign
    page = _new_page(ui)
    _login(ui, page, police)
    figure = page.locator(".home-figures li", has_text="本部门参加的检查计划")
    assert int(figure.locator(".figure").inner_text()) >= 1
    _shoot(page, "home-police")
    page.click("nav >> text=检查执法")
    assert "本部门参加" in page.locator("table.campaigns tr", has_text=name).inner_text()
    assert page.locator("#campaign").count() == 0  # campaigns are the education bureau's to create
    page.context.close()


def test_supervision_visit_and_county_settings_by_clicks(ui):
    platform = ui["platform"]
    dudao = as_user(platform, "dudao")
    code = f"21340{random.randrange(10**5):05d}"
    name, zone = f"白柳镇中心小学{code[-3:]}", f"白柳督学责任区{code[-3:]}"
    page = _new_page(ui)
    _login(ui, page, "dudao")
    page.click("nav >> text=督导")
    page.click("summary:has-text('登记学校')")
    page.fill("#school input[name=code]", code)
    page.fill("#school input[name=name]", name)
    page.select_option("#school select[name=township_code]", "340722113")
    page.fill("#school input[name=zone]", zone)
    page.click("#school button:has-text('登记学校')")  # no grade ticked: refused at the grades
    assert "年级" in page.inner_text("#school .field-error[data-field=grades]")
    for grade in range(1, 7):
        page.check(f"#school input[name=grades][value='{grade}']")
    page.click("#school button:has-text('登记学校')")
    page.wait_for_selector(f"text=已登记学校：{name}")
    school = _wait(lambda: dudao.get("/api/supervision/schools")["items"],
                   lambda items: any(s["name"] == name for s in items))
    school = {"id": next(s["school_id"] for s in school if s["name"] == name), "name": name}
    page.reload()
    page.fill("#zone input[name=name]", zone)
    page.fill("#zone input[name=inspector_name]", "汪督学")
    page.click("#zone button:has-text('设置责任督学')")
    page.wait_for_selector(f"text=已设置{zone}的责任督学：汪督学")
    page.select_option("#visit select[name=school_id]", str(school["id"]))
    page.select_option("#visit select[name=method]", "campus_patrol")
    page.fill("#visit textarea[name=findings]", "作业公示齐全，课后服务按时开展")
    page.click("#visit button:has-text('保存督导记录')")
    page.wait_for_selector(f"text=已记录督导：{school['name']}")  # by the zone's 督学
    assert school["name"] in page.inner_text("table.visits") and "汪督学" in page.inner_text("table.visits")
    page.select_option("#homework select[name=school_id]", str(school["id"]))
    page.fill("#homework input[name=grade]", "4")
    page.fill("#homework input[name=class_name]", "四(1)班")
    page.fill("#homework input[name=subject_0]", "数学")
    page.fill("#homework input[name=minutes_0]", "70")
    page.click("#homework button:has-text('登记作业公示')")
    page.wait_for_selector("text=书面作业 70 分钟")
    page.select_option("#homework-check select[name=school_id]", str(school["id"]))
    page.click("#homework-check button:has-text('抽查')")
    summary = page.inner_text(".check-summary")  # grade 4 may have 60 minutes a day: 70 is over
    assert "1 所学校" in summary and "超时 1 个班" in summary
    page.select_option("#after-school select[name=school_id]", str(school["id"]))
    page.check("#after-school input[name=first_filing]")
    page.fill("#after-school input[name=participating]", "420")
    page.fill("#after-school input[name=enrolled]", "400")  # more pupils than enrolled: refused at the field
    page.click("#after-school button:has-text('保存')")
    assert "不能超过总数" in page.inner_text("#after-school .field-error[data-field=participating]")
    page.fill("#after-school input[name=participating]", "360")
    page.click("#after-school button:has-text('保存')")
    page.wait_for_selector(f"text=已登记课后服务：{school['name']}")
    _shoot(page, "supervision")
    page.context.close()

    education = as_user(platform, "jiaoti_leader")
    before = education.get("/api/settings/county")
    escrow_before = education.get("/api/escrow/settings")
    page = _new_page(ui)
    try:
        _login(ui, page, "jiaoti_leader")
        page.click("nav >> text=设置")
        page.fill("#escrow input[name=max_class_hours]", "61")  # the county may tighten, never loosen
        page.click("#escrow button:has-text('保存')")
        assert "不得超过60课时" in page.inner_text("#escrow .field-error[data-field=max_class_hours]")
        deadline = f"{date.today().year + 1}-06-30"
        page.fill("#county input[name=conversion_deadline]", deadline)
        page.click("#county button:has-text('保存')")
        page.wait_for_selector("text=已保存营转非截止日期")
        assert education.get("/api/settings/county")["conversion_deadline"] == deadline
        page.fill("input[name=vac_name_0]", "寒假")
        page.fill("input[name=vac_start_0]", f"{date.today().year + 1}-02-10")
        page.fill("input[name=vac_end_0]", f"{date.today().year + 1}-02-01")
        page.click("#vacations button:has-text('保存寒暑假')")
        assert "不能早于开始日期" in page.inner_text("#vacations .field-error[data-field=vac_end_0]")
        _shoot(page, "settings")
    finally:
        page.context.close()
        education.request("PUT", "/api/settings/county", {k: before[k] for k in (
            "conversion_deadline", "conversion_variant", "school_vacations", "reduction_baseline_date")})
        assert education.get("/api/escrow/settings")["max_class_hours"] == escrow_before["max_class_hours"]


def test_home_figures_and_another_departments_step_refused_on_the_page(ui):
    platform = ui["platform"]
    education = as_user(platform, "jiaoti_leader")
    inst = _register_institution(platform, "越权办理")
    education.post(f"/api/institutions/{inst['id']}/conversion")  # its first step is the education bureau's
    page = _new_page(ui)
    _login(ui, page, "jiaoti_leader")
    figures = page.inner_text(".home-figures")
    assert "学科类机构压减率" in figures and "基数" in figures and "待报送报表" in figures
    assert "未处置资金预警" in figures and "超期举报" in figures
    _shoot(page, "home-education")
    page.context.close()

    township = _user(platform, "xiangzhen_ui", "township", "340722100")
    for username in ("minzheng_leader", "shichang_leader", "dudao", "admin", township):
        page = _new_page(ui)
        _login(ui, page, username)
        assert page.locator(".home-figures li").count() >= 2
        _shoot(page, f"home-{username if username != township else 'township'}")
        if username == "minzheng_leader":  # by clicks to the case, whose step is education's: refused
            page.click("nav >> text=机构名录")
            page.fill("input[name=q]", inst["name"])
            page.click("button:has-text('查询')")
            page.click(f"a:has-text('{inst['name']}')")
            deadline = time.monotonic() + 30
            while not page.locator("a:has-text('查看办件')").count() and time.monotonic() < deadline:
                time.sleep(0.5)
                page.reload()
            with page.expect_response(lambda r: "/ui/cases/" in r.url) as answer:
                page.click("a:has-text('查看办件')")
            assert answer.value.status == 403
            assert "教体局办理" in page.inner_text("main") and "无权" in page.inner_text("main")
            _shoot(page, "refused-step")
        page.context.close()
