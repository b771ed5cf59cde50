"""Escrow tables. Institution facts arrive as registry events (never a shared table)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.clock import UtcDateTime

from services.common.idempotency import ProcessedEventMixin


class Base(DeclarativeBase):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class EnrolmentEligibility(Base):
    """Whether an institution may take new charges now (营转非, 停业整顿, 注销中 stop it)."""

    __tablename__ = "enrolment_eligibility"

    institution_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    name: Mapped[str] = mapped_column(String(100))
    may_enrol: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(40), default="operating")
    status_as_of: Mapped[str | None] = mapped_column(String(40), nullable=True)  # event occurred_at
    conversion_suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    conversion_as_of: Mapped[str | None] = mapped_column(String(40), nullable=True)
