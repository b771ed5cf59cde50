"""Activity of the daily scan: one RPC to escrow as the platform."""
from __future__ import annotations

from temporalio import activity

from workflows.service_calls import ServiceCaller

from .workflows import ACTIVITY_SCAN, ScanInput


class ScanActivities:
    def __init__(self, caller: ServiceCaller):
        self._caller = caller

    @activity.defn(name=ACTIVITY_SCAN)
    def scan_escrow_alerts(self, params: ScanInput) -> dict:
        return self._caller.call("escrow", "scan_alerts", params.division_code, division_code=params.division_code)
