"""Inspection use cases (the foundation part: the roster to sweep)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.divisions import scope_prefix, validate_code
from services.common.idempotency import apply_once
from services.common.identity import Actor
from services.common.policy import authorize

from . import domain
from .models import InspectionTarget, ProcessedEvent


def _add_target(session: Session, event: dict) -> None:
    data = event["data"]
    category = str(data["category"])
    session.add(
        InspectionTarget(
            institution_id=int(data["id"]),
            division_code=validate_code(data["township_code"], field="data.township_code"),
            name=str(data["name"]),
            category=category,
            risk_grade=domain.initial_risk_grade(category),
            added_at=datetime.now(timezone.utc),
        )
    )


def apply_institution_registered(session: Session, event: dict) -> bool:
    return apply_once(session, ProcessedEvent, event, _add_target)


def list_inspection_targets(session: Session, actor: Actor) -> dict:
    authorize(actor, "inspection.read")
    rows = session.scalars(
        select(InspectionTarget)
        .where(InspectionTarget.division_code.startswith(scope_prefix(actor.division_code)))
        .order_by(InspectionTarget.institution_id)
    ).all()
    return {
        "items": [
            {
                "institution_id": r.institution_id,
                "name": r.name,
                "township_code": r.division_code,
                "category": r.category,
                "risk_grade": r.risk_grade,
            }
            for r in rows
        ]
    }
