"""Activity of the scheduled scans: one RPC to a service as the platform."""
from __future__ import annotations

from temporalio import activity

from workflows.service_calls import ServiceCaller

from .workflows import ACTIVITY_SCAN, ScanInput


class ScanActivities:
    def __init__(self, caller: ServiceCaller):
        self._caller = caller

    @activity.defn(name=ACTIVITY_SCAN)
    def run_platform_scan(self, params: ScanInput) -> dict:
        return self._caller.call(params.service, params.method, *params.args, division_code=params.division_code)
