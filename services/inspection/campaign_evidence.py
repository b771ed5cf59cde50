"""Evidence of an inspection record: JPEG, PNG or PDF files stored once by sha256 under var/evidence/."""
from __future__ import annotations

import base64
import binascii

from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.config import var_dir
from services.common.divisions import is_within
from services.common.filestore import store_by_hash
from services.common.errors import NotFound, ValidationFailed
from services.common.identity import Actor
from services.common.policy import authorize

from . import campaign_common as common
from . import campaign_rules as rules
from .campaign_models import EvidenceFile, InspectionRecord
from .models import audit_trail


def evidence_dir():
    return var_dir() / "evidence"


def evidence_view(row: EvidenceFile) -> dict:
    return {"id": row.id, "record_id": row.record_id, "filename": row.filename, "sha256": row.sha256,
            "size": row.size, "content_type": row.content_type, "uploaded_by": row.uploaded_by,
            "uploaded_at": iso_utc(row.uploaded_at)}


def add_evidence(session: Session, actor: Actor, record_id: object, data: object) -> dict:
    """{content_b64, filename?}: JPEG, PNG or PDF by magic bytes, ≤ 5 MB; stored once by sha256
    under var/evidence/. A refused file leaves neither a file nor a row."""
    authorize(actor, "inspection.record")
    row = session.get(InspectionRecord, common.id(record_id, "record_id"))
    if row is None or not is_within(row.township_code, actor.division_code):
        raise NotFound("未找到此检查记录", field="record_id")
    authorize(actor, "inspection.record", row.township_code)
    data = common.body(data)
    raw = data.get("content_b64")
    if not isinstance(raw, str) or not raw:
        raise ValidationFailed("缺少文件内容（base64）", field="content_b64")
    if len(raw) > (rules.MAX_EVIDENCE_BYTES + 2) // 3 * 4 + 4:
        raise ValidationFailed("文件不能超过5MB", field="content_b64")
    try:
        content = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("文件内容不是有效的 base64", field="content_b64") from None
    if not content:
        raise ValidationFailed("文件为空", field="content_b64")
    if len(content) > rules.MAX_EVIDENCE_BYTES:
        raise ValidationFailed("文件不能超过5MB", field="content_b64")
    content_type = rules.sniff_evidence(content)
    if content_type is None:
        raise ValidationFailed("仅接受 JPEG、PNG 图片或 PDF 文件", field="content_b64")
    filename = str(data.get("filename") or "").strip()[:200] or None
    digest = store_by_hash(evidence_dir(), content)
    evidence = EvidenceFile(record_id=row.id, filename=filename, sha256=digest, size=len(content),
                            content_type=content_type, uploaded_by=common.who(actor), uploaded_at=utc_now())
    session.add(evidence)
    session.flush()
    audit_trail.append(session, actor, "inspection.add_evidence", "inspection_record", row.id, None,
                       evidence_view(evidence), row.township_code, evidence.uploaded_at)
    session.commit()
    return evidence_view(evidence)
