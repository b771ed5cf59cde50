"""Reporting use cases: apply events to read models; answer report queries from them."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from services.common.divisions import is_within, scope_prefix, validate_code
from services.common.errors import Forbidden, ValidationFailed
from services.common.idempotency import apply_batch
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import SHANGHAI, today_shanghai

from . import domain
from .facts import local_day, record_attributes
from .models import InstitutionFact, InstitutionStatusFact, ProcessedEvent


def _day(value: object, field: str) -> date:
    if not isinstance(value, str):
        raise ValueError(f"{field} 应为 YYYY-MM-DD")
    return date.fromisoformat(value)


def _status(value: object) -> str:
    if value not in domain.STATUS_NAMES:
        raise ValueError(f"未知状态 {value}")
    return str(value)


def _upsert_fact(session: Session, event: dict) -> int:
    """Create the institution's fact, or overwrite it with a newer version of the record.

    `registered_on` is the first day of the record's history (older events lack it: then the
    day the event occurred). Township and category are the record's current values.
    """
    data = event["data"]
    institution_id = int(data["id"])
    version = int(data.get("version", 0))
    if data.get("registered_on"):
        registered_on = _day(data["registered_on"], "data.registered_on")
    else:
        registered_on = datetime.fromisoformat(event["occurred_at"]).astimezone(SHANGHAI).date()
    values = {
        "division_code": validate_code(data["township_code"], field="data.township_code"),
        "category": str(data["category"]),
        "registered_on": registered_on,
        "version": version,
    }
    fact = session.get(InstitutionFact, institution_id)
    if fact is None:
        session.add(InstitutionFact(institution_id=institution_id, **values))
    elif version > fact.version:  # events may arrive out of order: the newest record wins
        for key, value in values.items():
            setattr(fact, key, value)
    return institution_id


def _add_status(session: Session, institution_id: int, status: str, effective_on: date, seq: int) -> None:
    exists = session.scalar(
        select(InstitutionStatusFact.id).where(
            InstitutionStatusFact.institution_id == institution_id, InstitutionStatusFact.seq == seq
        )
    )
    if exists is None:
        session.add(InstitutionStatusFact(institution_id=institution_id, status=_status(status),
                                          effective_on=effective_on, seq=seq))
        session.flush()


def _record_institution(session: Session, event: dict) -> None:
    data = event["data"]
    institution_id = _upsert_fact(session, event)
    record_attributes(session, data, session.get(InstitutionFact, institution_id).registered_on)
    history = data.get("history")
    if history is None:  # an event from before the registry sent its history
        fact = session.get(InstitutionFact, institution_id)
        _add_status(session, institution_id, data["status"], fact.registered_on, 0)
        return
    if not isinstance(history, list) or not history:
        raise ValueError("history 应为非空列表")
    for index, entry in enumerate(history):
        _add_status(session, institution_id, entry["status"], _day(entry["effective_on"], "history.effective_on"),
                    int(entry.get("seq", index)))


def _record_status_change(session: Session, event: dict) -> None:
    data = event["data"]
    _add_status(session, int(data["id"]), data["status"], _day(data["effective_on"], "data.effective_on"),
                int(data["seq"]))


def apply_institution_registered(session: Session, events: list) -> int:
    """A batch in one transaction; returns how many were new (repeat deliveries change nothing)."""
    return apply_batch(session, ProcessedEvent, events, _record_institution)


def apply_institution_status_changed(session: Session, events: list) -> int:
    return apply_batch(session, ProcessedEvent, events, _record_status_change)


def _record_update(session: Session, event: dict) -> None:
    _upsert_fact(session, event)
    record_attributes(session, event["data"], local_day(event["occurred_at"]))


def apply_institution_updated(session: Session, events: list) -> int:
    return apply_batch(session, ProcessedEvent, events, _record_update)


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
