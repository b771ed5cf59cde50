"""The registry's loaded holiday schedules on SQLite: a load is versioned, audited and announced;
the gauge says whether next year's schedule is official."""
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from services.common import workcalendar
from services.common.calendar_file import read_schedule_text
from services.common.errors import Forbidden
from services.common.identity import Actor, DepartmentKind
from services.common.workdays import SHANGHAI
from services.registry import holiday_schedules
from services.registry.models import AuditEntry, Base

ROWS = read_schedule_text((Path(__file__).parents[1] / "fixtures" / "calendar_2027.csv").read_text("utf-8"))
OPS_ADMIN = Actor(1, "admin", "管理员", 1, DepartmentKind.ops, "运维", "340722", ("admin",))


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with sessionmaker(bind=engine)() as s:
        yield s
    workcalendar.install({})


def test_a_load_is_versioned_audited_and_announced(session):
    sent = []
    dispatch = lambda event_type, event: sent.append((event_type, event))  # noqa: E731
    assert holiday_schedules.next_year_status(session, now=datetime(2026, 11, 1, 9, tzinfo=SHANGHAI))[
        "missing_notice"]
    assert holiday_schedules.next_year_official(session) in (0, 1)
    with pytest.raises(Forbidden):
        holiday_schedules.load_calendar_schedule(session, dispatch, Actor(
            2, "u", "用户", 2, DepartmentKind.education, "教体局", "340722", ("leader",)), {"days": ROWS})
    first = holiday_schedules.load_calendar_schedule(session, dispatch, OPS_ADMIN, {"days": ROWS})
    again = holiday_schedules.load_calendar_schedule(session, dispatch, OPS_ADMIN, ROWS)
    assert [y["version"] for y in first["loaded"] + again["loaded"]] == [1, 2]
    assert [(t, e["data"]["year"], e["data"]["version"]) for t, e in sent] == [
        ("calendar_schedule_loaded", 2027, 1), ("calendar_schedule_loaded", 2027, 2)]
    status = holiday_schedules.next_year_status(session, now=datetime(2026, 11, 1, 9, tzinfo=SHANGHAI))
    assert (status["year"], status["official"], status["missing_notice"]) == (2027, True, False)
    actions = session.scalars(select(AuditEntry.action)).all()
    assert actions == ["registry.load_calendar_schedule"] * 2
    assert holiday_schedules.get_calendar(session, OPS_ADMIN, 2027)["source"] == "loaded"
    assert workcalendar.current().is_official(2027)  # this process's calendar at once
