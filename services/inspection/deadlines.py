"""A loaded holiday schedule reaches inspection (issue 13): keep the copy, recompute the running
deadlines — open rectification orders (the Rectification workflow moves its timer from the same
event) and complaints awaiting a reply."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import calendar_copy
from services.common.clock import utc_now
from services.common.idempotency import apply_once
from services.common.logging import get_logger

from . import complaint_rules
from .campaign_models import InspectionOrder
from .complaint_models import Complaint
from .complaint_common import settings
from .models import CalendarYear, ProcessedEvent

log = get_logger(component="inspection.deadlines")


def _recompute(session: Session, event: dict) -> None:
    data = event["data"]
    if not calendar_copy.store_year(session, CalendarYear, data):
        return  # an equal or newer schedule of that year is already applied
    calendar = calendar_copy.calendar_with(data)
    orders = session.scalars(select(InspectionOrder).where(InspectionOrder.status == "open")
                             .with_for_update()).all()
    moved = 0
    for order in orders:
        due = calendar.deadline(order.issued_at, order.deadline_workdays).at
        if due != order.deadline_at:
            order.deadline_at, moved = due, moved + 1
    complaints = session.scalars(select(Complaint).where(Complaint.status.in_(complaint_rules.AWAITING_REPLY))
                                 .with_for_update()).all()
    now = utc_now()
    for row in complaints:
        days = complaint_rules.sla_days(settings(session, row.division_code), row.department)
        due = calendar.deadline(row.received_at, days).at
        if due != row.deadline_at:
            row.deadline_at, moved = due, moved + 1
            if not complaint_rules.is_overdue(row.status, due, now):
                row.overdue_flagged_at = None
    log.info("deadlines_recomputed", year=data["year"], version=data["version"], orders=len(orders),
             complaints=len(complaints), moved=moved)


def apply_calendar_schedule_loaded(session: Session, event: dict) -> bool:
    applied = apply_once(session, ProcessedEvent, event, _recompute)
    calendar_copy.apply_stored_year(session, CalendarYear, event["data"])  # committed: views follow now
    return applied
