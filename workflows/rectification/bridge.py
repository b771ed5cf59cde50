"""Bus → Temporal for inspection orders: `inspection_order_issued` starts a Rectification for a
责令整改 or 停业整顿 order; `reinspection_recorded` signals it with the result."""
from __future__ import annotations

from datetime import datetime

from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.common.divisions import validate_code
from services.common.errors import ValidationFailed
from workflows.event_bridge import EventBridge

from .workflows import SIGNAL_REINSPECTED, WORKFLOW_NAME, OrderInput, workflow_id

FOLLOWED_UP = ("rectify", "suspend")  # a referral goes to another department: no deadline here


class InspectionBridge(EventBridge):
    exchange = "inspection.events"
    queue_name = "workflows.bridge.inspection"
    event_types = ("inspection_order_issued", "reinspection_recorded")

    async def handle(self, envelope: dict, correlation_id: str | None) -> str:
        data = envelope["data"]
        try:
            order_id = int(data["order_id"])
            if envelope["type"] == "reinspection_recorded":
                passed = data["passed"]
                if not isinstance(passed, bool):
                    raise ValueError("passed")
            else:
                kind = str(data["kind"])
                order = OrderInput(order_id, int(data["institution_id"]),
                                   validate_code(data["township_code"], field="data.township_code"), kind,
                                   int(data["deadline_workdays"]), _aware(data["issued_at"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed(f"检查事件内容不完整：{exc}", field="data") from None
        if envelope["type"] == "reinspection_recorded":
            try:
                await self.client.get_workflow_handle(workflow_id(order_id)).signal(SIGNAL_REINSPECTED, passed)
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    return "no_workflow"  # a referral, or an order already closed
                raise
            return "signalled"
        if kind not in FOLLOWED_UP:
            return "not_followed"
        try:
            await self.client.start_workflow(WORKFLOW_NAME, order, id=workflow_id(order_id), task_queue=self.task_queue,
                                             id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        except WorkflowAlreadyStartedError:
            return "duplicates"
        return "started"


def _aware(value: object) -> str:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("issued_at without offset")
    return parsed.isoformat()
