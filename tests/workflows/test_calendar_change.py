"""A holiday schedule loaded while a Rectification waits moves its timer (issue 13), time skipping."""
from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from services.common import calendar_copy, workcalendar
from services.common.calendar_file import parse_schedule, read_schedule_text
from services.common.workcalendar import WorkCalendar
from services.common.workdays import SHANGHAI
from workflows.calendar_contract import CalendarSchedule, merged
from workflows.rectification.workflows import ACTIVITY_TASK, OrderInput, Rectification
from tests.calendar_cases import make_up_saturday, notice_days

from .conftest import TEST_SERVER, TOWNSHIP
from .support import serving
from .test_rectification import FakeInspection

HANDLES: list = []
FIXTURE = Path(__file__).parents[1] / "fixtures" / "calendar_2027.csv"


def schedule_2027(version: int = 1) -> CalendarSchedule:
    days = parse_schedule(read_schedule_text(FIXTURE.read_text(encoding="utf-8")))[2027]
    return CalendarSchedule(2027, version, [d.as_dict() for d in days])


@dataclass(frozen=True)
class Case:
    start: datetime
    schedule: CalendarSchedule
    due_before: date  # statutory days off only: the year has no official schedule yet
    due_after: date  # once the year's notice, with its make-up Saturday, is loaded


def case_ahead(now: datetime, workdays: int, start_in) -> Case:
    """The first year from the clock's whose case still ends more than a day ahead of it: started at
    start_in(year), `workdays` working days, the year's notice from tests.calendar_cases. Until
    2027-01 that is the issue's own 2027; after, a later year, so these tests never skip."""
    for year in itertools.count(now.year):
        schedule = CalendarSchedule(year, 1, [{"date": d.isoformat(), "kind": k, "name": n}
                                              for d, k, n in notice_days(year)])
        start = start_in(year)
        after = WorkCalendar({year: calendar_copy.schedule_days(schedule.days)}).deadline(start, workdays).at
        if after > now + timedelta(days=1):
            before = WorkCalendar().deadline(start, workdays).at
            return Case(start, schedule, before.date(), after.date())


def order_of_4_december(year: int) -> datetime:
    return datetime(year - 1, 12, 4, 10, tzinfo=SHANGHAI)


def lesson_of_31_december(year: int) -> datetime:
    return datetime(year - 1, 12, 31, 10, tzinfo=SHANGHAI)


def case_of_the_monday_before_make_up(year: int) -> datetime:
    monday = make_up_saturday(year) - timedelta(days=5)
    return datetime(monday.year, monday.month, monday.day, 10, tzinfo=SHANGHAI)


ORDER_WORKDAYS, LESSON_WORKDAYS, EDUCATION_STEP_WORKDAYS = 30, 15, 5


