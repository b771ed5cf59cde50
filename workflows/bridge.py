"""Bus → Temporal: registry events start workflows.

Consumes `institution_registered` from the registry's nameko event exchange (`registry.events`,
topic, routing key = event type, JSON envelope) on the durable queue
`workflows.bridge.institution_registered`, and starts `LicenceVerification` with the business
key as workflow id. A redelivered event (or one re-published after a crash) finds the workflow
already there — even a finished one, thanks to REJECT_DUPLICATE — and counts as done. The
message is acked only once Temporal has the workflow; a malformed message is logged with its
reason and rejected without requeue, so it cannot block the queue. A bundle of events
(services/common/events.py) is unbundled: a ledger import's needs no workflow at all.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import Future
from datetime import datetime

from kombu import Exchange, Producer, Queue
from kombu.message import Message
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from services.common.context import CORRELATION_KEY
from services.common.divisions import validate_code
from services.common.errors import DomainError, ValidationFailed
from services.common.deadletter import split_bundle
from services.common.events import check_envelope, is_bundle, unbundle
from workflows.amqp import LoopConsumer
from workflows.verification.contracts import WORKFLOW_NAME, VerificationInput, workflow_id

EVENT_EXCHANGE = "registry.events"
EVENT_TYPE = "institution_registered"
QUEUE_NAME = "workflows.bridge.institution_registered"
CORRELATION_HEADER = f"nameko.{CORRELATION_KEY}"
RETRY_PAUSE = 5.0  # seconds before a message whose start failed goes back to the queue


def event_queue() -> Queue:
    exchange = Exchange(EVENT_EXCHANGE, type="topic", durable=True)
    return Queue(QUEUE_NAME, exchange=exchange, routing_key=EVENT_TYPE, durable=True)


def verification_input(envelope: object, correlation_id: str | None, sla_workdays: int = 5) -> VerificationInput:
    """The workflow input from an `institution_registered` envelope; ValidationFailed if unusable."""
    envelope = check_envelope(envelope)
    if envelope["type"] != EVENT_TYPE:
        raise ValidationFailed(f"事件类型应为 {EVENT_TYPE}，收到 {envelope['type']}", field="type")
    data = envelope["data"]
    institution_id = data.get("id")
    if not isinstance(institution_id, int) or isinstance(institution_id, bool) or institution_id <= 0:
        raise ValidationFailed("事件缺少有效的机构编号", field="data.id")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("事件缺少机构名称", field="data.name")
    division_code = validate_code(data.get("township_code") or envelope["division_code"], field="data.township_code")
    occurred_at = envelope["occurred_at"]
    try:
        registered = datetime.fromisoformat(occurred_at) if isinstance(occurred_at, str) else None
    except ValueError:
        registered = None
    if registered is None or registered.tzinfo is None:
        raise ValidationFailed("事件时间应为带时区的 ISO 8601 时间", field="occurred_at")
    usable = isinstance(correlation_id, str) and 0 < len(correlation_id) <= 128
    cid = correlation_id if usable else None
    return VerificationInput(
        institution_id=institution_id,
        institution_name=name.strip(),
        division_code=division_code,
        correlation_id=cid or str(envelope["event_id"]),
        sla_workdays=sla_workdays,
        registered_at=registered.isoformat(),
    )


async def start_verification(client: Client, params: VerificationInput, task_queue: str) -> bool:
    """Start the workflow; False when it already exists (running or finished)."""
    try:
        await client.start_workflow(
            WORKFLOW_NAME,
            params,
            id=workflow_id(params.institution_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def _from_ledger_import(envelope: object) -> bool:
    data = envelope.get("data") if isinstance(envelope, dict) else None
    return isinstance(data, dict) and data.get("origin") == "ledger_import"


def _excerpt(body: object, limit: int = 300) -> str | None:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    return body[:limit] if isinstance(body, str) else None


class InstitutionRegisteredBridge(LoopConsumer):
    counts_events = True

    def __init__(
        self,
        client: Client,
        task_queue: str,
        amqp_uri: str,
        loop: asyncio.AbstractEventLoop,
        sla_workdays: int = 5,
        **options,
    ):
        super().__init__(name="workflows.bridge", amqp_uri=amqp_uri, loop=loop, **options)
        self.client = client
        self.task_queue = task_queue
        self.sla_workdays = sla_workdays
        # what happened to the messages so far (read by tests and the health check)
        self.stats = {"started": 0, "duplicates": 0, "skipped": 0, "rejected": 0, "failed": 0}

    def queues(self) -> list[Queue]:
        return [event_queue()]

    def start_work(self, message: Message):
        headers = message.headers or {}
        cid = headers.get(CORRELATION_HEADER)
        try:
            envelope = message.decode()
            if is_bundle(envelope):
                self._unbundle(message, unbundle(envelope))
                return None
            if _from_ledger_import(envelope):
                # the county's existing ledger is its licensing record already: no verification case
                self.stats["skipped"] += 1
                message.ack()
                return None
            params = verification_input(envelope, cid, self.sla_workdays)
        except DomainError as exc:
            reason = str(exc)
        except Exception as exc:  # undecodable body, wrong content type
            reason = f"{type(exc).__name__}: {exc}"
        else:
            return self._start(params)
        self.stats["rejected"] += 1
        self.log.error(
            "event_rejected",
            reason=reason,
            correlation_id=cid,
            routing_key=message.delivery_info.get("routing_key"),
            body=_excerpt(message.body),
        )
        self.dead_letter(message, reason, "ValidationFailed")
        return None

    def _unbundle(self, message: Message, events: list) -> None:
        """A bundle (a ledger import's, services/common/events.py): nothing to start when every event
        came from the ledger; otherwise its events go back to the queue one by one and are started
        (or refused) each on its own."""
        if all(_from_ledger_import(event) for event in events):
            self.stats["skipped"] += len(events)
            message.ack()
            return
        try:
            split_bundle(self.amqp_uri, message, events, QUEUE_NAME)
        except Exception as exc:
            self.log.error("bundle_split_failed", error=type(exc).__name__, detail=str(exc)[:300])
            message.requeue()
            return
        message.ack()

    async def _start(self, params: VerificationInput) -> tuple[VerificationInput, bool]:
        try:
            started = await start_verification(self.client, params, self.task_queue)
        except Exception:
            await asyncio.sleep(RETRY_PAUSE)  # Temporal unreachable: do not spin on the message
            raise
        return params, started

    def finish_work(self, message: Message, future: Future, producer: Producer) -> None:
        error = future.exception()
        if error is not None:
            self.stats["failed"] += 1
            self.log.error("workflow_start_failed", error=type(error).__name__, detail=str(error),
                           correlation_id=(message.headers or {}).get(CORRELATION_HEADER))
            message.requeue()
            return
        params, started = future.result()
        message.ack()
        self.stats["started" if started else "duplicates"] += 1
        self.log.info(
            "licence_verification_started" if started else "licence_verification_already_started",
            workflow_id=workflow_id(params.institution_id),
            institution_id=params.institution_id,
            correlation_id=params.correlation_id,
        )
