"""Complaint (举报) use cases: intake (public, 互联网+教育督导 CSV), triage, assignment, reply,
closure, SLA and overdue flags, and the lead a verified complaint gives inspectors.

Every command commits first and announces afterwards (events carry no content and no phone)."""
from __future__ import annotations

import base64
import csv
import io
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import county_of, is_within, scope_prefix, validate_code
from services.common.errors import DomainError, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.logging import get_logger
from services.common.policy import authorize
from services.common.service_kit import paging
from services.common.textfiles import decode_office_text
from services.common.workdays import deadline_provisional

from . import complaint_rules as rules
from . import domain
from .complaint_models import Complaint, ComplaintSettings
from .models import InspectionLead, InspectionTarget, audit_trail

Dispatch = Callable[[str, dict], None]
SOURCE = "inspection"
log = get_logger(component="inspection.complaints")

# the 互联网+教育督导 export: header -> field (any column order; extra columns are ignored)
CSV_COLUMNS = {"线索编号": "channel_ref", "反映时间": "received_at", "反映内容": "content",
               "涉及机构": "institution", "所在乡镇": "township", "联系电话": "contact_phone"}
CSV_REQUIRED = ("线索编号", "反映时间", "反映内容")
MAX_CSV_ROWS = 5000
# departments that see every complaint of their division; the others see those assigned to them
SEE_ALL = ("education", "supervision_office", "ops", "system")


def _who(actor: Actor) -> str:
    return f"{actor.department_label}/{actor.display_name}"


def _event_data(row: Complaint) -> dict:
    return {"complaint_id": row.id, "receipt_no": row.receipt_no, "channel": row.channel,
            "township_code": row.division_code if len(row.division_code) == 9 else None,
            "division_code": row.division_code, "department": row.department,
            "received_at": iso_utc(row.received_at), "verified": row.verified, "status": row.status,
            "institution_id": row.institution_id, "deadline_at": iso_utc(row.deadline_at)}


def _announce(dispatch: Dispatch, event_type: str, row: Complaint, actor: Actor | None = None, **extra) -> None:
    data = {**_event_data(row), **extra}
    dispatch(event_type, make_event(SOURCE, event_type, data, row.division_code, actor.to_dict() if actor else None))


def _step(row: Complaint, action: str, actor: Actor, at: datetime, note: str | None = None, **extra) -> None:
    entry = {"action": action, "at": iso_utc(at), "by": actor.username, "by_name": _who(actor),
             "department": actor.department_kind.value, "note": note, **extra}
    row.history = [*(row.history or []), entry]


def _settings(session: Session, division_code: str) -> dict:
    county = county_of(division_code) or division_code
    found = session.get(ComplaintSettings, county)
    return dict(found.sla_days) if found else {}


def view(row: Complaint, as_of: datetime | None = None) -> dict:
    """The officials' view: everything but the unmasked phone."""
    as_of = as_of or utc_now()
    return {
        "id": row.id, "receipt_no": row.receipt_no, "channel": row.channel,
        "channel_name": rules.CHANNELS.get(row.channel, row.channel), "channel_ref": row.channel_ref,
        "division_code": row.division_code, "institution_id": row.institution_id,
        "institution_name": row.institution_name, "content": row.content,
        "contact_phone": rules.mask_phone(row.contact_phone), "status": row.status,
        "status_name": rules.STATUS_NAMES.get(row.status, row.status), "verified": row.verified,
        "duplicate_of": row.duplicate_of, "department": row.department,
        "received_at": iso_utc(row.received_at), "deadline_at": iso_utc(row.deadline_at),
        "deadline_provisional": deadline_provisional(row.received_at, row.deadline_at),
        "overdue": rules.is_overdue(row.status, row.deadline_at, as_of),
        "overdue_flagged_at": iso_utc(row.overdue_flagged_at), "reply": row.reply,
        "replied_at": iso_utc(row.replied_at), "closed_at": iso_utc(row.closed_at), "lead_id": row.lead_id,
        "history": row.history or [],
    }


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
    deadline = rules.deadline_for(received_at, _settings(session, division_code), None)
    row = Complaint(receipt_no=rules.make_receipt_no(received_at), channel=channel, channel_ref=channel_ref,
                    division_code=division_code, institution_id=institution[0], institution_name=institution[1],
                    content=content, contact_phone=phone, status="received", verified=False,
                    received_at=received_at, deadline_at=deadline, history=[])
    _step(row, "received", actor, utc_now(), channel=channel)
    session.add(row)
    return row


# -- intake -------------------------------------------------------------------------------------------


