"""The daily escrow scan: its schedule on the real dev server (02:00 Shanghai) and one run."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from temporalio import activity
from temporalio.worker import Worker

from workflows.escrow_scan.schedule import ensure_daily_scan
from workflows.escrow_scan.workflows import ACTIVITY_SCAN, SCHEDULE_ID, EscrowDailyScan, ScanInput


async def test_schedule_is_created_once_at_two_in_the_morning_shanghai_time(dev_env, task_queue):
    client = dev_env.client
    assert await ensure_daily_scan(client, task_queue, "340722") is True
    assert await ensure_daily_scan(client, task_queue, "340722") is False  # a restarted worker
    handle = client.get_schedule_handle(SCHEDULE_ID)
    description = await handle.describe()
    spec = description.schedule.spec
    assert spec.time_zone_name == "Asia/Shanghai"
    assert [(c.hour[0].start, c.minute[0].start, c.day_of_week[0].end) for c in spec.calendars] == [(2, 0, 6)]
    assert description.schedule.action.workflow == "EscrowDailyScan"
    await handle.delete()


async def test_a_scan_asks_escrow_for_the_whole_division(time_env, task_queue):
    calls = []

    @activity.defn(name=ACTIVITY_SCAN)
    async def scan(params: ScanInput) -> dict:
        calls.append(params.division_code)
        return {"raised": 2}

    client = time_env.client
    with ThreadPoolExecutor(max_workers=1) as executor:
        async with Worker(client, task_queue=task_queue, workflows=[EscrowDailyScan], activities=[scan],
                          activity_executor=executor):
            result = await client.execute_workflow(EscrowDailyScan.run, ScanInput("340722"),
                                                   id=f"scan-{uuid.uuid4().hex[:6]}", task_queue=task_queue)
    assert calls == ["340722"] and result == {"raised": 2}
