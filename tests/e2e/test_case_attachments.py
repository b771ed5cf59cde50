"""Case attachments over HTTP (issue 7): 民政局 uploads its registration certificate to a 营转非 case
as the raw body, everyone taking part downloads it byte-identical; a wrong file is a clear 400 and
a department outside the process is refused. Lives in 雨坛乡 (340722200), which no other e2e test uses."""
from __future__ import annotations

import hashlib
import random

import pytest

from shuangjian.client import ApiError
from shuangjian.codes import make_uscc
from shuangjian.demo import load_demo_county
from tests.e2e.support import admin_client, as_user

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


def upload(client, path: str, content: bytes, content_type: str = "application/pdf"):
    return client.http.post(f"{client.url}{path}", data=content, timeout=60,
                            headers={"Authorization": f"Bearer {client.token}", "Content-Type": content_type})


@pytest.fixture(scope="module")
def users(platform):
    load_demo_county(admin_client(platform))
    return {name: as_user(platform, name) for name in ("jiaoti_leader", "minzheng_leader", "dudao")}


def test_civil_affairs_uploads_and_everyone_downloads_it_byte_identical(users):
    education, civil = users["jiaoti_leader"], users["minzheng_leader"]
    serial = random.randrange(10**8, 10**9)
    inst = education.post("/api/institutions", {
        "name": f"雨坛乡附件测试培训学校{serial % 10000:04d}", "uscc": make_uscc(serial),
        "licence_no": f"教民E2E附件{serial % 100000:05d}号", "licence_issued_on": "2021-06-18",
        "category": "学科类", "legal_form": "营利性", "township_code": "340722200", "address": "雨坛乡1号"})
    case = education.post(f"/api/institutions/{inst['id']}/conversion")
    case_id = case["case_id"]
    assert case["workflow_id"] == f"conversion-{inst['id']}-{case_id}"

    path = f"/api/cases/{case_id}/attachments"
    answer = upload(civil, f"{path}?filename=民非登记证书.pdf&step=civil_affairs_registration", PDF)
    assert answer.status_code == 201, answer.text
    added = answer.json()
    assert added["sha256"] == hashlib.sha256(PDF).hexdigest() and added["size"] == len(PDF)
    assert (added["step_key"], added["filename"]) == ("civil_affairs_registration", "民非登记证书.pdf")

    wrong = upload(civil, f"{path}?filename=登记证书.pdf", PNG, "application/pdf")
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "content", wrong.text
    empty = upload(civil, f"{path}?filename=登记证书.pdf", b"")
    assert empty.status_code == 400 and empty.json()["error"]["field"] == "content", empty.text
    outsider = upload(users["dudao"], f"{path}?filename=x.pdf", PDF)
    assert outsider.status_code == 403, outsider.text

    for reader in (civil, education):
        items = reader.get(path)["items"]
        assert [(a["id"], a["sha256"]) for a in items] == [(added["id"], added["sha256"])]
        content, name = reader.download(f"/api/cases/attachments/{added['id']}")
        assert content == PDF and name == "民非登记证书.pdf"
    with pytest.raises(ApiError) as info:
        users["dudao"].download(f"/api/cases/attachments/{added['id']}")
    assert info.value.status == 403
    with pytest.raises(ApiError) as info:
        civil.get("/api/cases/2147483000/attachments")
    assert info.value.status == 404
