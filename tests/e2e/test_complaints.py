"""举报 through the real gateway: the public form without login, the status by receipt number, the
per-IP rate limit (429), and a 互联网+教育督导 complaint received long ago going overdue."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests

from services.common.workdays import SHANGHAI
from shuangjian.client import ApiError
from shuangjian.demo import load_demo_county
from tests.e2e.support import admin_client, as_user


def test_public_complaint_intake_lookup_and_rate_limit(platform):
    url = platform["url"]
    http = requests.Session()  # no login, no token

    bad = http.post(f"{url}/api/public/complaints", json={"content": "", "contact_phone": "13800138000"}, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "content"

    made = http.post(f"{url}/api/public/complaints", json={
        "content": "某培训机构在居民楼内周末开设数学班", "township_code": "340722100",
        "contact_phone": "13800138000"}, timeout=30)
    assert made.status_code == 201, made.text
    receipt = made.json()["receipt_no"]
    assert receipt.startswith("JB") and "13800138000" not in made.text

    status = http.get(f"{url}/api/public/complaints/{receipt}", timeout=30)
    assert status.status_code == 200
    assert status.json()["status"] == "received" and status.json()["reply"] is None
    assert "contact_phone" not in status.json() and "content" not in status.json()
    assert http.get(f"{url}/api/public/complaints/JB20260101AAAAAAAAAAAA", timeout=30).status_code == 404

    for n in range(3):  # 5 submissions per 10 minutes: the bad one above counted too
        assert http.post(f"{url}/api/public/complaints", json={"content": f"举报{n}"}, timeout=30).status_code == 201
    limited = http.post(f"{url}/api/public/complaints", json={"content": "第六次"}, timeout=30)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0 and "频繁" in limited.json()["error"]["message"]

    # officials see it, with the phone masked; the internal desk needs a login
    assert http.get(f"{url}/api/complaints", timeout=30).status_code == 401
    admin = admin_client(platform)
    load_demo_county(admin)
    education = as_user(platform, "jiaoti_leader")
    mine = [c for c in education.get("/api/complaints")["items"] if c["receipt_no"] == receipt]
    assert mine and mine[0]["contact_phone"] == "138****8000"


def test_imported_complaint_goes_overdue(platform):
    admin = admin_client(platform)
    load_demo_county(admin)
    education = as_user(platform, "jiaoti_leader")
    long_ago = (datetime.now(SHANGHAI) - timedelta(days=45)).strftime("%Y-%m-%d %H:%M")
    csv_text = ("线索编号,反映时间,反映内容,涉及机构,所在乡镇,联系电话\n"
                f"E2E-HL-1,{long_ago},暑期违规开展学科类培训,,340722100,13912345678\n")
    response = education.http.post(f"{platform['url']}/api/complaints/imports/file?name=线索.csv",
                                   data=csv_text.encode("gbk"),
                                   headers={"Authorization": f"Bearer {education.token}"}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    receipt = response.json()["receipts"]["E2E-HL-1"]

    overdue = education.get("/api/complaints", overdue="true")["items"]
    assert receipt in [c["receipt_no"] for c in overdue]
    flagged = education.post("/api/complaints/overdue-scan")
    assert receipt in flagged["receipts"]
    assert education.post("/api/complaints/overdue-scan")["flagged"] == 0

    market = as_user(platform, "shichang_leader")
    with pytest.raises(ApiError) as info:
        market.post("/api/complaints/imports/file")
    assert info.value.status in (400, 403)
