"""What the escrow desk's use cases (教体局) share: the actions they authorize and their steps —
load → rules → save → publish after the commit → re-evaluate the institution's alerts.

The use cases: desk_accounts.py (county settings, supervised accounts), desk_charges.py (fee items,
contracts: the charge), desk_lessons.py (lessons, refunds, the deadline actions). A refused command
stores nothing; the one exception is in desk_charges.py.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from services.common.errors import NotFound, ValidationFailed
from services.common.identity import Actor

from . import monitoring
from .models import EnrolmentEligibility
from .monitoring import Dispatch, publish

DESK = "escrow.desk"
READ = "escrow.read"
DEADLINES = "escrow.apply_deadlines"
# the steps of 一课一消 an institution account or a parent takes on its own records (issue 14)
FEES, SIGN, DELIVER = "escrow.fee_items", "escrow.sign_contract", "escrow.deliver_lesson"
CONFIRM, ASK_REFUND, ANSWER_REFUND = "escrow.confirm_lesson", "escrow.request_refund", "escrow.answer_refund"


def int_(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed("编号应为整数", field=field)
    return value


def institution(session: Session, actor: Actor, institution_id: int, action: str) -> EnrolmentEligibility:
    return monitoring.institutions_in(session, actor, int_(institution_id, "institution_id"), action)


def get(session: Session, model, key: object, field: str, label: str):
    row = session.get(model, int_(key, field))
    if row is None:
        raise NotFound(f"没有编号为 {key} 的{label}", field=field)
    return row


def commit(session: Session, dispatch: Dispatch, events: list) -> None:
    """The change and its events (outbox rows) in one commit."""
    publish(dispatch, events)
    session.commit()


def after_change(session: Session, dispatch: Dispatch, institution_id: int) -> None:
    """Once the change is committed: re-evaluate the institution's alerts (their own commits)."""
    inst = session.get(EnrolmentEligibility, institution_id)
    if inst is not None:
        monitoring.evaluate_quietly(session, dispatch, [inst])
