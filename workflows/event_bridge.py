"""Base of the bus → Temporal bridges: decode and check an event envelope, run the subclass's
coroutine on the loop (start or signal a workflow), ack when Temporal has it.

A malformed message is logged and dead-lettered to `dlq.workflows` with its reason, then acked
(it cannot block the queue, and `shuangjian dlq replay` can send it again once fixed); a Temporal
failure requeues the message after a pause (Temporal away is not the message's fault).
"""
from __future__ import annotations

import abc
import asyncio
from concurrent.futures import Future

from kombu import Exchange, Producer, Queue, binding
from kombu.message import Message
from temporalio.client import Client

from services.common.errors import DomainError, ValidationFailed
from services.common.events import check_envelope
from workflows.amqp import LoopConsumer
from workflows.bridge import CORRELATION_HEADER, RETRY_PAUSE, _excerpt


class EventBridge(LoopConsumer):
    counts_events = True
    exchange: str = ""  # "<service>.events"
    queue_name: str = ""
    event_types: tuple[str, ...] = ()

    def __init__(self, client: Client, task_queue: str, amqp_uri: str, loop: asyncio.AbstractEventLoop, **options):
        super().__init__(name=self.queue_name, amqp_uri=amqp_uri, loop=loop, **options)
        self.client = client
        self.task_queue = task_queue
        self.stats: dict[str, int] = {"rejected": 0, "failed": 0}

    def queues(self) -> list[Queue]:
        exchange = Exchange(self.exchange, type="topic", durable=True)
        return [Queue(self.queue_name, bindings=[binding(exchange, routing_key=k) for k in self.event_types],
                      durable=True)]

    @abc.abstractmethod
    async def handle(self, envelope: dict, correlation_id: str | None) -> str:
        """Start or signal a workflow; return an outcome name counted in `stats`."""

    def start_work(self, message: Message):
        cid = (message.headers or {}).get(CORRELATION_HEADER)
        try:
            envelope = check_envelope(message.decode())
            if envelope["type"] not in self.event_types:
                raise ValidationFailed(f"未处理的事件类型 {envelope['type']}", field="type")
            return self._guarded(self.handle(envelope, cid))
        except DomainError as exc:
            reason = str(exc)
        except Exception as exc:  # undecodable body, missing fields
            reason = f"{type(exc).__name__}: {exc}"
        self.stats["rejected"] += 1
        self.log.error("event_rejected", reason=reason, correlation_id=cid, body=_excerpt(message.body))
        self.dead_letter(message, reason, "ValidationFailed")
        return None

    async def _guarded(self, work):
        try:
            return await work
        except DomainError:
            raise
        except Exception:
            await asyncio.sleep(RETRY_PAUSE)  # Temporal unreachable: do not spin on the message
            raise

    def finish_work(self, message: Message, future: Future, producer: Producer) -> None:
        error = future.exception()
        cid = (message.headers or {}).get(CORRELATION_HEADER)
        if isinstance(error, DomainError):  # the payload itself is unusable
            self.stats["rejected"] += 1
            self.log.error("event_rejected", reason=str(error), body=_excerpt(message.body), correlation_id=cid)
            self.dead_letter(message, str(error), type(error).__name__)
            return
        if error is not None:
            self.stats["failed"] += 1
            self.log.error("workflow_call_failed", error=type(error).__name__, detail=str(error), correlation_id=cid)
            message.requeue()
            return
        outcome = future.result()
        message.ack()
        self.stats[outcome] = self.stats.get(outcome, 0) + 1
        self.log.info("event_bridged", outcome=outcome, routing_key=message.delivery_info.get("routing_key"),
                      correlation_id=cid)
