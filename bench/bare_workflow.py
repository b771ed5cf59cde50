"""The baseline workflows of bench.workflow, kept in their own module (never `__main__`) so the
worker's sandbox can re-import them.

* BareWorkflow: no activity, no timer, no message — the cost of a workflow execution itself
  (start, one workflow task, complete, result).
* BareDecisionWorkflow: the shape of LicenceVerification with nothing inside it — a local
  activity, a wait (with a timer) for one update, an activity, the update answered after the
  activity, complete — so the ratio shows what the real workflow's own code costs, not what
  Temporal charges for those extra tasks (issue 12).
"""
from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

LOCAL_NOOP = "bench_local_noop"
REMOTE_NOOP = "bench_remote_noop"


@workflow.defn(name="BenchBareWorkflow")
class BareWorkflow:
    @workflow.run
    async def run(self, value: int) -> int:
        return value


@activity.defn(name=LOCAL_NOOP)
def local_noop(value: str) -> str:
    return value


@activity.defn(name=REMOTE_NOOP)
async def remote_noop(value: str) -> str:
    return value


@workflow.defn(name="BenchBareDecisionWorkflow")
class BareDecisionWorkflow:
    @workflow.init
    def __init__(self, value: str) -> None:
        self._decision: str | None = None
        self._recorded = False

    @workflow.run
    async def run(self, value: str) -> str:
        deadline = await workflow.execute_local_activity(LOCAL_NOOP, value, result_type=str,
                                                         start_to_close_timeout=timedelta(seconds=10))
        await workflow.wait_condition(lambda: self._decision is not None, timeout=timedelta(days=5))
        await workflow.execute_activity(REMOTE_NOOP, deadline, result_type=str,
                                        start_to_close_timeout=timedelta(seconds=60))
        self._recorded = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._decision or ""

    @workflow.update(name="decide")
    async def decide(self, decision: str) -> str:
        self._decision = decision
        await workflow.wait_condition(lambda: self._recorded)
        return decision

    @decide.validator
    def validate_decide(self, decision: str) -> None:
        if self._decision is not None:
            raise ValueError("already decided")
