"""LicenceVerification (办学许可核验) workflow logic on the time-skipping test server.

The registry write is a fake activity with the real activity's name; the real RPC is
exercised by the bridge/RPC tests and end to end.
"""
from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError

from services.common.errors import Conflict
from services.common.workdays import SHANGHAI, add_workdays, workday_deadline
from workflows.errors import application_error
from workflows.verification.contracts import DecisionInput, VerificationInput, VerificationState, workflow_id
from workflows.verification.workflows import LicenceVerification

from .conftest import TOWNSHIP, signed

INSTITUTION = 101


def verification_input(institution_id=INSTITUTION, **overrides) -> VerificationInput:
    values = dict(
        institution_id=institution_id,
        institution_name="枞阳县启明艺术培训学校",
        division_code=TOWNSHIP,
        correlation_id="cid-registration",
    )
    values.update(overrides)
    return VerificationInput(**values)


async def start(client, queue, params=None):
    params = params or verification_input()
    return await client.start_workflow(
        LicenceVerification.run, params, id=workflow_id(params.institution_id), task_queue=queue
    )


def decision(actor, outcome="verified", reason=None) -> DecisionInput:
    return DecisionInput(actor=actor.to_dict(), outcome=outcome, reason=reason, actor_token=signed(actor))


async def rejected_update(handle, payload) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(LicenceVerification.decide, payload)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def state_of(handle) -> VerificationState:
    return await handle.query(LicenceVerification.state)


async def test_sla_marks_the_case_overdue_after_five_working_days(
    time_env, task_queue, running_worker, education_leader
):
    client = time_env.client
    async with running_worker(client, task_queue):
        handle = await start(client, task_queue)
        started = (await handle.describe()).start_time
        state = await state_of(handle)
        while state.deadline is None:  # the deadline activity has not run yet
            await asyncio.sleep(0.05)
            state = await state_of(handle)

        due_day = add_workdays(started.astimezone(SHANGHAI).date(), 5)
        expected = datetime.combine(due_day, time.max, tzinfo=SHANGHAI)
        assert datetime.fromisoformat(state.deadline) == expected
        assert (state.status, state.overdue) == ("pending", False)

        # one minute before the end of the fifth working day: still on time
        await time_env.sleep(expected - await time_env.get_current_time() - timedelta(minutes=1))
        assert (await state_of(handle)).status == "pending"

        await time_env.sleep(timedelta(minutes=2))
        state = await state_of(handle)
        assert (state.status, state.overdue) == ("overdue", True)

        # a late decision is still taken and recorded; the case stays marked as overdue
        late = await handle.execute_update(LicenceVerification.decide, decision(education_leader))
        assert (late.status, late.overdue, late.recorded) == ("decided", True, True)
        assert (await handle.result()).status == "decided"


def test_deadline_follows_the_state_council_holiday_calendar():
    """Registered on Mon 28 Sep 2026: National Day holidays 1–8 Oct, make-up day Sat 10 Oct."""
    registered = datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI)
    assert add_workdays(date(2026, 9, 28), 5) == date(2026, 10, 10)
    assert workday_deadline(registered, 5) == datetime.combine(date(2026, 10, 10), time.max, tzinfo=SHANGHAI)


async def test_deadline_runs_from_registration_time_in_the_event(time_env, task_queue, running_worker):
    client = time_env.client
    params = verification_input(institution_id=102, registered_at="2026-09-28T10:00:00+08:00")
    async with running_worker(client, task_queue):
        handle = await start(client, task_queue, params)
        state = await state_of(handle)
        while state.deadline is None:
            await asyncio.sleep(0.05)
            state = await state_of(handle)
        assert state.deadline == "2026-10-10T23:59:59.999999+08:00"
        # past that day (already, or once the test server's clock gets there) the case is overdue
        now = await time_env.get_current_time()
        await time_env.sleep(max(datetime.fromisoformat(state.deadline) - now, timedelta(0)) + timedelta(minutes=1))
        state = await state_of(handle)
        assert (state.status, state.overdue) == ("overdue", True)
        await handle.terminate("test done")


async def test_civil_affairs_cannot_decide(time_env, task_queue, running_worker, registry, civil_affairs_leader):
    client = time_env.client
    async with running_worker(client, task_queue):
        handle = await start(client, task_queue, verification_input(institution_id=103))
        cause = await rejected_update(handle, decision(civil_affairs_leader))
        assert cause.type == "Forbidden"
        assert cause.message == "民政局无权执行此操作，仅限：教体局"
        state = await state_of(handle)
        assert (state.status, state.decision, state.recorded) == ("pending", None, False)
        assert registry.calls == []
        await handle.terminate("test done")


