"""The identity store held by the gateway: divisions, departments, users."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.clock import UtcDateTime
from services.common.audit import AuditEntryMixin, AuditHeadMixin, AuditTrail


class Base(DeclarativeBase):
    pass


class Division(Base):
    """行政区划."""

    __tablename__ = "divisions"
    # a ledger names a township by name: two children of one county with one name would be ambiguous
    __table_args__ = (Index("uq_division_parent_name", "parent_code", "name", unique=True),)

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(String(12), nullable=True)


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("division_code", "kind", name="uq_department_division_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    division_code: Mapped[str] = mapped_column(ForeignKey("divisions.code"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(50))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    roles: Mapped[str] = mapped_column(String(100))  # comma-separated Role values
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # an institution's account (机构端, issue 14): the one institution it acts for, its name as the header shows
    institution_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    institution_name: Mapped[str | None] = mapped_column(String(100), nullable=True)


class AuditEntry(AuditEntryMixin, Base):
    """The service's hash-chained audit trail (services/common/audit.py)."""


class AuditHead(AuditHeadMixin, Base):
    """One row: the chain's last seq and hash, locked by every append."""


audit_trail = AuditTrail("gateway", AuditEntry, AuditHead)
