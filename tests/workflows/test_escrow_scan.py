"""Scheduled scans: their schedules on the real dev server (Asia/Shanghai) and one run."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from temporalio import activity
from temporalio.worker import Worker

from workflows.escrow_scan.schedule import ensure_scans
from workflows.escrow_scan.workflows import ACTIVITY_SCAN, PlatformScan, ScanInput


async def test_schedules_are_created_once_in_shanghai_time(dev_env, task_queue):
    client = dev_env.client
    assert await ensure_scans(client, task_queue, "340722") == ["escrow-daily-scan", "complaints-overdue-scan"]
    assert await ensure_scans(client, task_queue, "340722") == []  # a restarted worker
    escrow = await client.get_schedule_handle("escrow-daily-scan").describe()
    calendars = escrow.schedule.spec.calendars
    assert escrow.schedule.spec.time_zone_name == "Asia/Shanghai"
    assert [(c.hour[0].start, c.minute[0].start, c.day_of_week[0].end) for c in calendars] == [(2, 0, 6)]
    assert escrow.schedule.action.workflow == "PlatformScan"
    hourly = await client.get_schedule_handle("complaints-overdue-scan").describe()
    minutes = [(c.minute[0].start, c.hour[0].start, c.hour[0].end) for c in hourly.schedule.spec.calendars]
    assert minutes == [(5, 0, 23)]
    for schedule_id in ("escrow-daily-scan", "complaints-overdue-scan"):
        await client.get_schedule_handle(schedule_id).delete()


async def test_a_scan_makes_its_rpc_as_the_platform(time_env, task_queue):
    calls = []

    @activity.defn(name=ACTIVITY_SCAN)
    async def scan(params: ScanInput) -> dict:
        calls.append((params.service, params.method, params.division_code, params.args))
        return {"raised": 2}

    client = time_env.client
    with ThreadPoolExecutor(max_workers=1) as executor:
        async with Worker(client, task_queue=task_queue, workflows=[PlatformScan], activities=[scan],
                          activity_executor=executor):
            result = await client.execute_workflow(
                PlatformScan.run, ScanInput("escrow", "scan_alerts", "340722", ["340722"]),
                id=f"scan-{uuid.uuid4().hex[:6]}", task_queue=task_queue)
    assert calls == [("escrow", "scan_alerts", "340722", ["340722"])] and result == {"raised": 2}
