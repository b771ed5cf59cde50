"""Inspection tables. The roster of institutions to inspect comes from registry events."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.calendar_copy import CalendarYearMixin
from services.common.clock import UtcDateTime
from services.common.audit import AuditEntryMixin, AuditHeadMixin, AuditTrail

from services.common.idempotency import ProcessedEventMixin
from services.common.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class InspectionTarget(Base):
    """An institution the county must sweep (拉网式、全覆盖), with its risk grade for 双随机."""

    __tablename__ = "inspection_targets"

    institution_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20))
    risk_grade: Mapped[str] = mapped_column(String(1))  # moved by each inspection (campaign_rules.next_risk_grade)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # follows the registry: an 已注销 institution leaves sweeps and draws but stays for history
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    registry_status: Mapped[str | None] = mapped_column(String(40), nullable=True)
    registry_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # newer events win


class CountyCalendar(Base):
    """A county's school vacations (寒暑假) from the registry's `county_settings_changed`."""

    __tablename__ = "county_calendars"

    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    school_vacations: Mapped[list] = mapped_column(JSON, default=list)  # [{name, start, end}]
    settings_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class InspectionLead(Base):
    """A lead (线索) for inspectors: one open lead per institution and reason, however often the
    signal repeats (`occurrences`, `source_refs`). Escrow alerts are the first source."""

    __tablename__ = "inspection_leads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(40))  # escrow_alert
    # source:institution:reason while open; whoever closes a lead appends ":closed:<id>" so a new one may open
    dedup_key: Mapped[str] = mapped_column(String(160), unique=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    institution_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    reason_kind: Mapped[str] = mapped_column(String(40))
    reason_name: Mapped[str] = mapped_column(String(60))
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)  # the latest signal's evidence
    source_refs: Mapped[list] = mapped_column(JSON, default=list)  # e.g. escrow alert ids
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))  # open
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # closing (issue 5): the inspection that checked it, or an official's resolution
    resolution: Mapped[str | None] = mapped_column(String(20), nullable=True)  # inspected | unfounded | referred
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    record_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    closed_by: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditEntry(AuditEntryMixin, Base):
    """The service's hash-chained audit trail (services/common/audit.py)."""


class AuditHead(AuditHeadMixin, Base):
    """One row: the chain's last seq and hash, locked by every append."""


audit_trail = AuditTrail("inspection", AuditEntry, AuditHead)


class OutboxRow(OutboxMixin, Base):
    """Events written with the change that caused them; the relay publishes them (services/common/outbox.py)."""



class CalendarYear(CalendarYearMixin, Base):
    """A year's loaded holiday schedule (issue 13; the registry owns it, others keep a copy)."""
