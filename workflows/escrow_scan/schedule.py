"""The scans' schedules (created once by the worker on start)."""
from __future__ import annotations

from temporalio.client import Client

from workflows.schedules import Planned, ensure_schedules

from .workflows import SCHEDULES, WORKFLOW_NAME, ScanInput


async def ensure_scans(client: Client, task_queue: str, division_code: str) -> list[str]:
    plans = [Planned(scan.schedule_id, scan.cron, WORKFLOW_NAME,
                     ScanInput(scan.service, scan.method, division_code, [division_code] if scan.with_division else []))
             for scan in SCHEDULES]
    return await ensure_schedules(client, task_queue, plans)
