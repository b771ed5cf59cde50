"""The report schedules: 半月报 drafted on the 1st and the 16th, 周报 on Fridays, 08:00 Shanghai."""
from __future__ import annotations

from temporalio.client import Client

from workflows.schedules import Planned, ensure_schedules

from .workflows import WORKFLOW_NAME, ReportCycleInput

CRONS = {"half_monthly": "0 8 1,16 * *", "weekly": "0 8 * * 5"}


def schedule_id(kind: str) -> str:
    return f"report-{kind.replace('_', '-')}"


async def ensure_report_schedules(client: Client, task_queue: str, division_code: str) -> list[str]:
    plans = [Planned(schedule_id(kind), cron, WORKFLOW_NAME, ReportCycleInput(kind, division_code))
             for kind, cron in CRONS.items()]
    return await ensure_schedules(client, task_queue, plans)
