"""Complaint (举报) tables: the complaints and each county's SLA per department kind."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.clock import UtcDateTime

from .models import Base


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (UniqueConstraint("channel", "channel_ref", name="uq_complaints_channel_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    receipt_no: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(40))  # public | hlw_edu_supervision
    channel_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the channel's 线索编号
    division_code: Mapped[str] = mapped_column(String(12), index=True)  # township, else the county
    institution_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    institution_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    content: Mapped[str] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(String(20), nullable=True)  # never shown unmasked
    status: Mapped[str] = mapped_column(String(20), index=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    duplicate_of: Mapped[str | None] = mapped_column(String(32), nullable=True)
    department: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)  # the official reply (public)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lead_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # every step: {action, at, by, by_name, department, note} — notes are internal
    history: Mapped[list] = mapped_column(JSON, default=list)


class ComplaintSettings(Base):
    __tablename__ = "complaint_settings"

    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    sla_days: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(80))
