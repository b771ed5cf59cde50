"""Rectification: the deadline fires a re-inspection task; a pass closes, a fail escalates."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
from temporalio import activity

from services.common.workdays import SHANGHAI, add_workdays
from workflows.rectification.activities import RectificationActivities
from workflows.rectification.workflows import (
    ACTIVITY_CLOSE,
    ACTIVITY_ESCALATE,
    ACTIVITY_TASK,
    OrderInput,
    OrderRef,
    Rectification,
)

from .support import serving
from .conftest import TOWNSHIP

HANDLES: list = []


@dataclass
class FakeInspection:
    calls: list[tuple[str, int]] = field(default_factory=list)

    def activities(self):
        def fake(name):
            @activity.defn(name=name)
            async def call(ref: OrderRef) -> dict:
                self.calls.append((name, ref.order_id))
                return {}

            return call

        return [fake(ACTIVITY_TASK), fake(ACTIVITY_CLOSE), fake(ACTIVITY_ESCALATE),
                RectificationActivities(None).compute_rectification_deadline]


@pytest.fixture
def inspection():
    return FakeInspection()


@pytest.fixture
def worker(inspection):
    def run(client, queue):
        return serving(client, queue, [Rectification], inspection.activities(), HANDLES)

    return run


async def start(client, queue, issued_at: str, kind="suspend", workdays=10):
    order_id = uuid.uuid4().int % 10**6
    handle = await client.start_workflow(
        Rectification.run, OrderInput(order_id, 7, TOWNSHIP, kind, workdays, issued_at),
        id=f"rectification-{order_id}", task_queue=queue)
    HANDLES.append(handle)
    return handle, order_id


async def test_deadline_creates_a_reinspection_task_and_a_pass_closes_the_order(time_env, task_queue, worker,
                                                                                inspection):
    client = time_env.client
    async with worker(client, task_queue):
        now = (await time_env.get_current_time()).astimezone(SHANGHAI)
        handle, order_id = await start(client, task_queue, now.isoformat())
        state = await handle.query(Rectification.state)
        while state.deadline is None:
            state = await handle.query(Rectification.state)
        deadline = datetime.fromisoformat(state.deadline)
        assert deadline.date() == add_workdays(now.date(), 10)

        await time_env.sleep(deadline - await time_env.get_current_time() - timedelta(minutes=1))
        assert inspection.calls == []  # not before the deadline
        await time_env.sleep(timedelta(minutes=2))
        while not (await handle.query(Rectification.state)).task_created:
            await time_env.sleep(timedelta(seconds=1))
        assert inspection.calls == [(ACTIVITY_TASK, order_id)]

        await handle.signal(Rectification.reinspected, True)
        final = await handle.result()
    assert final.outcome == "closed"
    assert inspection.calls == [(ACTIVITY_TASK, order_id), (ACTIVITY_CLOSE, order_id)]


async def test_a_failed_reinspection_escalates(time_env, task_queue, worker, inspection):
    client = time_env.client
    async with worker(client, task_queue):
        issued = datetime(2021, 9, 28, 10, tzinfo=SHANGHAI).isoformat()  # deadline long past: task at once
        handle, order_id = await start(client, task_queue, issued, kind="rectify", workdays=5)
        while not (await handle.query(Rectification.state)).task_created:
            await time_env.sleep(timedelta(seconds=1))
        # 9-29, 9-30, (National Day week), 10-8, 10-9 (make-up Saturday), 10-11
        assert datetime.fromisoformat((await handle.query(Rectification.state)).deadline).date() == date(2021, 10, 11)
        await handle.signal(Rectification.reinspected, False)
        final = await handle.result()
    assert final.outcome == "escalated"
    assert inspection.calls == [(ACTIVITY_TASK, order_id), (ACTIVITY_ESCALATE, order_id)]


async def test_an_early_reinspection_is_acted_on_without_waiting(time_env, task_queue, worker, inspection):
    client = time_env.client
    async with worker(client, task_queue):
        now = (await time_env.get_current_time()).astimezone(SHANGHAI)
        handle, order_id = await start(client, task_queue, now.isoformat())
        await handle.signal(Rectification.reinspected, True)
        final = await handle.result()
    assert final.outcome == "closed" and not final.task_created
    assert inspection.calls == [(ACTIVITY_CLOSE, order_id)]
