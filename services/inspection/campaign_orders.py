"""The orders a failed inspection issues (责令整改 / 停业整顿 / 移送) and their follow-up by the
platform: re-inspection, 销号, escalation.

Every command commits first and announces afterwards; every order step is dated and attributed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import is_within, scope_prefix
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.service_kit import paging
from services.common.workdays import deadline_provisional

from . import campaign_common as common
from . import campaign_rules as rules
from .campaign_models import InspectionOrder, Reinspection
from .models import audit_trail


def step(action: str, actor: Actor, at: datetime, note: str | None = None, **extra) -> dict:
    return {"action": action, "at": iso_utc(at), "by": actor.username, "by_name": actor.display_name,
            "department": actor.department_kind.value, "note": note, **extra}


def _add_step(order: InspectionOrder, step: dict) -> None:
    order.history = [*(order.history or []), step]


def announce(dispatch: common.Dispatch, actor: Actor, order: InspectionOrder, event_type: str, data: dict) -> None:
    dispatch(event_type, make_event(common.SOURCE, event_type, data, order.township_code, actor.to_dict()))


def order_state(order: InspectionOrder) -> dict:
    """What the audit trail keeps of an order (its dated history stays on the order)."""
    return {"id": order.id, "record_id": order.record_id, "institution_id": order.institution_id,
            "kind": order.kind, "status": order.status, "deadline_at": iso_utc(order.deadline_at),
            "referred_to": order.referred_to, "reinspection_due_at": iso_utc(order.reinspection_due_at),
            "closed_at": iso_utc(order.closed_at), "escalated_at": iso_utc(order.escalated_at)}


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
    query = select(InspectionOrder).where(InspectionOrder.id == common.id(order_id, "order_id"))
    if lock:
        query = query.with_for_update()
    order = session.scalar(query)
    if order is None or not is_within(order.township_code, actor.division_code):
        raise NotFound("未找到此整改通知", field="order_id")
    return order


def get_order(session: Session, actor: Actor, order_id: object) -> dict:
    order = _get_order(session, actor, order_id)
    common.authorize_read(actor, order.township_code)
    return order_view(session, order)


def list_orders(session: Session, actor: Actor, status=None, limit: int = 100, offset: int = 0) -> dict:
    common.authorize_read(actor)
    limit, offset = paging(limit, offset)
    query = select(InspectionOrder).where(
        InspectionOrder.township_code.startswith(scope_prefix(actor.division_code)))
    if status is not None:
        if status not in rules.ORDER_STATUS_NAMES:
            raise ValidationFailed("状态应为 open、closed 或 escalated", field="status")
        query = query.where(InspectionOrder.status == status)
    rows = session.scalars(query.order_by(InspectionOrder.id.desc()).limit(limit).offset(offset)).all()
    return {"items": [order_view(session, r) for r in rows]}


def record_reinspection(session: Session, dispatch: common.Dispatch, actor: Actor, order_id: object,
                        data: object) -> dict:
    """{passed: bool, notes}: the re-inspection's finding; closing or escalating is the follow-up's call."""
    authorize(actor, "inspection.record")
    order = _get_order(session, actor, order_id, lock=True)
    authorize(actor, "inspection.record", order.township_code)
    data = common.body(data)
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
    before = order_state(order)
    row = Reinspection(order_id=order.id, passed=passed, notes=notes, recorded_by=common.who(actor), recorded_at=now)
    session.add(row)
    _add_step(order, step("reinspected", actor, now, notes, passed=passed))
    audit_trail.append(session, actor, "inspection.record_reinspection", "order", order.id, before,
                       order_state(order) | {"reinspection": {"passed": passed, "notes": notes}},
                       order.township_code, now)
    announce(dispatch, actor, order, "reinspection_recorded", {
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
        before = order_state(order)
        order.reinspection_due_at = now
        _add_step(order, step("reinspection_due", actor, now))
        audit_trail.append(session, actor, "inspection.create_reinspection_task", "order", order.id, before,
                           order_state(order), order.township_code, now)
        session.commit()
    return order_view(session, order)


def close_order(session: Session, dispatch: common.Dispatch, actor: Actor, order_id: object) -> dict:
    """销号 (idempotent): an escalated order cannot be closed."""
    authorize(actor, "inspection.follow_up")
    order = _get_order(session, actor, order_id, lock=True)
    if order.status == "closed":
        return order_view(session, order)
    if order.status == "escalated":
        raise Conflict("此通知已升级，不能销号", field="order_id")
    now = utc_now()
    before = order_state(order)
    order.status, order.closed_at = "closed", now
    _add_step(order, step("closed", actor, now))
    audit_trail.append(session, actor, "inspection.close_order", "order", order.id, before, order_state(order),
                       order.township_code, now)
    announce(dispatch, actor, order, "order_closed", {
        "order_id": order.id, "institution_id": order.institution_id, "township_code": order.township_code,
        "kind": order.kind})
    session.commit()
    return order_view(session, order)


def escalate_order(session: Session, dispatch: common.Dispatch, actor: Actor, order_id: object) -> dict:
    """Rectification failed: escalate with the proposal 吊销办学许可证 (idempotent)."""
    authorize(actor, "inspection.follow_up")
    order = _get_order(session, actor, order_id, lock=True)
    if order.status == "escalated":
        return order_view(session, order)
    if order.status == "closed":
        raise Conflict("此通知已销号，不能升级", field="order_id")
    now = utc_now()
    before = order_state(order)
    order.status, order.escalated_at = "escalated", now
    _add_step(order, step("escalated", actor, now, proposal=rules.ESCALATION_PROPOSAL))
    audit_trail.append(session, actor, "inspection.escalate_order", "order", order.id, before,
                       order_state(order) | {"proposal": rules.ESCALATION_PROPOSAL}, order.township_code, now)
    announce(dispatch, actor, order, "order_escalated", {
        "order_id": order.id, "institution_id": order.institution_id, "township_code": order.township_code,
        "proposal": rules.ESCALATION_PROPOSAL})
    session.commit()
    return order_view(session, order)
