"""Bulk inserts of new rows (services/common/bulk_insert.py) on the run's database: psycopg2's
execute_values on PostgreSQL (as under `make test`), SQLAlchemy's INSERT on SQLite. What goes in
comes back out."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, Boolean, Date, Integer, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from services.common.bulk_insert import insert_rows
from services.common.clock import UtcDateTime
from services.common.config import database_url
from services.common.db import make_engine

TABLE = f"test_bulk_{uuid.uuid4().hex[:8]}"


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = TABLE
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # serial: left to the server
    name: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    day: Mapped[date | None] = mapped_column(Date, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    flag: Mapped[bool] = mapped_column(Boolean)
    extra: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    level: Mapped[int] = mapped_column(Integer, default=3)


@pytest.fixture
def engine():
    engine = make_engine(database_url("reporting"))
    Base.metadata.create_all(engine)
    yield engine
    Base.metadata.drop_all(engine)
    engine.dispose()


def test_rows_with_tabs_newlines_backslashes_nulls_and_times_come_back_as_written(engine):
    beijing = timezone(timedelta(hours=8))
    rows = [
        {"name": "枞阳县\t制表\\培训学校", "note": "第一行\n第二行\r\n末尾\\N", "day": date(2021, 7, 24),
         "at": datetime(2026, 12, 4, 23, 59, tzinfo=beijing), "flag": True, "extra": {"乡镇": "枞阳镇", "n": 1},
         "level": 1},
        {"name": "空值机构", "note": None, "day": None, "at": datetime(2026, 1, 1, tzinfo=timezone.utc),
         "flag": False, "extra": None, "level": 2},
    ]
    with Session(engine) as session:
        insert_rows(session, Row, rows)
        session.rollback()  # in the session's transaction: a rollback leaves nothing
    with Session(engine) as session:
        assert session.scalars(select(Row)).all() == []
        insert_rows(session, Row, rows)
        session.commit()
    with Session(engine) as session:
        stored = session.scalars(select(Row).order_by(Row.id)).all()
    assert [(r.name, r.note, r.day, r.flag, r.extra, r.level) for r in stored] == [
        (r["name"], r["note"], r["day"], r["flag"], r["extra"], r["level"]) for r in rows]
    assert [r.at for r in stored] == [r["at"] for r in rows]  # the same instants (read back in UTC)
    assert stored[0].at.tzinfo is not None and stored[1].id == stored[0].id + 1


def test_rows_leaving_out_a_column_with_a_python_default_are_refused_on_every_database(engine):
    """On SQLite SQLAlchemy would apply the default; refused there too, so it cannot pass there and fail
    on PostgreSQL."""
    with Session(engine) as session, pytest.raises(ValueError, match="level"):
        insert_rows(session, Row, [{"name": "x", "note": None, "day": None,
                                    "at": datetime(2026, 1, 1, tzinfo=timezone.utc), "flag": True, "extra": None}])
