"""Rectification: one per inspection order (责令整改 or 停业整顿), id `rectification-<order id>`.

At the deadline (working days on the official calendar) a re-inspection task is created; the
re-inspection's result closes the order (a suspension lifted: the registry restores 正常营业) or
escalates it (proposal to revoke the licence). A result recorded before the deadline is acted on
at once. "问题必整改, 整改必到位": no order is left without an outcome; no order exists after a pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calendar_contract import SIGNAL_CALENDAR_CHANGED, CalendarSchedule, merged
    from workflows.errors import KEEP_TELLING

WORKFLOW_NAME = "Rectification"
SIGNAL_REINSPECTED = "reinspected"
QUERY_STATE = "state"
ACTIVITY_DEADLINE = "compute_rectification_deadline"
ACTIVITY_TASK = "create_reinspection_task"
ACTIVITY_CLOSE = "close_order"
ACTIVITY_ESCALATE = "escalate_order"
ACTIVITY_TIMEOUT = timedelta(seconds=60)


def workflow_id(order_id: int) -> str:
    return f"rectification-{int(order_id)}"


@dataclass
class OrderInput:
    order_id: int
    institution_id: int
    township_code: str
    kind: str  # rectify (责令整改) | suspend (停业整顿)
    deadline_workdays: int
    issued_at: str  # ISO 8601 with offset


@dataclass
class OrderRef:
    order_id: int
    township_code: str


@dataclass
class RectificationState:
    order_id: int
    kind: str
    deadline: str | None = None
    task_created: bool = False
    reinspection_passed: bool | None = None
    outcome: str | None = None  # closed | escalated
    steps: list[str] = field(default_factory=list)  # "deadline_set", "deadline_moved", "task_created", …


@workflow.defn(name=WORKFLOW_NAME)
class Rectification:
    @workflow.init
    def __init__(self, order: OrderInput) -> None:
        self._order = order
        self._state = RectificationState(order.order_id, order.kind)
        self._schedules: list[CalendarSchedule] = []  # loaded holiday schedules this workflow was told
        self._calendar_changes = 0

    @workflow.signal(name=SIGNAL_CALENDAR_CHANGED)
    def calendar_changed(self, schedule: CalendarSchedule) -> None:
        self._schedules = merged(self._schedules, schedule)
        self._calendar_changes += 1

    @workflow.signal(name=SIGNAL_REINSPECTED)
    def reinspected(self, passed: bool) -> None:
        if self._state.reinspection_passed is None:
            self._state.reinspection_passed = passed

    @workflow.query(name=QUERY_STATE)
    def state(self) -> RectificationState:
        return self._state

    @workflow.run
    async def run(self, order: OrderInput) -> RectificationState:
        state, ref = self._state, OrderRef(order.order_id, order.township_code)
        await self._wait_for_deadline(order)
        if state.reinspection_passed is None:
            await self._call(ACTIVITY_TASK, ref)
            state.task_created = True
            state.steps.append("task_created")
            await workflow.wait_condition(lambda: state.reinspection_passed is not None)
        if state.reinspection_passed:
            await self._call(ACTIVITY_CLOSE, ref)
            state.outcome = "closed"
        else:
            await self._call(ACTIVITY_ESCALATE, ref)
            state.outcome = "escalated"
        state.steps.append(state.outcome)
        return state

    async def _wait_for_deadline(self, order: OrderInput) -> None:
        """Until the deadline or an earlier result; a new holiday schedule recomputes the deadline
        and the wait goes on against it (no timer is kept on an outdated calendar)."""
        state = self._state
        while True:
            seen = self._calendar_changes
            args = [order.issued_at, order.deadline_workdays] + ([self._schedules] if self._schedules else [])
            deadline = await workflow.execute_local_activity(
                ACTIVITY_DEADLINE, args=args, result_type=str, start_to_close_timeout=timedelta(seconds=10),
            )
            moved = state.deadline is not None and deadline != state.deadline
            state.deadline = deadline
            if "deadline_set" not in state.steps:
                state.steps.append("deadline_set")
            elif moved:
                state.steps.append("deadline_moved")
            remaining = datetime.fromisoformat(deadline) - workflow.now()
            if remaining <= timedelta(0):
                return
            try:
                await workflow.wait_condition(
                    lambda: state.reinspection_passed is not None or self._calendar_changes != seen,
                    timeout=remaining)
            except TimeoutError:
                return
            if state.reinspection_passed is not None:
                return

    async def _call(self, activity_name: str, ref: OrderRef) -> None:
        await workflow.execute_activity(activity_name, ref, start_to_close_timeout=ACTIVITY_TIMEOUT,
                                        retry_policy=KEEP_TELLING)
