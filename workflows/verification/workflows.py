"""LicenceVerification (办学许可核验): the education bureau confirms a new institution's licence.

Started by the bridge when the registry emits `institution_registered`, with the workflow id
`licence-verification-<institution_id>`. It waits for one decision (update `decide`), whose
validator rejects — before anything is written to the history — a user of the wrong department,
without the leader role or outside the institution's division, an unknown outcome, a rejection
without a reason and a second decision. Past `sla_workdays` working days (State Council holiday
calendar) the case is marked overdue and keeps waiting. The decision is then written to the
registry by the `record_licence_verification` activity; the update returns the state after that.

Deterministic code only: no I/O, no wall clock, no structlog (workflow.logger is replay-aware).
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.common.errors import Conflict, DomainError, ValidationFailed
    from services.common.identity import Actor
    from services.common.policy import authorize
    from workflows.calendar_contract import SIGNAL_CALENDAR_CHANGED, CalendarSchedule, merged
    from workflows import actor_tokens
    from workflows.errors import KEEP_TELLING, application_error, domain_error
    from workflows.verification.contracts import (
        ACTIVITY_COMPUTE_DEADLINE,
        ACTIVITY_RECORD,
        DECIDE_ACTION,
        DECIDED,
        OUTCOMES,
        OVERDUE,
        PENDING,
        QUERY_STATE,
        REASON_MAX_LENGTH,
        UPDATE_DECIDE,
        WORKFLOW_NAME,
        DeadlineRequest,
        DecisionInput,
        DecisionRecord,
        RecordRequest,
        VerificationInput,
        VerificationState,
    )

RECORD_TIMEOUT = timedelta(seconds=60)  # per attempt; the RPC itself times out after 30 s


def check_decision(decision: DecisionInput, division_code: str, already_decided: bool) -> Actor:
    """The update validator's rules; raises Forbidden / Conflict / ValidationFailed."""
    try:
        actor = Actor.from_dict(decision.actor)
    except (KeyError, ValueError, TypeError):
        raise ValidationFailed("操作人信息不完整", field="actor") from None
    authorize(actor, DECIDE_ACTION, division_code)
    if already_decided:
        raise Conflict("该机构的办学许可已作出核验决定，不能重复决定", field="outcome")
    if decision.outcome not in OUTCOMES:
        raise ValidationFailed(
            "核验结果只能是 verified（已核验）或 rejected（核验不通过）", field="outcome"
        )
    reason = decision.reason
    if reason is not None and not isinstance(reason, str):
        raise ValidationFailed("理由应为文字", field="reason")
    if decision.outcome == "rejected" and not (reason or "").strip():
        raise ValidationFailed("核验不通过须填写理由", field="reason")
    if reason is not None and len(reason) > REASON_MAX_LENGTH:
        raise ValidationFailed(f"理由不能超过{REASON_MAX_LENGTH}字", field="reason")
    return actor


