"""A holiday schedule loaded while a Rectification waits moves its timer (issue 13), time skipping."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from services.common import workcalendar
from services.common.calendar_file import parse_schedule, read_schedule_text
from services.common.workdays import SHANGHAI
from workflows.calendar_contract import CalendarSchedule, merged
from workflows.rectification.workflows import ACTIVITY_TASK, OrderInput, Rectification

from .conftest import TOWNSHIP
from .support import serving
from .test_rectification import FakeInspection

HANDLES: list = []
FIXTURE = Path(__file__).parents[1] / "fixtures" / "calendar_2027.csv"


def schedule_2027(version: int = 1) -> CalendarSchedule:
    days = parse_schedule(read_schedule_text(FIXTURE.read_text(encoding="utf-8")))[2027]
    return CalendarSchedule(2027, version, [d.as_dict() for d in days])


@pytest.fixture(autouse=True)
def _no_loaded_schedules():
    workcalendar.install({})
    yield
    workcalendar.install({})


async def _state(handle, done):
    state = await handle.query(Rectification.state)
    while not done(state):
        state = await handle.query(Rectification.state)
    return state


@pytest.mark.timeout(60)
async def test_a_loaded_2027_schedule_moves_the_running_timer(time_env, task_queue):
    client, inspection = time_env.client, FakeInspection()
    async with serving(client, task_queue, [Rectification], inspection.activities(), HANDLES):
        order_id = uuid.uuid4().int % 10**6
        issued = datetime(2026, 12, 4, 10, tzinfo=SHANGHAI)
        assert await time_env.get_current_time() < issued + timedelta(days=20)  # the test server runs on today
        handle = await client.start_workflow(
            Rectification.run, OrderInput(order_id, 7, TOWNSHIP, "rectify", 30, issued.isoformat()),
            id=f"rectification-{order_id}", task_queue=task_queue)
        HANDLES.append(handle)
        state = await _state(handle, lambda s: s.deadline is not None)
        # 2027 has no official schedule yet: 元旦 (a Friday) is still a holiday by law
        assert datetime.fromisoformat(state.deadline).date() == date(2027, 1, 18)

        await handle.signal(Rectification.calendar_changed, schedule_2027())
        state = await _state(handle, lambda s: "deadline_moved" in s.steps)
        # the loaded notice makes Saturday 2027-01-09 a working day: due one working day earlier
        moved = datetime.fromisoformat(state.deadline)
        assert moved.date() == date(2027, 1, 15)

        await time_env.sleep(moved - await time_env.get_current_time() - timedelta(minutes=1))
        assert inspection.calls == []  # not before the new deadline
        await time_env.sleep(timedelta(minutes=2))
        while not (await handle.query(Rectification.state)).task_created:
            await time_env.sleep(timedelta(seconds=1))
        assert inspection.calls == [(ACTIVITY_TASK, order_id)]  # at the new date, not the old one


def test_a_late_older_schedule_never_replaces_a_newer_one():
    newer, older = schedule_2027(2), schedule_2027(1)
    assert merged(merged([], newer), older) == [newer]
    other = CalendarSchedule(2028, 1, [])
    assert merged([newer], other) == [newer, other]
