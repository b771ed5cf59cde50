"""What the complaint (举报) use cases share: the officials' view of a complaint, its dated history
steps, its events (no content and no phone), the county's SLA settings.

Intake is in `complaint_intake.py`, handling in `complaint_handling.py`."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import county_of
from services.common.events import make_event
from services.common.identity import Actor
from services.common.logging import get_logger
from services.common.workdays import deadline_provisional

from . import complaint_rules as rules
from .complaint_models import Complaint, ComplaintSettings

Dispatch = Callable[[str, dict], None]
SOURCE = "inspection"
log = get_logger(component="inspection.complaints")


def who(actor: Actor) -> str:
    return f"{actor.department_label}/{actor.display_name}"


def _event_data(row: Complaint) -> dict:
    return {"complaint_id": row.id, "receipt_no": row.receipt_no, "channel": row.channel,
            "township_code": row.division_code if len(row.division_code) == 9 else None,
            "division_code": row.division_code, "department": row.department,
            "received_at": iso_utc(row.received_at), "verified": row.verified, "status": row.status,
            "institution_id": row.institution_id, "deadline_at": iso_utc(row.deadline_at)}


def announce(dispatch: Dispatch, event_type: str, row: Complaint, actor: Actor | None = None, **extra) -> None:
    data = {**_event_data(row), **extra}
    dispatch(event_type, make_event(SOURCE, event_type, data, row.division_code, actor.to_dict() if actor else None))


def step(row: Complaint, action: str, actor: Actor, at: datetime, note: str | None = None, **extra) -> None:
    entry = {"action": action, "at": iso_utc(at), "by": actor.username, "by_name": who(actor),
             "department": actor.department_kind.value, "note": note, **extra}
    row.history = [*(row.history or []), entry]


def settings(session: Session, division_code: str) -> dict:
    county = county_of(division_code) or division_code
    found = session.get(ComplaintSettings, county)
    return dict(found.sla_days) if found else {}


def view(row: Complaint, as_of: datetime | None = None) -> dict:
    """The officials' view: everything but the unmasked phone."""
    as_of = as_of or utc_now()
    return {
        "id": row.id, "receipt_no": row.receipt_no, "channel": row.channel,
        "channel_name": rules.CHANNELS.get(row.channel, row.channel), "channel_ref": row.channel_ref,
        "division_code": row.division_code, "institution_id": row.institution_id,
        "institution_name": row.institution_name, "content": row.content,
        "contact_phone": rules.mask_phone(row.contact_phone), "status": row.status,
        "status_name": rules.STATUS_NAMES.get(row.status, row.status), "verified": row.verified,
        "duplicate_of": row.duplicate_of, "department": row.department,
        "received_at": iso_utc(row.received_at), "deadline_at": iso_utc(row.deadline_at),
        "deadline_provisional": deadline_provisional(row.received_at, row.deadline_at),
        "overdue": rules.is_overdue(row.status, row.deadline_at, as_of),
        "overdue_flagged_at": iso_utc(row.overdue_flagged_at), "reply": row.reply,
        "replied_at": iso_utc(row.replied_at), "closed_at": iso_utc(row.closed_at), "lead_id": row.lead_id,
        "history": row.history or [],
    }