@workflow.defn(name=WORKFLOW_NAME)
class LicenceVerification:
    @workflow.init
    def __init__(self, params: VerificationInput) -> None:
        self._params = params
        self._deadline: str | None = None
        self._overdue = False
        self._decision: DecisionRecord | None = None
        self._recorded = False
        self._verification: str | None = None
        self._failure: ApplicationError | None = None
        self._schedules: list[CalendarSchedule] = []  # loaded holiday schedules this case was told (issue 13)
        self._calendar_changes = 0

    @workflow.signal(name=SIGNAL_CALENDAR_CHANGED)
    def calendar_changed(self, schedule: CalendarSchedule) -> None:
        self._schedules = merged(self._schedules, schedule)
        self._calendar_changes += 1

    @workflow.run
    async def run(self, params: VerificationInput) -> VerificationState:
        start = workflow.now()
        if params.registered_at:
            try:
                start = datetime.fromisoformat(params.registered_at)
            except ValueError:
                workflow.logger.warning("registered_at unreadable, SLA runs from now: %r", params.registered_at)
        # In an activity, so the result is kept in the history: a later chinesecalendar upgrade
        # cannot move the deadline of a case already running; a loaded schedule does, by signal.
        while True:
            seen = self._calendar_changes
            self._deadline = await workflow.execute_local_activity(
                ACTIVITY_COMPUTE_DEADLINE,
                DeadlineRequest(start=start.isoformat(), workdays=params.sla_workdays, schedules=self._schedules),
                result_type=str,
                start_to_close_timeout=timedelta(seconds=10),
            )
            if self._decision is not None:
                break
            remaining = datetime.fromisoformat(self._deadline) - workflow.now()
            try:
                if remaining <= timedelta(0):
                    raise asyncio.TimeoutError
                await workflow.wait_condition(
                    lambda: self._decision is not None or self._calendar_changes != seen, timeout=remaining,
                    timeout_summary="sla-deadline"
                )
            except asyncio.TimeoutError:
                self._overdue = True
                workflow.logger.warning(
                    "licence verification overdue: institution %s, deadline %s, correlation_id %s",
                    params.institution_id, self._deadline, params.correlation_id,
                )
                break
            if self._calendar_changes == seen:
                break  # decided
        await workflow.wait_condition(lambda: self._decision is not None)

        decision = self._decision
        assert decision is not None
        # the registry write follows from the decision's request, when that carried an id
        correlation_id = decision.correlation_id or params.correlation_id
        try:
            view = await workflow.execute_activity(
                ACTIVITY_RECORD,
                RecordRequest(
                    institution_id=params.institution_id,
                    division_code=params.division_code,
                    outcome=decision.outcome,
                    reason=decision.reason,
                    decided_by=decision.decided_by,
                    decided_at=decision.decided_at,
                    correlation_id=correlation_id,
                    workflow_id=workflow.info().workflow_id,
                ),
                result_type=dict,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=KEEP_TELLING,
            )
            self._recorded = True
            self._verification = view.get("verification") if isinstance(view, dict) else None
            workflow.logger.info(
                "licence verification recorded: institution %s, outcome %s, correlation_id %s",
                params.institution_id, decision.outcome, correlation_id,
            )
        except ActivityError as err:
            known = domain_error(err)
            self._failure = (
                application_error(known)
                if known is not None
                else ApplicationError(f"登记核验结果失败：{err.cause or err}", type="Unavailable")
            )
            workflow.logger.error(
                "licence verification could not be recorded: institution %s, %s, correlation_id %s",
                params.institution_id, self._failure, correlation_id,
            )
        # let the `decide` handler hand its answer back before the workflow closes
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._failure is not None:
            raise self._failure
        return self._state()

    @workflow.update(name=UPDATE_DECIDE)
    async def decide(self, decision: DecisionInput) -> VerificationState:
        if self._decision is not None:  # the validator saw none, but another update got here first
            raise application_error(Conflict("该机构的办学许可已作出核验决定，不能重复决定", field="outcome"))
        actor = Actor.from_dict(decision.actor)
        self._decision = DecisionRecord(
            outcome=decision.outcome,
            reason=(decision.reason or "").strip() or None,
            decided_by=f"{actor.department_label}/{actor.display_name}",
            decided_at=workflow.now().isoformat(),
            user_id=actor.user_id,
            username=actor.username,
            correlation_id=decision.correlation_id,
        )
        workflow.logger.info(
            "licence verification decided: institution %s, outcome %s by %s",
            self._params.institution_id, decision.outcome, actor.username,
        )
        await workflow.wait_condition(lambda: self._recorded or self._failure is not None)
        if self._failure is not None:
            failure = self._failure
            raise ApplicationError(
                failure.message, *failure.details, type=failure.type, non_retryable=True
            )
        return self._state()

    @decide.validator
    def validate_decide(self, decision: DecisionInput) -> None:
        try:
            actor_tokens.verified_actor(decision.actor_token, decision.actor)  # a forged dict stops here
            check_decision(decision, self._params.division_code, self._decision is not None)
        except DomainError as exc:
            raise application_error(exc) from None

    @workflow.query(name=QUERY_STATE)
    def state(self) -> VerificationState:
        return self._state()

    def _state(self) -> VerificationState:
        if self._decision is not None:
            status = DECIDED
        elif self._overdue:
            status = OVERDUE
        else:
            status = PENDING
        return VerificationState(
            institution_id=self._params.institution_id,
            institution_name=self._params.institution_name,
            division_code=self._params.division_code,
            status=status,
            overdue=self._overdue,
            deadline=self._deadline,
            decision=self._decision,
            decided_by=self._decision.decided_by if self._decision else None,
            recorded=self._recorded,
            verification=self._verification,
        )
