"""School supervision (督导) tables: the school roster from the registry, zones, visits, homework
publications, 一校一案 plans and the county's supervision settings."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.common.clock import UtcDateTime

from .models import Base


class SupervisedSchool(Base):
    """A compulsory-education school, copied from the registry's `school_registered` event."""

    __tablename__ = "supervised_schools"

    school_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the registry's id
    code: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    school_type: Mapped[str] = mapped_column(String(20))
    grades: Mapped[list] = mapped_column(JSON)
    division_code: Mapped[str] = mapped_column(String(12), index=True)  # township
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    zone: Mapped[str] = mapped_column(String(50))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SupervisionZone(Base):
    """督学责任区 of a county with its 督学 (a user of the 督导室, or a name)."""

    __tablename__ = "supervision_zones"
    __table_args__ = (UniqueConstraint("county_code", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    name: Mapped[str] = mapped_column(String(50))
    inspector_name: Mapped[str] = mapped_column(String(50))
    inspector_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SchoolVisit(Base):
    __tablename__ = "school_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    zone: Mapped[str] = mapped_column(String(50))
    visited_on: Mapped[date] = mapped_column(Date, index=True)
    inspector: Mapped[str] = mapped_column(String(50))
    method: Mapped[str] = mapped_column(String(30))
    findings: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HomeworkPublication(Base):
    """作业公示: one class's homework of one day (items with minutes); republishing replaces it."""

    __tablename__ = "homework_publications"
    __table_args__ = (UniqueConstraint("school_id", "grade", "class_name", "published_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    grade: Mapped[int] = mapped_column(Integer)
    class_name: Mapped[str] = mapped_column(String(30))
    published_on: Mapped[date] = mapped_column(Date, index=True)
    items: Mapped[list] = mapped_column(JSON)
    written_minutes: Mapped[int] = mapped_column(Integer)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AfterSchoolPlan(Base):
    """课后服务 一校一案 of one school for one school year, with participation and awareness."""

    __tablename__ = "after_school_plans"
    __table_args__ = (UniqueConstraint("school_id", "school_year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(Integer, index=True)
    division_code: Mapped[str] = mapped_column(String(12), index=True)
    school_year: Mapped[int] = mapped_column(Integer)
    filed_on: Mapped[date] = mapped_column(Date)
    participating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    enrolled: Mapped[int | None] = mapped_column(Integer, nullable=True)
    aware: Mapped[int | None] = mapped_column(Integer, nullable=True)
    surveyed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SupervisionSettings(Base):
    __tablename__ = "supervision_settings"

    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    plan_deadline: Mapped[str] = mapped_column(String(5))  # MM-DD of each school year
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