async def test_a_forged_actor_sent_straight_to_the_workflow_is_refused(time_env, task_queue, running_worker,
                                                                    registry, education_leader, civil_affairs_leader):
    """A client on the Temporal frontend itself (no gateway, no RPC endpoint) writes an education
    leader into the update: without the gateway's signature over exactly that actor, refused."""
    from services.common.identity import ActorSigner

    client = time_env.client
    async with running_worker(client, task_queue):
        handle = await start(client, task_queue, verification_input(institution_id=109))
        unsigned = DecisionInput(actor=education_leader.to_dict(), outcome="verified")
        other_key = DecisionInput(actor=education_leader.to_dict(), outcome="verified",
                                  actor_token=ActorSigner("a-guessed-key").sign(education_leader))
        swapped = DecisionInput(actor=education_leader.to_dict(), outcome="verified",
                                actor_token=signed(civil_affairs_leader))  # a real token of someone else
        for forged in (unsigned, other_key, swapped):
            cause = await rejected_update(handle, forged)
            assert cause.type == "NotAuthenticated", cause
        assert "签名" in cause.message
        state = await state_of(handle)
        assert (state.status, state.decision, state.recorded) == ("pending", None, False)
        assert registry.calls == []
        await handle.terminate("test done")


async def test_clerk_without_leader_role_cannot_decide(time_env, task_queue, running_worker, registry, education_clerk):
    client = time_env.client
    async with running_worker(client, task_queue):
        handle = await start(client, task_queue, verification_input(institution_id=104))
        cause = await rejected_update(handle, decision(education_clerk))
        assert (cause.type, cause.message) == ("Forbidden", "此操作需要“leader”角色")
        assert (await state_of(handle)).status == "pending"
        assert registry.calls == []
        await handle.terminate("test done")


async def test_leader_of_another_county_cannot_decide(
    time_env, task_queue, running_worker, registry, other_county_leader
):
    client = time_env.client
    async with running_worker(client, task_queue):
        handle = await start(client, task_queue, verification_input(institution_id=105))
        cause = await rejected_update(handle, decision(other_county_leader))
        assert (cause.type, cause.message) == ("Forbidden", "记录不在您所属行政区划范围内")
        assert (await state_of(handle)).status == "pending"
        assert registry.calls == []
        await handle.terminate("test done")


async def test_invalid_decisions_are_rejected(time_env, task_queue, running_worker, registry, education_leader):
    client = time_env.client
    async with running_worker(client, task_queue):
        handle = await start(client, task_queue, verification_input(institution_id=106))
        no_reason = await rejected_update(handle, decision(education_leader, "rejected", "  "))
        assert (no_reason.type, no_reason.message) == ("ValidationFailed", "核验不通过须填写理由")
        assert no_reason.details[0] == "reason"
        unknown = await rejected_update(handle, decision(education_leader, "pending"))
        assert unknown.type == "ValidationFailed"
        assert "verified" in unknown.message
        assert (await state_of(handle)).status == "pending"
        assert registry.calls == []
        await handle.terminate("test done")


async def test_education_leader_approval_is_recorded(time_env, task_queue, running_worker, registry, education_leader):
    client = time_env.client
    async with running_worker(client, task_queue):
        handle = await start(client, task_queue, verification_input(institution_id=107))
        state = await handle.execute_update(LicenceVerification.decide, decision(education_leader))

        assert (state.status, state.recorded, state.verification) == ("decided", True, "verified")
        assert state.decided_by == "教体局/张科长"
        assert state.decision.outcome == "verified" and state.decision.username == "user7"
        assert len(registry.calls) == 1
        call = registry.calls[0]
        assert (call.institution_id, call.division_code, call.outcome, call.reason) == (
            107, TOWNSHIP, "verified", None,
        )
        assert call.decided_by == "教体局/张科长"
        assert call.correlation_id == "cid-registration"
        assert call.workflow_id == "licence-verification-107"
        assert datetime.fromisoformat(call.decided_at).tzinfo is not None
        assert (await handle.result()).status == "decided"


async def test_a_second_decision_while_recording_is_a_conflict(
    time_env, task_queue, running_worker, registry, education_leader
):
    registry.release = asyncio.Event()
    client = time_env.client
    async with running_worker(client, task_queue):
        handle = await start(client, task_queue, verification_input(institution_id=108))
        first = await handle.start_update(
            LicenceVerification.decide,
            decision(education_leader, "rejected", "许可证已过期"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await registry.started.wait()
        second = await rejected_update(handle, decision(education_leader))
        assert (second.type, second.message) == ("Conflict", "该机构的办学许可已作出核验决定，不能重复决定")
        registry.release.set()
        state = await first.result()
        assert (state.status, state.decision.outcome, state.decision.reason) == ("decided", "rejected", "许可证已过期")
        assert len(registry.calls) == 1


async def test_registry_refusal_reaches_the_decider(time_env, task_queue, running_worker, registry, education_leader):
    registry.refuse_with = application_error(Conflict("该机构已核验不通过，不能改为已核验", field="outcome"))
    client = time_env.client
    async with running_worker(client, task_queue):
        handle = await start(client, task_queue, verification_input(institution_id=109))
        cause = await rejected_update(handle, decision(education_leader))
        assert (cause.type, cause.message) == ("Conflict", "该机构已核验不通过，不能改为已核验")
        assert len(registry.calls) == 1  # non-retryable: tried once
        with pytest.raises(WorkflowFailureError):
            await handle.result()

