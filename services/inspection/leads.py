"""Closing leads (线索): an inspection of the institution closes its open leads (they were checked
on the spot); an official closes one with a resolution (unfounded, referred) and a note. A closed
lead frees its dedup key, so the next signal of the same kind opens a new lead."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import utc_now
from services.common.divisions import is_within
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.identity import Actor
from services.common.policy import authorize

from .handlers import lead_view
from .models import InspectionLead

MANUAL_RESOLUTIONS = ("unfounded", "referred")


def _close(lead: InspectionLead, resolution: str, note: str | None, closed_by: dict, at: datetime,
           record_id: int | None = None) -> None:
    lead.status, lead.resolution, lead.resolution_note = "closed", resolution, note
    lead.record_id, lead.closed_by, lead.closed_at = record_id, closed_by, at
    lead.dedup_key = f"{lead.dedup_key}:closed:{lead.id}"


def close_leads_checked_by(session: Session, institution_id: int, record_id: int, inspected_at: datetime,
                           closed_by: dict) -> list[int]:
    """In the inspection record's transaction: every open lead of the institution seen before the
    visit is closed as inspected, with the record linked."""
    leads = session.scalars(select(InspectionLead).where(
        InspectionLead.institution_id == institution_id, InspectionLead.status == "open",
        InspectionLead.first_seen_at <= inspected_at)).all()
    for lead in leads:
        _close(lead, "inspected", None, closed_by, utc_now(), record_id)
    return [lead.id for lead in leads]


def close_lead(session: Session, actor: Actor, lead_id: object, data: object) -> dict:
    """{resolution: unfounded | referred, note} by the education bureau within its division."""
    authorize(actor, "inspection.create_campaign")
    if not isinstance(lead_id, int) or isinstance(lead_id, bool):
        raise ValidationFailed("应为整数", field="lead_id")
    lead = session.get(InspectionLead, lead_id, with_for_update=True)
    if lead is None or not is_within(lead.division_code, actor.division_code):
        raise NotFound("未找到此线索", field="lead_id")
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    resolution = data.get("resolution")
    if resolution not in MANUAL_RESOLUTIONS:
        raise ValidationFailed("办结方式应为 unfounded（经核查不属实）或 referred（已移交其他部门）",
                               field="resolution")
    note = data.get("note")
    if not isinstance(note, str) or not note.strip() or len(note) > 1000:
        raise ValidationFailed("请填写办结说明（不超过1000字）", field="note")
    if lead.status != "open":
        raise Conflict("此线索已办结", field="lead_id")
    _close(lead, resolution, note.strip(), {"username": actor.username, "name": actor.display_name,
                                             "department": actor.department_kind.value}, utc_now())
    session.commit()
    return lead_view(lead)

