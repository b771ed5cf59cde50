"""Tables of the multi-department cases (营转非, 注销) and the county settings they use.

The workflows process owns the process itself (Temporal); the registry keeps what officials
look up without asking Temporal: who has to act now (inbox), and the dated record of every
decision, reminder and escalation.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.clock import UtcDateTime

from .models import Base


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(80), unique=True)
    process: Mapped[str] = mapped_column(String(30))
    variant: Mapped[str] = mapped_column(String(30))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    status: Mapped[str] = mapped_column(String(30))  # in_progress / awaiting_documents / completed / rejected
    current_step: Mapped[str | None] = mapped_column(String(60), nullable=True)
    current_department: Mapped[str | None] = mapped_column(String(30), nullable=True, index=True)
    step_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    opened_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class CaseEntry(Base):
    """One line of a case's history: a decision, a step start, a reminder, an escalation…"""

    __tablename__ = "case_entries"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_entry_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(60))
    step_title: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    department: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    return_to: Mapped[str | None] = mapped_column(String(60), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class CountySettings(Base):
    """Rules that vary by place (domain.md: a per-county setting with the national default)."""

    __tablename__ = "county_settings"

    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    conversion_deadline: Mapped[date] = mapped_column(Date)
    conversion_variant: Mapped[str] = mapped_column(String(30))
    school_vacations: Mapped[list | None] = mapped_column(JSON, nullable=True)  # [{name, start, end}]; None = []
    reduction_baseline_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # None = 2021-07-24
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))


class CaseAttachment(Base):
    """A document attached to a case (a licence, a registration certificate, a decision letter…),
    for the step it was uploaded for. The bytes live once per SHA-256 under var/case_attachments/."""

    __tablename__ = "case_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step_key: Mapped[str | None] = mapped_column(String(60), nullable=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    department: Mapped[str] = mapped_column(String(30))  # the uploader's DepartmentKind value
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