def test_on_the_issue_s_clock_the_cases_are_the_issue_s_dates_on_the_2027_notice():
    """Pins the dates the workflow tests below meet today, and that the generated 2027 notice moves
    them as the real one (tests/fixtures/calendar_2027.csv) does."""
    clock = datetime(2026, 12, 4, 12, tzinfo=SHANGHAI)
    notice = WorkCalendar({2027: calendar_copy.schedule_days(schedule_2027().days)})
    for start_in, workdays, before, after in [
            (order_of_4_december, ORDER_WORKDAYS, date(2027, 1, 18), date(2027, 1, 15)),
            (lesson_of_31_december, LESSON_WORKDAYS, date(2027, 1, 22), date(2027, 1, 21)),
            (case_of_the_monday_before_make_up, EDUCATION_STEP_WORKDAYS, date(2027, 1, 11), date(2027, 1, 9))]:
        case = case_ahead(clock, workdays, start_in)
        assert (case.start, case.due_before, case.due_after) == (start_in(2027), before, after)
        assert notice.deadline(case.start, workdays).at.date() == after


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
async def test_a_loaded_schedule_moves_the_running_timer(fresh_time_env, task_queue):
    """An order of 4 December for 30 working days: the next year's notice, loaded while it waits,
    moves its timer one working day earlier (the issue's 2027-01-18 to 2027-01-15)."""
    time_env = fresh_time_env
    client, inspection = time_env.client, FakeInspection()
    case = case_ahead(await time_env.get_current_time(), ORDER_WORKDAYS, order_of_4_december)
    assert case.due_after < case.due_before
    async with serving(client, task_queue, [Rectification], inspection.activities(), HANDLES):
        order_id = uuid.uuid4().int % 10**6
        handle = await client.start_workflow(
            Rectification.run, OrderInput(order_id, 7, TOWNSHIP, "rectify", ORDER_WORKDAYS, case.start.isoformat()),
            id=f"rectification-{order_id}", task_queue=task_queue)
        HANDLES.append(handle)
        state = await _state(handle, lambda s: s.deadline is not None)
        # the next year has no official schedule yet: 元旦 (a Friday) is still a holiday by law
        assert datetime.fromisoformat(state.deadline).date() == case.due_before

        await handle.signal(Rectification.calendar_changed, case.schedule)
        state = await _state(handle, lambda s: "deadline_moved" in s.steps)
        # the loaded notice makes a Saturday a working day: due one working day earlier
        moved = datetime.fromisoformat(state.deadline)
        assert moved.date() == case.due_after

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
    case = case_ahead(await time_env.get_current_time(), LESSON_WORKDAYS, lesson_of_31_december)
    assert case.due_after < case.due_before
    from workflows.prepaid.contracts import SIGNAL_LESSON_DELIVERED, LessonDelivered
    from workflows.prepaid.workflows import PrepaidContract

    from .test_prepaid import FakeEscrow, start_with

    escrow = FakeEscrow()
    async with serving(time_env.client, task_queue, [PrepaidContract], escrow.activities(), HANDLES):
        handle, contract_id = await start_with(time_env.client, task_queue, SIGNAL_LESSON_DELIVERED,
                                               LessonDelivered(4, case.start.isoformat(), LESSON_WORKDAYS))

        async def lesson_deadline():
            while True:
                state = await handle.query(PrepaidContract.state)
                if state.lessons and state.lessons[0].deadline:
                    return datetime.fromisoformat(state.lessons[0].deadline).date()

        assert await lesson_deadline() == case.due_before  # statutory: 元旦 off, no make-up day
        await handle.signal(PrepaidContract.calendar_changed, case.schedule)
        while (due := await lesson_deadline()) == case.due_before:
            pass
        assert due == case.due_after  # the notice's make-up Saturday counts
        final = await handle.result()
    assert [(d.key, datetime.fromisoformat(d.deadline).date()) for d in final.deemed] == [(4, case.due_after)]
    assert escrow.lessons == [(contract_id, 4)]


@pytest.mark.timeout(60)
async def test_an_approval_step_is_rescheduled_and_the_registry_told(fresh_time_env, task_queue):
    from dataclasses import replace

    from workflows.approvals.workflows import ConversionApproval

    from .test_approvals import FakeServices, case_input

    time_env, services = fresh_time_env, FakeServices()
    case = case_ahead(await time_env.get_current_time(), EDUCATION_STEP_WORKDAYS, case_of_the_monday_before_make_up)
    assert case.due_after < case.due_before
    async with serving(time_env.client, task_queue, [ConversionApproval], services.activities(), HANDLES):
        params = replace(case_input(), opened_at=case.start.isoformat())
        assert params.steps[0]["sla_workdays"] == EDUCATION_STEP_WORKDAYS  # 教体局's step
        handle = await time_env.client.start_workflow(ConversionApproval.run, params, id=params.workflow_id,
                                                      task_queue=task_queue)
        HANDLES.append(handle)

        async def deadline():
            while True:
                state = await handle.query(ConversionApproval.state)
                if state.deadline:
                    return datetime.fromisoformat(state.deadline).date()

        assert await deadline() == case.due_before  # statutory: no make-up Saturday known
        await handle.signal(ConversionApproval.calendar_changed, case.schedule)
        while (due := await deadline()) == case.due_before:
            pass
        assert due == case.due_after  # the notice's make-up Saturday is a working day
        while not any(r.entry.action == "rescheduled" for r in services.records):
            await time_env.sleep(timedelta(seconds=1))
        moved = next(r for r in services.records if r.entry.action == "rescheduled")
        assert datetime.fromisoformat(moved.deadline).date() == case.due_after  # what the registry shows
