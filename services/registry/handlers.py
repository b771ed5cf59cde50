"""Registry use cases: load → apply rules → save → emit. No nameko here; the service wires it."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import iso_utc
from services.common.divisions import scope_prefix
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import today_shanghai

from . import domain
from .models import Institution, StatusChange

Dispatch = Callable[[str, dict], None]
SOURCE = "registry"


def _who(actor: Actor) -> str:
    return f"{actor.department_label}/{actor.display_name}"


def institution_view(row: Institution) -> dict:
    category = domain.Category(row.category)
    status = domain.Status(row.status)
    verification = domain.Verification(row.verification)
    return {
        "id": row.id,
        "name": row.name,
        "uscc": row.uscc,
        "licence_no": row.licence_no,
        "licence_issued_on": row.licence_issued_on.isoformat() if row.licence_issued_on else None,
        "category": category.value,
        "category_name": domain.CATEGORY_NAMES[category],
        "legal_form": row.legal_form,
        "legal_form_name": domain.LEGAL_FORM_NAMES[domain.LegalForm(row.legal_form)],
        "township_code": row.division_code,
        "address": row.address,
        "status": status.value,
        "status_name": domain.STATUS_NAMES[status],
        "verification": verification.value,
        "verification_name": domain.VERIFICATION_NAMES[verification],
        "verification_reason": row.verification_reason,
        "verified_by": row.verified_by,
        "verified_at": iso_utc(row.verified_at),
        "created_at": iso_utc(row.created_at),
        "created_by": row.created_by,
    }


def register_institution(session: Session, dispatch: Dispatch, actor: Actor, data: dict) -> dict:
    draft = domain.parse_registration(data)
    authorize(actor, "registry.register_institution", draft.division_code)
    if session.scalar(select(Institution.id).where(Institution.uscc == draft.uscc)) is not None:
        raise Conflict(f"统一社会信用代码 {draft.uscc} 已登记", field="uscc")
    now = datetime.now(timezone.utc)
    row = Institution(
        name=draft.name,
        uscc=draft.uscc,
        licence_no=draft.licence_no,
        licence_issued_on=draft.licence_issued_on,
        category=draft.category.value,
        legal_form=draft.legal_form.value,
        division_code=draft.division_code,
        address=draft.address,
        status=domain.Status.operating.value,
        verification=domain.Verification.pending.value,
        created_at=now,
        created_by=_who(actor),
    )
    session.add(row)
    session.flush()
    session.add(
        StatusChange(
            institution_id=row.id,
            status=row.status,
            effective_on=today_shanghai(now),
            reason="登记",
            changed_by=_who(actor),
            recorded_at=now,
        )
    )
    session.commit()
    view = institution_view(row)
    dispatch(
        "institution_registered",
        make_event(SOURCE, "institution_registered", view, row.division_code, actor.to_dict(), now),
    )
    return view


def _load(session: Session, institution_id: object) -> Institution:
    if not isinstance(institution_id, int) or isinstance(institution_id, bool):
        raise ValidationFailed("机构编号应为整数", field="institution_id")
    row = session.get(Institution, institution_id)
    if row is None:
        raise NotFound(f"机构 {institution_id} 不存在", field="institution_id")
    return row


def get_institution(session: Session, actor: Actor, institution_id: int) -> dict:
    row = _load(session, institution_id)
    authorize(actor, "registry.read", row.division_code)
    return institution_view(row)


def list_institutions(session: Session, actor: Actor, limit: int = 100, offset: int = 0) -> dict:
    authorize(actor, "registry.read")
    scope = Institution.division_code.startswith(scope_prefix(actor.division_code))
    rows = session.scalars(
        select(Institution).where(scope).order_by(Institution.id).limit(limit).offset(offset)
    ).all()
    return {"items": [institution_view(r) for r in rows], "limit": limit, "offset": offset}


def record_licence_verification(
    session: Session, dispatch: Dispatch, actor: Actor, institution_id: int, decision: dict
) -> dict:
    """Called by the verification workflow once the education bureau has decided."""
    row = _load(session, institution_id)
    authorize(actor, "registry.record_licence_verification", row.division_code)
    outcome, decided_at = domain.parse_verification_decision(decision)
    if not domain.check_verification_outcome(domain.Verification(row.verification), outcome):
        return institution_view(row)  # a retried activity: already recorded
    row.verification = outcome.value
    row.verification_reason = decision.get("reason") or None
    row.verified_by = str(decision.get("decided_by", ""))[:100]
    row.verified_at = decided_at
    session.commit()
    view = institution_view(row)
    dispatch(
        "licence_verification_recorded",
        make_event(SOURCE, "licence_verification_recorded", view, row.division_code, actor.to_dict()),
    )
    return view
