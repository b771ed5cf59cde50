"""Read models for the half-monthly and weekly reports (issue 6), fed by the registry's,
inspection's and supervision's events, each dated so a report "as of" a past day is that day's;
and the report cycles with their frozen submissions."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.clock import UtcDateTime

from .models import Base


class InstitutionAttributeFact(Base):
    """A dated value of an institution's attribute that reports count by: `category` and the
    national-platform flags (`platform_basic_info`, `platform_staff`, `platform_fund_supervision`).
    The value on a day is the entry with the highest `version` among those effective by then."""

    __tablename__ = "institution_attribute_facts"
    __table_args__ = (Index("uq_attribute_fact", "institution_id", "attribute", "version", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    attribute: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(40))
    effective_on: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)


class CountyReportSettings(Base):
    """The county's 压减率 baseline date, from the registry's `county_settings_changed`."""

    __tablename__ = "county_report_settings"

    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    baseline_date: Mapped[date] = mapped_column(Date)


class CampaignFact(Base):
    __tablename__ = "campaign_facts"

    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(10))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    created_on: Mapped[date] = mapped_column(Date)
    in_scope: Mapped[int] = mapped_column(Integer)


class InspectionFact(Base):
    """One inspection visit; `illegal_ad` when the advertising item failed (违规广告查处)."""

    __tablename__ = "inspection_facts"

    record_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    inspected_on: Mapped[date] = mapped_column(Date, index=True)
    outcome: Mapped[str] = mapped_column(String(10))
    illegal_ad: Mapped[bool] = mapped_column(Boolean, default=False)


class OrderFact(Base):
    """A 责令整改 / 停业整顿 / 移送 order and the days it was closed or escalated."""

    __tablename__ = "order_facts"

    order_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    issued_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # None: a later event came first
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    escalated_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class ComplaintFact(Base):
    __tablename__ = "complaint_facts"

    complaint_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    received_on: Mapped[date] = mapped_column(Date, index=True)
    verified_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    overdue_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class SchoolFact(Base):
    __tablename__ = "school_facts"

    school_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    registered_on: Mapped[date] = mapped_column(Date)


class SchoolVisitFact(Base):
    __tablename__ = "school_visit_facts"

    visit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    visited_on: Mapped[date] = mapped_column(Date, index=True)


class HomeworkCheckFact(Base):
    """One class's result in a homework check; a school meets the limits on a day when none of its
    classes' latest results by then is flagged."""

    __tablename__ = "homework_check_facts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    class_name: Mapped[str] = mapped_column(String(30))
    checked_on: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    flagged: Mapped[bool] = mapped_column(Boolean)


class AfterSchoolPlanFact(Base):
    __tablename__ = "after_school_plan_facts"

    school_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    filed_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    participating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    enrolled: Mapped[int | None] = mapped_column(Integer, nullable=True)


# -- report cycles and frozen submissions -----------------------------------------------------


class ReportCycle(Base):
    """One report owed: a kind, a division (county), a period and its due moment. Drafted by the
    schedule; `overdue_flagged_at` once the due moment passed without a submission."""

    __tablename__ = "report_cycles"
    __table_args__ = (Index("uq_report_cycle", "kind", "division_code", "period_end", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # half_monthly | weekly
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    drafted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ReportSubmission(Base):
    """A submitted report, frozen: its content as submitted, a hash of it, who and when. A
    correction is the next version of the same cycle; earlier versions stay as they were."""

    __tablename__ = "report_submissions"
    __table_args__ = (Index("uq_report_submission", "cycle_id", "version", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    submitted_by: Mapped[dict] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