def submit_public(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
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
    audit_trail.append(session, actor, "inspection.submit_public_complaint", "complaint", row.id, None, view(row),
                       row.division_code, row.received_at)
    _announce(dispatch, "complaint_received", row, actor)
    session.commit()
    log.info("complaint_received", receipt_no=row.receipt_no, channel="public", contact=rules.mask_phone(phone))
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


def import_csv(session: Session, dispatch: Dispatch, actor: Actor, content_b64: object,
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
            _announce(dispatch, "complaint_received", row, actor)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ValidationFailed("同一批线索正在被另一导入处理，请稍后重试", field="file") from None
    log.info("complaints_imported", created=len(created), unchanged=len(parsed) - len(created))
    return {"state": "committed", "created": len(created), "unchanged": len(parsed) - len(created),
            "receipts": {row.channel_ref: row.receipt_no for row in created}}


def _rejected(errors: list[dict]) -> dict:
    return {"state": "rejected", "message": f"文件有{len(errors)}处错误，未导入任何记录", "errors": errors,
            "error_total": len(errors), "created": 0, "unchanged": 0}


# -- handling ---------------------------------------------------------------------------------------------


def _load(session: Session, actor: Actor, complaint_id: object, action: str) -> Complaint:
    if not isinstance(complaint_id, int) or isinstance(complaint_id, bool):
        raise ValidationFailed("应为整数", field="complaint_id")
    row = session.get(Complaint, complaint_id, with_for_update=True)
    if row is None or not is_within(row.division_code, actor.division_code):
        raise NotFound("未找到此举报", field="complaint_id")
    authorize(actor, action, row.division_code)
    return row


def _note(data: dict, name: str = "note", required: bool = False) -> str | None:
    value = data.get(name)
    if value in (None, "") and not required:
        return None
    return rules.validate_content(value, name, rules.MAX_NOTE)


def _body(data: object) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    return data


def triage(session: Session, dispatch: Dispatch, actor: Actor, complaint_id: int, data: object) -> dict:
    """{result: verified | not_a_case | duplicate, note, duplicate_of: receipt}. A verified complaint
    about a known institution becomes an inspection lead."""
    data = _body(data)
    row = _load(session, actor, complaint_id, "inspection.complaint_triage")
    rules.check_transition(row.status, "triage")
    result = data.get("result")
    if result not in rules.TRIAGE_RESULTS:
        raise ValidationFailed("应为 verified（属实待办）、not_a_case（不予立案）或 duplicate（重复）", field="result")
    note = _note(data, required=result == "not_a_case")
    now = utc_now()
    before = view(row)
    if result == "duplicate":
        original = data.get("duplicate_of")
        if not rules.is_receipt_no(original) or original == row.receipt_no or session.scalar(
                select(Complaint.id).where(Complaint.receipt_no == original)) is None:
            raise ValidationFailed("应为另一件已受理举报的受理编号", field="duplicate_of")
        row.duplicate_of = original
    row.status = result
    row.verified = result == "verified"
    _step(row, "triaged", actor, now, note, result=result)
    lead = _lead_from_complaint(session, row, now) if row.verified else None
    audit_trail.append(session, actor, "inspection.triage_complaint", "complaint", row.id, before,
                       view(row) | {"lead": lead}, row.division_code, now)
    _announce(dispatch, "complaint_triaged", row, actor, result=result)
    session.commit()
    return {**view(row), "lead": lead}


def _lead_from_complaint(session: Session, row: Complaint, seen: datetime) -> int | None:
    """Like the escrow alerts: one open lead per institution and reason; a repeat adds to it."""
    if row.institution_id is None:
        return None
    reason = "complaint"
    key = domain.lead_key("complaint", row.institution_id, reason)
    lead = session.scalar(select(InspectionLead).where(InspectionLead.dedup_key == key))
    evidence = {"receipt_no": row.receipt_no, "channel": row.channel, "received_at": iso_utc(row.received_at)}
    if lead is None:
        lead = InspectionLead(
            source="complaint", dedup_key=key, institution_id=row.institution_id,
            institution_name=row.institution_name, division_code=row.division_code, reason_kind=reason,
            reason_name="群众举报（已核实）", evidence=evidence, source_refs=[row.id], occurrences=1,
            status="open", first_seen_at=seen, last_seen_at=seen)
        session.add(lead)
        session.flush()
    else:
        lead.occurrences += 1
        lead.source_refs = [*lead.source_refs, row.id]
        lead.evidence = evidence
        lead.last_seen_at = max(lead.last_seen_at, seen)
    row.lead_id = lead.id
    return lead.id


def assign(session: Session, dispatch: Dispatch, actor: Actor, complaint_id: int, data: object) -> dict:
    """{department, note}: the SLA deadline becomes the department's (counted from receipt)."""
    data = _body(data)
    row = _load(session, actor, complaint_id, "inspection.complaint_assign")
    rules.check_transition(row.status, "assign")
    department = rules.validate_department(data.get("department"))
    if department == "township" and len(row.division_code) != 9:
        raise ValidationFailed("未注明乡镇的举报不能交办乡镇", field="department")
    note = _note(data)
    before = view(row)
    row.department = department
    row.status = "assigned"
    row.deadline_at = rules.deadline_for(row.received_at, _settings(session, row.division_code), department)
    if not rules.is_overdue(row.status, row.deadline_at, utc_now()):
        row.overdue_flagged_at = None  # the new deadline may be missed (and flagged) again
    _step(row, "assigned", actor, utc_now(), note, to=department, deadline_at=iso_utc(row.deadline_at))
    audit_trail.append(session, actor, "inspection.assign_complaint", "complaint", row.id, before, view(row),
                       row.division_code)
    _announce(dispatch, "complaint_assigned", row, actor)
    session.commit()
    return view(row)


def reply(session: Session, dispatch: Dispatch, actor: Actor, complaint_id: int, data: object) -> dict:
    """{reply}: the official answer the complainant reads with the receipt number."""
    data = _body(data)
    row = _load(session, actor, complaint_id, "inspection.complaint_handle")
    rules.check_handler(actor.department_kind.value, row.department)
    rules.check_transition(row.status, "reply")
    text = rules.validate_content(data.get("reply"), "reply", rules.MAX_NOTE)
    now = utc_now()
    late = rules.is_overdue(row.status, row.deadline_at, now)
    before = view(row)
    row.reply, row.replied_at, row.status = text, now, "replied"
    _step(row, "replied", actor, now, _note(data), late=late)
    audit_trail.append(session, actor, "inspection.reply_complaint", "complaint", row.id, before,
                       view(row) | {"reply": text}, row.division_code, now)
    _announce(dispatch, "complaint_replied", row, actor, late=late)
    session.commit()
    return view(row)


def reveal_contact(session: Session, actor: Actor, complaint_id: int, data: object) -> dict:
    """{reason}: the complainant's phone number unmasked, for the department handling the complaint
    to call back (回访). Every reveal is an audit entry (who, when, which complaint, why — the entry
    holds the mask, never the number), committed before the number is answered (issue 16)."""
    data = _body(data)
    row = _load(session, actor, complaint_id, "inspection.complaint_handle")
    rules.check_handler(actor.department_kind.value, row.department)
    reason = rules.validate_content(data.get("reason"), "reason", rules.MAX_NOTE)
    if not row.contact_phone:
        raise NotFound("举报人未留联系电话", field="contact_phone")
    audit_trail.append(session, actor, "inspection.reveal_complaint_contact", "complaint", row.id, None,
                       {"receipt_no": row.receipt_no, "contact_phone": rules.mask_phone(row.contact_phone),
                        "reason": reason}, row.division_code)
    session.commit()
    return {"id": row.id, "receipt_no": row.receipt_no, "contact_phone": row.contact_phone}


def close(session: Session, dispatch: Dispatch, actor: Actor, complaint_id: int, data: object) -> dict:
    data = _body(data)
    row = _load(session, actor, complaint_id, "inspection.complaint_handle")
    rules.check_handler(actor.department_kind.value, row.department)
    rules.check_transition(row.status, "close")
    now = utc_now()
    before = view(row)
    row.closed_at, row.status = now, "closed"
    _step(row, "closed", actor, now, _note(data))
    audit_trail.append(session, actor, "inspection.close_complaint", "complaint", row.id, before, view(row),
                       row.division_code, now)
    _announce(dispatch, "complaint_closed", row, actor)
    session.commit()
    return view(row)


# -- reading, overdue, settings --------------------------------------------------------------------------


def _parse_as_of(as_of: object) -> datetime:
    if as_of in (None, ""):
        return utc_now()
    try:
        value = datetime.fromisoformat(str(as_of))
    except ValueError:
        raise ValidationFailed("应为 ISO 8601 时间", field="as_of") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _overdue_clause(as_of: datetime):
    return (Complaint.status.in_(rules.AWAITING_REPLY)) & (Complaint.deadline_at < as_of)


def list_complaints(session: Session, actor: Actor, filters: dict | None = None, limit: int = 100,
                    offset: int = 0) -> dict:
    """Filters: status, department, township, channel, overdue (true/false), as_of."""
    authorize(actor, "inspection.complaint_read")
    limit, offset = paging(limit, offset)
    filters = filters or {}
    as_of = _parse_as_of(filters.get("as_of"))
    query = select(Complaint).where(Complaint.division_code.startswith(scope_prefix(actor.division_code)))
    if actor.department_kind.value not in SEE_ALL:
        query = query.where(Complaint.department == actor.department_kind.value)
    if filters.get("status"):
        query = query.where(Complaint.status == filters["status"])
    if filters.get("department"):
        query = query.where(Complaint.department == filters["department"])
    if filters.get("channel"):
        query = query.where(Complaint.channel == filters["channel"])
    if filters.get("township"):
        query = query.where(Complaint.division_code == filters["township"])
    overdue = filters.get("overdue")
    if overdue not in (None, ""):
        flag = str(overdue).lower()
        if flag not in ("true", "false", "1", "0"):
            raise ValidationFailed("应为 true 或 false", field="overdue")
        clause = _overdue_clause(as_of)
        query = query.where(clause if flag in ("true", "1") else ~clause)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Complaint.deadline_at, Complaint.id).limit(limit).offset(offset)).all()
    return {"total": total, "items": [view(r, as_of) for r in rows], "as_of": iso_utc(as_of)}


