"""Bus → Temporal for prepaid contracts: escrow's lesson and refund events signal-with-start the
contract's PrepaidContract workflow (`contract-<id>`); repeats are harmless (the workflow keys
lessons and refunds by number)."""
from __future__ import annotations

from datetime import datetime

from services.common.divisions import validate_code
from services.common.errors import ValidationFailed
from workflows.event_bridge import EventBridge

from .contracts import (
    DEFAULT_CONFIRM_WORKDAYS,
    DEFAULT_REFUND_WORKDAYS,
    SIGNAL_LESSON_CONFIRMED,
    SIGNAL_LESSON_DELIVERED,
    SIGNAL_REFUND_ANSWERED,
    SIGNAL_REFUND_REQUESTED,
    WORKFLOW_NAME,
    ContractRef,
    ContractState,
    LessonDelivered,
    RefundRequested,
    workflow_id,
)


def signal_for(event_type: str, data: dict) -> tuple[str, object]:
    if event_type == "lesson_delivered":
        return SIGNAL_LESSON_DELIVERED, LessonDelivered(
            int(data["lesson_no"]), _aware(data["delivered_at"]),
            int(data.get("confirm_within_workdays") or DEFAULT_CONFIRM_WORKDAYS))
    if event_type == "lesson_confirmed":
        return SIGNAL_LESSON_CONFIRMED, int(data["lesson_no"])
    if event_type == "refund_requested":
        return SIGNAL_REFUND_REQUESTED, RefundRequested(
            int(data["refund_id"]), _aware(data["requested_at"]),
            int(data.get("answer_within_workdays") or DEFAULT_REFUND_WORKDAYS))
    return SIGNAL_REFUND_ANSWERED, int(data["refund_id"])


def _aware(value: object) -> str:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("timestamp without offset")
    return parsed.isoformat()


class PrepaidBridge(EventBridge):
    exchange = "escrow.events"
    queue_name = "workflows.bridge.prepaid"
    event_types = ("lesson_delivered", "lesson_confirmed", "refund_requested", "refund_answered")

    async def handle(self, envelope: dict, correlation_id: str | None) -> str:
        data = envelope["data"]
        try:
            ref = ContractRef(int(data["contract_id"]), str(data["contract_no"]), int(data["institution_id"]),
                              validate_code(data["township_code"], field="data.township_code"))
            signal, arg = signal_for(envelope["type"], data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed(f"合同事件内容不完整：{exc}", field="data") from None
        await self.client.start_workflow(
            WORKFLOW_NAME, ContractState(ref), id=workflow_id(ref.contract_id), task_queue=self.task_queue,
            start_signal=signal, start_signal_args=[arg],
        )
        return "signalled"
