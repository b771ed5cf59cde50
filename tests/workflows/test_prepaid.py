"""一课一消 deemed confirmation and deemed refund acceptance: working-day timers, time skipping."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
from temporalio import activity

from services.common.workdays import SHANGHAI, add_workdays
from workflows.prepaid.activities import PrepaidActivities
from workflows.prepaid.contracts import (
    ACTIVITY_DEEM_LESSON,
    ACTIVITY_DEEM_REFUND,
    SIGNAL_LESSON_DELIVERED,
    SIGNAL_REFUND_REQUESTED,
    ContractRef,
    ContractState,
    DeemLesson,
    DeemRefund,
    LessonDelivered,
    RefundRequested,
)
from workflows.prepaid.workflows import PrepaidContract

from .support import serving
from .conftest import TOWNSHIP


@dataclass
class FakeEscrow:
    lessons: list[tuple[int, int]] = field(default_factory=list)
    refunds: list[int] = field(default_factory=list)

    def activities(self):
        @activity.defn(name=ACTIVITY_DEEM_LESSON)
        async def deem_lesson(request: DeemLesson) -> dict:
            self.lessons.append((request.contract.contract_id, request.lesson_no))
            return {}

        @activity.defn(name=ACTIVITY_DEEM_REFUND)
        async def deem_refund(request: DeemRefund) -> dict:
            self.refunds.append(request.refund_id)
            return {}

        return [deem_lesson, deem_refund, PrepaidActivities(None).compute_workday_deadline]


HANDLES: list = []


@pytest.fixture
def escrow():
    return FakeEscrow()


@pytest.fixture
def worker(escrow):
    def run(client, queue):
        return serving(client, queue, [PrepaidContract], escrow.activities(), HANDLES)

    return run


async def start_with(client, queue, signal, arg):
    contract_id = uuid.uuid4().int % 10**6
    state = ContractState(ContractRef(contract_id, f"HT-{contract_id}", 7, TOWNSHIP))
    handle = await client.start_workflow(PrepaidContract.run, state, id=f"contract-{contract_id}", task_queue=queue,
                                         start_signal=signal, start_signal_args=[arg])
    HANDLES.append(handle)
    return handle, contract_id


def _shanghai(day: date, hour=10) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI).isoformat()


async def test_lesson_before_national_day_is_deemed_confirmed_after_15_working_days(time_env, task_queue, worker,
                                                                                     escrow):
    client = time_env.client
    async with worker(client, task_queue):
        handle, contract_id = await start_with(client, task_queue, SIGNAL_LESSON_DELIVERED,
                                               LessonDelivered(3, _shanghai(date(2026, 9, 29)), 15))
        final = await handle.result()
    # 15 working days from 2026-09-29 skip the National Day week and count the make-up Saturday
    assert add_workdays(date(2026, 9, 29), 15) == date(2026, 10, 26)
    assert [(d.kind, d.key, datetime.fromisoformat(d.deadline).date()) for d in final.deemed] == [
        ("lesson", 3, date(2026, 10, 26))]
    assert escrow.lessons == [(contract_id, 3)]


async def test_refund_before_national_day_is_deemed_accepted_after_5_working_days(time_env, task_queue, worker, escrow):
    client = time_env.client
    async with worker(client, task_queue):
        handle, _ = await start_with(client, task_queue, SIGNAL_REFUND_REQUESTED,
                                     RefundRequested(41, _shanghai(date(2026, 9, 30)), 5))
        final = await handle.result()
    assert datetime.fromisoformat(final.deemed[0].deadline).date() == date(2026, 10, 13)  # not 10-07
    assert escrow.refunds == [41]


async def test_the_timer_waits_for_the_deadline_and_a_confirmation_cancels_it(time_env, task_queue, worker, escrow):
    client = time_env.client
    async with worker(client, task_queue):
        now = (await time_env.get_current_time()).astimezone(SHANGHAI)
        handle, contract_id = await start_with(client, task_queue, SIGNAL_LESSON_DELIVERED,
                                               LessonDelivered(1, now.isoformat(), 15))
        await handle.signal(PrepaidContract.lesson_delivered, LessonDelivered(2, now.isoformat(), 15))
        await handle.signal(PrepaidContract.refund_requested, RefundRequested(9, now.isoformat(), 5))
        state = await handle.query(PrepaidContract.state)
        while any(p.deadline is None for p in [*state.lessons, *state.refunds]):
            state = await handle.query(PrepaidContract.state)
        refund_due = datetime.fromisoformat(state.refunds[0].deadline)
        assert refund_due.date() == add_workdays(now.date(), 5)

        await time_env.sleep(refund_due - await time_env.get_current_time() - timedelta(minutes=1))
        assert escrow.refunds == [] and escrow.lessons == []
        await handle.signal(PrepaidContract.refund_answered, 9)  # the institution answered in time
        await handle.signal(PrepaidContract.lesson_confirmed, 1)  # the parent confirmed lesson 1
        final = await handle.result()
    assert escrow.refunds == []
    assert escrow.lessons == [(contract_id, 2)]
    assert [(d.kind, d.key) for d in final.deemed] == [("lesson", 2)]
