"""`python -m workflows.worker`: the workflows process (asyncio; never eventlet).

Runs, in one process: the Temporal worker (workflows + activities in a thread pool), the event
bridge (registry events → workflow starts) and the `workflows` RPC endpoint (nameko wire
protocol over AMQP). Stops cleanly on SIGTERM / SIGINT: the AMQP consumers first (messages in
flight are finished or left unacked for redelivery), then the worker.

Settings (environment, see services/common/config.py): SHUANGJIAN_TEMPORAL_ADDRESS,
SHUANGJIAN_TEMPORAL_NAMESPACE, SHUANGJIAN_TASK_QUEUE, SHUANGJIAN_AMQP_URI,
SHUANGJIAN_ACTOR_SIGNING_KEY or SHUANGJIAN_SECRETS_FILE (var/secrets.json), SHUANGJIAN_LOG_LEVEL;
and SHUANGJIAN_TEMPORAL_CONNECT_WAIT (seconds to keep retrying the first connection, 60).
"""
from __future__ import annotations

import warnings

# nameko's modules import eventlet (never patched here); its import-time notice is noise in this process
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import asyncio  # noqa: E402
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Callable, Sequence

from temporalio.client import Client
from temporalio.workflow import _Definition as workflow_definition  # the registered type names
from temporalio.worker import Worker

from services.common.config import (
    amqp_uri,
    deployment,
    load_secrets,
    task_queue,
    temporal_address,
    temporal_namespace,
)
from services.common import metrics
from services.common.identity import ActorSigner
from services.common.logging import configure_logging, get_logger
from workflows.approvals.activities import ApprovalActivities
from workflows.approvals.bridge import ApprovalsBridge
from workflows.approvals.workflows import ConversionApproval, ConversionDeadline, Deregistration
from workflows.bridge import InstitutionRegisteredBridge
from workflows.calendar_sync import CalendarBridge, load_from_registry
from workflows.metrics import WorkflowMetricsInterceptor
from workflows.escrow_scan.activities import ScanActivities
from workflows.escrow_scan.schedule import ensure_scans
from workflows.escrow_scan.workflows import PlatformScan
from workflows.prepaid.activities import PrepaidActivities
from workflows.prepaid.bridge import PrepaidBridge
from workflows.prepaid.workflows import PrepaidContract
from workflows.reports.activities import ReportActivities
from workflows.reports.schedule import ensure_report_schedules
from workflows.reports.workflows import ReportDeadline
from workflows.rectification.activities import RectificationActivities
from workflows.rectification.bridge import InspectionBridge
from workflows.rectification.workflows import Rectification
from workflows import actor_tokens
from workflows.rpc_server import RpcServer, WorkflowsService
from workflows.verification.activities import VerificationActivities
from workflows.service_calls import ServiceCaller
from workflows.verification.workflows import LicenceVerification

WORKFLOWS = [LicenceVerification, ConversionApproval, Deregistration, ConversionDeadline, PrepaidContract,
             PlatformScan, Rectification, ReportDeadline]
ACTIVITY_THREADS = 16


def workflow_type_names() -> tuple[str, ...]:
    return tuple(workflow_definition.must_from_class(cls).name for cls in WORKFLOWS)


def activities_of(verification: VerificationActivities, approvals: ApprovalActivities | None = None,
                  prepaid: PrepaidActivities | None = None, scan: ScanActivities | None = None,
                  rectification: RectificationActivities | None = None,
                  reports: ReportActivities | None = None) -> list[Callable]:
    found = [verification.compute_deadline, verification.record_licence_verification]
    if approvals is not None:
        found += [approvals.compute_step_times, approvals.record_case_progress, approvals.run_step_check,
                  approvals.lapse_academic_scope]
    if prepaid is not None:
        found += [prepaid.compute_workday_deadline, prepaid.deem_lesson_confirmed, prepaid.deem_refund_accepted]
    if scan is not None:
        found.append(scan.run_platform_scan)
    if rectification is not None:
        found += [rectification.compute_rectification_deadline, rectification.create_reinspection_task,
                  rectification.close_order, rectification.escalate_order]
    if reports is not None:
        found += [reports.draft_due_reports, reports.flag_overdue_reports]
    return found


def build_worker(
    client: Client,
    queue: str,
    activities: Sequence[Callable],
    executor: ThreadPoolExecutor,
) -> Worker:
    """The Temporal worker as this process runs it (tests pass fake activities)."""
    return Worker(
        client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=list(activities),
        activity_executor=executor,
        max_concurrent_activities=ACTIVITY_THREADS,
        graceful_shutdown_timeout=timedelta(seconds=10),
        interceptors=[WorkflowMetricsInterceptor()],  # temporal_workflows_*_total (workflows/metrics.py)
        workflow_runner=actor_tokens.sandbox_runner(),  # the validators see the configured key
    )


