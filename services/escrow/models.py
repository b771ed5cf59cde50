"""Escrow tables. Institution facts arrive as registry events (never a shared table)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
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


# -- 预收费资金监管: accounts, fee items, contracts, lessons, refunds, alerts --------------------------
# Money is integer fen (BigInteger) everywhere.


class EscrowAccount(Base):
    """A supervised account: 银行托管 (custody) or 风险保证金 (guarantee)."""

    __tablename__ = "escrow_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    mode: Mapped[str] = mapped_column(String(20))  # custody | guarantee
    bank_name: Mapped[str] = mapped_column(String(100))
    bank_code: Mapped[str] = mapped_column(String(20))  # the custodian bank's code on its feed
    account_no: Mapped[str] = mapped_column(String(40), unique=True)
    custody_agreement_no: Mapped[str | None] = mapped_column(String(60), nullable=True)  # filed with the bureau
    guarantee_minimum_fen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # open | closed
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))


class EscrowAccountChange(Base):
    """Account history: opened, changed (what, before/after), closed — who and when."""

    __tablename__ = "escrow_account_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("escrow_accounts.id"), index=True)
    change: Mapped[str] = mapped_column(String(20))  # opened | changed | closed
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(100))


class FeeItem(Base):
    """A published fee item (收费项目与标准公示); charging needs a published item."""

    __tablename__ = "fee_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(100))
    price_per_hour_fen: Mapped[int] = mapped_column(BigInteger)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Contract(Base):
    """An enrolment on the model contract, and the prepaid charge it carries (one charge each)."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_no: Mapped[str] = mapped_column(String(60), unique=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    template_version: Mapped[str] = mapped_column(String(40))  # 《中小学生校外培训服务合同(示范文本)》 version
    fee_item_id: Mapped[int] = mapped_column(ForeignKey("fee_items.id"))
    student_name: Mapped[str] = mapped_column(String(50))
    class_hours: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(20))  # how the parent paid: refunds go back the same way
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(20))  # active | completed | refunded
    receipt_matched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # the parent's contract code (家长端, parent_rules.py): printed on the contract and as a QR code
    access_code: Mapped[str | None] = mapped_column(String(16), unique=True, index=True, nullable=True)


class Lesson(Base):
    """一课一消: a delivered lesson's fee becomes releasable once confirmed (or deemed confirmed)."""

    __tablename__ = "lessons"
    __table_args__ = (UniqueConstraint("contract_id", "lesson_no", name="uq_lesson_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    lesson_no: Mapped[int] = mapped_column(Integer)
    hours: Mapped[int] = mapped_column(Integer)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    delivered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    confirmation: Mapped[str] = mapped_column(String(20))  # pending | confirmed | deemed | disputed
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    dispute_reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # the parent's, when disputed
    disputed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))  # the contract's payment channel
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(20))  # requested | accepted | deemed_accepted | rejected | paid
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)


class Alert(Base):
    """An early warning (预警) with its evidence; one open alert per institution, kind and key."""

    __tablename__ = "escrow_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    dedup_key: Mapped[str] = mapped_column(String(120), unique=True)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(20))  # open | closed
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class EscrowSettings(Base):
    """Per-county escrow rules (national values as defaults; domain.md)."""

    __tablename__ = "escrow_settings"

    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    charge_cap_fen: Mapped[int] = mapped_column(BigInteger)  # e.g. 500000 (5,000 yuan)
    max_class_hours: Mapped[int] = mapped_column(Integer)  # 60
    max_months: Mapped[int] = mapped_column(Integer)  # 3
    deemed_confirmation_workdays: Mapped[int] = mapped_column(Integer)  # 15 (some places 7)
    refund_answer_workdays: Mapped[int] = mapped_column(Integer)  # 5
    receipt_grace_days: Mapped[int] = mapped_column(Integer)  # contract without a bank receipt after N days
    delivery_stop_days: Mapped[int] = mapped_column(Integer)  # no lessons for N days while holding money
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))


# -- the bank feed (services/escrow/feed.py writes these) ----------------------------------------


class BankTransaction(Base):
    """A custodian bank's transaction; idempotent by (bank code, bank transaction id)."""

    __tablename__ = "bank_transactions"
    __table_args__ = (UniqueConstraint("bank_code", "bank_tx_id", name="uq_bank_tx"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    bank_code: Mapped[str] = mapped_column(String(20))
    bank_tx_id: Mapped[str] = mapped_column(String(64))
    account_no: Mapped[str] = mapped_column(String(40), index=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # receipt | release | refund
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # > 0; the kind gives the direction
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    contract_no: Mapped[str | None] = mapped_column(String(60), nullable=True, index=True)
    batch_id: Mapped[str] = mapped_column(String(64), index=True)


class AccountBalance(Base):
    """Running totals per supervised account, updated with each booked batch."""

    __tablename__ = "account_balances"

    account_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    institution_id: Mapped[int] = mapped_column(Integer, index=True)
    receipts_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    releases_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    tx_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_tx_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class FeedBatch(Base):
    """One batch from the feed (an AMQP message or a statement file): what became of its rows."""

    __tablename__ = "feed_batches"

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # amqp | statement
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rows: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # booked | rejected
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditEntry(AuditEntryMixin, Base):
    """The service's hash-chained audit trail (services/common/audit.py)."""


class AuditHead(AuditHeadMixin, Base):
    """One row: the chain's last seq and hash, locked by every append."""


audit_trail = AuditTrail("escrow", AuditEntry, AuditHead)


class OutboxRow(OutboxMixin, Base):
    """Events written with the change that caused them; the relay publishes them (services/common/outbox.py)."""



class CalendarYear(CalendarYearMixin, Base):
    """A year's loaded holiday schedule (issue 13; the registry owns it, others keep a copy)."""
