"""The baseline workflow of bench.workflow: no activity, no timer, no message — the cost of a
workflow execution itself (start, one workflow task, complete, result). Kept in its own module
(never `__main__`) so the worker's sandbox can re-import it."""
from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BenchBareWorkflow")
class BareWorkflow:
    @workflow.run
    async def run(self, value: int) -> int:
        return value
