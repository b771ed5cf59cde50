"""Activities of the approval workflows: sync methods run in the worker's thread pool."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from temporalio import activity

from services.common.money_text import yuan
from services.common.workdays import SHANGHAI
from workflows.calendar_contract import CalendarSchedule
from workflows.calendar_sync import calendar_for
from workflows.service_calls import ServiceCaller

from .contracts import (
    ACTIVITY_CHECK,
    ACTIVITY_LAPSE,
    ACTIVITY_RECORD,
    ACTIVITY_STEP_TIMES,
    CheckRequest,
    CheckResult,
    LapseRequest,
    ProgressRecord,
    StepTimes,
)


def step_times(start_iso: str, sla_workdays: int, remind_before_workdays: int,
               schedules: list[CalendarSchedule] | None = None) -> StepTimes:
    """Deadline: end of the SLA's last working day; reminder: end of the working day
    `remind_before_workdays` earlier (the process calendar with the schedules the workflow was
    told laid over it, make-up days included, Asia/Shanghai)."""
    start = datetime.fromisoformat(start_iso)
    if start.tzinfo is None:
        start = start.replace(tzinfo=SHANGHAI)
    calendar = calendar_for(schedules)
    deadline = calendar.deadline(start, sla_workdays).at
    remind_days = max(sla_workdays - remind_before_workdays, 0)
    reminder = calendar.deadline(start, remind_days).at if remind_days else start
    return StepTimes(start.isoformat(), reminder.isoformat(), deadline.isoformat())


class ApprovalActivities:
    def __init__(self, caller: ServiceCaller):
        self._caller = caller

    @activity.defn(name=ACTIVITY_STEP_TIMES)
    def compute_step_times(self, start_iso: str, sla_workdays: int, remind_before_workdays: int,
                           schedules: list[CalendarSchedule] | None = None) -> StepTimes:
        return step_times(start_iso, sla_workdays, remind_before_workdays, schedules)

    @activity.defn(name=ACTIVITY_RECORD)
    def record_case_progress(self, record: ProgressRecord) -> dict:
        return self._caller.call(
            "registry", "record_case_progress", asdict(record),
            division_code=record.division_code, correlation_id=record.correlation_id,
        )

    @activity.defn(name=ACTIVITY_CHECK)
    def run_step_check(self, request: CheckRequest) -> CheckResult:
        if request.check != "prepaid_clear":
            raise ValueError(f"unknown check {request.check}")
        position = self._caller.call(
            "escrow", "get_prepaid_position", request.institution_id,
            division_code=request.division_code, correlation_id=request.correlation_id,
        )
        unearned = int(position["unearned_fen"])
        if unearned == 0:
            return CheckResult(True, "无未消课预收费")
        return CheckResult(False, f"尚有未消课预收费 {yuan(unearned)} 元待清退")

    @activity.defn(name=ACTIVITY_LAPSE)
    def lapse_academic_scope(self, request: LapseRequest) -> dict:
        return self._caller.call(
            "registry", "lapse_academic_scope", request.county_code, request.deadline,
            division_code=request.county_code,
        )
