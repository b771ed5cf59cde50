"""A kombu consumer in its own thread whose work runs as coroutines on the asyncio loop.

The Temporal client lives on the process's asyncio loop; kombu is blocking. So each consumer
thread receives messages, hands a coroutine per message to the loop with
`asyncio.run_coroutine_threadsafe`, and — back in its own thread, because a kombu channel
must only be used from one thread — acks, rejects or replies once the coroutine is done.
Up to `prefetch_count` messages are in flight at once, so one slow update does not hold up
the calls behind it. Lost connections are re-established with backoff; messages that were in
flight then are redelivered by the broker, so handlers must be idempotent.
"""
from __future__ import annotations

import abc
import asyncio
import contextvars
import queue
import socket
import threading
import time
from concurrent.futures import Future
from typing import Any, Coroutine

from kombu import Connection, Consumer, Producer, Queue
from kombu.message import Message

from services.common import metrics
from services.common.logging import get_logger


class LoopConsumer(threading.Thread, abc.ABC):
    """Subclasses say which queues to consume, start work per message and settle it."""

    # event consumers (the bridges) count each message in `messages_consumed_total{service="workflows",
    # event_type=<routing key>}`; the RPC endpoint counts its calls itself
    counts_events = False

    def __init__(
        self,
        *,
        name: str,
        amqp_uri: str,
        loop: asyncio.AbstractEventLoop,
        prefetch_count: int = 16,
        poll_interval: float = 0.02,
        heartbeat: int = 30,
        stop_grace: float = 20.0,
    ):
        super().__init__(name=name, daemon=True)
        self.amqp_uri = amqp_uri
        self.loop = loop
        self.prefetch_count = prefetch_count
        self.poll_interval = poll_interval
        self.heartbeat = heartbeat
        self.stop_grace = stop_grace
        self.ready = threading.Event()  # set while consuming (queues declared and bound)
        self.log = get_logger(component=name)
        self._stopping = threading.Event()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._in_flight: set[Future] = set()
        self._generation = 0
        # run with the starting thread's context: keeps the structlog fields bound there (service)
        self._context = contextvars.copy_context()

    # --- for subclasses -------------------------------------------------------------------
    @abc.abstractmethod
    def queues(self) -> list[Queue]:
        """The queues to consume (declared and bound on connect)."""

    @abc.abstractmethod
    def start_work(self, message: Message) -> Coroutine[Any, Any, Any] | None:
        """In this thread: return the coroutine to run for `message`, or settle it and return None."""

    @abc.abstractmethod
    def finish_work(self, message: Message, future: Future, producer: Producer) -> None:
        """In this thread, once the coroutine is done: ack / reject / reply."""

    def dead_letter(self, message: Message, reason: str, error: str | None = None) -> None:
        """A message this consumer can never apply: copy it to `dlq.workflows` with its reason
        (services/common/deadletter.py), then ack. If the broker refuses the copy, requeue instead."""
        from services.common.deadletter import publish_dead_letter

        try:
            publish_dead_letter(self.amqp_uri, "workflows", message, reason, error=error, queue=self.name)
        except Exception as exc:
            self.log.error("dead_letter_failed", error=type(exc).__name__, detail=str(exc)[:300])
            message.requeue()
            return
        message.ack()

    # --- lifecycle ------------------------------------------------------------------------
    def stop(self, timeout: float | None = None) -> None:
        """Stop consuming, let messages in flight finish (up to stop_grace), close. Blocking:
        from the event loop call it through `asyncio.to_thread`, since in-flight work runs there."""
        self._stopping.set()
        if self.is_alive():
            self.join(timeout if timeout is not None else self.stop_grace + 5)

    def run(self) -> None:
        self._context.run(self._run)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                self._consume()
                backoff = 0.5
            except Exception as exc:  # connection lost or refused: try again
                self.ready.clear()
                if self._stopping.is_set():
                    break
                self.log.warning(
                    "amqp_consumer_reconnecting", error=type(exc).__name__, detail=str(exc), retry_in=backoff
                )
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 15.0)
        self.ready.clear()
        self.log.info("amqp_consumer_stopped")

    def _consume(self) -> None:
        with Connection(self.amqp_uri, heartbeat=self.heartbeat, connect_timeout=5) as conn:
            conn.connect()
            self._generation += 1
            generation = self._generation
            producer = Producer(conn.channel(), serializer="json")
            queues = self.queues()
            consumer = Consumer(
                conn.channel(),
                queues=queues,
                on_message=lambda message: self._receive(generation, message),
                accept=["json"],
                prefetch_count=self.prefetch_count,
            )
            with consumer:  # declares the queues and bindings, then consumes
                self.ready.set()
                self.log.info("amqp_consumer_ready", queues=[q.name for q in queues])
                while not self._stopping.is_set():
                    self._drain(conn)
                    self._settle(generation, producer)
            # cancelled: deliver what is still running, then close (unacked ones are requeued)
            until = time.monotonic() + self.stop_grace
            while self._in_flight and time.monotonic() < until:
                self._drain(conn)
                self._settle(generation, producer)
            if self._in_flight:
                self.log.warning("amqp_consumer_abandoned", in_flight=len(self._in_flight))

    def _drain(self, conn: Connection) -> None:
        try:
            conn.drain_events(timeout=self.poll_interval)
        except socket.timeout:
            conn.heartbeat_check()

    def _receive(self, generation: int, message: Message) -> None:
        if self.counts_events:
            metrics.count_consumed("workflows", str(message.delivery_info.get("routing_key") or "unknown"))
        try:
            work = self.start_work(message)
        except Exception as exc:
            self.log.exception("amqp_message_dead_lettered", reason="handler failed before starting")
            self.dead_letter(message, f"处理前失败：{type(exc).__name__}: {str(exc)[:500]}", type(exc).__name__)
            return
        if work is None:
            return
        try:
            future = asyncio.run_coroutine_threadsafe(work, self.loop)
        except RuntimeError:  # the loop is closing: leave the message to the next consumer
            work.close()
            message.requeue()
            return
        self._in_flight.add(future)
        future.add_done_callback(lambda f: self._done.put((generation, message, f)))

    def _settle(self, generation: int, producer: Producer) -> None:
        while True:
            try:
                done_generation, message, future = self._done.get_nowait()
            except queue.Empty:
                return
            self._in_flight.discard(future)
            if done_generation != generation:
                continue  # its channel is gone; the broker redelivers the message
            self.finish_work(message, future, producer)
