"""PrepaidContract: the deadlines of one prepaid contract.

* a delivered lesson not confirmed by the parent within N working days (county setting, 15 by
  default) is deemed confirmed: its fee becomes releasable (一课一消);
* a refund request the institution has not answered within N working days (5) is deemed accepted.

Started (or signalled) by the bridge from escrow's events; each deadline is computed once on the
calendar (a local activity, so a package upgrade cannot move it) and waited on as a timer; a
holiday schedule loaded later arrives as a signal and every pending deadline is computed again. When nothing is pending the workflow ends; the next event starts it again.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calendar_contract import SIGNAL_CALENDAR_CHANGED, CalendarSchedule, merged
    from workflows.errors import KEEP_TELLING
    from workflows.prepaid.contracts import (
        ACTIVITY_DEADLINE,
        ACTIVITY_DEEM_LESSON,
        ACTIVITY_DEEM_REFUND,
        QUERY_STATE,
        SIGNAL_LESSON_CONFIRMED,
        SIGNAL_LESSON_DELIVERED,
        SIGNAL_REFUND_ANSWERED,
        SIGNAL_REFUND_REQUESTED,
        WORKFLOW_NAME,
        ContractRef,
        ContractState,
        DeadlineRequest,
        Deemed,
        DeemLesson,
        DeemRefund,
        LessonDelivered,
        Pending,
        RefundRequested,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=60)
HISTORY_LIMIT = 2000  # events before continuing as new, keeping the pending items


@workflow.defn(name=WORKFLOW_NAME)
class PrepaidContract:
    @workflow.init
    def __init__(self, state: ContractState) -> None:
        self._state = state
        self._changed = 0
        self._recompute = False

    @workflow.signal(name=SIGNAL_LESSON_DELIVERED)
    def lesson_delivered(self, lesson: LessonDelivered) -> None:
        if not any(p.key == lesson.lesson_no for p in self._state.lessons):
            self._state.lessons.append(Pending(lesson.lesson_no, lesson.delivered_at, None, lesson.workdays))
            self._changed += 1

    @workflow.signal(name=SIGNAL_LESSON_CONFIRMED)
    def lesson_confirmed(self, lesson_no: int) -> None:
        self._state.lessons = [p for p in self._state.lessons if p.key != lesson_no]
        self._changed += 1

    @workflow.signal(name=SIGNAL_REFUND_REQUESTED)
    def refund_requested(self, refund: RefundRequested) -> None:
        if not any(p.key == refund.refund_id for p in self._state.refunds):
            self._state.refunds.append(Pending(refund.refund_id, refund.requested_at, None, refund.workdays))
            self._changed += 1

    @workflow.signal(name=SIGNAL_REFUND_ANSWERED)
    def refund_answered(self, refund_id: int) -> None:
        self._state.refunds = [p for p in self._state.refunds if p.key != refund_id]
        self._changed += 1

    @workflow.signal(name=SIGNAL_CALENDAR_CHANGED)
    def calendar_changed(self, schedule: CalendarSchedule) -> None:
        self._state.schedules = merged(self._state.schedules, schedule)
        self._recompute = True  # the run loop clears the deadlines where no activity is in flight
        self._changed += 1

    @workflow.query(name=QUERY_STATE)
    def state(self) -> ContractState:
        return self._state

    @workflow.run
    async def run(self, state: ContractState) -> ContractState:
        while True:
            seen = self._changed
            if self._recompute:
                self._recompute = False
                for pending in [*self._state.lessons, *self._state.refunds]:
                    pending.deadline = None  # computed again on the new schedule
            await self._fill_deadlines()
            if not self._state.lessons and not self._state.refunds:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._state.lessons and not self._state.refunds:
                    return self._state
                continue
            if self._changed != seen:
                continue  # a signal came while deadlines were computed: compute again
            due = min(_at(p.deadline) for p in [*self._state.lessons, *self._state.refunds])
            wait = due - workflow.now()
            if wait > timedelta(0):
                try:
                    await workflow.wait_condition(lambda: self._changed != seen, timeout=wait)
                    continue  # something changed: recompute
                except TimeoutError:
                    pass
            await self._deem_due()
            if workflow.info().get_current_history_length() > HISTORY_LIMIT:
                workflow.continue_as_new(self._state)

    async def _fill_deadlines(self) -> None:
        for pending in [*self._state.lessons, *self._state.refunds]:
            if pending.deadline is None:
                pending.deadline = await workflow.execute_local_activity(
                    ACTIVITY_DEADLINE, DeadlineRequest(pending.since, pending.workdays, self._state.schedules),
                    result_type=str, start_to_close_timeout=timedelta(seconds=10),
                )

    async def _deem_due(self) -> None:
        now = workflow.now()
        contract: ContractRef = self._state.contract
        for pending in [p for p in self._state.lessons if _at(p.deadline) <= now]:
            await workflow.execute_activity(ACTIVITY_DEEM_LESSON, DeemLesson(contract, pending.key),
                                            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=KEEP_TELLING)
            self._state.lessons.remove(pending)
            self._state.deemed.append(Deemed("lesson", pending.key, pending.deadline, now.isoformat()))
        for pending in [p for p in self._state.refunds if _at(p.deadline) <= now]:
            await workflow.execute_activity(ACTIVITY_DEEM_REFUND, DeemRefund(contract, pending.key),
                                            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=KEEP_TELLING)
            self._state.refunds.remove(pending)
            self._state.deemed.append(Deemed("refund", pending.key, pending.deadline, now.isoformat()))


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)
