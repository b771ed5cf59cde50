"""Campaigns (专项检查: 拉网式 sweeps and 双随机 draws), inspection records with evidence, and the
orders a failed inspection issues (责令整改 / 停业整顿 / 移送), followed up by the platform.

Every command commits first and announces afterwards; every order step is dated and attributed."""
from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.config import var_dir
from services.common.divisions import is_within, scope_prefix, validate_code
from services.common.filestore import store_by_hash
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor, DepartmentKind
from services.common.logging import get_logger
from services.common.policy import authorize
from services.common.service_kit import paging
from services.common.workdays import SHANGHAI, deadline_provisional, workday_deadline

from . import campaign_rules as rules
from .campaign_models import Campaign, EvidenceFile, InspectionOrder, InspectionRecord, Reinspection
from .leads import close_leads_checked_by
from .models import InspectionTarget, audit_trail

Dispatch = Callable[[str, dict], None]
SOURCE = "inspection"
log = get_logger(component="inspection.campaigns")


def _who(actor: Actor) -> dict:
    return {"user_id": actor.user_id, "username": actor.username, "name": actor.display_name,
            "department_kind": actor.department_kind.value, "department": actor.department_label}


def _body(data: object) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    return data


def _id(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValidationFailed("应为正整数", field=field)
    return value


def _authorize_read(actor: Actor, division_code: str | None = None) -> None:
    if actor.department_kind is DepartmentKind.system:
        authorize(actor, "inspection.follow_up", division_code)
    else:
        authorize(actor, "inspection.read", division_code)


# -- campaigns ------------------------------------------------------------------------------------


def campaign_view(row: Campaign) -> dict:
    return {
        "id": row.id, "name": row.name, "kind": row.kind, "kind_name": rules.CAMPAIGN_KINDS[row.kind],
        "mode": row.mode, "mode_name": rules.MODES[row.mode], "division_code": row.division_code,
        "townships": row.townships, "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat(), "team": row.team, "scope_ids": row.scope_ids,
        "rates": row.rates, "seed": row.seed, "drawn_ids": row.drawn_ids,
        "created_by": row.created_by, "created_at": iso_utc(row.created_at),
    }


def _get_campaign(session: Session, campaign_id: object) -> Campaign:
    row = session.get(Campaign, _id(campaign_id, "campaign_id"))
    if row is None:
        raise NotFound("未找到此专项检查", field="campaign_id")
    return row


def create_campaign(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    """{name, kind: sweep|random, mode: open|covert, townships: [code], start_date, end_date,
    team: [{department_kind, name}], rates?: {A..D: percent}, seed?: int} — random draws now."""
    authorize(actor, "inspection.create_campaign")
    data = _body(data)
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("名称必填，不超过100字", field="name")
    kind = data.get("kind", "sweep")
    if kind not in rules.CAMPAIGN_KINDS:
        raise ValidationFailed("类型应为 sweep（拉网式全覆盖）或 random（双随机抽查）", field="kind")
    mode = rules.validate_mode(data.get("mode"))
    start, end = rules.validate_window(data.get("start_date"), data.get("end_date"))
    team = rules.validate_team(data.get("team"))
    townships = data.get("townships")
    if not isinstance(townships, list) or not townships:
        raise ValidationFailed("至少选择一个乡镇", field="townships")
    codes = []
    for i, code in enumerate(townships):
        code = validate_code(code, field=f"townships[{i}]")
        if len(code) != 9:
            raise ValidationFailed("应为9位乡镇代码", field=f"townships[{i}]")
        authorize(actor, "inspection.create_campaign", code)
        if code not in codes:
            codes.append(code)
    roster = session.scalars(  # 已注销 institutions stay on the roster for history, not in new scopes
        select(InspectionTarget).where(InspectionTarget.division_code.in_(codes), InspectionTarget.active.is_(True))
        .order_by(InspectionTarget.institution_id)
    ).all()
    if not roster:
        raise ValidationFailed("所选乡镇没有需检查的机构", field="townships")
    townships_of = {r.institution_id: r.division_code for r in roster}
    row = Campaign(name=name, kind=kind, mode=mode, division_code=actor.division_code, townships=codes,
                   start_date=start, end_date=end, team=team, created_by=_who(actor), created_at=utc_now())
    if kind == "random":
        rates = rules.validate_rates(data.get("rates"))
        seed = rules.validate_seed(data["seed"]) if data.get("seed") is not None else secrets.randbelow(rules.MAX_SEED)
        pairs = [[r.institution_id, r.risk_grade] for r in roster]
        drawn = rules.draw([tuple(p) for p in pairs], rates, seed)
        row.draw_roster, row.rates, row.seed, row.drawn_ids = pairs, rates, seed, drawn
        scope = drawn
    else:
        if data.get("rates") is not None or data.get("seed") is not None:
            raise ValidationFailed("拉网式全覆盖不抽样，不需要比例和种子", field="kind")
        scope = sorted(townships_of)
    row.scope_ids = scope
    row.scope_townships = {str(iid): townships_of[iid] for iid in scope}
    session.add(row)
    session.flush()
    audit_trail.append(session, actor, "inspection.create_campaign", "campaign", row.id, None, campaign_view(row),
                       row.division_code, row.created_at)
    dispatch("campaign_created", make_event(SOURCE, "campaign_created", {
        "campaign_id": row.id, "name": row.name, "kind": row.kind, "mode": row.mode,
        "division_code": row.division_code, "townships": list(row.townships),
        "start_date": row.start_date.isoformat(), "end_date": row.end_date.isoformat(),
        "in_scope": len(scope), "created_at": iso_utc(row.created_at)}, row.division_code, actor.to_dict()))
    session.commit()
    log.info("campaign_created", campaign_id=row.id, kind=kind, in_scope=len(scope), seed=row.seed)
    return campaign_view(row)


def list_campaigns(session: Session, actor: Actor) -> dict:
    _authorize_read(actor)
    rows = session.scalars(select(Campaign).order_by(Campaign.id.desc())).all()
    prefix = scope_prefix(actor.division_code)
    items = [campaign_view(r) for r in rows
             if any(c.startswith(prefix) for c in r.townships) or is_within(r.division_code, actor.division_code)]
    return {"items": items}


def get_campaign(session: Session, actor: Actor, campaign_id: object) -> dict:
    row = _get_campaign(session, campaign_id)
    _authorize_read(actor)
    if not (is_within(row.division_code, actor.division_code)
            or any(is_within(c, actor.division_code) for c in row.townships)):
        raise NotFound("未找到此专项检查", field="campaign_id")
    return campaign_view(row)


def coverage(session: Session, actor: Actor, campaign_id: object) -> dict:
    """Per township: institutions in scope with ≥1 inspection record in the campaign / in scope."""
    row = _get_campaign(session, campaign_id)
    get_campaign(session, actor, campaign_id)  # the same visibility check
    visited = set(session.scalars(
        select(InspectionRecord.institution_id).where(InspectionRecord.campaign_id == row.id)
    ).all())
    scope = {int(k): v for k, v in row.scope_townships.items()}
    townships = rules.township_coverage(scope, visited)
    total_visited = sum(t["visited"] for t in townships)
    return {"campaign_id": row.id, "townships": townships, "in_scope": len(scope), "visited": total_visited,
            "coverage": rules.coverage_percent(total_visited, len(scope)),
            "complete": total_visited == len(scope)}


def reproduce_draw(session: Session, actor: Actor, campaign_id: object) -> dict:
    """Recompute the draw from the stored roster snapshot, rates and seed, and compare."""
    row = _get_campaign(session, campaign_id)
    get_campaign(session, actor, campaign_id)
    if row.kind != "random":
        raise Conflict("拉网式全覆盖检查没有随机抽取", field="campaign_id")
    recomputed = rules.draw([tuple(p) for p in row.draw_roster], row.rates, int(row.seed))
    return {"campaign_id": row.id, "seed": int(row.seed), "rates": row.rates, "roster_size": len(row.draw_roster),
            "drawn_ids": row.drawn_ids, "recomputed_ids": recomputed, "matches": recomputed == row.drawn_ids}


# -- inspection records ---------------------------------------------------------------------------


def record_view(session: Session, row: InspectionRecord) -> dict:
    evidence = session.scalars(select(EvidenceFile).where(EvidenceFile.record_id == row.id)
                               .order_by(EvidenceFile.id)).all()
    return {
        "id": row.id, "campaign_id": row.campaign_id, "institution_id": row.institution_id,
        "institution_name": row.institution_name, "township_code": row.township_code,
        "mode": row.mode, "mode_name": rules.MODES[row.mode], "inspected_at": iso_utc(row.inspected_at),
        "inspectors": row.inspectors, "checklist": row.checklist, "findings": row.findings,
        "outcome": row.outcome, "outcome_name": rules.OUTCOMES[row.outcome], "notes": row.notes,
        "order_id": row.order_id, "recorded_by": row.recorded_by, "recorded_at": iso_utc(row.recorded_at),
        "evidence": [evidence_view(e) for e in evidence],
    }


def _parse_time(value: object, field: str) -> datetime:
    if value in (None, ""):
        return utc_now()
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed("时间格式应为 ISO 8601（含时区）", field=field) from None
    if parsed.tzinfo is None:
        raise ValidationFailed("时间须带时区，如 2026-10-01T09:30:00+08:00", field=field)
    if parsed > utc_now():
        raise ValidationFailed("检查时间不能晚于当前时间", field=field)
    return parsed


def _record_state(record: InspectionRecord) -> dict:
    """What the audit trail keeps of an inspection record."""
    return {"id": record.id, "campaign_id": record.campaign_id, "institution_id": record.institution_id,
            "institution_name": record.institution_name, "township_code": record.township_code, "mode": record.mode,
            "inspected_at": iso_utc(record.inspected_at), "inspectors": record.inspectors,
            "checklist": record.checklist, "findings": list(record.findings), "outcome": record.outcome,
            "notes": record.notes, "order_id": record.order_id}


def _order_state(order: InspectionOrder) -> dict:
    """What the audit trail keeps of an order (its dated history stays on the order)."""
    return {"id": order.id, "record_id": order.record_id, "institution_id": order.institution_id,
            "kind": order.kind, "status": order.status, "deadline_at": iso_utc(order.deadline_at),
            "referred_to": order.referred_to, "reinspection_due_at": iso_utc(order.reinspection_due_at),
            "closed_at": iso_utc(order.closed_at), "escalated_at": iso_utc(order.escalated_at)}


def record_inspection(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    """{institution_id, campaign_id?, mode?, inspected_at?, inspectors: [{department_kind, name}],
    checklist: {item: {result, notes}}, outcome: {kind, deadline_workdays?, referred_to?}, notes?}"""
    authorize(actor, "inspection.record")
    data = _body(data)
    target = session.get(InspectionTarget, _id(data.get("institution_id"), "institution_id"))
    if target is None:
        raise NotFound("检查名录中没有此机构", field="institution_id")
    authorize(actor, "inspection.record", target.division_code)
    campaign = None
    if data.get("campaign_id") is not None:
        campaign = _get_campaign(session, data["campaign_id"])
        if target.institution_id not in campaign.scope_ids:
            raise Conflict("此机构不在本次专项检查范围内", field="institution_id")
    mode = rules.validate_mode(data.get("mode") or (campaign.mode if campaign else None))
    inspected_at = _parse_time(data.get("inspected_at"), "inspected_at")
    if campaign is not None:
        day = inspected_at.astimezone(SHANGHAI).date()
        if not campaign.start_date <= day <= campaign.end_date:  # holidays are fine: no workday rule
            raise ValidationFailed("检查日期不在专项检查期限内", field="inspected_at")
    inspectors = rules.validate_team(data.get("inspectors"), field="inspectors")
    checklist = rules.validate_checklist(data.get("checklist"))
    outcome = rules.validate_outcome(data.get("outcome"), checklist)
    notes = str(data.get("notes") or "").strip() or None
    if notes and len(notes) > 2000:
        raise ValidationFailed("备注不超过2000字", field="notes")
    now = utc_now()
    findings = rules.failed_items(checklist)
    record = InspectionRecord(
        campaign_id=campaign.id if campaign else None, institution_id=target.institution_id,
        institution_name=target.name, township_code=target.division_code, mode=mode,
        inspected_at=inspected_at, inspectors=inspectors, checklist=checklist, findings=findings,
        outcome=outcome["kind"], notes=notes, recorded_by=_who(actor), recorded_at=now)
    session.add(record)
    target.risk_grade = rules.next_risk_grade(target.risk_grade, outcome["kind"])  # same commit as the record
    session.flush()
    close_leads_checked_by(session, target.institution_id, record.id, inspected_at, _who(actor))
    order = None
    if outcome["kind"] != "pass":
        order = InspectionOrder(
            record_id=record.id, institution_id=target.institution_id, institution_name=target.name,
            township_code=target.division_code, kind=outcome["kind"],
            deadline_workdays=outcome["deadline_workdays"],
            deadline_at=workday_deadline(now, outcome["deadline_workdays"]),
            referred_to=outcome["referred_to"], findings=findings, issued_at=now, status="open",
            history=[_step("issued", actor, now, kind=outcome["kind"], record_id=record.id)])
        session.add(order)
        session.flush()
        record.order_id = order.id
    audit_trail.append(session, actor, "inspection.record_inspection", "inspection_record", record.id, None,
                       _record_state(record) | {"risk_grade": target.risk_grade,
                                                "order": _order_state(order) if order else None},
                       record.township_code, now)
    dispatch("inspection_recorded", make_event(SOURCE, "inspection_recorded", {
        "record_id": record.id, "campaign_id": record.campaign_id, "institution_id": record.institution_id,
        "institution_name": record.institution_name, "township_code": record.township_code, "mode": record.mode,
        "inspected_at": iso_utc(record.inspected_at), "outcome": record.outcome,
        "findings": list(record.findings), "order_id": record.order_id}, record.township_code, actor.to_dict()))
    if order is not None:
        _announce(dispatch, actor, order, "inspection_order_issued", {
            "order_id": order.id, "institution_id": order.institution_id,
            "institution_name": order.institution_name, "township_code": order.township_code,
            "kind": order.kind, "deadline_workdays": order.deadline_workdays,
            "issued_at": iso_utc(order.issued_at), "findings": list(order.findings)})
    session.commit()  # the record, its order and their events together
    log.info("inspection_recorded", record_id=record.id, outcome=record.outcome, order_id=record.order_id)
    return record_view(session, record)


def get_record(session: Session, actor: Actor, record_id: object) -> dict:
    row = session.get(InspectionRecord, _id(record_id, "record_id"))
    if row is None or not is_within(row.township_code, actor.division_code):
        raise NotFound("未找到此检查记录", field="record_id")
    _authorize_read(actor, row.township_code)
    return record_view(session, row)


def list_records(session: Session, actor: Actor, campaign_id=None, institution_id=None,
                 limit: int = 100, offset: int = 0) -> dict:
    _authorize_read(actor)
    limit, offset = paging(limit, offset)
    query = select(InspectionRecord).where(
        InspectionRecord.township_code.startswith(scope_prefix(actor.division_code)))
    if campaign_id is not None:
        query = query.where(InspectionRecord.campaign_id == _id(campaign_id, "campaign_id"))
    if institution_id is not None:
        query = query.where(InspectionRecord.institution_id == _id(institution_id, "institution_id"))
    rows = session.scalars(query.order_by(InspectionRecord.id.desc()).limit(limit).offset(offset)).all()
    return {"items": [record_view(session, r) for r in rows]}


# -- evidence -------------------------------------------------------------------------------------


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
    row = session.get(InspectionRecord, _id(record_id, "record_id"))
    if row is None or not is_within(row.township_code, actor.division_code):
        raise NotFound("未找到此检查记录", field="record_id")
    authorize(actor, "inspection.record", row.township_code)
    data = _body(data)
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
                            content_type=content_type, uploaded_by=_who(actor), uploaded_at=utc_now())
    session.add(evidence)
    session.flush()
    audit_trail.append(session, actor, "inspection.add_evidence", "inspection_record", row.id, None,
                       evidence_view(evidence), row.township_code, evidence.uploaded_at)
    session.commit()
    return evidence_view(evidence)


# -- orders and their follow-up -------------------------------------------------------------------


def _step(action: str, actor: Actor, at: datetime, note: str | None = None, **extra) -> dict:
    return {"action": action, "at": iso_utc(at), "by": actor.username, "by_name": actor.display_name,
            "department": actor.department_kind.value, "note": note, **extra}


def _add_step(order: InspectionOrder, step: dict) -> None:
    order.history = [*(order.history or []), step]


def _announce(dispatch: Dispatch, actor: Actor, order: InspectionOrder, event_type: str, data: dict) -> None:
    dispatch(event_type, make_event(SOURCE, event_type, data, order.township_code, actor.to_dict()))


def order_view(session: Session, order: InspectionOrder) -> dict:
    reinspections = session.scalars(select(Reinspection).where(Reinspection.order_id == order.id)
                                    .order_by(Reinspection.id)).all()
    return {
        "id": order.id, "record_id": order.record_id, "institution_id": order.institution_id,
        "institution_name": order.institution_name, "township_code": order.township_code,
        "kind": order.kind, "kind_name": rules.OUTCOMES[order.kind],
        "deadline_workdays": order.deadline_workdays, "deadline_at": iso_utc(order.deadline_at),
        "deadline_provisional": deadline_provisional(order.issued_at, order.deadline_at),
        "referred_to": order.referred_to, "findings": order.findings, "issued_at": iso_utc(order.issued_at),
        "status": order.status, "status_name": rules.ORDER_STATUS_NAMES[order.status],
        "reinspection_due_at": iso_utc(order.reinspection_due_at), "closed_at": iso_utc(order.closed_at),
        "escalated_at": iso_utc(order.escalated_at), "history": order.history or [],
        "reinspections": [{"id": r.id, "passed": r.passed, "notes": r.notes, "recorded_by": r.recorded_by,
                           "recorded_at": iso_utc(r.recorded_at)} for r in reinspections],
    }


def _get_order(session: Session, actor: Actor, order_id: object, lock: bool = False) -> InspectionOrder:
    query = select(InspectionOrder).where(InspectionOrder.id == _id(order_id, "order_id"))
    if lock:
        query = query.with_for_update()
    order = session.scalar(query)
    if order is None or not is_within(order.township_code, actor.division_code):
        raise NotFound("未找到此整改通知", field="order_id")
    return order


def get_order(session: Session, actor: Actor, order_id: object) -> dict:
    order = _get_order(session, actor, order_id)
    _authorize_read(actor, order.township_code)
    return order_view(session, order)


def list_orders(session: Session, actor: Actor, status=None, limit: int = 100, offset: int = 0) -> dict:
    _authorize_read(actor)
    limit, offset = paging(limit, offset)
    query = select(InspectionOrder).where(
        InspectionOrder.township_code.startswith(scope_prefix(actor.division_code)))
    if status is not None:
        if status not in rules.ORDER_STATUS_NAMES:
            raise ValidationFailed("状态应为 open、closed 或 escalated", field="status")
        query = query.where(InspectionOrder.status == status)
    rows = session.scalars(query.order_by(InspectionOrder.id.desc()).limit(limit).offset(offset)).all()
    return {"items": [order_view(session, r) for r in rows]}


def record_reinspection(session: Session, dispatch: Dispatch, actor: Actor, order_id: object, data: object) -> dict:
    """{passed: bool, notes}: the re-inspection's finding; closing or escalating is the follow-up's call."""
    authorize(actor, "inspection.record")
    order = _get_order(session, actor, order_id, lock=True)
    authorize(actor, "inspection.record", order.township_code)
    data = _body(data)
    passed = data.get("passed")
    if not isinstance(passed, bool):
        raise ValidationFailed("复查结论应为 true（整改到位）或 false（未到位）", field="passed")
    notes = str(data.get("notes") or "").strip() or None
    if notes and len(notes) > 2000:
        raise ValidationFailed("备注不超过2000字", field="notes")
    if not passed and not notes:
        raise ValidationFailed("复查未通过须说明情况", field="notes")
    if order.status != "open":
        raise Conflict(f"此通知已{rules.ORDER_STATUS_NAMES[order.status]}，不再复查", field="order_id")
    now = utc_now()
    before = _order_state(order)
    row = Reinspection(order_id=order.id, passed=passed, notes=notes, recorded_by=_who(actor), recorded_at=now)
    session.add(row)
    _add_step(order, _step("reinspected", actor, now, notes, passed=passed))
    audit_trail.append(session, actor, "inspection.record_reinspection", "order", order.id, before,
                       _order_state(order) | {"reinspection": {"passed": passed, "notes": notes}},
                       order.township_code, now)
    _announce(dispatch, actor, order, "reinspection_recorded", {
        "order_id": order.id, "institution_id": order.institution_id, "township_code": order.township_code,
        "kind": order.kind, "passed": passed, "recorded_at": iso_utc(now)})
    session.commit()
    return order_view(session, order)


def create_reinspection_task(session: Session, actor: Actor, order_id: object) -> dict:
    """The deadline passed: mark the order due for re-inspection (once; repeats change nothing)."""
    authorize(actor, "inspection.follow_up")
    order = _get_order(session, actor, order_id, lock=True)
    if order.reinspection_due_at is None and order.status == "open":
        now = utc_now()
        before = _order_state(order)
        order.reinspection_due_at = now
        _add_step(order, _step("reinspection_due", actor, now))
        audit_trail.append(session, actor, "inspection.create_reinspection_task", "order", order.id, before,
                           _order_state(order), order.township_code, now)
        session.commit()
    return order_view(session, order)


def close_order(session: Session, dispatch: Dispatch, actor: Actor, order_id: object) -> dict:
    """销号 (idempotent): an escalated order cannot be closed."""
    authorize(actor, "inspection.follow_up")
    order = _get_order(session, actor, order_id, lock=True)
    if order.status == "closed":
        return order_view(session, order)
    if order.status == "escalated":
        raise Conflict("此通知已升级，不能销号", field="order_id")
    now = utc_now()
    before = _order_state(order)
    order.status, order.closed_at = "closed", now
    _add_step(order, _step("closed", actor, now))
    audit_trail.append(session, actor, "inspection.close_order", "order", order.id, before, _order_state(order),
                       order.township_code, now)
    _announce(dispatch, actor, order, "order_closed", {
        "order_id": order.id, "institution_id": order.institution_id, "township_code": order.township_code,
        "kind": order.kind})
    session.commit()
    return order_view(session, order)


def escalate_order(session: Session, dispatch: Dispatch, actor: Actor, order_id: object) -> dict:
    """Rectification failed: escalate with the proposal 吊销办学许可证 (idempotent)."""
    authorize(actor, "inspection.follow_up")
    order = _get_order(session, actor, order_id, lock=True)
    if order.status == "escalated":
        return order_view(session, order)
    if order.status == "closed":
        raise Conflict("此通知已销号，不能升级", field="order_id")
    now = utc_now()
    before = _order_state(order)
    order.status, order.escalated_at = "escalated", now
    _add_step(order, _step("escalated", actor, now, proposal=rules.ESCALATION_PROPOSAL))
    audit_trail.append(session, actor, "inspection.escalate_order", "order", order.id, before,
                       _order_state(order) | {"proposal": rules.ESCALATION_PROPOSAL}, order.township_code, now)
    _announce(dispatch, actor, order, "order_escalated", {
        "order_id": order.id, "institution_id": order.institution_id, "township_code": order.township_code,
        "proposal": rules.ESCALATION_PROPOSAL})
    session.commit()
    return order_view(session, order)
