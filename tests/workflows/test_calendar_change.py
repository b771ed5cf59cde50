"""A holiday schedule loaded while a Rectification waits moves its timer (issue 13), time skipping."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from services.common import calendar_copy, workcalendar
from services.common.calendar_file import parse_schedule, read_schedule_text
from services.common.workcalendar import REST, WORK, statutory_days_off
from services.common.workdays import SHANGHAI
from workflows.calendar_contract import CalendarSchedule, merged
from workflows.rectification.workflows import ACTIVITY_TASK, OrderInput, Rectification

from .conftest import TEST_SERVER, TOWNSHIP
from .support import serving
from .test_rectification import FakeInspection

HANDLES: list = []
FIXTURE = Path(__file__).parents[1] / "fixtures" / "calendar_2027.csv"


def schedule_2027(version: int = 1) -> CalendarSchedule:
    days = parse_schedule(read_schedule_text(FIXTURE.read_text(encoding="utf-8")))[2027]
    return CalendarSchedule(2027, version, [d.as_dict() for d in days])


def next_year_scenario(now: datetime):
    """The issue's case moved to the next year still ahead of the clock: opened on 4 December, a
    schedule of the following year with its statutory days off and a make-up first Saturday."""
    opened_year = now.year if now < datetime(now.year, 12, 4, tzinfo=SHANGHAI) else now.year + 1
    year = opened_year + 1
    saturday = next(date(year, 1, d) for d in range(1, 8) if date(year, 1, d).weekday() == 5)
    if saturday in statutory_days_off(year):
        saturday += timedelta(days=7)
    days = [{"date": d.isoformat(), "kind": REST, "name": n} for d, n in sorted(statutory_days_off(year).items())]
    schedule = CalendarSchedule(year, 1, days + [{"date": saturday.isoformat(), "kind": WORK, "name": "调休上班"}])
    issued = datetime(opened_year, 12, 4, 10, tzinfo=SHANGHAI)
    before = workcalendar.WorkCalendar().deadline(issued, 30).at.date()
    after = workcalendar.WorkCalendar({year: calendar_copy.schedule_days(schedule.days)}).deadline(issued, 30).at.date()
    return issued, lambda: schedule, before, after


@pytest.fixture
def fresh_time_env(loop):
    """A time-skipping server of its own: the session's one has been moved years ahead by others."""
    env = loop.run_until_complete(WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER)))
    yield env
    loop.run_until_complete(env.shutdown())


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
@pytest.mark.parametrize("scenario", ["issue", "next_year"])
async def test_a_loaded_schedule_moves_the_running_timer(fresh_time_env, task_queue, scenario):
    """The issue's case (2026-12-04 + 30 working days: 2027-01-18, then 2027-01-15), and the same
    case on the next year ahead of the clock, so the test keeps running once 2027 has passed."""
    time_env = fresh_time_env
    client, inspection = time_env.client, FakeInspection()
    now = await time_env.get_current_time()
    if scenario == "issue":
        issued, schedule, due_before, due_after = (datetime(2026, 12, 4, 10, tzinfo=SHANGHAI), schedule_2027,
                                                   date(2027, 1, 18), date(2027, 1, 15))
        if now > issued + timedelta(days=20):
            pytest.skip("the clock has passed 2026-12: the next_year case covers it")
    else:
        issued, schedule, due_before, due_after = next_year_scenario(now)
        assert due_after < due_before
    async with serving(client, task_queue, [Rectification], inspection.activities(), HANDLES):
        order_id = uuid.uuid4().int % 10**6
        handle = await client.start_workflow(
            Rectification.run, OrderInput(order_id, 7, TOWNSHIP, "rectify", 30, issued.isoformat()),
            id=f"rectification-{order_id}", task_queue=task_queue)
        HANDLES.append(handle)
        state = await _state(handle, lambda s: s.deadline is not None)
        # the next year has no official schedule yet: 元旦 (a Friday) is still a holiday by law
        assert datetime.fromisoformat(state.deadline).date() == due_before

        await handle.signal(Rectification.calendar_changed, schedule())
        state = await _state(handle, lambda s: "deadline_moved" in s.steps)
        # the loaded notice makes Saturday 01-09 a working day: due one working day earlier
        moved = datetime.fromisoformat(state.deadline)
        assert moved.date() == due_after

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


