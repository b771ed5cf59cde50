"""Scheduled platform scans: a Temporal schedule starts `PlatformScan`, which makes one RPC as
the platform. Two schedules use it:

* `escrow-daily-scan` (02:00 Asia/Shanghai): escrow's time-based alerts — money collected outside
  the account (no bank receipt after N days), lesson deliveries that stopped while money is held;
* `complaints-overdue-scan` (every hour): complaints past their department's SLA are flagged and
  announced once.
Event-driven rules run as events arrive; these need a clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.errors import KEEP_TELLING

WORKFLOW_NAME = "PlatformScan"
ACTIVITY_SCAN = "run_platform_scan"


@dataclass
class ScanInput:
    service: str
    method: str
    division_code: str  # the deployment's root division: every record below it
    args: list = field(default_factory=list)  # after the signed actor


@dataclass(frozen=True)
class ScanSchedule:
    schedule_id: str
    cron: str
    service: str
    method: str
    with_division: bool  # pass the division code as the first argument


SCHEDULES = (
    ScanSchedule("escrow-daily-scan", "0 2 * * *", "escrow", "scan_alerts", True),
    ScanSchedule("complaints-overdue-scan", "5 * * * *", "inspection", "flag_overdue_complaints", False),
)


@workflow.defn(name=WORKFLOW_NAME)
class PlatformScan:
    @workflow.run
    async def run(self, params: ScanInput) -> dict:
        return await workflow.execute_activity(
            ACTIVITY_SCAN, params, result_type=dict,
            start_to_close_timeout=timedelta(minutes=10), retry_policy=KEEP_TELLING,
        )
