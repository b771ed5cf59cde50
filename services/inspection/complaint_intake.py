"""Complaint (举报) intake: the public form and its receipt status, and the 互联网+教育督导 CSV import.

Every command commits first and announces afterwards (events carry no content and no phone)."""
from __future__ import annotations

import base64
import csv
import io
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import county_of, is_within, validate_code
from services.common.errors import DomainError, NotFound, ValidationFailed
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.textfiles import decode_office_text

from . import complaint_common as common
from . import complaint_rules as rules
from .complaint_models import Complaint
from .models import InspectionTarget, audit_trail

# the 互联网+教育督导 export: header -> field (any column order; extra columns are ignored)
CSV_COLUMNS = {"线索编号": "channel_ref", "反映时间": "received_at", "反映内容": "content",
               "涉及机构": "institution", "所在乡镇": "township", "联系电话": "contact_phone"}
CSV_REQUIRED = ("线索编号", "反映时间", "反映内容")
MAX_CSV_ROWS = 5000


def public_view(row: Complaint) -> dict:
    """What the person who complained sees with the receipt: status and the official reply only."""
    return {"receipt_no": row.receipt_no, "status": row.status,
            "status_name": rules.STATUS_NAMES.get(row.status, row.status),
            "received_at": iso_utc(row.received_at), "reply": row.reply, "replied_at": iso_utc(row.replied_at),
            "closed_at": iso_utc(row.closed_at)}


def _resolve_institution(session: Session, value: object, field: str) -> tuple[int | None, str | None]:
    """An id or a name: linked when inspection knows it (its roster), else kept as the name given."""
    if value in (None, ""):
        return None, None
    if isinstance(value, int) and not isinstance(value, bool):
        target = session.get(InspectionTarget, value)
        if target is None:
            raise ValidationFailed(f"未找到编号为{value}的机构", field=field)
        return target.institution_id, target.name
    name = str(value).strip()
    if len(name) > 100:
        raise ValidationFailed("机构名称不能超过100字", field=field)
    if name.isdigit():
        return _resolve_institution(session, int(name), field)
    target = session.scalar(select(InspectionTarget).where(InspectionTarget.name == name).limit(1))
    return (target.institution_id, target.name) if target else (None, name or None)


def _division(value: object, county_code: str, field: str, townships: dict | None = None) -> str:
    if value in (None, ""):
        return county_code
    text = str(value).strip()
    if townships and text in townships:
        text = townships[text]
    code = validate_code(text, field=field)
    if len(code) != 9 or not is_within(code, county_code):
        raise ValidationFailed(f"应为本县（{county_code}）的9位乡镇代码", field=field)
    return code


def _new_complaint(session: Session, *, channel: str, channel_ref: str | None, division_code: str,
                   institution: tuple[int | None, str | None], content: str, phone: str | None,
                   received_at: datetime, actor: Actor) -> Complaint:
    deadline = rules.deadline_for(received_at, common.settings(session, division_code), None)
    row = Complaint(receipt_no=rules.make_receipt_no(received_at), channel=channel, channel_ref=channel_ref,
                    division_code=division_code, institution_id=institution[0], institution_name=institution[1],
                    content=content, contact_phone=phone, status="received", verified=False,
                    received_at=received_at, deadline_at=deadline, history=[])
    common.step(row, "received", actor, utc_now(), channel=channel)
    session.add(row)
    return row


def submit_public(session: Session, dispatch: common.Dispatch, actor: Actor, data: object) -> dict:
    """The public form (no login): the gateway calls as the platform (system) for the county it serves."""
    authorize(actor, "inspection.complaint_intake")
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    content = rules.validate_content(data.get("content"))
    phone = rules.validate_phone(data.get("contact_phone"))
    county = county_of(actor.division_code) or actor.division_code
    division = _division(data.get("township_code"), county, "township_code")
    subject = data.get("institution_id") if data.get("institution_id") not in (None, "") else data.get("institution_name")
    institution = _resolve_institution(session, subject, "institution_id" if data.get("institution_id") else "institution_name")
    row = _new_complaint(session, channel="public", channel_ref=None, division_code=division,
                         institution=institution, content=content, phone=phone, received_at=utc_now(), actor=actor)
    session.flush()
    audit_trail.append(session, actor, "inspection.submit_public_complaint", "complaint", row.id, None,
                       common.view(row), row.division_code, row.received_at)
    common.announce(dispatch, "complaint_received", row, actor)
    session.commit()
    common.log.info("complaint_received", receipt_no=row.receipt_no, channel="public", contact=rules.mask_phone(phone))
    return {"receipt_no": row.receipt_no, "status": row.status,
            "status_name": rules.STATUS_NAMES[row.status], "received_at": iso_utc(row.received_at)}


