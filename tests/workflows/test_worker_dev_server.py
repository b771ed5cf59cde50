"""The worker as `python -m workflows.worker` builds it, on the real Temporal dev server."""
from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus

from workflows.bridge import start_verification
from workflows.verification.contracts import DecisionInput, VerificationInput, VerificationState, workflow_id
from workflows.verification.workflows import LicenceVerification

from .conftest import TOWNSHIP, signed


async def test_registration_to_recorded_rejection(dev_env, task_queue, running_worker, registry, education_leader):
    client = dev_env.client
    params = VerificationInput(
        institution_id=201,
        institution_name="枞阳县星火学科培训中心",
        division_code=TOWNSHIP,
        correlation_id="cid-dev-201",
        registered_at="2026-11-02T09:30:00+08:00",
    )
    async with running_worker(client, task_queue):
        assert await start_verification(client, params, task_queue) is True
        assert await start_verification(client, params, task_queue) is False  # same business key

        handle = client.get_workflow_handle_for(LicenceVerification.run, workflow_id(201))
        state = await handle.execute_update(
            "decide",
            DecisionInput(actor=education_leader.to_dict(), outcome="rejected", reason="许可证载明地址与实际不符",
                          actor_token=signed(education_leader)),
            result_type=VerificationState,
        )
        assert (state.status, state.recorded, state.verification) == ("decided", True, "rejected")
        assert state.deadline == "2026-11-09T23:59:59.999999+08:00"  # 5 working days after Mon 2 Nov

        result = await handle.result()
        assert result.decision.reason == "许可证载明地址与实际不符"
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
        # still answers after completion (what the gateway shows on the institution's page)
        assert (await handle.query("state", result_type=VerificationState)).status == "decided"
        # a finished case is not started again by a late redelivery
        assert await start_verification(client, params, task_queue) is False

    assert [(c.institution_id, c.outcome, c.reason, c.decided_by) for c in registry.calls] == [
        (201, "rejected", "许可证载明地址与实际不符", "教体局/张科长")
    ]
