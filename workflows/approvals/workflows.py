"""营转非 (ConversionApproval) and 注销 (Deregistration): one engine walking a step list.

Each decision step waits in its department's inbox for an update `decide` (validator: that
department's leader, within the institution's division; approve / reject / return to an earlier
step / ask for documents). Per step: a reminder before the deadline and an escalation to the
department head when it passes, both reported to the registry (inbox, events) and kept in the
history; the case stays open. Check steps run an automatic check (e.g. no unearned prepaid
money) and re-check daily until it passes. Every change is written to the registry by the
`record_case_progress` activity, idempotent by (workflow id, history seq). A step change carries
the new step's own deadline in the same record (times computed before the change), so no inbox
shows one step with another's deadline.

ConversionDeadline: one per county; at the end of the county's deadline day it asks the
registry to remove the 学科类 scope of every institution not converted by then.

Deterministic code only: no I/O, no wall clock, no structlog (use workflow.logger).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from services.common.errors import DomainError
    from services.common.workdays import SHANGHAI
    from workflows import actor_tokens
    from workflows.approvals import engine
    from workflows.approvals.contracts import (
        ACTIVITY_CHECK,
        ACTIVITY_LAPSE,
        ACTIVITY_RECORD,
        ACTIVITY_STEP_TIMES,
        CONVERSION_WORKFLOW,
        DEADLINE_WORKFLOW,
        DEREGISTRATION_WORKFLOW,
        QUERY_STATE,
        SIGNAL_RESCHEDULE,
        UPDATE_DECIDE,
        CaseInput,
        CaseState,
        CheckRequest,
        CheckResult,
        Decision,
        DeadlineInput,
        HistoryEntry,
        LapseRequest,
        ProgressRecord,
        StepTimes,
    )
    from workflows.calendar_contract import SIGNAL_CALENDAR_CHANGED, CalendarSchedule, merged
    from workflows.errors import KEEP_TELLING, application_error

ACTIVITY_TIMEOUT = timedelta(seconds=60)
RECHECK_INTERVAL = timedelta(days=1)
# Workflows started from issue 12 on compute the next step's times before the step changes; older
# histories replay the earlier order (times computed when the next step starts).
PATCH_TIMES_FIRST = "i12-step-times-before-step-change"


class ApprovalWorkflow:
    """Shared engine; subclasses only name the workflow and its run method."""

    def __init__(self, params: CaseInput) -> None:
        self._params = params
        self._state = CaseState(
            workflow_id=params.workflow_id,
            process=params.process,
            institution_id=params.institution_id,
            institution_name=params.institution_name,
            division_code=params.division_code,
            steps=list(params.steps),
            county_deadline=params.county_deadline,
        )
        self._inbox: list[Decision] = []  # accepted decisions not yet applied
        self._submitted = 0
        self._applied = 0
        self._schedules: list[CalendarSchedule] = []  # loaded holiday schedules this case was told (issue 13)
        self._calendar_changes = 0
        self._times_calendar = 0  # the calendar change the current step's times were computed on
        self._prepared: StepTimes | None = None  # the next decision step's times, set as it is entered

    # -- messages ------------------------------------------------------------------------------

    @workflow.update(name=UPDATE_DECIDE)
    async def decide(self, decision: Decision) -> CaseState:
        self._submitted += 1
        ticket = self._submitted
        self._inbox.append(decision)
        await workflow.wait_condition(lambda: self._applied >= ticket)
        return self._state

    @decide.validator
    def validate_decide(self, decision: Decision) -> None:
        try:
            actor_tokens.verified_actor(decision.actor_token, decision.actor)  # a forged dict stops here
            engine.validate(self._state, decision, busy=bool(self._inbox))
        except DomainError as exc:
            raise application_error(exc) from None

    @workflow.signal(name=SIGNAL_CALENDAR_CHANGED)
    def calendar_changed(self, schedule: CalendarSchedule) -> None:
        self._schedules = merged(self._schedules, schedule)
        self._calendar_changes += 1

    @workflow.query(name=QUERY_STATE)
    def state(self) -> CaseState:
        return self._state

    # -- the walk --------------------------------------------------------------------------------

    async def _run(self) -> CaseState:
        params = self._params
        opened = _parse_time(params.opened_at) or workflow.now()
        await self._record(engine.record(self._state, "opened", params.opened_by or "系统", "education",
                                         opened.isoformat()))
        step_start = opened
        while not engine.finished(self._state):
            step = self._state.current_step
            if step["kind"] == "check":
                await self._run_check(step)
            else:
                await self._run_decision_step(step, step_start)
            step_start = workflow.now()
        await self._record(engine.record(self._state, self._state.status, "系统", "system",
                                         workflow.now().isoformat()))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _step_times(self, step: dict, start: datetime | str) -> StepTimes:
        """The step's reminder and deadline from `start`, on the holiday schedules this case was told."""
        self._times_calendar = self._calendar_changes
        start_iso = start if isinstance(start, str) else start.isoformat()
        args = [start_iso, step["sla_workdays"], step["remind_before_workdays"]]
        return await workflow.execute_local_activity(
            ACTIVITY_STEP_TIMES, args=args + ([self._schedules] if self._schedules else []),
            result_type=StepTimes, start_to_close_timeout=timedelta(seconds=10),
        )

    async def _run_decision_step(self, step: dict, start: datetime) -> None:
        times, self._prepared = self._prepared, None  # fixed when the previous step changed to this one
        if times is None:
            times = await self._step_times(step, start)
        state = self._state
        engine.enter_step(state, times)
        await self._record(engine.record(state, "started", "系统", step["department"], times.started_at))
        index = state.current
        while state.current == index and not engine.finished(state):
            if self._times_calendar != self._calendar_changes:
                await self._reschedule(step)
            timeout = self._time_to_next_alarm()
            fired = not await _wait(lambda: bool(self._inbox) or self._times_calendar != self._calendar_changes,
                                    timeout)
            if fired:
                await self._alarm(step)
                continue
            if self._inbox:
                await self._apply_next_decision()

    async def _reschedule(self, step: dict) -> None:
        """A holiday schedule was loaded: the step's reminder and deadline on it (the registry's
        case and inbox follow through the recorded entry)."""
        state = self._state
        times = await self._step_times(step, state.step_started_at)
        if (times.reminder_at, times.deadline) == (state.reminder_at, state.deadline):
            return
        state.reminder_at, state.deadline = times.reminder_at, times.deadline
        await self._record(engine.record(state, "rescheduled", "系统", step["department"], workflow.now().isoformat(),
                                         note=f"放假安排调整，办理时限改为 {state.deadline}"))

    def _time_to_next_alarm(self) -> timedelta | None:
        state = self._state
        now = workflow.now()
        if not state.reminded:
            return max(datetime.fromisoformat(state.reminder_at) - now, timedelta(0))
        if not state.escalated:
            return max(datetime.fromisoformat(state.deadline) - now, timedelta(0))
        return None

    async def _alarm(self, step: dict) -> None:
        state = self._state
        now = workflow.now().isoformat()
        if not state.reminded:
            state.reminded = True
            entry = engine.record(state, "reminded", "系统", step["department"], now,
                                  note=f"办理时限 {state.deadline}")
        else:
            state.escalated = True
            entry = engine.record(state, "escalated", "系统", step["department"], now,
                                  note=f"已超过办理时限 {state.deadline}，提请部门负责人督办")
        workflow.logger.info("case %s %s at step %s", state.workflow_id, entry.action, step["key"])
        await self._record(entry)

    async def _apply_next_decision(self) -> None:
        state = self._state
        decision = self._inbox[0]  # stays queued (the validator answers "busy") until applied
        now = workflow.now()
        prepare = workflow.patched(PATCH_TIMES_FIRST)
        times = await self._times_of(engine.step_after(state, decision), now) if prepare else None
        self._inbox.pop(0)
        ticket = self._applied + 1
        step = state.current_step
        entry, changed = engine.apply(state, decision, now.isoformat())
        if prepare and changed:
            self._enter(times)
        resumes = decision.action == "approve" and bool(step.get("resumes_enrolment"))
        try:
            await self._record(entry, resumes_enrolment=resumes, correlation_id=decision.correlation_id)
        finally:
            self._applied = ticket  # the waiting update answers either way

    async def _run_check(self, step: dict) -> None:
        state = self._state
        await self._record(engine.record(state, "started", "系统", step["department"], workflow.now().isoformat()))
        waiting_recorded = False
        while True:
            result: CheckResult = await workflow.execute_activity(
                ACTIVITY_CHECK,
                CheckRequest(step["check"], state.institution_id, state.division_code, self._params.correlation_id),
                result_type=CheckResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=KEEP_TELLING,
            )
            if result.passed:
                now = workflow.now()
                prepare = workflow.patched(PATCH_TIMES_FIRST)
                following = state.current + 1 if state.current + 1 < len(state.steps) else None
                times = await self._times_of(following, now) if prepare else None
                entry = engine.approve_check(state, result.detail, now.isoformat())
                if prepare:
                    self._enter(times)
                await self._record(entry)
                return
            if not waiting_recorded:
                waiting_recorded = True
                await self._record(engine.record(state, "waiting", "系统", step["department"],
                                                 workflow.now().isoformat(), note=result.detail))
            await workflow.sleep(RECHECK_INTERVAL)

    async def _times_of(self, index: int | None, start: datetime) -> StepTimes | None:
        """The times of the step a change leads to, computed before the change (None: no deadline)."""
        if index is None or self._state.steps[index]["kind"] != "decision":
            return None
        return await self._step_times(self._state.steps[index], start)

    def _enter(self, times: StepTimes | None) -> None:
        """Same workflow task as the step change: the state, its query and its record never show the
        new step with the previous step's deadline (the torn inbox of issue 12)."""
        engine.enter_step(self._state, times)
        self._prepared = times

    async def _record(self, entry: HistoryEntry, resumes_enrolment: bool = False,
                      correlation_id: str | None = None) -> None:
        state = self._state
        step = state.current_step
        record = ProgressRecord(
            workflow_id=state.workflow_id,
            process=state.process,
            institution_id=state.institution_id,
            division_code=state.division_code,
            seq=entry.seq,
            entry=entry,
            status=state.status,
            current_step=step["key"] if step else None,
            current_department=step["department"] if step else None,
            deadline=state.deadline if step and step["kind"] == "decision" else None,
            resumes_enrolment=resumes_enrolment,
            correlation_id=correlation_id or self._params.correlation_id,
        )
        await workflow.execute_activity(
            ACTIVITY_RECORD, record, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=KEEP_TELLING
        )


