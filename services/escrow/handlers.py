"""Escrow use cases (the foundation part: who may take charges)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session

from services.common.clock import iso_utc
from services.common.divisions import validate_code
from services.common.errors import NotFound
from services.common.idempotency import apply_once
from services.common.identity import Actor
from services.common.policy import authorize

from . import domain
from .models import EnrolmentEligibility, ProcessedEvent


def _record_eligibility(session: Session, event: dict) -> None:
    data = event["data"]
    may_enrol, reason = domain.enrolment_decision(str(data["status"]))
    session.add(
        EnrolmentEligibility(
            institution_id=int(data["id"]),
            division_code=validate_code(data["township_code"], field="data.township_code"),
            name=str(data["name"]),
            may_enrol=may_enrol,
            reason=reason,
            updated_at=datetime.now(timezone.utc),
        )
    )


def apply_institution_registered(session: Session, event: dict) -> bool:
    return apply_once(session, ProcessedEvent, event, _record_eligibility)


def get_enrolment_eligibility(session: Session, actor: Actor, institution_id: int) -> dict:
    row = session.get(EnrolmentEligibility, institution_id)
    if row is None:
        raise NotFound(f"资金监管尚无机构 {institution_id} 的记录", field="institution_id")
    authorize(actor, "escrow.read", row.division_code)
    return {
        "institution_id": row.institution_id,
        "name": row.name,
        "may_enrol": row.may_enrol,
        "reason": row.reason,
        "updated_at": iso_utc(row.updated_at),
    }
