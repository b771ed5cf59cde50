"""Case attachments (issue 7): 民政局 and 市场监管局 attach the documents they decide a step with —
on the real bus, the registry alone (the workflow is stood in for by the case's frozen steps)."""
from __future__ import annotations

import base64
import hashlib

import pytest

from services.common.errors import Forbidden, NotFound, ValidationFailed
from services.registry.case_attachments import MAX_ATTACHMENT_BYTES, attachments_dir
from services.registry.service import RegistryService
from shuangjian.codes import make_uscc
from tests.service.support import call

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")


def stored() -> set[str]:
    folder = attachments_dir()
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


@pytest.fixture
def registry(start_services):
    return start_services(RegistryService)["registry"]


@pytest.fixture
def case(registry, token):
    institution = call(registry, "register_institution", token("education"), {
        "name": "测试培训学校701", "uscc": make_uscc(701), "licence_no": "教民701号",
        "licence_issued_on": "2020-03-01", "category": "学科类", "legal_form": "营利性",
        "township_code": "340722100", "address": "枞阳镇1号",
    })
    return call(registry, "apply_for_conversion", token("education", roles=("leader",)), institution["id"])


def test_civil_affairs_attaches_a_pdf_to_a_conversion_case(registry, token, case):
    civil = token("civil_affairs", roles=("leader",), user_id=21)
    case_id = case["case_id"]
    assert case["workflow_id"].endswith(f"-{case_id}")

    added = call(registry, "add_case_attachment", civil, case_id,
                 {"content_b64": b64(PDF), "filename": "C:\\scans\\民非登记证书.pdf",
                  "step_key": "civil_affairs_registration"})
    digest = hashlib.sha256(PDF).hexdigest()
    assert added["sha256"] == digest and added["size"] == len(PDF) and added["content_type"] == "application/pdf"
    assert added["filename"] == "民非登记证书.pdf" and added["step_title"] == "登记为民办非企业单位"
    assert added["department"] == "civil_affairs" and added["workflow_id"] == case["workflow_id"]
    assert (attachments_dir() / digest).read_bytes() == PDF
    # a retried upload of the same file for the same step is kept once
    assert call(registry, "add_case_attachment", civil, case_id,
                {"content_b64": b64(PDF), "filename": "民非登记证书.pdf",
                 "step_key": "civil_affairs_registration"})["id"] == added["id"]

    listed = call(registry, "list_case_attachments", civil, case_id)
    assert [(a["id"], a["sha256"], a["filename"]) for a in listed["items"]] == [(added["id"], digest, "民非登记证书.pdf")]
    # the education bureau (owner of every case) reads it too; the file comes back byte-identical
    download = call(registry, "get_case_attachment", token("education"), added["id"])
    assert base64.b64decode(download["content_b64"]) == PDF and download["sha256"] == digest

    trail = call(registry, "list_audit", token("education"), "case", case["workflow_id"])["items"]
    entries = [e for e in trail if e["action"] == "registry.attach_case_document"]
    assert len(entries) == 1 and entries[0]["after"]["attachment"]["sha256"] == digest


def test_refused_files_and_officials_leave_nothing_stored(registry, token, case):
    civil = token("civil_affairs", roles=("leader",), user_id=21)
    case_id = case["case_id"]
    before = stored()

    def refused(error, actor, data):
        with pytest.raises(error) as info:
            call(registry, "add_case_attachment", actor, case_id, data)
        return info.value

    # a .pdf name with PNG (or any other) content: field `content`, the message says what it is
    wrong = refused(ValidationFailed, civil, {"content_b64": b64(PNG), "filename": "登记证书.pdf"})
    assert wrong.field == "content" and "PNG" in wrong.message and "PDF" in wrong.message
    assert refused(ValidationFailed, civil, {"content_b64": b64(b"MZ\x90\x00 not a document"),
                                             "filename": "登记证书.pdf"}).field == "content"
    empty = refused(ValidationFailed, civil, {"content_b64": "", "filename": "登记证书.pdf"})
    assert empty.field == "content" and "为空" in empty.message
    big = refused(ValidationFailed, civil, {"content_b64": b64(PDF + bytes(MAX_ATTACHMENT_BYTES)),
                                            "filename": "登记证书.pdf"})
    assert big.field == "content" and "10 MB" in big.message
    # a step that is not civil affairs' own, or not the case's
    assert refused(Forbidden, civil, {"content_b64": b64(PDF), "step_key": "education_permit"}).field == "step_key"
    assert refused(ValidationFailed, civil, {"content_b64": b64(PDF), "step_key": "nope"}).field == "step_key"
    # civil affairs of another county; a department not in the process; no such case
    other_county = token("civil_affairs", roles=("leader",), division="340721", user_id=22)
    assert refused(Forbidden, other_county, {"content_b64": b64(PDF)}).field == "division_code"
    refused(Forbidden, token("public_security", roles=("leader",)), {"content_b64": b64(PDF)})
    with pytest.raises(Forbidden):
        call(registry, "list_case_attachments", other_county, case_id)
    with pytest.raises(NotFound):
        call(registry, "add_case_attachment", civil, case_id + 1000, {"content_b64": b64(PDF)})

    assert stored() == before
    assert call(registry, "list_case_attachments", civil, case_id)["items"] == []
    trail = call(registry, "list_audit", token("education"), "case", case["workflow_id"])["items"]
    assert not [e for e in trail if e["action"] == "registry.attach_case_document"]


def test_market_regulation_attaches_to_its_own_step_by_default(registry, token, case, system_token):
    """Without a step named, the attachment belongs to the current step when it is the uploader's."""
    market = token("market_regulation", roles=("clerk",), user_id=31)
    jpeg = b"\xff\xd8\xff\xe0" + b"JFIF" + bytes(64)
    early = call(registry, "add_case_attachment", market, case["case_id"], {"content_b64": b64(jpeg)})
    assert early["step_key"] is None and early["filename"] == "附件.jpg" and early["content_type"] == "image/jpeg"

    record = {"workflow_id": case["workflow_id"], "seq": 2, "status": "in_progress",
              "current_step": "market_regulation_change", "current_department": "market_regulation",
              "entry": {"seq": 2, "step": "civil_affairs_registration", "step_title": "登记为民办非企业单位",
                        "action": "approve", "department": "civil_affairs", "actor": "民政局/张科长",
                        "at": "2026-11-30T09:00:00+08:00"}}
    call(registry, "record_case_progress", system_token, record)
    licence = call(registry, "add_case_attachment", market, case["case_id"],
                   {"content_b64": b64(PDF + b"licence"), "filename": "营业执照.PDF"})
    assert licence["step_key"] == "market_regulation_change" and licence["step_title"] == "变更经营范围或注销公司营业执照"
