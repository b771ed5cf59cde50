"""A loaded holiday schedule reaches escrow (issue 13). Lesson and refund deadlines here are
computed when shown or acted on (desk_lessons.py), so keeping the copy and the process calendar is
the whole recomputation; the PrepaidContract workflows move their timers from the same event."""
from __future__ import annotations

from sqlalchemy.orm import Session

from services.common import calendar_copy
from services.common.idempotency import apply_once

from .models import CalendarYear, ProcessedEvent


def _store(session: Session, event: dict) -> None:
    calendar_copy.store_year(session, CalendarYear, event["data"])


def apply_calendar_schedule_loaded(session: Session, event: dict) -> bool:
    applied = apply_once(session, ProcessedEvent, event, _store)
    calendar_copy.apply_stored_year(session, CalendarYear, event["data"])  # after the commit
    return applied
