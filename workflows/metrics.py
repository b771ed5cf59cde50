"""Workflow counts for /metrics: `temporal_workflows_started_total{workflow}`,
`temporal_workflows_completed_total{workflow}`, `temporal_workflows_failed_total{workflow}`.

A worker interceptor sees every workflow run this worker executes. Workflow code runs in
Temporal's sandbox and is replayed (after a restart, a cache eviction, another worker's crash), so:
the counters are called through an extern function (the sandbox's door to the outside, as the
SDK's OpenTelemetry interceptor does), and nothing is counted while the run is replaying — a
start is counted by the worker that first executes it, an end by the worker that executes the
end. A run that continues as new counts as completed (the next run counts as started again);
"failed" is a run that ends with a workflow failure (an ApplicationError and the like), not a
workflow *task* failure, which Temporal retries. Temporal's own SDK metrics (task latencies,
pollers) are not exported: they would need a second HTTP port (temporalio.runtime PrometheusConfig).
"""
from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from services.common import metrics

EXTERN = "__shuangjian_workflow_metrics"


def record(event: str, workflow_type: str) -> None:
    counter = {"started": metrics.WORKFLOWS_STARTED, "completed": metrics.WORKFLOWS_COMPLETED,
               "failed": metrics.WORKFLOWS_FAILED}[event]
    counter.labels(workflow_type).inc()


class _Inbound(WorkflowInboundInterceptor):
    def _record(self, event: str) -> None:
        if workflow.unsafe.is_replaying():
            return
        workflow.extern_functions()[EXTERN](event, workflow.info().workflow_type)

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        self._record("started")
        try:
            result = await super().execute_workflow(input)
        except workflow.ContinueAsNewError:
            self._record("completed")
            raise
        except FailureError:
            self._record("failed")
            raise
        self._record("completed")
        return result


class WorkflowMetricsInterceptor(Interceptor):
    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        input.unsafe_extern_functions[EXTERN] = record
        return _Inbound
