"""Activities of Rectification: the deadline (official calendar) and calls to inspection."""
from __future__ import annotations

from temporalio import activity

from workflows.calendar_contract import CalendarSchedule
from workflows.prepaid.activities import deadline_after
from workflows.prepaid.contracts import DeadlineRequest
from workflows.service_calls import ServiceCaller

from .workflows import ACTIVITY_CLOSE, ACTIVITY_DEADLINE, ACTIVITY_ESCALATE, ACTIVITY_TASK, OrderRef


class RectificationActivities:
    def __init__(self, caller: ServiceCaller | None):
        self._caller = caller

    @activity.defn(name=ACTIVITY_DEADLINE)
    def compute_rectification_deadline(self, issued_at: str, workdays: int,
                                       schedules: list[CalendarSchedule] | None = None) -> str:
        return deadline_after(DeadlineRequest(issued_at, workdays, schedules or []))

    def _inspection(self, method: str, ref: OrderRef) -> dict:
        return self._caller.call("inspection", method, ref.order_id, division_code=ref.township_code)

    @activity.defn(name=ACTIVITY_TASK)
    def create_reinspection_task(self, ref: OrderRef) -> dict:
        return self._inspection("create_reinspection_task", ref)

    @activity.defn(name=ACTIVITY_CLOSE)
    def close_order(self, ref: OrderRef) -> dict:
        return self._inspection("close_order", ref)

    @activity.defn(name=ACTIVITY_ESCALATE)
    def escalate_order(self, ref: OrderRef) -> dict:
        return self._inspection("escalate_order", ref)
