"""End to end: the seed county's half-monthly report through `shuangjian report` against the
real processes — JSON, as of an earlier day, and an xlsx that opens with the right figures."""
from __future__ import annotations

import json
import random

import requests

from openpyxl import load_workbook

from services.registry.ledger import HEADERS
from shuangjian.demo import load_demo_county
from tests.e2e.support import admin_client, cli
from tests.e2e.test_ledger_import import row, write_csv

TOWNSHIP = "340722199"  # a township of its own, so other tests' records do not count here
STATUSES = ["停业整顿"] * 5 + ["注销中"] * 2 + ["暂停营业"] * 4 + ["正常营业"] * 7


def test_the_seed_county_half_monthly_report_from_the_command_line(platform, tmp_path):
    admin = admin_client(platform)
    load_demo_county(admin)
    admin.post("/api/divisions", {"code": TOWNSHIP, "name": "报表测试镇"})
    base = random.randrange(10**4)
    rows = [row(base * 100 + n, 乡镇=TOWNSHIP, 类别="学科类", 状态=status,
                状态日期="" if status == "正常营业" else "2021-11-01")
            for n, status in enumerate(STATUSES)]
    imported = cli(platform["env"], "registry", "import", str(write_csv(tmp_path / "seed.csv", rows)), "--no-progress")
    assert imported.returncode == 0, imported.stderr
    # the 非学科类 rows through the API: the committed import says how far the reports are behind it
    batch = admin.post("/api/registry/imports", {"file_name": "非学科类.csv", "headers": list(HEADERS)})
    more = [row(base * 100 + 50 + n, 乡镇=TOWNSHIP, 类别="非学科类") for n in range(8)]
    admin.post(f"/api/registry/imports/{batch['id']}/rows",
               {"rows": [{"row": n + 2, "cells": r} for n, r in enumerate(more)]})
    answer = admin.post(f"/api/registry/imports/{batch['id']}/commit", {})
    assert answer["created"] == 8
    assert answer["read_model"]["marks"]["registry"] > 0 and answer["read_model"]["summary"].startswith("数据")

    def half_monthly(as_of, *wait):
        done = cli(platform["env"], "report", "half-monthly", "--as-of", as_of, "--division", TOWNSHIP, *wait)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    # no polling: --wait holds the report until every change committed before it is in (issue 12)
    report = half_monthly("2021-11-15", "--wait", "60")
    assert report["institutions_total"] == 26
    assert report["read_model"]["caught_up"] and report["read_model"]["pending_events"] == 0
    assert report["read_model"]["last_applied_at"]
    page = requests.get(platform["url"] + "/ui/reports", cookies={"sj_session": admin.token}, timeout=60)
    assert page.status_code == 200 and "数据已是最新" in page.text  # the page says its figures are current
    assert (report["institutions_academic"], report["academic_baseline"], report["academic_operating"]) == (18, 18, 7)
    assert report["reduction_rate"] == 0.6111 and report["as_of"] == "2021-11-15"
    assert report["status_counts"] == {"正常营业": 15, "暂停营业": 4, "停业整顿": 5, "注销中": 2, "已注销": 0}
    assert half_monthly("2021-10-31")["reduction_rate"] == 0.0  # the day before the changes

    target = tmp_path / "半月报.xlsx"
    exported = cli(platform["env"], "report", "half-monthly", "--as-of", "2021-11-15", "--division", TOWNSHIP,
                   "--format", "xlsx", "--output", str(target))
    assert exported.returncode == 0, exported.stderr
    sheet = load_workbook(target)["半月报"]
    assert sheet["A1"].value == "报表测试镇校外培训治理半月报"
    values = {r[2]: r[3] for r in sheet.iter_rows(min_row=4, values_only=True) if r[2]}
    assert (values["学科类机构基数"], values["仍正常营业的学科类机构数"], round(values["压减率"], 4)) == (18, 7, 0.6111)

    bad = cli(platform["env"], "report", "half-monthly", "--as-of", "2021-13-01")
    assert bad.returncode == 2 and "as_of" in bad.stderr
