"""Attachments of 营转非 / 注销 cases (issue 7): the documents a department decides a step with — the
non-profit school licence, the 民非 registration certificate, the changed or cancelled business
licence, a decision letter. PDF, JPEG or PNG by their magic bytes, ≤ 10 MB, stored once per SHA-256
under var/case_attachments/. A refused file leaves neither a file nor a row.

Who: an official of a department that takes part in the case's process (its steps' departments;
教体局 owns every case), within the case's division. A step named on upload must be one of the
case's steps and, except for 教体局, one of the uploader's own department.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.config import var_dir
from services.common.errors import Forbidden, NotFound, ValidationFailed
from services.common.filestore import store_by_hash
from services.common.identity import Actor, DepartmentKind
from services.common.policy import authorize
from services.common.processes import PROCESS_NAMES, steps_for

from .case_models import Case, CaseAttachment
from .handlers import _who
from .models import audit_trail

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = {  # magic bytes → (content type, name shown, file name extensions)
    b"%PDF-": ("application/pdf", "PDF", (".pdf",)),
    b"\xff\xd8\xff": ("image/jpeg", "JPEG 图片", (".jpg", ".jpeg")),
    b"\x89PNG\r\n\x1a\n": ("image/png", "PNG 图片", (".png",)),
}
KNOWN_EXTENSIONS = {ext: label for _, label, exts in ATTACHMENT_TYPES.values() for ext in exts}


def attachments_dir() -> Path:
    return var_dir() / "case_attachments"


def sniff(content: bytes) -> tuple[str, str, tuple[str, ...]] | None:
    for magic, kind in ATTACHMENT_TYPES.items():
        if content.startswith(magic):
            return kind
    return None


def clean_filename(value: object) -> str | None:
    """The last path segment of the name given, without control characters, at most 200 characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed("文件名（filename）应为文本", field="filename")
    name = PurePosixPath(value.replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[-200:] or None


def check_content(raw: object, filename: str | None) -> tuple[bytes, str]:
    """The decoded file and its content type, or ValidationFailed on field `content`."""
    if raw is None or raw == "":
        raise ValidationFailed("附件文件（content）为空，请选择要上传的文件", field="content")
    if not isinstance(raw, str):
        raise ValidationFailed("附件文件（content）应为 base64 文本", field="content")
    limit_mb = MAX_ATTACHMENT_BYTES >> 20
    if len(raw) > (MAX_ATTACHMENT_BYTES + 2) // 3 * 4 + 4:
        raise ValidationFailed(f"附件文件（content）不能超过 {limit_mb} MB", field="content")
    try:
        content = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("附件文件（content）不是有效的 base64", field="content") from None
    if not content:
        raise ValidationFailed("附件文件（content）为空，请选择要上传的文件", field="content")
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed(f"附件文件（content）不能超过 {limit_mb} MB", field="content")
    kind = sniff(content)
    if kind is None:
        raise ValidationFailed("附件文件（content）仅接受 PDF 文件或 JPEG、PNG 图片（按文件内容判断）",
                               field="content")
    content_type, label, extensions = kind
    ext = PurePosixPath(filename).suffix.lower() if filename else ""
    if ext and ext not in extensions:
        named = KNOWN_EXTENSIONS.get(ext, f"“{ext}”文件")
        raise ValidationFailed(f"附件文件（content）与文件名不符：文件名是{named}（{ext}），内容却是{label}",
                               field="content")
    return content, content_type


def attachment_view(row: CaseAttachment, case: Case) -> dict:
    return {"id": row.id, "case_id": row.case_id, "workflow_id": case.workflow_id, "step_key": row.step_key,
            "step_title": _step_title(case, row.step_key), "filename": row.filename,
            "content_type": row.content_type, "size": row.size, "sha256": row.sha256,
            "department": row.department, "uploaded_by": row.uploaded_by, "uploaded_at": iso_utc(row.uploaded_at)}


def _step_title(case: Case, key: str | None) -> str | None:
    if key is None:
        return None
    return next((s.title for s in steps_for(case.process, case.variant) if s.key == key), key)


def _case_id(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationFailed("办件编号应为整数", field="case_id")
    return value


def _load_case(session: Session, actor: Actor, case_id: object, action: str) -> Case:
    """The case, if the actor's department takes part in its process, within its division."""
    authorize(actor, action)
    case = session.get(Case, _case_id(case_id))
    if case is None:
        raise NotFound(f"办件 {case_id} 不存在", field="case_id")
    authorize(actor, action, case.division_code)
    kind = actor.department_kind.value
    involved = {s.department for s in steps_for(case.process, case.variant)} | {DepartmentKind.education.value}
    if kind not in involved:
        raise Forbidden(f"{actor.department_label}未参与该{PROCESS_NAMES[case.process]}办件，无权查看或上传附件")
    return case


def add_case_attachment(session: Session, actor: Actor, case_id: object, data: object) -> dict:
    """{content_b64, filename?, step_key?}: the step defaults to the case's current step when it is
    the uploader's department's. The same file for the same step of the same case is kept once."""
    case = _load_case(session, actor, case_id, "registry.attach_case_document")
    data = data if isinstance(data, dict) else {}
    filename = clean_filename(data.get("filename"))
    step_key = data.get("step_key")
    steps = {s.key: s for s in steps_for(case.process, case.variant)}
    kind = actor.department_kind.value
    if step_key in (None, ""):
        step_key = case.current_step if case.current_step and case.current_department == kind else None
    elif not isinstance(step_key, str) or step_key not in steps:
        names = "、".join(f"{k}（{s.title}）" for k, s in steps.items())
        raise ValidationFailed(f"该办件没有步骤“{step_key}”，可选：{names}", field="step_key")
    elif steps[step_key].department != kind and actor.department_kind is not DepartmentKind.education:
        raise Forbidden(f"“{steps[step_key].title}”不是{actor.department_label}办理的步骤，不能为其上传附件",
                        field="step_key")
    content, content_type = check_content(data.get("content_b64"), filename)
    digest = hashlib.sha256(content).hexdigest()
    existing = session.scalar(select(CaseAttachment).where(
        CaseAttachment.case_id == case.id, CaseAttachment.sha256 == digest,
        CaseAttachment.step_key.is_(None) if step_key is None else CaseAttachment.step_key == step_key))
    if existing is not None:  # an upload retried after a lost answer
        return attachment_view(existing, case)
    store_by_hash(attachments_dir(), content)
    extension = {t: exts[0] for t, _, exts in ATTACHMENT_TYPES.values()}[content_type]
    row = CaseAttachment(case_id=case.id, step_key=step_key, filename=filename or f"附件{extension}",
                         content_type=content_type, size=len(content), sha256=digest, department=kind,
                         uploaded_by=_who(actor), uploaded_at=utc_now())
    session.add(row)
    session.flush()
    view = attachment_view(row, case)
    audit_trail.append(session, actor, "registry.attach_case_document", "case", case.workflow_id, None,
                       {"attachment": view}, case.division_code, row.uploaded_at)
    session.commit()
    return view


def list_case_attachments(session: Session, actor: Actor, case_id: object) -> dict:
    case = _load_case(session, actor, case_id, "registry.read")
    rows = session.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case.id)
                           .order_by(CaseAttachment.id)).all()
    return {"case_id": case.id, "workflow_id": case.workflow_id, "items": [attachment_view(r, case) for r in rows]}


def get_case_attachment(session: Session, actor: Actor, attachment_id: object) -> dict:
    """The attachment's metadata and `content_b64` (checked against its SHA-256)."""
    if not isinstance(attachment_id, int) or isinstance(attachment_id, bool):
        raise ValidationFailed("附件编号应为整数", field="attachment_id")
    row = session.get(CaseAttachment, attachment_id)
    if row is None:
        raise NotFound(f"附件 {attachment_id} 不存在", field="attachment_id")
    case = _load_case(session, actor, row.case_id, "registry.read")
    try:
        content = (attachments_dir() / row.sha256).read_bytes()
    except FileNotFoundError:
        raise NotFound("附件文件已不在存储中，请联系运维", field="attachment_id") from None
    if hashlib.sha256(content).hexdigest() != row.sha256:
        raise NotFound("附件文件与登记的 SHA-256 不符（已损坏），请联系运维", field="attachment_id")
    return attachment_view(row, case) | {"content_b64": base64.b64encode(content).decode("ascii")}
