"""`ReportDeadline`: one report cycle from draft to due moment.

A schedule starts it when a period has ended (半月报: the 1st and the 16th, 08:00; 周报: Friday
08:00, Asia/Shanghai). It asks reporting to draft the reports each county owes for the period
just ended (reporting announces `report_drafted` to the education bureau), sleeps until the due
moment, then asks reporting to flag those still not submitted (`report_overdue`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.errors import KEEP_TELLING

WORKFLOW_NAME = "ReportDeadline"
ACTIVITY_DRAFT = "draft_due_reports"
ACTIVITY_FLAG_OVERDUE = "flag_overdue_reports"
SHANGHAI_OFFSET = timedelta(hours=8)  # China keeps one offset all year: no zone database in the sandbox


@dataclass
class ReportCycleInput:
    kind: str  # half_monthly | weekly
    division_code: str  # the deployment's root: reports are owed by each county below it
    today: str | None = None  # YYYY-MM-DD; empty when a schedule starts it: the run's own day


@dataclass
class DraftRequest:
    kind: str
    division_code: str
    today: str


@dataclass
class OverdueRequest:
    kind: str
    division_code: str
    period_end: str
    at: str  # the workflow's clock when the due moment has passed


@workflow.defn(name=WORKFLOW_NAME)
class ReportDeadline:
    @workflow.run
    async def run(self, params: ReportCycleInput) -> dict:
        today = params.today or (workflow.now() + SHANGHAI_OFFSET).date().isoformat()
        drafted = await workflow.execute_activity(
            ACTIVITY_DRAFT, DraftRequest(params.kind, params.division_code, today), result_type=dict,
            start_to_close_timeout=timedelta(minutes=5), retry_policy=KEEP_TELLING)
        wait = datetime.fromisoformat(drafted["due_at"]) - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        flagged = await workflow.execute_activity(
            ACTIVITY_FLAG_OVERDUE, OverdueRequest(params.kind, params.division_code, drafted["period_end"],
                                                  workflow.now().isoformat()),
            result_type=dict, start_to_close_timeout=timedelta(minutes=5), retry_policy=KEEP_TELLING)
        return {"period_start": drafted["period_start"], "period_end": drafted["period_end"],
                "due_at": drafted["due_at"], "drafted": drafted["drafted"], "overdue": flagged["flagged"]}
