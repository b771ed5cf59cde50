"""Loaded holiday schedules as a table: the registry's (the owner) and each deadline-keeping
service's copy, fed by the registry's `calendar_schedule_loaded` event.

One row per year holding that year's schedule days; `version` grows with each load of the year, so
a redelivered or late event never replaces a newer schedule. A service's process calendar
(workcalendar.current()) is filled from its copy: at its first call, every REFRESH_SECONDS after
(another replica may have applied the event), and at once by the replica applying the event.
"""
from __future__ import annotations

import time
from datetime import date, datetime

from nameko.extensions import DependencyProvider
from sqlalchemy import JSON, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import workcalendar
from .clock import UtcDateTime
from .errors import ValidationFailed
from .workcalendar import ScheduleDay

EVENT = "calendar_schedule_loaded"
REFRESH_SECONDS = 60


class CalendarYearMixin:
    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    days: Mapped[list] = mapped_column(JSON)  # [{date, kind, name}]
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    loaded_by: Mapped[str] = mapped_column(String(100))


def upgrade() -> None:
    """Each service's Alembic revision imports this and `downgrade` (the columns of CalendarYearMixin)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("days", sa.JSON, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    from alembic import op

    op.drop_table("calendar_years")


def schedule_days(days: list[dict]) -> list[ScheduleDay]:
    return [ScheduleDay(date.fromisoformat(d["date"]), d["kind"], d.get("name") or "") for d in days]


def load_all(session: Session, model) -> dict[int, list[ScheduleDay]]:
    return {row.year: schedule_days(row.days) for row in session.scalars(select(model))}


def store_year(session: Session, model, data: dict) -> bool:
    """Keep the year's schedule from an event's data; False when an equal or newer one is kept."""
    try:
        year, version = int(data["year"]), int(data["version"])
        days = [ScheduleDay(date.fromisoformat(d["date"]), d["kind"], d.get("name") or "").as_dict()
                for d in data["days"]]
        loaded_at = datetime.fromisoformat(data["loaded_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed(f"放假安排事件内容不完整：{exc}", field="data") from None
    row = session.get(model, year, with_for_update=True)
    if row is not None and row.version >= version:
        return False
    if row is None:
        row = model(year=year)
        session.add(row)
    row.version, row.days, row.loaded_at, row.loaded_by = version, days, loaded_at, str(data.get("loaded_by") or "")
    session.flush()
    return True


def apply_to_process(data: dict) -> None:
    workcalendar.replace_year(int(data["year"]), schedule_days(data["days"]))


def calendar_with(data: dict) -> workcalendar.WorkCalendar:
    """The process calendar with the event's year laid over: to recompute deadlines in the event's
    transaction before the process calendar itself changes (after the commit)."""
    return workcalendar.current().overlay({int(data["year"]): schedule_days(data["days"])})


def apply_stored_year(session: Session, model, data: dict) -> None:
    """After the commit: the process calendar takes the year as stored (the newest version, which a
    late event does not replace), so no view shows the new calendar before the rows it moved."""
    row = session.get(model, int(data["year"]))
    if row is not None:
        workcalendar.replace_year(row.year, schedule_days(row.days))


class CalendarCopy(DependencyProvider):
    """Keeps the process calendar in step with the service's `calendar_years` table."""

    def __init__(self, model, database_attr: str = "db"):
        self.model = model
        self.database_attr = database_attr
        self._refreshed_at = float("-inf")

    def _sessionmaker(self):
        for dep in self.container.dependencies:
            if getattr(dep, "attr_name", None) == self.database_attr:
                return dep.sessionmaker
        raise RuntimeError(f"no database dependency named {self.database_attr}")

    def refresh(self) -> None:
        with self._sessionmaker()() as session:
            workcalendar.install(load_all(session, self.model))
        self._refreshed_at = time.monotonic()

    def worker_setup(self, worker_ctx):
        if time.monotonic() - self._refreshed_at >= REFRESH_SECONDS:
            self.refresh()

    def get_dependency(self, worker_ctx):
        return self
