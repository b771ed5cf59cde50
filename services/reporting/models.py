"""Reporting read models, built only from other services' events."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.idempotency import ProcessedEventMixin


class Base(DeclarativeBase):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class InstitutionFact(Base):
    __tablename__ = "institution_facts"

    institution_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    category: Mapped[str] = mapped_column(String(20))
    registered_on: Mapped[date] = mapped_column(Date)


class InstitutionStatusFact(Base):
    """Dated status history, so a report as of any past day gives that day's answer."""

    __tablename__ = "institution_status_facts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(40))
    effective_on: Mapped[date] = mapped_column(Date)
