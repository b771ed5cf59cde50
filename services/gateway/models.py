"""The identity store held by the gateway: divisions, departments, users."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, false
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
    # the generated admin password must be replaced at first login (issue 16)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class LoginSession(Base):
    """A server-side session (issue 16): the cookie or Bearer token is a random secret; only its
    SHA-256 is stored, so a copy of this table logs no one in. Ends on logout, password change,
    user disable, after the idle timeout or the absolute one."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(30), nullable=True)


class RateBucket(Base):
    """A token bucket shared by every gateway replica (login failures, the public form)."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "<limit>:<client>"
    tokens: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)  # epoch seconds of the last refill


class AuditEntry(AuditEntryMixin, Base):
    """The service's hash-chained audit trail (services/common/audit.py)."""


class AuditHead(AuditHeadMixin, Base):
    """One row: the chain's last seq and hash, locked by every append."""


audit_trail = AuditTrail("gateway", AuditEntry, AuditHead)