async def connect_client(address: str, namespace: str, wait: float = 60.0) -> Client:
    """Connect, retrying for `wait` seconds: the worker may start before the server is up."""
    log = get_logger(component="workflows.worker")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    delay = 0.5
    while True:
        try:
            return await Client.connect(address, namespace=namespace)
        except Exception as exc:
            if loop.time() + delay > deadline:
                raise
            log.warning("temporal_not_ready", address=address, error=str(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def assert_not_monkey_patched() -> None:
    """nameko's eventlet patching breaks the Temporal SDK: refuse to run patched."""
    if "eventlet" in sys.modules:
        from eventlet import patcher

        if patcher.is_monkey_patched("socket") or patcher.is_monkey_patched("thread"):
            raise RuntimeError("workflows process is monkey-patched by eventlet; do not import nameko services here")


async def serve(stop: asyncio.Event) -> None:
    """Run until `stop` is set (or the Temporal worker fails, which is re-raised)."""
    log = get_logger(component="workflows.worker")
    assert_not_monkey_patched()
    signer = ActorSigner(load_secrets().actor_signing_key)
    actor_tokens.configure(signer)  # the decide validators verify the signed actor (workflows/actor_tokens.py)
    uri = amqp_uri()
    queue = task_queue()
    wait = float(os.environ.get("SHUANGJIAN_TEMPORAL_CONNECT_WAIT", "60"))
    stopped = asyncio.create_task(stop.wait())
    connecting = asyncio.create_task(connect_client(temporal_address(), temporal_namespace(), wait))
    await asyncio.wait({stopped, connecting}, return_when=asyncio.FIRST_COMPLETED)
    if not connecting.done():  # stopped while waiting for the server
        connecting.cancel()
        log.info("workflows_stopped", reason="stopped before Temporal was reachable")
        return
    client = connecting.result()
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
        caller = ServiceCaller(uri, signer)
        activities = activities_of(VerificationActivities(uri, signer), ApprovalActivities(caller),
                                   PrepaidActivities(caller), ScanActivities(caller), RectificationActivities(caller),
                                   ReportActivities(caller))
        worker = build_worker(client, queue, activities, executor)
        bridge = InstitutionRegisteredBridge(client, queue, uri, loop)
        consumers = [ApprovalsBridge(client, queue, uri, loop), PrepaidBridge(client, queue, uri, loop),
                     InspectionBridge(client, queue, uri, loop), CalendarBridge(client, queue, uri, loop)]
        rpc = RpcServer(WorkflowsService(client, signer, workflow_types=workflow_type_names()), uri, loop)
        metrics.SCRAPED.add(metrics.queue_depths(uri, "workflows", sorted(
            {q.name for c in (bridge, *consumers, rpc) for q in c.queues()})))
        # the loaded holiday schedules before deadlines are computed (the registry may come up later)
        loading_calendar = asyncio.create_task(load_from_registry(caller, deployment().root_code))
        running = asyncio.create_task(worker.run())
        await ensure_scans(client, queue, deployment().root_code)
        await ensure_report_schedules(client, queue, deployment().root_code)
        bridge.start()
        for consumer in consumers:
            consumer.start()
        rpc.start()
        log.info(
            "workflows_started",
            temporal=temporal_address(),
            namespace=temporal_namespace(),
            task_queue=queue,
            amqp=_without_password(uri),
        )
        await asyncio.wait({stopped, running}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            log.error("temporal_worker_ended", error=repr(running.exception()) if not running.cancelled() else "cancelled")
        log.info("workflows_stopping")
        # blocking joins off the loop: the consumers' in-flight work still runs on it
        await asyncio.gather(*(asyncio.to_thread(c.stop) for c in (bridge, *consumers, rpc)))
        if not running.done():
            await worker.shutdown()
        stopped.cancel()
        loading_calendar.cancel()
        await running  # re-raises a worker failure: the process exits non-zero, the supervisor restarts it
    log.info("workflows_stopped")


def _without_password(uri: str) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(uri)


async def _main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(stop)


def main() -> None:
    configure_logging("workflows")
    metrics.serve()  # /metrics on SHUANGJIAN_METRICS_PORT (9100), also while Temporal is not reachable yet
    asyncio.run(_main())


if __name__ == "__main__":
    main()
