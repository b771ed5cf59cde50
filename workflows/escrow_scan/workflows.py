"""EscrowDailyScan: once a day (02:00 Asia/Shanghai) ask escrow to evaluate the time-based
alerts — money collected outside the account (a contract with no bank receipt after N days) and
lesson deliveries that stopped while prepaid money is held. Event-driven rules run as events
arrive; these need a clock."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.errors import KEEP_TELLING

WORKFLOW_NAME = "EscrowDailyScan"
ACTIVITY_SCAN = "scan_escrow_alerts"
SCHEDULE_ID = "escrow-daily-scan"
CRON = "0 2 * * *"


@dataclass
class ScanInput:
    division_code: str  # the deployment's root division: every institution below it


@workflow.defn(name=WORKFLOW_NAME)
class EscrowDailyScan:
    @workflow.run
    async def run(self, params: ScanInput) -> dict:
        return await workflow.execute_activity(
            ACTIVITY_SCAN, params, result_type=dict,
            start_to_close_timeout=timedelta(minutes=10), retry_policy=KEEP_TELLING,
        )
