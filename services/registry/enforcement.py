"""The registry's side of enforcement: an inspection's 停业整顿 order suspends the institution;
closing that order after a passed re-inspection restores 正常营业. Events, never a shared table."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.common.identity import system_actor
from services.common.idempotency import apply_once
from services.common.workdays import SHANGHAI

from . import domain
from .handlers import Dispatch, status_change
from .models import Institution, ProcessedEvent

SUSPEND = "suspend"


def _status_for(session: Session, event: dict, target: domain.Status, reason: str, pending: list) -> None:
    data = event["data"]
    if data.get("kind") != SUSPEND:
        return  # a 责令整改 order leaves the status alone
    row = session.get(Institution, int(data["institution_id"]))
    if row is None:
        raise KeyError(f"unknown institution {data['institution_id']}")
    if row.status == target.value:
        return
    current = domain.Status(row.status)
    if target not in domain.ALLOWED_TRANSITIONS[current]:
        return  # e.g. already 注销中: the order does not override that
    day = datetime.fromisoformat(event["occurred_at"]).astimezone(SHANGHAI).date()
    actor = system_actor(row.division_code, "inspection")
    pending.append(status_change(session, actor, row, target, f"{reason}（检查执法决定 {data['order_id']}）", day))


def apply_order_event(session: Session, dispatch: Dispatch, event: object, target: domain.Status, reason: str) -> bool:
    def effect(s, e):
        pending: list[dict] = []
        _status_for(s, e, target, reason, pending)
        for status_event in pending:  # into the outbox, committed with the effect
            dispatch(status_event["type"], status_event)

    return apply_once(session, ProcessedEvent, event, effect)


def on_order_issued(session: Session, dispatch: Dispatch, event: object) -> bool:
    return apply_order_event(session, dispatch, event, domain.Status.suspended_for_rectification, "停业整顿")


def on_order_closed(session: Session, dispatch: Dispatch, event: object) -> bool:
    return apply_order_event(session, dispatch, event, domain.Status.operating, "整改到位，恢复营业")
