"""Reporting use cases: apply events to read models; answer report queries from them."""
from __future__ import annotations

from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from services.common.divisions import is_within, scope_prefix, validate_code
from services.common.errors import Forbidden, ValidationFailed
from services.common.idempotency import apply_batch
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import today_shanghai

from . import domain, institutions
from .models import InstitutionFact, InstitutionStatusFact, ProcessedEvent


def apply_institution_registered(session: Session, events: list) -> int:
    """A batch in one transaction; returns how many were new (repeat deliveries change nothing)."""
    return apply_batch(session, ProcessedEvent, events, bulk=institutions.record_registrations)


def apply_institution_status_changed(session: Session, events: list) -> int:
    return apply_batch(session, ProcessedEvent, events, bulk=institutions.record_status_changes)


def apply_institution_updated(session: Session, events: list) -> int:
    return apply_batch(session, ProcessedEvent, events, bulk=institutions.record_updates)


def parse_as_of(as_of: object) -> date:
    if as_of in (None, ""):
        return today_shanghai()
    if not isinstance(as_of, str):
        raise ValidationFailed("日期应为 YYYY-MM-DD", field="as_of")
    try:
        return date.fromisoformat(as_of)
    except ValueError:
        raise ValidationFailed("日期应为 YYYY-MM-DD", field="as_of") from None


def readable_division(actor: Actor, division_code: object) -> str:
    """The division a report is asked for (default the reader's own), checked against the reader."""
    authorize(actor, "reporting.read")
    code = validate_code(division_code or actor.division_code, field="division")
    if not is_within(code, actor.division_code):
        raise Forbidden("无权查看该行政区划的报表", field="division")
    return code


def institution_counts(
    session: Session, actor: Actor, division_code: str | None = None, as_of: str | None = None
) -> dict:
    division_code = readable_division(actor, division_code)
    day = parse_as_of(as_of)

    # the entry in force on `day`: of those effective by then, the registry's latest (highest seq)
    latest = (
        select(
            InstitutionStatusFact.institution_id,
            func.max(InstitutionStatusFact.seq).label("last_seq"),
        )
        .where(InstitutionStatusFact.effective_on <= day)
        .group_by(InstitutionStatusFact.institution_id)
        .subquery()
    )
    rows = session.execute(
        select(InstitutionFact, InstitutionStatusFact.status)
        .join(latest, latest.c.institution_id == InstitutionFact.institution_id)
        .join(InstitutionStatusFact, and_(InstitutionStatusFact.institution_id == latest.c.institution_id,
                                          InstitutionStatusFact.seq == latest.c.last_seq))
        .where(InstitutionFact.division_code.startswith(scope_prefix(division_code)))
        .where(InstitutionFact.registered_on <= day)
    ).all()
    facts = [
        domain.InstitutionFact(f.institution_id, f.category, f.registered_on, status) for f, status in rows
    ]
    return {"as_of": day.isoformat(), "division_code": division_code, **domain.count_institutions(facts)}