@pytest.mark.timeout(60)
async def test_a_pending_lesson_is_deemed_confirmed_on_the_loaded_schedule(fresh_time_env, task_queue):
    time_env = fresh_time_env
    if await time_env.get_current_time() > datetime(2026, 12, 31, tzinfo=SHANGHAI):
        pytest.skip("the clock has passed 2026-12-31")
    from workflows.prepaid.contracts import SIGNAL_LESSON_DELIVERED, LessonDelivered
    from workflows.prepaid.workflows import PrepaidContract

    from .test_prepaid import FakeEscrow, start_with

    escrow = FakeEscrow()
    async with serving(time_env.client, task_queue, [PrepaidContract], escrow.activities(), HANDLES):
        delivered = datetime(2026, 12, 31, 10, tzinfo=SHANGHAI).isoformat()
        handle, contract_id = await start_with(time_env.client, task_queue, SIGNAL_LESSON_DELIVERED,
                                               LessonDelivered(4, delivered, 15))

        async def lesson_deadline():
            while True:
                state = await handle.query(PrepaidContract.state)
                if state.lessons and state.lessons[0].deadline:
                    return datetime.fromisoformat(state.lessons[0].deadline).date()

        assert await lesson_deadline() == date(2027, 1, 22)  # statutory 2027: 元旦 off, no make-up day
        await handle.signal(PrepaidContract.calendar_changed, schedule_2027())
        while (due := await lesson_deadline()) == date(2027, 1, 22):
            pass
        assert due == date(2027, 1, 21)  # Saturday 2027-01-09 counts
        final = await handle.result()
    assert [(d.key, datetime.fromisoformat(d.deadline).date()) for d in final.deemed] == [(4, date(2027, 1, 21))]
    assert escrow.lessons == [(contract_id, 4)]


@pytest.mark.timeout(60)
async def test_an_approval_step_is_rescheduled_and_the_registry_told(fresh_time_env, task_queue):
    from dataclasses import replace

    from workflows.approvals.workflows import ConversionApproval

    from .test_approvals import FakeServices, case_input

    time_env, services = fresh_time_env, FakeServices()
    opened = datetime(2027, 1, 4, 10, tzinfo=SHANGHAI)  # a Monday; 5 working days for 教体局
    if await time_env.get_current_time() > opened:
        pytest.skip("the clock has passed 2027-01-04")
    async with serving(time_env.client, task_queue, [ConversionApproval], services.activities(), HANDLES):
        params = replace(case_input(), opened_at=opened.isoformat())
        handle = await time_env.client.start_workflow(ConversionApproval.run, params, id=params.workflow_id,
                                                      task_queue=task_queue)
        HANDLES.append(handle)

        async def deadline():
            while True:
                state = await handle.query(ConversionApproval.state)
                if state.deadline:
                    return datetime.fromisoformat(state.deadline).date()

        assert await deadline() == date(2027, 1, 11)  # statutory 2027: no make-up Saturday known
        await handle.signal(ConversionApproval.calendar_changed, schedule_2027())
        while (due := await deadline()) == date(2027, 1, 11):
            pass
        assert due == date(2027, 1, 9)  # the notice's Saturday 2027-01-09 is a working day
        while not any(r.entry.action == "rescheduled" for r in services.records):
            await time_env.sleep(timedelta(seconds=1))
        moved = next(r for r in services.records if r.entry.action == "rescheduled")
        assert datetime.fromisoformat(moved.deadline).date() == date(2027, 1, 9)  # what the registry shows
