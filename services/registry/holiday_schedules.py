"""The county's holiday schedules (放假安排): the registry owns the loaded ones (issue 13).

A load replaces each year it lists, is audited, and announces `calendar_schedule_loaded` (the
year's whole schedule) through the outbox: escrow and inspection keep a copy and recompute their
open deadlines, the workflows process moves its running timers.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import calendar_copy, workcalendar
from services.common.calendar_file import parse_schedule
from services.common.clock import iso_utc, utc_now
from services.common.errors import ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.policy import authorize

from .handlers import Dispatch, _who
from .models import CalendarYear, audit_trail

SOURCE = "registry"


def _calendar(session: Session) -> workcalendar.WorkCalendar:
    return workcalendar.WorkCalendar(calendar_copy.load_all(session, CalendarYear))


def _year_view(row: CalendarYear | None) -> dict | None:
    if row is None:
        return None
    return {"year": row.year, "version": row.version, "days": row.days, "loaded_at": iso_utc(row.loaded_at),
            "loaded_by": row.loaded_by}


def load_calendar_schedule(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    """data: {days: [{date, kind, name}]} (or the list itself). Returns the years loaded."""
    authorize(actor, "calendar.load_schedule")
    rows = data.get("days") if isinstance(data, dict) else data
    schedules = parse_schedule(rows)
    now, loaded, announced = utc_now(), [], []
    for year, days in schedules.items():
        row = session.get(CalendarYear, year, with_for_update=True)
        before = _year_view(row)
        if row is None:
            row = CalendarYear(year=year, version=0)
            session.add(row)
        row.version += 1
        row.days = [d.as_dict() for d in days]
        row.loaded_at, row.loaded_by = now, _who(actor)
        session.flush()
        after = _year_view(row)
        audit_trail.append(session, actor, "registry.load_calendar_schedule", "calendar_year", year, before, after,
                           actor.division_code, now)
        dispatch(calendar_copy.EVENT,
                 make_event(SOURCE, calendar_copy.EVENT, after, actor.division_code, actor.to_dict(), now))
        announced.append(after)
        loaded.append({"year": year, "version": row.version, "rest_days": sum(d.kind == workcalendar.REST for d in days),
                       "work_days": sum(d.kind == workcalendar.WORK for d in days)})
    session.commit()  # the schedules and their events together
    for after in announced:
        calendar_copy.apply_to_process(after)  # this process's case deadlines at once
    return {"loaded": loaded}


def get_calendar(session: Session, actor: Actor, year: object) -> dict:
    authorize(actor, "registry.read")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2099:
        raise ValidationFailed("年份应为2000到2099之间的整数", field="year")
    cal = _calendar(session)
    source = cal.source(year)
    row = session.get(CalendarYear, year)
    return {
        "year": year, "source": source, "source_name": workcalendar.SOURCE_NAMES[source],
        "official": cal.is_official(year), "provisional": not cal.is_official(year),
        "loaded_at": iso_utc(row.loaded_at) if row else None, "loaded_by": row.loaded_by if row else None,
        "version": row.version if row else None,
        "days": cal.year_days(year),
    }


def list_calendar_years(session: Session, actor: Actor) -> dict:
    authorize(actor, "registry.read")
    rows = session.scalars(select(CalendarYear).order_by(CalendarYear.year)).all()
    return {"items": [{k: v for k, v in _year_view(r).items() if k != "days"} | {"day_count": len(r.days)}
                      for r in rows]}


def all_schedules(session: Session, actor: Actor) -> dict:
    authorize(actor, "registry.read")
    return {"items": [_year_view(r) for r in session.scalars(select(CalendarYear).order_by(CalendarYear.year))]}


def next_year_status(session: Session, actor: Actor | None = None, now=None) -> dict:
    """Next year's schedule: official or not, and whether the county must be told (Nov 1st on)."""
    if actor is not None:
        authorize(actor, "registry.read")
    return workcalendar.next_year_status(now or utc_now(), _calendar(session))


def next_year_official(session: Session) -> int:
    """The metric shuangjian_calendar_next_year_official: 1 when next year's schedule is official."""
    return int(next_year_status(session)["official"])
