"""营转非 and 注销 workflows on the time-skipping server, with fake registry/escrow activities."""
from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from services.common.identity import DepartmentKind
from services.common.processes import CONVERSION, DEREGISTRATION, steps_for
from services.common.workdays import SHANGHAI
from workflows.approvals.activities import step_times
from workflows.approvals.contracts import (
    ACTIVITY_CHECK,
    ACTIVITY_LAPSE,
    ACTIVITY_RECORD,
    CaseInput,
    CheckRequest,
    CheckResult,
    Decision,
    DeadlineInput,
    LapseRequest,
    ProgressRecord,
)
from workflows.approvals.workflows import ConversionApproval, ConversionDeadline, Deregistration

from .support import serving
from .conftest import TOWNSHIP, make_actor, signed


@dataclass
class FakeServices:
    records: list[ProgressRecord] = field(default_factory=list)
    prepaid_clear: bool = True
    checks: int = 0
    lapses: list[LapseRequest] = field(default_factory=list)

    def activities(self):
        @activity.defn(name=ACTIVITY_RECORD)
        async def record(record: ProgressRecord) -> dict:
            self.records.append(record)
            return {}

        @activity.defn(name=ACTIVITY_CHECK)
        async def check(request: CheckRequest) -> CheckResult:
            self.checks += 1
            if self.prepaid_clear:
                return CheckResult(True, "无未消课预收费")
            return CheckResult(False, "尚有未消课预收费 1200.00 元待清退")

        @activity.defn(name=ACTIVITY_LAPSE)
        async def lapse(request: LapseRequest) -> dict:
            self.lapses.append(request)
            return {"removed": [1, 2]}

        from workflows.approvals.activities import ApprovalActivities

        real = ApprovalActivities(caller=None)  # only the pure step-times activity is used
        return [record, check, lapse, real.compute_step_times]

    def actions(self):
        return [(r.entry.step, r.entry.action) for r in self.records]


@pytest.fixture
def services():
    return FakeServices()


STARTED: list = []


@pytest.fixture
def worker(services):
    def run(client, queue):
        workflows = [ConversionApproval, Deregistration, ConversionDeadline]
        return serving(client, queue, workflows, services.activities(), STARTED)

    return run


EDU = make_actor(DepartmentKind.education, name="王科长", user_id=21)
EDU_CLERK = make_actor(DepartmentKind.education, roles=("clerk",), name="李干事", user_id=22)
CIVIL = make_actor(DepartmentKind.civil_affairs, name="张科长", user_id=23)
MARKET = make_actor(DepartmentKind.market_regulation, name="赵科长", user_id=24)


def case_input(process=CONVERSION, institution_id=None, variant="national"):
    iid = institution_id or uuid.uuid4().int % 10**6
    return CaseInput(
        workflow_id=f"{process}-{iid}-1", process=process, institution_id=iid, institution_name="枞阳县启明学科培训学校", division_code=TOWNSHIP,
        steps=[s.as_dict() for s in steps_for(process, variant)], opened_by="教体局/王科长",
        correlation_id="cid-apply", county_deadline="2026-12-31",
    )


async def start(client, queue, params):
    cls = ConversionApproval if params.process == CONVERSION else Deregistration
    handle = await client.start_workflow(cls.run, params, id=params.workflow_id, task_queue=queue)
    STARTED.append(handle)
    return handle


def decide(actor, action="approve", **kw) -> Decision:
    return Decision(actor=actor.to_dict(), action=action, actor_token=signed(actor), **kw)


async def refused(handle, decision) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(ConversionApproval.decide, decision)
    assert isinstance(info.value.cause, ApplicationError)
    return info.value.cause


