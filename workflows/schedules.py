"""Create Temporal schedules once (the worker calls this on start); Asia/Shanghai cron times."""
from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
)

TIME_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Planned:
    schedule_id: str
    cron: str
    workflow: str
    arg: object


async def ensure_schedules(client: Client, task_queue: str, plans: list[Planned]) -> list[str]:
    """The schedule ids created now (those that already existed are left as they are)."""
    created = []
    for plan in plans:
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(plan.workflow, plan.arg, id=f"{plan.schedule_id}-run",
                                               task_queue=task_queue),
            spec=ScheduleSpec(cron_expressions=[plan.cron], time_zone_name=TIME_ZONE),
        )
        try:
            await client.create_schedule(plan.schedule_id, schedule)
        except ScheduleAlreadyRunningError:
            continue
        created.append(plan.schedule_id)
    return created
