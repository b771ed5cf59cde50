"""Activities of PrepaidContract: sync methods run in the worker's thread pool."""
from __future__ import annotations

from datetime import datetime

from temporalio import activity

from services.common.workdays import SHANGHAI
from workflows.calendar_sync import calendar_for
from workflows.service_calls import ServiceCaller

from .contracts import ACTIVITY_DEADLINE, ACTIVITY_DEEM_LESSON, ACTIVITY_DEEM_REFUND, DeadlineRequest, DeemLesson, DeemRefund


def deadline_after(request: DeadlineRequest) -> str:
    """End of the `workdays`-th working day after `start` (Asia/Shanghai), on the process calendar with
    the holiday schedules the workflow was told laid over it."""
    start = datetime.fromisoformat(request.start)
    if start.tzinfo is None:
        start = start.replace(tzinfo=SHANGHAI)
    return calendar_for(request.schedules).deadline(start, request.workdays).at.isoformat()


class PrepaidActivities:
    def __init__(self, caller: ServiceCaller | None):
        self._caller = caller

    @activity.defn(name=ACTIVITY_DEADLINE)
    def compute_workday_deadline(self, request: DeadlineRequest) -> str:
        return deadline_after(request)

    @activity.defn(name=ACTIVITY_DEEM_LESSON)
    def deem_lesson_confirmed(self, request: DeemLesson) -> dict:
        ref = request.contract
        return self._caller.call("escrow", "deem_lesson_confirmed", ref.contract_id, request.lesson_no,
                                 division_code=ref.division_code)

    @activity.defn(name=ACTIVITY_DEEM_REFUND)
    def deem_refund_accepted(self, request: DeemRefund) -> dict:
        ref = request.contract
        return self._caller.call("escrow", "deem_refund_accepted", request.refund_id,
                                 division_code=ref.division_code)