def get_complaint(session: Session, actor: Actor, complaint_id: object) -> dict:
    authorize(actor, "inspection.complaint_read")
    if not isinstance(complaint_id, int) or isinstance(complaint_id, bool):
        raise ValidationFailed("应为整数", field="complaint_id")
    row = session.get(Complaint, complaint_id)
    if row is None or not is_within(row.division_code, actor.division_code) or (
            actor.department_kind.value not in SEE_ALL and row.department != actor.department_kind.value):
        raise NotFound("未找到此举报", field="complaint_id")
    return view(row)


def flag_overdue(session: Session, dispatch: Dispatch, actor: Actor, as_of: object = None) -> dict:
    """Mark (once) every complaint past its deadline without a reply and announce `complaint_overdue`."""
    authorize(actor, "inspection.flag_overdue_complaints")
    moment = _parse_as_of(as_of)
    rows = session.scalars(
        select(Complaint).where(_overdue_clause(moment), Complaint.overdue_flagged_at.is_(None),
                                Complaint.division_code.startswith(scope_prefix(actor.division_code)))
        .order_by(Complaint.id).with_for_update()
    ).all()
    for row in rows:
        row.overdue_flagged_at = moment
        _step(row, "overdue", actor, moment, None, deadline_at=iso_utc(row.deadline_at))
    if rows:
        audit_trail.append(session, actor, "inspection.flag_overdue_complaints", "complaint_overdue_scan",
                           iso_utc(moment), None, {"complaint_ids": [r.id for r in rows],
                                                   "receipts": [r.receipt_no for r in rows]})
    for row in rows:
        _announce(dispatch, "complaint_overdue", row, actor, as_of=iso_utc(moment))
    session.commit()
    if rows:
        log.info("complaints_overdue", count=len(rows))
    return {"flagged": len(rows), "receipts": [r.receipt_no for r in rows], "as_of": iso_utc(moment)}