def public_status(session: Session, actor: Actor, receipt_no: object) -> dict:
    authorize(actor, "inspection.complaint_intake")
    if not rules.is_receipt_no(receipt_no):
        raise NotFound("未找到此受理编号", field="receipt_no")
    row = session.scalar(select(Complaint).where(Complaint.receipt_no == receipt_no))
    if row is None:
        raise NotFound("未找到此受理编号", field="receipt_no")
    return public_view(row)


def import_csv(session: Session, dispatch: common.Dispatch, actor: Actor, content_b64: object,
               townships: list | None = None) -> dict:
    """互联网+教育督导 export: all rows or none; a clue number already imported is left unchanged."""
    authorize(actor, "inspection.complaint_import")
    try:
        text = decode_office_text(base64.b64decode(str(content_b64 or ""), validate=True))
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("文件不是 UTF-8 或 GBK 编码的 CSV", field="file") from None
    directory = {t["name"]: t["code"] for t in townships or []}
    county = county_of(actor.division_code) or actor.division_code
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    errors: list[dict] = []
    missing = [name for name in CSV_REQUIRED if name not in header]
    if missing:
        errors = [{"row": 1, "column": name, "reason": "缺少此列"} for name in missing]
        return _rejected(errors)
    index = {name: header.index(name) for name in CSV_COLUMNS if name in header}
    parsed, seen = [], {}
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(parsed) + len(errors) >= MAX_CSV_ROWS:
            errors.append({"row": number, "column": None, "reason": f"一次最多导入{MAX_CSV_ROWS}行"})
            break
        cell = {name: (cells[i].strip() if i < len(cells) else "") for name, i in index.items()}
        row_errors = []

        def check(column, fn):
            try:
                return fn()
            except DomainError as exc:
                row_errors.append({"row": number, "column": column, "reason": exc.message})
                return None

        ref = check("线索编号", lambda: rules.validate_content(cell["线索编号"], "线索编号", 64))
        if ref and ref in seen:
            row_errors.append({"row": number, "column": "线索编号", "reason": f"与第{seen[ref]}行重复"})
        elif ref:
            seen[ref] = number
        received = check("反映时间", lambda: rules.parse_received_at(cell["反映时间"]))
        content = check("反映内容", lambda: rules.validate_content(cell["反映内容"], "反映内容"))
        division = check("所在乡镇", lambda: _division(cell.get("所在乡镇"), county, "所在乡镇", directory))
        phone = check("联系电话", lambda: rules.validate_phone(cell.get("联系电话"), "联系电话"))
        institution = check("涉及机构", lambda: _resolve_institution(session, cell.get("涉及机构") or None, "涉及机构"))
        if received and received > utc_now():
            row_errors.append({"row": number, "column": "反映时间", "reason": "不能晚于当前时间"})
        if row_errors:
            errors.extend(row_errors)
            continue
        parsed.append((ref, received, content, division, phone, institution))
    if errors:
        return _rejected(errors)
    if not parsed:
        return _rejected([{"row": 2, "column": None, "reason": "文件没有数据行"}])
    existing = set(session.scalars(select(Complaint.channel_ref).where(
        Complaint.channel == "hlw_edu_supervision", Complaint.channel_ref.in_([p[0] for p in parsed]))))
    created = []
    for ref, received, content, division, phone, institution in parsed:
        if ref in existing:
            continue
        created.append(_new_complaint(session, channel="hlw_edu_supervision", channel_ref=ref,
                                      division_code=division, institution=institution, content=content,
                                      phone=phone, received_at=received, actor=actor))
    try:
        session.flush()
        if created:  # one entry for the file: the receipts it created
            audit_trail.append(session, actor, "inspection.import_complaints", "complaint_import",
                               created[0].receipt_no, None,
                               {"created": len(created), "unchanged": len(parsed) - len(created),
                                "complaint_ids": [r.id for r in created],
                                "receipts": {r.channel_ref: r.receipt_no for r in created}})
        for row in created:
            common.announce(dispatch, "complaint_received", row, actor)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ValidationFailed("同一批线索正在被另一导入处理，请稍后重试", field="file") from None
    common.log.info("complaints_imported", created=len(created), unchanged=len(parsed) - len(created))
    return {"state": "committed", "created": len(created), "unchanged": len(parsed) - len(created),
            "receipts": {row.channel_ref: row.receipt_no for row in created}}


def _rejected(errors: list[dict]) -> dict:
    return {"state": "rejected", "message": f"文件有{len(errors)}处错误，未导入任何记录", "errors": errors,
            "error_total": len(errors), "created": 0, "unchanged": 0}
