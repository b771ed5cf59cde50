"""Create the daily scan's schedule once (the worker calls this on start)."""
from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
)

from .workflows import CRON, SCHEDULE_ID, WORKFLOW_NAME, ScanInput


async def ensure_daily_scan(client: Client, task_queue: str, division_code: str) -> bool:
    """True if created now, False if it already existed."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            WORKFLOW_NAME, ScanInput(division_code), id=f"{SCHEDULE_ID}-run", task_queue=task_queue
        ),
        spec=ScheduleSpec(cron_expressions=[CRON], time_zone_name="Asia/Shanghai"),
    )
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        return False
    return True
