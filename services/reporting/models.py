"""Reporting read models, built only from other services' events."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Index, Integer, String
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
    version: Mapped[int] = mapped_column(Integer, default=0)  # the registry's record version last applied


class InstitutionStatusFact(Base):
    """Dated status history, so a report as of any past day gives that day's answer."""

    __tablename__ = "institution_status_facts"
    __table_args__ = (Index("uq_status_fact_seq", "institution_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(40))
    effective_on: Mapped[date] = mapped_column(Date)
    # the registry's history entry number: of the entries in force on a day, the highest holds,
    # whatever order the events arrived in
    seq: Mapped[int] = mapped_column(Integer, default=0)