def get_settings(session: Session, actor: Actor, county_code: object = None) -> dict:
    authorize(actor, "inspection.complaint_read")
    county = county_of(validate_code(county_code or actor.division_code, field="county_code"))
    if county is None:
        raise ValidationFailed("应为县级或乡镇区划代码", field="county_code")
    stored = session.get(ComplaintSettings, county)
    return {"county_code": county, "sla_days": {**rules.DEFAULT_SLA_DAYS, **(stored.sla_days if stored else {})},
            "defaults": rules.DEFAULT_SLA_DAYS, "updated_at": iso_utc(stored.updated_at) if stored else None}


def set_settings(session: Session, actor: Actor, data: object) -> dict:
    """{county_code?, sla_days: {department: working days}}: applies to complaints received or
    assigned from now on."""
    data = _body(data)
    county = county_of(validate_code(data.get("county_code") or actor.division_code, field="county_code"))
    if county is None:
        raise ValidationFailed("应为县级区划代码", field="county_code")
    authorize(actor, "inspection.manage_complaint_settings", county)
    sla = rules.validate_sla_settings(data.get("sla_days"))
    stored = session.get(ComplaintSettings, county)
    before = {"sla_days": dict(stored.sla_days)} if stored is not None else None
    if stored is None:
        stored = ComplaintSettings(county_code=county, sla_days={})
        session.add(stored)
    stored.sla_days = {**stored.sla_days, **sla}
    stored.updated_at, stored.updated_by = utc_now(), _who(actor)
    audit_trail.append(session, actor, "inspection.set_complaint_settings", "complaint_settings", county, before,
                       {"sla_days": dict(stored.sla_days)}, county)
    session.commit()
    return get_settings(session, actor, county)

