"""Campaigns (专项检查: 拉网式 sweeps and 双随机 draws) and the inspection records made in them; a failed
inspection issues an order (`campaign_orders.py`), evidence is in `campaign_evidence.py`.

Every command commits first and announces afterwards."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import is_within, scope_prefix, validate_code
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.logging import get_logger
from services.common.policy import authorize
from services.common.service_kit import paging
from services.common.workdays import SHANGHAI, workday_deadline

from . import campaign_common as common
from . import campaign_rules as rules
from .campaign_evidence import evidence_view
from .campaign_models import Campaign, EvidenceFile, InspectionOrder, InspectionRecord
from .campaign_orders import announce, order_state, step
from .leads import close_leads_checked_by
from .models import InspectionTarget, audit_trail

log = get_logger(component="inspection.campaigns")


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
    row = session.get(Campaign, common.id(campaign_id, "campaign_id"))
    if row is None:
        raise NotFound("未找到此专项检查", field="campaign_id")
    return row


def create_campaign(session: Session, dispatch: common.Dispatch, actor: Actor, data: object) -> dict:
    """{name, kind: sweep|random, mode: open|covert, townships: [code], start_date, end_date,
    team: [{department_kind, name}], rates?: {A..D: percent}, seed?: int} — random draws now."""
    authorize(actor, "inspection.create_campaign")
    data = common.body(data)
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
                   start_date=start, end_date=end, team=team, created_by=common.who(actor), created_at=utc_now())
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
    dispatch("campaign_created", make_event(common.SOURCE, "campaign_created", {
        "campaign_id": row.id, "name": row.name, "kind": row.kind, "mode": row.mode,
        "division_code": row.division_code, "townships": list(row.townships),
        "start_date": row.start_date.isoformat(), "end_date": row.end_date.isoformat(),
        "in_scope": len(scope), "created_at": iso_utc(row.created_at)}, row.division_code, actor.to_dict()))
    session.commit()
    log.info("campaign_created", campaign_id=row.id, kind=kind, in_scope=len(scope), seed=row.seed)
    return campaign_view(row)


def list_campaigns(session: Session, actor: Actor) -> dict:
    common.authorize_read(actor)
    rows = session.scalars(select(Campaign).order_by(Campaign.id.desc())).all()
    prefix = scope_prefix(actor.division_code)
    items = [campaign_view(r) for r in rows
             if any(c.startswith(prefix) for c in r.townships) or is_within(r.division_code, actor.division_code)]
    return {"items": items}


def get_campaign(session: Session, actor: Actor, campaign_id: object) -> dict:
    row = _get_campaign(session, campaign_id)
    common.authorize_read(actor)
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


def record_inspection(session: Session, dispatch: common.Dispatch, actor: Actor, data: object) -> dict:
    """{institution_id, campaign_id?, mode?, inspected_at?, inspectors: [{department_kind, name}],
    checklist: {item: {result, notes}}, outcome: {kind, deadline_workdays?, referred_to?}, notes?}"""
    authorize(actor, "inspection.record")
    data = common.body(data)
    target = session.get(InspectionTarget, common.id(data.get("institution_id"), "institution_id"))
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
        outcome=outcome["kind"], notes=notes, recorded_by=common.who(actor), recorded_at=now)
    session.add(record)
    target.risk_grade = rules.next_risk_grade(target.risk_grade, outcome["kind"])  # same commit as the record
    session.flush()
    close_leads_checked_by(session, target.institution_id, record.id, inspected_at, common.who(actor))
    order = None
    if outcome["kind"] != "pass":
        order = InspectionOrder(
            record_id=record.id, institution_id=target.institution_id, institution_name=target.name,
            township_code=target.division_code, kind=outcome["kind"],
            deadline_workdays=outcome["deadline_workdays"],
            deadline_at=workday_deadline(now, outcome["deadline_workdays"]),
            referred_to=outcome["referred_to"], findings=findings, issued_at=now, status="open",
            history=[step("issued", actor, now, kind=outcome["kind"], record_id=record.id)])
        session.add(order)
        session.flush()
        record.order_id = order.id
    audit_trail.append(session, actor, "inspection.record_inspection", "inspection_record", record.id, None,
                       _record_state(record) | {"risk_grade": target.risk_grade,
                                                "order": order_state(order) if order else None},
                       record.township_code, now)
    dispatch("inspection_recorded", make_event(common.SOURCE, "inspection_recorded", {
        "record_id": record.id, "campaign_id": record.campaign_id, "institution_id": record.institution_id,
        "institution_name": record.institution_name, "township_code": record.township_code, "mode": record.mode,
        "inspected_at": iso_utc(record.inspected_at), "outcome": record.outcome,
        "findings": list(record.findings), "order_id": record.order_id}, record.township_code, actor.to_dict()))
    if order is not None:
        announce(dispatch, actor, order, "inspection_order_issued", {
            "order_id": order.id, "institution_id": order.institution_id,
            "institution_name": order.institution_name, "township_code": order.township_code,
            "kind": order.kind, "deadline_workdays": order.deadline_workdays,
            "issued_at": iso_utc(order.issued_at), "findings": list(order.findings)})
    session.commit()  # the record, its order and their events together
    log.info("inspection_recorded", record_id=record.id, outcome=record.outcome, order_id=record.order_id)
    return record_view(session, record)


def get_record(session: Session, actor: Actor, record_id: object) -> dict:
    row = session.get(InspectionRecord, common.id(record_id, "record_id"))
    if row is None or not is_within(row.township_code, actor.division_code):
        raise NotFound("未找到此检查记录", field="record_id")
    common.authorize_read(actor, row.township_code)
    return record_view(session, row)


def list_records(session: Session, actor: Actor, campaign_id=None, institution_id=None,
                 limit: int = 100, offset: int = 0) -> dict:
    common.authorize_read(actor)
    limit, offset = paging(limit, offset)
    query = select(InspectionRecord).where(
        InspectionRecord.township_code.startswith(scope_prefix(actor.division_code)))
    if campaign_id is not None:
        query = query.where(InspectionRecord.campaign_id == common.id(campaign_id, "campaign_id"))
    if institution_id is not None:
        query = query.where(InspectionRecord.institution_id == common.id(institution_id, "institution_id"))
    rows = session.scalars(query.order_by(InspectionRecord.id.desc()).limit(limit).offset(offset)).all()
    return {"items": [record_view(session, r) for r in rows]}