@workflow.defn(name=CONVERSION_WORKFLOW)
class ConversionApproval(ApprovalWorkflow):
    """营转非: 教育 → 民政 → 市场监管 (national default; the step list is data)."""

    @workflow.init
    def __init__(self, params: CaseInput) -> None:
        super().__init__(params)

    @workflow.run
    async def run(self, params: CaseInput) -> CaseState:
        return await self._run()


@workflow.defn(name=DEREGISTRATION_WORKFLOW)
class Deregistration(ApprovalWorkflow):
    """注销: 教育收回许可证 → 预收费清退核查 → 市场监管注销 → 已注销."""

    @workflow.init
    def __init__(self, params: CaseInput) -> None:
        super().__init__(params)

    @workflow.run
    async def run(self, params: CaseInput) -> CaseState:
        return await self._run()


@workflow.defn(name=DEADLINE_WORKFLOW)
class ConversionDeadline:
    """At the end of the county's 营转非 deadline, institutions not converted lose 学科类 scope."""

    @workflow.init
    def __init__(self, params: DeadlineInput) -> None:
        self._deadline = params.deadline
        self._lapsed: dict | None = None

    @workflow.signal(name=SIGNAL_RESCHEDULE)
    def reschedule(self, deadline: str) -> None:
        self._deadline = deadline

    @workflow.query(name=QUERY_STATE)
    def state(self) -> dict:
        return {"deadline": self._deadline, "lapsed": self._lapsed}

    @workflow.run
    async def run(self, params: DeadlineInput) -> dict:
        while True:
            deadline = self._deadline
            remaining = _end_of_day_shanghai(deadline) - workflow.now()
            if remaining > timedelta(0):
                changed = await _wait(lambda: self._deadline != deadline, remaining)
                if changed:
                    continue  # rescheduled: wait for the new date
            break
        self._lapsed = await workflow.execute_activity(
            ACTIVITY_LAPSE, LapseRequest(params.county_code, self._deadline),
            result_type=dict, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=KEEP_TELLING,
        )
        return self._lapsed


async def _wait(condition, timeout: timedelta | None) -> bool:
    """True when `condition` became true, False when the timeout passed first."""
    try:
        await workflow.wait_condition(condition, timeout=timeout)
    except TimeoutError:
        return False
    return True


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _end_of_day_shanghai(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)

