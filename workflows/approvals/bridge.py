"""Bus → Temporal for the approvals: registry events open cases and set county deadlines.

* `conversion_applied` / `deregistration_applied` start ConversionApproval / Deregistration with
  the case's id from the registry (`conversion-<institution>-<case>`), so a redelivery finds the
  workflow there and counts as done;
* `county_settings_changed` signals-with-start the county's ConversionDeadline with the new date.
"""
from __future__ import annotations

from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from services.common.divisions import validate_code
from services.common.errors import ValidationFailed
from services.common.processes import CONVERSION, DEREGISTRATION
from workflows.bridge import EVENT_EXCHANGE
from workflows.event_bridge import EventBridge

from .contracts import (
    CONVERSION_WORKFLOW,
    DEADLINE_WORKFLOW,
    DEREGISTRATION_WORKFLOW,
    SIGNAL_RESCHEDULE,
    CaseInput,
    DeadlineInput,
    deadline_workflow_id,
)

CASE_EVENTS = {"conversion_applied": (CONVERSION, CONVERSION_WORKFLOW),
               "deregistration_applied": (DEREGISTRATION, DEREGISTRATION_WORKFLOW)}
SETTINGS_EVENT = "county_settings_changed"


def case_input(envelope: dict, correlation_id: str | None) -> CaseInput:
    data = envelope["data"]
    process, _ = CASE_EVENTS[envelope["type"]]
    try:
        steps = list(data["steps"])
        institution_id = int(data["institution_id"])
        if not steps or not all(isinstance(s, dict) and "key" in s and "department" in s for s in steps):
            raise ValueError("steps")
        return CaseInput(
            workflow_id=str(data["workflow_id"]), process=process, institution_id=institution_id,
            institution_name=str(data["institution_name"]),
            division_code=validate_code(data["township_code"], field="data.township_code"), steps=steps,
            opened_by=str(data.get("opened_by") or ""), opened_at=data.get("opened_at"),
            correlation_id=correlation_id or envelope["event_id"], county_deadline=data.get("county_deadline"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed(f"办件事件内容不完整：{exc}", field="data") from None


class ApprovalsBridge(EventBridge):
    exchange = EVENT_EXCHANGE
    queue_name = "workflows.bridge.approvals"
    event_types = (*CASE_EVENTS, SETTINGS_EVENT)

    async def handle(self, envelope: dict, correlation_id: str | None) -> str:
        if envelope["type"] in CASE_EVENTS:
            return await self._start_case(envelope["type"], case_input(envelope, correlation_id))
        data = envelope["data"]
        county = validate_code(data.get("county_code"), field="data.county_code")
        deadline = data.get("conversion_deadline")
        if not isinstance(deadline, str):
            raise ValidationFailed("缺少营转非截止日期", field="data.conversion_deadline")
        await self.client.start_workflow(
            DEADLINE_WORKFLOW, DeadlineInput(county, deadline), id=deadline_workflow_id(county),
            task_queue=self.task_queue, start_signal=SIGNAL_RESCHEDULE, start_signal_args=[deadline],
        )
        return "signalled"

    async def _start_case(self, event_type: str, params: CaseInput) -> str:
        _, workflow_name = CASE_EVENTS[event_type]
        try:
            await self.client.start_workflow(
                workflow_name, params, id=params.workflow_id, task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return "duplicates"
        return "started"
