"""Reporting use cases: apply events to read models; answer report queries from them."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from services.common.divisions import is_within, scope_prefix, validate_code
from services.common.errors import Forbidden, ValidationFailed
from services.common.idempotency import apply_once
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import SHANGHAI, today_shanghai

from . import domain
from .models import InstitutionFact, InstitutionStatusFact, ProcessedEvent


def _record_institution(session: Session, event: dict) -> None:
    data = event["data"]
    registered_on = datetime.fromisoformat(event["occurred_at"]).astimezone(SHANGHAI).date()
    institution_id = int(data["id"])
    session.add(
        InstitutionFact(
            institution_id=institution_id,
            division_code=validate_code(data["township_code"], field="data.township_code"),
            category=str(data["category"]),
            registered_on=registered_on,
        )
    )
    session.add(
        InstitutionStatusFact(
            institution_id=institution_id, status=str(data["status"]), effective_on=registered_on
        )
    )


def apply_institution_registered(session: Session, event: dict) -> bool:
    """Returns False for a duplicate delivery (nothing changes)."""
    return apply_once(session, ProcessedEvent, event, _record_institution)


def _parse_as_of(as_of: object) -> date:
    if as_of in (None, ""):
        return today_shanghai()
    if not isinstance(as_of, str):
        raise ValidationFailed("日期应为 YYYY-MM-DD", field="as_of")
    try:
        return date.fromisoformat(as_of)
    except ValueError:
        raise ValidationFailed("日期应为 YYYY-MM-DD", field="as_of") from None


def institution_counts(
    session: Session, actor: Actor, division_code: str | None = None, as_of: str | None = None
) -> dict:
    division_code = division_code or actor.division_code
    validate_code(division_code, field="division")
    authorize(actor, "reporting.read")
    if not is_within(division_code, actor.division_code):
        raise Forbidden("无权查看该行政区划的报表", field="division")
    day = _parse_as_of(as_of)

    latest = (
        select(
            InstitutionStatusFact.institution_id,
            func.max(InstitutionStatusFact.id).label("last_id"),
        )
        .where(InstitutionStatusFact.effective_on <= day)
        .group_by(InstitutionStatusFact.institution_id)
        .subquery()
    )
    rows = session.execute(
        select(InstitutionFact, InstitutionStatusFact.status)
        .join(latest, latest.c.institution_id == InstitutionFact.institution_id)
        .join(InstitutionStatusFact, and_(InstitutionStatusFact.id == latest.c.last_id))
        .where(InstitutionFact.division_code.startswith(scope_prefix(division_code)))
        .where(InstitutionFact.registered_on <= day)
    ).all()
    facts = [
        domain.InstitutionFact(f.institution_id, f.category, f.registered_on, status) for f, status in rows
    ]
    return {"as_of": day.isoformat(), "division_code": division_code, **domain.count_institutions(facts)}
