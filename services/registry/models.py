"""Registry tables (this service's database only)."""
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


class Institution(Base):
    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    licence_no: Mapped[str] = mapped_column(String(50))
    licence_issued_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    category: Mapped[str] = mapped_column(String(20))
    legal_form: Mapped[str] = mapped_column(String(20))
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    address: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(40))
    verification: Mapped[str] = mapped_column(String(20))
    verification_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    verified_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    # 0002: the record beyond the licence
    subjects: Mapped[list] = mapped_column(JSON, default=list)  # 培训科目
    stages: Mapped[list] = mapped_column(JSON, default=list)  # 面向学段 (Stage values)
    registered_on: Mapped[date] = mapped_column(Date)  # first day of the status history
    origin: Mapped[str] = mapped_column(String(20), default="api")  # api / ledger_import
    platform_basic_info: Mapped[bool] = mapped_column(Boolean, default=False)  # 全国平台：基本情况
    platform_staff: Mapped[bool] = mapped_column(Boolean, default=False)  # 全国平台：培训人员
    platform_fund_supervision: Mapped[bool] = mapped_column(Boolean, default=False)  # 全国平台：资金监管
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped by every change the registry announces
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class StatusChange(Base):
    """Dated status history: who, when, why — reports are computed as of any date."""

    __tablename__ = "institution_status_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    status: Mapped[str] = mapped_column(String(40))
    effective_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StaffMember(Base):
    """培训人员. The 居民身份证号 itself is never stored: only its mask and a keyed digest."""

    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("institution_id", "id_number_digest", name="uq_staff_person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    id_number_masked: Mapped[str] = mapped_column(String(18))
    id_number_digest: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(20))
    qualification_cert_no: Mapped[str | None] = mapped_column(String(30), nullable=True)
    subjects: Mapped[list] = mapped_column(JSON, default=list)
    hired_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    left_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class Course(Base):
    """A course an institution offers: subject, price (integer fen), class hours, weekly schedule."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(20))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    class_hours: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(10))
    schedule: Mapped[list] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20))  # published / withdrawn
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_by: Mapped[str] = mapped_column(String(100))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class School(Base):
    """A compulsory-education school (for 督导 and reports), with its 督学责任区."""

    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)  # 学校标识码
    name: Mapped[str] = mapped_column(String(100))
    school_type: Mapped[str] = mapped_column(String(20))
    grades: Mapped[list] = mapped_column(JSON)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    zone: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class ImportBatch(Base):
    """A ledger (台账) import in progress: rows are staged here, then committed all or nothing."""

    __tablename__ = "import_batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    division_code: Mapped[str] = mapped_column(String(12))
    file_name: Mapped[str] = mapped_column(String(200))
    headers: Mapped[list] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20))  # open / committed / rejected
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_by_user_id: Mapped[int] = mapped_column(Integer)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ImportRow(Base):
    __tablename__ = "import_rows"

    batch_id: Mapped[str] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"), primary_key=True)
    row_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    cells: Mapped[dict] = mapped_column(JSON)


class ProcessedEvent(ProcessedEventMixin, Base):
    """Events from other services the registry has applied (inspection orders), once each."""


class AuditEntry(AuditEntryMixin, Base):
    """The service's hash-chained audit trail (services/common/audit.py)."""


class AuditHead(AuditHeadMixin, Base):
    """One row: the chain's last seq and hash, locked by every append."""


audit_trail = AuditTrail("registry", AuditEntry, AuditHead)


class OutboxRow(OutboxMixin, Base):
    """Events written with the change that caused them; the relay publishes them (services/common/outbox.py)."""



class CalendarYear(CalendarYearMixin, Base):
    """A year's loaded holiday schedule (issue 13; the registry owns it, others keep a copy)."""
