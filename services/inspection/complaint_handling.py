"""Complaint (举报) handling: triage, assignment, reply, closure, the lead a verified complaint gives
inspectors; the lists, SLA and overdue flags, and the county's SLA settings.

Every command commits first and announces afterwards (events carry no content and no phone)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import county_of, is_within, scope_prefix, validate_code
from services.common.errors import NotFound, ValidationFailed
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.service_kit import paging

from . import complaint_common as common
from . import complaint_rules as rules
from . import domain
from .complaint_models import Complaint, ComplaintSettings
from .models import InspectionLead, audit_trail

# departments that see every complaint of their division; the others see those assigned to them
SEE_ALL = ("education", "supervision_office", "ops", "system")


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


def triage(session: Session, dispatch: common.Dispatch, actor: Actor, complaint_id: int, data: object) -> dict:
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
    before = common.view(row)
    if result == "duplicate":
        original = data.get("duplicate_of")
        if not rules.is_receipt_no(original) or original == row.receipt_no or session.scalar(
                select(Complaint.id).where(Complaint.receipt_no == original)) is None:
            raise ValidationFailed("应为另一件已受理举报的受理编号", field="duplicate_of")
        row.duplicate_of = original
    row.status = result
    row.verified = result == "verified"
    common.step(row, "triaged", actor, now, note, result=result)
    lead = _lead_from_complaint(session, row, now) if row.verified else None
    audit_trail.append(session, actor, "inspection.triage_complaint", "complaint", row.id, before,
                       common.view(row) | {"lead": lead}, row.division_code, now)
    common.announce(dispatch, "complaint_triaged", row, actor, result=result)
    session.commit()
    return {**common.view(row), "lead": lead}


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


def assign(session: Session, dispatch: common.Dispatch, actor: Actor, complaint_id: int, data: object) -> dict:
    """{department, note}: the SLA deadline becomes the department's (counted from receipt)."""
    data = _body(data)
    row = _load(session, actor, complaint_id, "inspection.complaint_assign")
    rules.check_transition(row.status, "assign")
    department = rules.validate_department(data.get("department"))
    if department == "township" and len(row.division_code) != 9:
        raise ValidationFailed("未注明乡镇的举报不能交办乡镇", field="department")
    note = _note(data)
    before = common.view(row)
    row.department = department
    row.status = "assigned"
    row.deadline_at = rules.deadline_for(row.received_at, common.settings(session, row.division_code), department)
    if not rules.is_overdue(row.status, row.deadline_at, utc_now()):
        row.overdue_flagged_at = None  # the new deadline may be missed (and flagged) again
    common.step(row, "assigned", actor, utc_now(), note, to=department, deadline_at=iso_utc(row.deadline_at))
    audit_trail.append(session, actor, "inspection.assign_complaint", "complaint", row.id, before, common.view(row),
                       row.division_code)
    common.announce(dispatch, "complaint_assigned", row, actor)
    session.commit()
    return common.view(row)


def reply(session: Session, dispatch: common.Dispatch, actor: Actor, complaint_id: int, data: object) -> dict:
    """{reply}: the official answer the complainant reads with the receipt number."""
    data = _body(data)
    row = _load(session, actor, complaint_id, "inspection.complaint_handle")
    rules.check_handler(actor.department_kind.value, row.department)
    rules.check_transition(row.status, "reply")
    text = rules.validate_content(data.get("reply"), "reply", rules.MAX_NOTE)
    now = utc_now()
    late = rules.is_overdue(row.status, row.deadline_at, now)
    before = common.view(row)
    row.reply, row.replied_at, row.status = text, now, "replied"
    common.step(row, "replied", actor, now, _note(data), late=late)
    audit_trail.append(session, actor, "inspection.reply_complaint", "complaint", row.id, before,
                       common.view(row) | {"reply": text}, row.division_code, now)
    common.announce(dispatch, "complaint_replied", row, actor, late=late)
    session.commit()
    return common.view(row)


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


def close(session: Session, dispatch: common.Dispatch, actor: Actor, complaint_id: int, data: object) -> dict:
    data = _body(data)
    row = _load(session, actor, complaint_id, "inspection.complaint_handle")
    rules.check_handler(actor.department_kind.value, row.department)
    rules.check_transition(row.status, "close")
    now = utc_now()
    before = common.view(row)
    row.closed_at, row.status = now, "closed"
    common.step(row, "closed", actor, now, _note(data))
    audit_trail.append(session, actor, "inspection.close_complaint", "complaint", row.id, before, common.view(row),
                       row.division_code, now)
    common.announce(dispatch, "complaint_closed", row, actor)
    session.commit()
    return common.view(row)


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
    return {"total": total, "items": [common.view(r, as_of) for r in rows], "as_of": iso_utc(as_of)}


def get_complaint(session: Session, actor: Actor, complaint_id: object) -> dict:
    authorize(actor, "inspection.complaint_read")
    if not isinstance(complaint_id, int) or isinstance(complaint_id, bool):
        raise ValidationFailed("应为整数", field="complaint_id")
    row = session.get(Complaint, complaint_id)
    if row is None or not is_within(row.division_code, actor.division_code) or (
            actor.department_kind.value not in SEE_ALL and row.department != actor.department_kind.value):
        raise NotFound("未找到此举报", field="complaint_id")
    return common.view(row)


def flag_overdue(session: Session, dispatch: common.Dispatch, actor: Actor, as_of: object = None) -> dict:
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
        common.step(row, "overdue", actor, moment, None, deadline_at=iso_utc(row.deadline_at))
    if rows:
        audit_trail.append(session, actor, "inspection.flag_overdue_complaints", "complaint_overdue_scan",
                           iso_utc(moment), None, {"complaint_ids": [r.id for r in rows],
                                                   "receipts": [r.receipt_no for r in rows]})
    for row in rows:
        common.announce(dispatch, "complaint_overdue", row, actor, as_of=iso_utc(moment))
    session.commit()
    if rows:
        common.log.info("complaints_overdue", count=len(rows))
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
    stored.updated_at, stored.updated_by = utc_now(), common.who(actor)
    audit_trail.append(session, actor, "inspection.set_complaint_settings", "complaint_settings", county, before,
                       {"sla_days": dict(stored.sla_days)}, county)
    session.commit()
    return get_settings(session, actor, county)