async def until(predicate, seconds=10):
    for _ in range(int(seconds / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def current_step(handle):
    state = await handle.query(ConversionApproval.state)
    return state.steps[state.current]["key"] if state.current < len(state.steps) else None


def test_seven_working_days_across_national_day_2021():
    times = step_times("2021-09-30T16:00:00+08:00", 7, 1)
    assert datetime.fromisoformat(times.deadline).date() == date(2021, 10, 15)
    assert datetime.fromisoformat(times.reminder_at).date() == date(2021, 10, 14)


async def test_three_departments_carry_a_conversion_to_completion(time_env, task_queue, worker, services):
    client = time_env.client
    async with worker(client, task_queue):
        handle = await start(client, task_queue, case_input())
        state = await handle.execute_update(ConversionApproval.decide, decide(EDU, note="新证号 教民134072270001号"))
        assert state.steps[state.current]["key"] == "civil_affairs_registration"
        await handle.execute_update(ConversionApproval.decide, decide(CIVIL))
        await handle.execute_update(ConversionApproval.decide, decide(MARKET))
        final = await handle.result()
    assert final.status == "completed"
    decided = [(h.step, h.action, h.actor) for h in final.history if h.action == "approve"]
    assert decided == [("education_permit", "approve", "教体局/王科长"),
                       ("civil_affairs_registration", "approve", "民政局/张科长"),
                       ("market_regulation_change", "approve", "市场监管局/赵科长")]
    assert all(h.at for h in final.history)
    # the registry heard every step; enrolment resumes with civil-affairs registration
    resumes = [(r.entry.step, r.resumes_enrolment) for r in services.records if r.entry.action == "approve"]
    assert resumes == [("education_permit", False), ("civil_affairs_registration", True),
                       ("market_regulation_change", False)]
    assert services.records[-1].status == "completed"
    assert [r.seq for r in services.records] == sorted({r.seq for r in services.records})


async def test_wrong_department_clerk_and_outsider_are_refused_and_nothing_changes(time_env, task_queue, worker):
    client = time_env.client
    async with worker(client, task_queue):
        handle = await start(client, task_queue, case_input())
        cause = await refused(handle, decide(CIVIL))
        assert cause.type == "Forbidden" and "由教体局办理" in cause.message and "民政局无权决定" in cause.message
        assert (await refused(handle, decide(EDU_CLERK))).type == "Forbidden"
        outsider = make_actor(DepartmentKind.education, division="340706", name="外县", user_id=30)
        assert (await refused(handle, decide(outsider))).type == "Forbidden"
        state = await handle.query(ConversionApproval.state)
        assert state.current == 0 and not [h for h in state.history if h.action == "approve"]


async def test_a_forged_actor_on_the_temporal_frontend_is_refused(time_env, task_queue, worker):
    client = time_env.client
    async with worker(client, task_queue):
        handle = await start(client, task_queue, case_input())
        forged = Decision(actor=EDU.to_dict(), action="approve")  # no token: straight to Temporal
        assert (await refused(handle, forged)).type == "NotAuthenticated"
        swapped = Decision(actor=EDU.to_dict(), action="approve", actor_token=signed(CIVIL))
        assert (await refused(handle, swapped)).type == "NotAuthenticated"
        state = await handle.query(ConversionApproval.state)
        assert state.current == 0 and not [h for h in state.history if h.action == "approve"]


async def test_return_to_an_earlier_step_and_ask_for_documents(time_env, task_queue, worker):
    client = time_env.client
    async with worker(client, task_queue):
        handle = await start(client, task_queue, case_input())
        await handle.execute_update(ConversionApproval.decide, decide(EDU))
        await handle.execute_update(ConversionApproval.decide, decide(CIVIL))
        assert await current_step(handle) == "market_regulation_change"
        cause = await refused(handle, decide(MARKET, "return"))
        assert cause.type == "ValidationFailed" and "理由" in cause.message
        cause = await refused(handle, decide(MARKET, "return", reason="章程有误", return_to="market_regulation_change"))
        assert cause.type == "ValidationFailed"
        state = await handle.execute_update(
            ConversionApproval.decide, decide(MARKET, "return", reason="民非登记证书名称与章程不一致",
                                              return_to="civil_affairs_registration"))
        assert state.steps[state.current]["key"] == "civil_affairs_registration"
        state = await handle.execute_update(ConversionApproval.decide,
                                            decide(CIVIL, "request_documents", reason="请补交章程原件"))
        assert state.status == "awaiting_documents"
        await handle.execute_update(ConversionApproval.decide, decide(CIVIL, "documents_received"))
        await handle.execute_update(ConversionApproval.decide, decide(CIVIL))
        await handle.execute_update(ConversionApproval.decide, decide(MARKET))
        final = await handle.result()
    assert final.status == "completed"
    returned = [h for h in final.history if h.action == "return"]
    assert returned[0].return_to == "civil_affairs_registration" and returned[0].actor == "市场监管局/赵科长"


async def test_a_rejection_ends_the_case_with_its_reason(time_env, task_queue, worker):
    client = time_env.client
    async with worker(client, task_queue):
        handle = await start(client, task_queue, case_input())
        await handle.execute_update(ConversionApproval.decide, decide(EDU, "reject", reason="举办者资格不符"))
        final = await handle.result()
    assert final.status == "rejected" and final.history[-2].reason == "举办者资格不符"


async def test_reminder_then_escalation_fire_on_the_working_day_calendar(time_env, task_queue, worker, services):
    client = time_env.client
    async with worker(client, task_queue):
        handle = await start(client, task_queue, case_input())
        await handle.execute_update(ConversionApproval.decide, decide(EDU))
        await handle.execute_update(ConversionApproval.decide, decide(CIVIL))
        state = await handle.query(ConversionApproval.state)
        expected = step_times(state.step_started_at, 7, 1)
        assert (state.reminder_at, state.deadline) == (expected.reminder_at, expected.deadline)
        assert not state.reminded

        now = await time_env.get_current_time()
        await time_env.sleep(datetime.fromisoformat(state.reminder_at) - now + timedelta(minutes=1))
        await until(lambda: _has(handle, "reminded"))
        assert not (await handle.query(ConversionApproval.state)).escalated

        now = await time_env.get_current_time()
        await time_env.sleep(datetime.fromisoformat(state.deadline) - now + timedelta(minutes=1))
        await until(lambda: _has(handle, "escalated"))
        escalated = [r for r in services.records if r.entry.action == "escalated"]
        assert escalated[0].current_department == "market_regulation"
        assert "提请部门负责人督办" in escalated[0].entry.note
        # still open: the department can decide late
        await handle.execute_update(ConversionApproval.decide, decide(MARKET))
        assert (await handle.result()).status == "completed"


async def _has(handle, action):
    state = await handle.query(ConversionApproval.state)
    return any(h.action == action for h in state.history)


async def test_deregistration_waits_for_prepaid_refunds_before_market_regulation(
        time_env, task_queue, worker, services):
    client = time_env.client
    services.prepaid_clear = False
    async with worker(client, task_queue):
        handle = await start(client, task_queue, case_input(DEREGISTRATION))
        await handle.execute_update(Deregistration.decide, decide(EDU))
        await until(lambda: _has(handle, "waiting"))
        cause = await refused(handle, decide(MARKET))
        assert cause.type == "Conflict"  # the check step is not a human decision
        services.prepaid_clear = True
        await time_env.sleep(timedelta(days=1, minutes=1))
        await until(lambda: _at(handle, "market_regulation_deregister"))
        await handle.execute_update(Deregistration.decide, decide(MARKET))
        final = await handle.result()
    assert final.status == "completed"
    assert services.checks >= 2
    assert [h.action for h in final.history if h.step == "escrow_clearance"] == ["started", "waiting", "checked"]


async def _at(handle, step_key):
    return await current_step(handle) == step_key


async def _left(handle, step_key):
    return await current_step(handle) != step_key


async def test_county_deadline_lapses_once_at_the_end_of_the_day_and_can_be_moved(time_env, task_queue, worker,
                                                                                   services):
    client = time_env.client
    async with worker(client, task_queue):
        now = (await time_env.get_current_time()).astimezone(SHANGHAI)
        first = (now + timedelta(days=10)).date().isoformat()
        later = (now + timedelta(days=20)).date().isoformat()
        handle = await client.start_workflow(ConversionDeadline.run, DeadlineInput("340722", first),
                                             id=f"conversion-deadline-{uuid.uuid4().hex[:6]}", task_queue=task_queue)
        STARTED.append(handle)
        await handle.signal(ConversionDeadline.reschedule, later)
        await time_env.sleep(timedelta(days=12))
        assert services.lapses == []
        result = await handle.result()
    assert [(l.county_code, l.deadline) for l in services.lapses] == [("340722", later)]
    assert result == {"removed": [1, 2]}


async def test_no_inbox_item_ever_carries_another_steps_deadline_while_decisions_race(
        dev_env, task_queue, worker, services):
    """The torn read of issue 12: right after 民政 approved, 市场监管's inbox showed its own step with
    民政's deadline (10 working days instead of 7). Every record the registry's inbox is built from,
    and every state a reader queries while decisions race, must pair a step with its own deadline.
    On the dev server: concurrent updates and queries are what it serves, and no timer is needed."""
    client = dev_env.client
    sla = {s.key: (s.sla_workdays, s.remind_before_workdays) for s in steps_for(CONVERSION, "national")}
    sla |= {s.key: (s.sla_workdays, s.remind_before_workdays) for s in steps_for(DEREGISTRATION, "national")}
    checks = {s.key for s in steps_for(DEREGISTRATION, "national") if s.kind == "check"}  # no deadline
    seen: list = []
    done = asyncio.Event()

    async def read(handle):  # an official refreshing the case page while others decide
        while not done.is_set():
            with contextlib.suppress(Exception):
                state = await handle.query(ConversionApproval.state)
                step = state.current_step
                if step and step["kind"] == "decision" and state.deadline:
                    seen.append((step["key"], state.deadline,
                                 step_times(state.step_started_at, *sla[step["key"]]).deadline))
            await asyncio.sleep(0.01)

    async def attempt(handle, decision):
        with contextlib.suppress(WorkflowUpdateFailedError):  # busy / not this department's step: refused
            await handle.execute_update(ConversionApproval.decide, decision)

    async def walk(params):
        handle = await start(client, task_queue, params)
        reader = asyncio.create_task(read(handle))
        await handle.execute_update(ConversionApproval.decide, decide(EDU))
        if params.process == CONVERSION:
            # 民政 twice at once (one is refused as busy or too late) while 市场监管 tries too early
            await asyncio.gather(attempt(handle, decide(CIVIL)), attempt(handle, decide(CIVIL)),
                                 attempt(handle, decide(MARKET)))
            # on a slow machine 市场监管's "early" attempt can land after 民政's approval and decide its step
            await until(lambda: _left(handle, "civil_affairs_registration"))
            if await _at(handle, "market_regulation_change"):
                await asyncio.gather(
                    attempt(handle, decide(MARKET, "return", reason="章程有误", return_to="civil_affairs_registration")),
                    attempt(handle, decide(MARKET)))
            while (step := await current_step(handle)) is not None:
                await attempt(handle, decide(CIVIL if step == "civil_affairs_registration" else MARKET))
        else:
            await until(lambda: _at(handle, "market_regulation_deregister"))
            await handle.execute_update(Deregistration.decide, decide(MARKET))
        final = await handle.result()
        reader.cancel()
        return final

    async with worker(client, task_queue):
        finals = await asyncio.gather(*(walk(case_input()) for _ in range(3)), walk(case_input(DEREGISTRATION)))
        done.set()
    assert all(f.status == "completed" for f in finals)

    # the registry's case row (and so the inbox) holds the last record of each case: every record must
    # carry the deadline of the step visit it names, fixed by that visit's `started` entry
    checked = 0
    for workflow_id in {r.workflow_id for r in services.records}:
        records = sorted((r for r in services.records if r.workflow_id == workflow_id), key=lambda r: r.seq)
        visit: list = []
        for record in records + [None]:
            if visit and (record is None or record.current_step != visit[0].current_step):
                started = [r for r in visit if r.entry.action == "started" and r.entry.step == visit[0].current_step]
                if started:  # None only on the case's `opened` record, before its first step started
                    key = visit[0].current_step
                    expected = step_times(started[0].entry.at, *sla[key]).deadline if key not in checks else None
                    wrong = [(r.seq, r.entry.action, r.deadline) for r in visit
                             if r.deadline != expected and not (r.deadline is None and r.entry.action == "opened")]
                    assert not wrong, f"{workflow_id} {visit[0].current_step} expected {expected}: {wrong}"
                    checked += len(visit)
                visit = []
            if record is not None:
                visit.append(record)
    assert checked > 20
    assert seen and all(deadline == expected for _, deadline, expected in seen)
