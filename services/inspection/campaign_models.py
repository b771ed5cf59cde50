"""Campaign (专项检查), inspection record, evidence, order (责令整改/停业整顿/移送) and re-inspection tables."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.clock import UtcDateTime

from .models import Base


class Campaign(Base):
    """A sweep (every roster institution of the chosen townships) or a 双随机 draw, in a window.
    `scope_ids` is the roster snapshot taken at creation: coverage is counted against it."""

    __tablename__ = "inspection_campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))  # sweep | random
    mode: Mapped[str] = mapped_column(String(10))  # open | covert
    division_code: Mapped[str] = mapped_column(String(12), index=True)  # the creator's division
    townships: Mapped[list] = mapped_column(JSON)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    team: Mapped[list] = mapped_column(JSON)  # [{department_kind, name}]
    scope_ids: Mapped[list] = mapped_column(JSON)  # institution ids in scope
    scope_townships: Mapped[dict] = mapped_column(JSON)  # {str(institution_id): township_code}
    # the draw (random campaigns only): the roster it drew from, rates in percent, seed, result
    draw_roster: Mapped[list | None] = mapped_column(JSON, nullable=True)  # [[id, grade], …]
    rates: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    seed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    drawn_ids: Mapped[list | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class InspectionRecord(Base):
    """One visit to one institution, in a campaign or standalone."""

    __tablename__ = "inspection_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_campaigns.id"), nullable=True, index=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    institution_name: Mapped[str] = mapped_column(String(100))
    township_code: Mapped[str] = mapped_column(String(12), index=True)
    mode: Mapped[str] = mapped_column(String(10))
    inspected_at: Mapped[datetime] = mapped_column(UtcDateTime)
    inspectors: Mapped[list] = mapped_column(JSON)
    checklist: Mapped[dict] = mapped_column(JSON)
    findings: Mapped[list] = mapped_column(JSON)  # failed item keys
    outcome: Mapped[str] = mapped_column(String(10))  # pass | rectify | suspend | refer
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recorded_by: Mapped[dict] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EvidenceFile(Base):
    __tablename__ = "inspection_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("inspection_records.id"), index=True)
    filename: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(40))
    uploaded_by: Mapped[dict] = mapped_column(JSON)
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class InspectionOrder(Base):
    """An order after a non-pass outcome; followed up to closed or escalated."""

    __tablename__ = "inspection_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("inspection_records.id"), index=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    institution_name: Mapped[str] = mapped_column(String(100))
    township_code: Mapped[str] = mapped_column(String(12), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # rectify | suspend | refer
    deadline_workdays: Mapped[int] = mapped_column(Integer)
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime)
    referred_to: Mapped[str | None] = mapped_column(String(40), nullable=True)
    findings: Mapped[list] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(12), index=True)  # open | closed | escalated
    reinspection_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    history: Mapped[list] = mapped_column(JSON)  # [{action, at, by, by_name, department, note}]


class Reinspection(Base):
    __tablename__ = "inspection_reinspections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("inspection_orders.id"), index=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[dict] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
