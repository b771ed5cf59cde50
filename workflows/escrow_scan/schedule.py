"""Create the scans' schedules once (the worker calls this on start)."""
from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
)

from .workflows import SCHEDULES, WORKFLOW_NAME, ScanInput


async def ensure_scans(client: Client, task_queue: str, division_code: str) -> list[str]:
    """The schedule ids created now (those that already existed are left as they are)."""
    created = []
    for scan in SCHEDULES:
        args = [division_code] if scan.with_division else []
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                WORKFLOW_NAME, ScanInput(scan.service, scan.method, division_code, args),
                id=f"{scan.schedule_id}-run", task_queue=task_queue,
            ),
            spec=ScheduleSpec(cron_expressions=[scan.cron], time_zone_name="Asia/Shanghai"),
        )
        try:
            await client.create_schedule(scan.schedule_id, schedule)
        except ScheduleAlreadyRunningError:
            continue
        created.append(scan.schedule_id)
    return created
