"""The ledger as a county official meets it (issue 15), end to end: the template from the CLI, filled and
imported with no edits; the county's own file re-imported as unchanged; a duplicate township refused;
and in the browser, the 台账导入 page's preview with the bad cell marked, then the commit."""
from __future__ import annotations

import io
import random
import re
from datetime import datetime

import pytest
from openpyxl import load_workbook

from services.common.ledger_format import canonical_header
from shuangjian.demo import DEMO_PASSWORD, load_demo_county
from tests import ledger_samples as samples
from tests.e2e.browser import ClientAddressProxy, ensure_browser, launch
from tests.e2e.support import admin_client, cli

pytestmark = pytest.mark.e2e
BASE = random.randrange(10**6, 10**8)


@pytest.fixture(scope="module")
def county(platform):
    load_demo_county(admin_client(platform))  # townships 枞阳镇, 浮山镇, 金社乡 … and the education bureau
    return platform


def test_the_template_from_the_cli_filled_and_imported_then_the_county_file_changes_nothing(county, tmp_path):
    path = tmp_path / "模板.xlsx"
    saved = cli(county["env"], "registry", "template", "-o", str(path))
    assert saved.returncode == 0, saved.stderr
    workbook = load_workbook(path)
    sheet = workbook.worksheets[0]
    headers = [c.value for c in sheet[2]]
    assert "金社乡" in [r[0] for r in workbook["乡镇"].iter_rows(min_row=2, values_only=True)]
    records = samples.rows(BASE)
    for n, r in enumerate(records, start=1):
        values = {**r, "发证日期": datetime.fromisoformat(r["发证日期"])}
        sheet.append([n] + [values[canonical_header(h)] for h in headers[1:-1]] + [None])
    workbook.save(path)

    first = cli(county["env"], "registry", "import", str(path))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "新增 4，更新 0，未变 0" in first.stdout
    assert "跳过第3行：填写示例" in first.stderr and "不导入的列：序号、备注" in first.stderr

    own = tmp_path / "枞阳县台账.csv"
    own.write_bytes(samples.county_csv_gbk(records))
    again = cli(county["env"], "registry", "import", str(own))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "新增 0，更新 0，未变 4" in again.stdout and "表头在第3行" in again.stderr


def test_a_township_name_already_used_is_refused_when_added_or_renamed(county):
    refused = cli(county["env"], "division", "add", "340722299", "浮山镇")
    assert refused.returncode == 2
    assert "已有名为“浮山镇”的下级区划（340722106），同一上级下的区划名称不能重复" in refused.stderr
    renamed = cli(county["env"], "division", "rename", "340722201", "浮山 镇")
    assert renamed.returncode == 2 and "已有名为“浮山镇”的下级区划（340722106）" in renamed.stderr


def test_the_import_page_previews_rows_with_the_bad_cell_marked_then_commits(county, tmp_path):
    ensure_browser()
    from playwright.sync_api import sync_playwright

    records = samples.rows(BASE + 100)
    records[1]["发证日期"] = "2021-13-01"  # written 2021.13.1 in the county file
    bad, good = tmp_path / "有误台账.xlsx", tmp_path / "枞阳县台账.xlsx"
    bad.write_bytes(samples.county_xlsx(records))
    records[1]["发证日期"] = "2019-05-01"
    good.write_bytes(samples.county_xlsx(records))
    proxy = ClientAddressProxy(county["url"])
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            page.set_default_timeout(30_000)
            page.goto(proxy.url + "/ui/login")
            page.fill("input[name=username]", "jiaoti_clerk")
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button:has-text('登录')")
            page.wait_for_url(re.compile(r".*/ui/$"))
            page.click("nav >> text=台账导入")
            assert page.locator("a.template-link").get_attribute("href") == "/api/registry/template"

            page.set_input_files("input[name=file]", str(bad))
            page.click("button:has-text('上传并预览')")
            page.wait_for_selector("text=未导入")
            cell = page.locator("tr[data-row='5'] td.cell-error")
            assert cell.count() == 1 and cell.get_attribute("data-column") == "发证日期"
            assert "不是有效日期" in cell.inner_text()
            assert page.locator("button.commit-import").count() == 0  # all or nothing: no commit button
            assert "跳过第1行：表头之上的标题行" in page.inner_text(".import-notes")

            page.set_input_files("input[name=file]", str(good))
            page.click("button:has-text('上传并预览')")
            page.wait_for_selector("text=可以导入：新增 4")
            assert page.locator("td.cell-error").count() == 0
            assert page.locator("table.import-preview tbody tr").count() == 4
            page.click("button.commit-import")
            page.wait_for_selector("text=导入完成")
            assert "新增 4 家" in page.inner_text(".import-summary")
        finally:
            browser.close()
            proxy.close()
    found = admin_client(county).get("/api/institutions", q=records[1]["统一社会信用代码"])["items"]
    assert [i["name"] for i in found] == [records[1]["机构名称"]]
