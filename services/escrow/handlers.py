"""Escrow use cases: who may take charges (registry events), and the prepaid position for 注销.
The prepaid-fee desk is desk_*.py; early warning monitoring.py."""
from __future__ import annotations

from sqlalchemy.orm import Session

from services.common.bulk_insert import insert_rows
from services.common.clock import iso_utc, utc_now
from services.common.divisions import validate_code
from services.common.errors import Conflict, NotFound
from services.common.idempotency import apply_batch
from services.common.identity import Actor
from services.common.policy import authorize

from . import domain
from .models import EnrolmentEligibility, ProcessedEvent


def _recompute(row: EnrolmentEligibility) -> None:
    row.may_enrol, row.reason = domain.enrolment_decision(row.status, row.conversion_suspended)
    row.updated_at = utc_now()


def _record_registrations(session: Session, events: list[dict]) -> None:
    """One bulk insert for a batch (a ledger import sends thousands at once)."""
    now, rows = utc_now(), []
    for event in events:
        data = event["data"]
        status = str(data["status"])
        may_enrol, reason = domain.enrolment_decision(status, False)
        rows.append({"institution_id": int(data["id"]),
                     "division_code": validate_code(data["township_code"], field="data.township_code"),
                     "name": str(data["name"]), "status": status, "status_as_of": event["occurred_at"],
                     "conversion_suspended": False, "may_enrol": may_enrol, "reason": reason, "updated_at": now})
    insert_rows(session, EnrolmentEligibility, rows)


def _institution(session: Session, data: dict, key: str = "institution_id") -> EnrolmentEligibility:
    row = session.get(EnrolmentEligibility, int(data[key]))
    if row is None:
        raise KeyError(f"unknown institution {data[key]}")
    return row


def _record_status(session: Session, event: dict) -> None:
    row = _institution(session, event["data"], "id")
    if domain.is_newer(event["occurred_at"], row.status_as_of):
        row.status, row.status_as_of = str(event["data"]["status"]), event["occurred_at"]
        _recompute(row)


def _record_conversion_applied(session: Session, event: dict) -> None:
    row = _institution(session, event["data"])
    if domain.is_newer(event["occurred_at"], row.conversion_as_of):
        row.conversion_suspended, row.conversion_as_of = True, event["occurred_at"]
        _recompute(row)


def _record_conversion_step(session: Session, event: dict) -> None:
    data = event["data"]
    if not data.get("resumes_enrolment"):
        return
    row = _institution(session, data)
    if domain.is_newer(event["occurred_at"], row.conversion_as_of):
        row.conversion_suspended, row.conversion_as_of = False, event["occurred_at"]
        _recompute(row)


BULK = {"institution_registered": _record_registrations}
APPLIERS = {
    "institution_status_changed": _record_status,
    "conversion_applied": _record_conversion_applied,
    "conversion_step_decided": _record_conversion_step,
}


def apply_events(session: Session, event_type: str, events: list) -> int:
    """Apply a batch of one type of registry event in one transaction; how many were new."""
    if event_type in BULK:
        return apply_batch(session, ProcessedEvent, events, bulk=BULK[event_type])
    return apply_batch(session, ProcessedEvent, events, APPLIERS[event_type])


def _load(session: Session, actor: Actor, institution_id: int) -> EnrolmentEligibility:
    row = session.get(EnrolmentEligibility, institution_id)
    if row is None:
        raise NotFound(f"资金监管尚无机构 {institution_id} 的记录", field="institution_id")
    authorize(actor, "escrow.read", row.division_code, institution_id=row.institution_id)
    return row


def get_enrolment_eligibility(session: Session, actor: Actor, institution_id: int) -> dict:
    row = _load(session, actor, institution_id)
    return {
        "institution_id": row.institution_id,
        "name": row.name,
        "status": row.status,
        "conversion_suspended": row.conversion_suspended,
        "may_enrol": row.may_enrol,
        "reason": row.reason,
        "updated_at": iso_utc(row.updated_at),
    }


def check_new_charge(session: Session, actor: Actor, institution_id: int) -> dict:
    """Refuse a new charge (收费) while the institution may not enrol; the charge itself is issue 4's."""
    row = _load(session, actor, institution_id)
    if not row.may_enrol:
        raise Conflict(f"{row.name}：{row.reason}，不得收取新的费用", field="institution_id")
    return {"institution_id": row.institution_id, "allowed": True}


def get_prepaid_position(session: Session, actor: Actor, institution_id: int) -> dict:
    """Unearned prepaid money (paid, lessons not given, refunds not yet paid back) — what the
    注销 check waits on — with the rest of the institution's position (monitoring.position_of)."""
    from .monitoring import position_of

    row = _load(session, actor, institution_id)
    return position_of(session, row)
