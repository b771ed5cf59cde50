"""End to end: `shuangjian registry import` against the real processes."""
from __future__ import annotations

import csv
import io
import random
from datetime import datetime

from openpyxl import Workbook

from services.registry.ledger import HEADERS
from shuangjian.client import ApiError, Client, wait_until
from shuangjian.codes import make_uscc
from shuangjian.demo import load_demo_county
from tests.e2e.support import admin_client, cli

BASE = random.randrange(10**6, 10**8)


def row(n, **overrides):
    values = {"机构名称": f"台账机构{BASE}-{n}", "统一社会信用代码": make_uscc(BASE + n), "办学许可证号": f"教民{n:05d}号",
              "发证日期": "2019-05-01", "类别": "学科类", "法人类型": "营利性", "乡镇": "枞阳镇", "地址": f"渡江路{n}号",
              "状态": "正常营业", "状态日期": "", "全国平台注册": "是"}
    values.update(overrides)
    return values


def write_csv(path, rows, encoding="gbk"):
    headers = list(reversed(HEADERS))  # any column order
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for r in rows:
        writer.writerow([r[h] for h in headers])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def xlsx_bytes(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(list(HEADERS))
    for r in rows:
        ws.append([datetime.fromisoformat(r[h]) if h == "发证日期" else r[h] for h in HEADERS])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def stored(client: Client, n: int) -> list[dict]:
    return client.get("/api/institutions", q=make_uscc(BASE + n))["items"]


def test_import_rejects_a_file_with_a_bad_row_then_stores_the_fixed_file_once(platform, tmp_path):
    admin = admin_client(platform)
    load_demo_county(admin)
    rows = [row(1), row(2, 乡镇="浮山镇", 类别="非学科类"), row(3, 状态="停业整顿", 状态日期="2021-10-31"),
            row(4, 乡镇="340722105"), row(5, 全国平台注册="否")]
    bad = [dict(r) for r in rows]
    bad[2]["统一社会信用代码"] = bad[2]["统一社会信用代码"][:-1] + ("0" if not bad[2]["统一社会信用代码"].endswith("0") else "1")

    refused = cli(platform["env"], "registry", "import", str(write_csv(tmp_path / "台账-有错.csv", bad)))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "第4行  统一社会信用代码  统一社会信用代码校验位错误" in refused.stderr
    assert "未导入任何记录" in refused.stderr
    assert all(stored(admin, n) == [] for n in range(1, 6))

    good = write_csv(tmp_path / "台账.csv", rows)
    first = cli(platform["env"], "registry", "import", str(good))
    assert first.returncode == 0, first.stderr
    assert "新增 5，更新 0，未变 0" in first.stdout
    suspended = admin.get(f"/api/institutions/{stored(admin, 3)[0]['id']}")
    assert [(h["status_name"], h["effective_on"]) for h in suspended["history"]] == [
        ("正常营业", "2019-05-01"), ("停业整顿", "2021-10-31")]
    assert stored(admin, 2)[0]["township_code"] == "340722106"

    again = cli(platform["env"], "registry", "import", str(good))
    assert again.returncode == 0, again.stderr
    assert "新增 0，更新 0，未变 5" in again.stdout

    # the reports see the imported history as of any day
    education_scope = wait_until(lambda: admin.get("/api/reports/institution-counts", as_of="2021-10-31"),
                                 lambda c: c["status_counts"]["停业整顿"] >= 1)
    assert education_scope["status_counts"]["停业整顿"] >= 1
    before = admin.get("/api/reports/institution-counts", as_of="2021-10-30")
    assert before["status_counts"]["停业整顿"] == 0


def test_xlsx_through_the_cli_and_through_the_education_api(platform, tmp_path):
    admin = admin_client(platform)
    load_demo_county(admin)
    path = tmp_path / "台账.xlsx"
    path.write_bytes(xlsx_bytes([row(11), row(12, 乡镇="金社乡")]))
    result = cli(platform["env"], "registry", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert "新增 2" in result.stdout
    assert stored(admin, 12)[0]["township_code"] == "340722201"

    # the education bureau's UI uploads the file itself
    education = Client(platform["url"])
    education.login("jiaoti_clerk", "Shuangjian@2021")
    content = xlsx_bytes([row(13), row(14, 乡镇="不存在镇")])
    response = education.http.post(platform["url"] + "/api/registry/imports/file", params={"name": "ledger.xlsx"},
                                    data=content, headers={"Authorization": f"Bearer {education.token}"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "import_rejected"
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(3, "乡镇")]
    response = education.http.post(platform["url"] + "/api/registry/imports/file", params={"name": "ledger.xlsx"},
                                   data=xlsx_bytes([row(13)]), headers={"Authorization": f"Bearer {education.token}"})
    assert response.status_code == 200 and response.json()["created"] == 1

    # status changes through the JSON API; a refused one names both statuses
    iid = stored(admin, 13)[0]["id"]
    changed = education.post(f"/api/institutions/{iid}/status", {"status": "暂停营业", "reason": "机构申请"})
    assert changed["status_name"] == "暂停营业"
    try:
        education.post(f"/api/institutions/{iid}/status", {"status": "已注销", "reason": "x"})
        raise AssertionError("not refused")
    except ApiError as exc:
        assert exc.status == 409 and "不能从“暂停营业”变为“已注销”" in exc.error["message"]
    assert education.get(f"/api/institutions/{iid}/status", on="2019-04-30")["status"] is None
