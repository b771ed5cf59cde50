"""Bus → Temporal for the approvals: registry events open cases and set county deadlines.

* `conversion_applied` / `deregistration_applied` start ConversionApproval / Deregistration with
  the case's id from the registry (`conversion-<institution>-<case>`), so a redelivery finds the
  workflow there and counts as done;
* `county_settings_changed` signals-with-start the county's ConversionDeadline with the new date.

One durable queue, `workflows.bridge.approvals`, bound to the three routing keys. A message is
acked once Temporal has it; a malformed one is logged with its reason and rejected unrequeued.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import Future

from kombu import Exchange, Producer, Queue, binding
from kombu.message import Message
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from services.common.divisions import validate_code
from services.common.errors import DomainError, ValidationFailed
from services.common.events import check_envelope
from services.common.processes import CONVERSION, DEREGISTRATION
from workflows.amqp import LoopConsumer
from workflows.bridge import CORRELATION_HEADER, EVENT_EXCHANGE, RETRY_PAUSE, _excerpt

from .contracts import (
    CONVERSION_WORKFLOW,
    DEADLINE_WORKFLOW,
    DEREGISTRATION_WORKFLOW,
    SIGNAL_RESCHEDULE,
    CaseInput,
    DeadlineInput,
    deadline_workflow_id,
)

QUEUE_NAME = "workflows.bridge.approvals"
CASE_EVENTS = {"conversion_applied": (CONVERSION, CONVERSION_WORKFLOW),
               "deregistration_applied": (DEREGISTRATION, DEREGISTRATION_WORKFLOW)}
SETTINGS_EVENT = "county_settings_changed"


def approvals_queue() -> Queue:
    exchange = Exchange(EVENT_EXCHANGE, type="topic", durable=True)
    keys = [*CASE_EVENTS, SETTINGS_EVENT]
    return Queue(QUEUE_NAME, bindings=[binding(exchange, routing_key=k) for k in keys], durable=True)


def case_input(envelope: dict, correlation_id: str | None) -> CaseInput:
    data = envelope["data"]
    process, _ = CASE_EVENTS[envelope["type"]]
    try:
        steps = list(data["steps"])
        institution_id = int(data["institution_id"])
        if not steps or not all(isinstance(s, dict) and "key" in s and "department" in s for s in steps):
            raise ValueError("steps")
        return CaseInput(
            workflow_id=str(data["workflow_id"]), process=process, institution_id=institution_id, institution_name=str(data["institution_name"]),
            division_code=validate_code(data["township_code"], field="data.township_code"), steps=steps,
            opened_by=str(data.get("opened_by") or ""), opened_at=data.get("opened_at"),
            correlation_id=correlation_id or envelope["event_id"], county_deadline=data.get("county_deadline"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed(f"办件事件内容不完整：{exc}", field="data") from None


class ApprovalsBridge(LoopConsumer):
    def __init__(self, client: Client, task_queue: str, amqp_uri: str, loop: asyncio.AbstractEventLoop, **options):
        super().__init__(name="workflows.bridge.approvals", amqp_uri=amqp_uri, loop=loop, **options)
        self.client = client
        self.task_queue = task_queue
        self.stats = {"started": 0, "duplicates": 0, "signalled": 0, "rejected": 0, "failed": 0}

    def queues(self) -> list[Queue]:
        return [approvals_queue()]

    def start_work(self, message: Message):
        cid = (message.headers or {}).get(CORRELATION_HEADER)
        try:
            envelope = check_envelope(message.decode())
            if envelope["type"] in CASE_EVENTS:
                return self._start_case(envelope["type"], case_input(envelope, cid))
            if envelope["type"] == SETTINGS_EVENT:
                data = envelope["data"]
                county = validate_code(data.get("county_code"), field="data.county_code")
                deadline = data.get("conversion_deadline")
                if not isinstance(deadline, str):
                    raise ValidationFailed("缺少营转非截止日期", field="data.conversion_deadline")
                return self._set_deadline(county, deadline)
            raise ValidationFailed(f"未处理的事件类型 {envelope['type']}", field="type")
        except DomainError as exc:
            reason = str(exc)
        except Exception as exc:  # undecodable body
            reason = f"{type(exc).__name__}: {exc}"
        self.stats["rejected"] += 1
        self.log.error("event_rejected", reason=reason, correlation_id=cid, body=_excerpt(message.body))
        message.reject(requeue=False)
        return None

    async def _start_case(self, event_type: str, params: CaseInput) -> str:
        _, workflow_name = CASE_EVENTS[event_type]
        try:
            await self.client.start_workflow(
                workflow_name, params, id=params.workflow_id,
                task_queue=self.task_queue, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return "duplicates"
        except Exception:
            await asyncio.sleep(RETRY_PAUSE)
            raise
        return "started"

    async def _set_deadline(self, county: str, deadline: str) -> str:
        try:
            await self.client.start_workflow(
                DEADLINE_WORKFLOW, DeadlineInput(county, deadline), id=deadline_workflow_id(county),
                task_queue=self.task_queue, start_signal=SIGNAL_RESCHEDULE, start_signal_args=[deadline],
            )
        except Exception:
            await asyncio.sleep(RETRY_PAUSE)
            raise
        return "signalled"

    def finish_work(self, message: Message, future: Future, producer: Producer) -> None:
        error = future.exception()
        if error is not None:
            self.stats["failed"] += 1
            self.log.error("workflow_start_failed", error=type(error).__name__, detail=str(error))
            message.requeue()
            return
        outcome = future.result()
        message.ack()
        self.stats[outcome] += 1
        self.log.info("approval_event_handled", outcome=outcome,
                      routing_key=message.delivery_info.get("routing_key"))
