"""Inspection tables. The roster of institutions to inspect comes from registry events."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.clock import UtcDateTime

from services.common.idempotency import ProcessedEventMixin


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
    risk_grade: Mapped[str] = mapped_column(String(1))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
