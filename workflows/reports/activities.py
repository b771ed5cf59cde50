"""Activities of `ReportDeadline`: RPCs to reporting as the platform."""
from __future__ import annotations

from temporalio import activity

from workflows.service_calls import ServiceCaller

from .workflows import ACTIVITY_DRAFT, ACTIVITY_FLAG_OVERDUE, DraftRequest, OverdueRequest


class ReportActivities:
    def __init__(self, caller: ServiceCaller):
        self._caller = caller

    @activity.defn(name=ACTIVITY_DRAFT)
    def draft_due_reports(self, request: DraftRequest) -> dict:
        return self._caller.call("reporting", "draft_due_reports", request.kind, request.division_code, request.today,
                                 division_code=request.division_code)

    @activity.defn(name=ACTIVITY_FLAG_OVERDUE)
    def flag_overdue_reports(self, request: OverdueRequest) -> dict:
        return self._caller.call("reporting", "flag_overdue_reports", request.kind, request.period_end, request.at,
                                 division_code=request.division_code)
