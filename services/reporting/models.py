"""Reporting read models, built only from other services' events."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.clock import UtcDateTime
from services.common.audit import AuditEntryMixin, AuditHeadMixin, AuditTrail
from services.common.idempotency import ProcessedEventMixin
from services.common.outbox import OutboxMixin


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


# -- escrow (issue 4): from escrow's events, dated so a summary "as of" a past day is that day's --


class EscrowAccountFact(Base):
    """A supervised account, open from `opened_on` until the day before `closed_on`."""

    __tablename__ = "escrow_account_facts"

    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    opened_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # None: the closing arrived first
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class EscrowAlertFact(Base):
    """An early-warning alert, open from the day raised until the day closed."""

    __tablename__ = "escrow_alert_facts"

    alert_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    kind: Mapped[str | None] = mapped_column(String(40), nullable=True)
    raised_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # None: the closing arrived first
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class EscrowBalanceFact(Base):
    """An institution's supervised balance as the feed last booked it on a day."""

    __tablename__ = "escrow_balance_facts"

    institution_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    balance_fen: Mapped[int] = mapped_column(BigInteger)
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditEntry(AuditEntryMixin, Base):
    """The service's hash-chained audit trail (services/common/audit.py)."""


class AuditHead(AuditHeadMixin, Base):
    """One row: the chain's last seq and hash, locked by every append."""


audit_trail = AuditTrail("reporting", AuditEntry, AuditHead)


class OutboxRow(OutboxMixin, Base):
    """Events written with the change that caused them; the relay publishes them (services/common/outbox.py)."""

