"""A nameko event handler that takes its events in batches (issue 12).

    @batch_event_handler("registry", "institution_registered")
    def on_institution_registered(self, events):          # a list of envelopes, delivery order
        handlers.apply_registered(self.db, events)        # one transaction: idempotency.apply_batch

Same queue, exchange and binding as nameko's `@event_handler` (`evt-<source>-<type>--<service>.<method>`),
so queues of a running platform, `shuangjian dlq`, the metrics and the tests' waiters keep working.
What differs is the consuming: the entrypoint keeps its own connection with a large prefetch
(DEFAULT_PREFETCH), collects up to DEFAULT_SIZE deliveries or whatever arrived within DEFAULT_LINGER
seconds (services/common/batching.py), runs ONE worker with the whole list and, once that worker
has committed, acks the batch with a single multiple-ack. Batches of one queue are applied one after
another, so events of one record are applied in the order the queue delivered them.

When the batch worker raises, nothing was committed; the batch is then retried in halves, down to
single messages, and a single message that fails is settled as services/common/deadletter.py does (a DomainError
dead-letters at once, another error is retried with `x-attempts` and dead-lettered at the
MAX_ATTEMPTS-th) — so one poison message dead-letters alone. A body that cannot be decoded is
dead-lettered before the batch is formed. A crash before the ack leaves the batch unacked: the
broker redelivers it and the processed-events markers make the second application a no-op.

A message may be a bundle of events (services/common/events.py): its events join the batch (the
buffer counts events, not messages). A bundle that fails on its own is split: its events go back
to the queue as messages of their own, so the bad one is settled alone.

Settings (service config): EVENT_BATCH_SIZE, EVENT_BATCH_PREFETCH, EVENT_BATCH_LINGER.
"""
from __future__ import annotations

import socket

import eventlet
from eventlet.event import Event
from kombu import Connection, Consumer as KombuConsumer
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer

from .batching import DEFAULT_LINGER, DEFAULT_PREFETCH, DEFAULT_SIZE, BatchBuffer, halves
from .deadletter import DeadLetteringEventHandler, dlq_name, publish_dead_letter, split_bundle
from .events import bundle_size, is_bundle, unbundle
from .logging import get_logger

RECONNECT_PAUSE = 1.0
IDLE_WAIT = 1.0  # seconds one drain waits when nothing is buffered (how soon a stop is noticed)


class _NotOnTheSharedConsumer(Consumer):
    """Sits between nameko's EventHandler and Consumer in the MRO: the queue is built by
    EventHandler.setup, but the shared QueueConsumer (prefetch = max_workers, one ack per message)
    never consumes it — the batch handler does."""

    def setup(self):
        pass

    def stop(self):
        pass


class _Stopped(Exception):
    pass


class BatchEventHandler(DeadLetteringEventHandler, _NotOnTheSharedConsumer):
    batched = True  # the handler gets a list (metrics count its events)

    def __init__(self, source_service, event_type, size: int | None = None, prefetch: int | None = None,
                 linger: float | None = None, **kwargs):
        super().__init__(source_service, event_type, **kwargs)
        self._size, self._prefetch, self._linger = size, prefetch, linger
        self._gt = None
        self._conn = None
        self._stopping = False

    def setup(self):
        super().setup()
        config = self.container.config
        self.size = int(self._size or config.get("EVENT_BATCH_SIZE", DEFAULT_SIZE))
        self.prefetch = int(self._prefetch or config.get("EVENT_BATCH_PREFETCH", max(DEFAULT_PREFETCH, self.size)))
        self.linger = float(self._linger if self._linger is not None else config.get("EVENT_BATCH_LINGER",
                                                                                      DEFAULT_LINGER))
        self.log = get_logger(service=self.container.service_name, entrypoint=self.method_name)

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self):
        self._stopping = False
        self._consuming = Event()
        self._gt = self.container.spawn_managed_thread(self._run, identifier=f"batch_events.{self.method_name}")
        self._consuming.wait()  # as nameko's QueueConsumer: started means the queue exists and is consumed

    def stop(self):
        self._stopping = True  # the batch in flight finishes (applied and acked); the rest is redelivered
        if self._gt is not None:
            try:
                self._gt.wait()
            except Exception:
                pass

    def kill(self):
        self._stopping = True
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.release()
            except Exception:
                pass

    def _run(self):
        while not self._stopping:
            try:
                with Connection(self.container.config["AMQP_URI"], heartbeat=60, connect_timeout=5) as conn:
                    self._conn = conn
                    self._consume(conn)
            except _Stopped:
                return
            except Exception as exc:  # broker gone, channel closed: unacked deliveries come back
                if self._stopping:
                    return
                self.log.warning("batch_consumer_reconnect", error=type(exc).__name__, detail=str(exc)[:300],
                                 queue=self.queue.name)
                eventlet.sleep(RECONNECT_PAUSE)
            finally:
                self._conn = None

    def _consume(self, conn):
        channel = conn.channel()
        queue = self.queue(channel)
        queue.declare()
        buffer = BatchBuffer(size=self.size, linger=self.linger)
        consumer = KombuConsumer(channel, queues=[queue], prefetch_count=self.prefetch,
                                 on_message=lambda message: buffer.add(message, bundle_size(message.headers)),
                                 accept=self.container.accept)
        with consumer:
            if not self._consuming.ready():
                self._consuming.send(True)
            while not self._stopping:
                left = buffer.wait_left()
                if left != 0.0:
                    try:
                        conn.drain_events(timeout=IDLE_WAIT if left is None else left)
                    except socket.timeout:
                        pass
                    conn.heartbeat_check()
                    continue
                self._settle_batch(channel, buffer.take())
                conn.heartbeat_check()  # a backlog never leaves time to drain idle

    # -- one batch ----------------------------------------------------------------------------------

    def _settle_batch(self, channel, messages) -> None:
        items = []
        for message in messages:
            try:
                items.append((message, message.decode()))
            except Exception as exc:
                self._dead_letter_undecodable(message, exc)
        if not items:
            return
        self._settle(channel, items, self._call(_events(items), items[0][0]))

    def _settle(self, channel, items, failure) -> None:
        """`items` ran as one worker and raised `failure` (or None). Deliveries are settled in order,
        so a multiple-ack of the last one acks exactly this group."""
        if failure is None:
            channel.basic_ack(items[-1][0].delivery_tag, multiple=True)  # after the worker's commit
            return
        if len(items) > 1:
            self.log.warning("event_batch_failed", size=len(items), queue=self.queue.name,
                             error=type(failure).__name__)
            for half in halves(items):
                if self._stopping:
                    raise _Stopped()  # the rest is unacked: redelivered to the next consumer
                self._settle(channel, half, self._call(_events(half), half[0][0]))
            return
        message, body = items[0]
        if is_bundle(body) and len(body["events"]) > 1:
            self._split(message, body)
            return
        try:
            self._settle_failure(message, failure)  # retry (x-attempts) or dead-letter (deadletter.py)
        except Exception:  # the broker refused the copy: leave the message for redelivery
            self.log.exception("dead_letter_failed", queue=self.queue.name)
            message.requeue()
            return
        message.ack()

    def _split(self, message, bundle: dict) -> None:
        """A bundle that failed alone: its events go back to the queue one by one (deadletter.py)."""
        try:
            split_bundle(self.container.config["AMQP_URI"], message, bundle["events"], self.queue.name)
        except Exception:  # the broker refused: the bundle comes back whole
            self.log.exception("bundle_split_failed", queue=self.queue.name)
            message.requeue()
            return
        message.ack()
        self.log.warning("bundle_split", events=len(bundle["events"]), queue=self.queue.name)

    def _call(self, bodies: list, first_message):
        """Run the handler in a worker with `bodies`; the exception it raised, or None."""
        done = Event()

        def handle_result(worker_ctx, result=None, exc_info=None):
            done.send(exc_info[1] if exc_info is not None else None)
            return result, exc_info

        try:
            self.container.spawn_worker(self, (bodies,), {}, context_data=self.unpack_message_headers(first_message),
                                        handle_result=handle_result)
        except ContainerBeingKilled:
            raise _Stopped() from None
        return done.wait()

    def _dead_letter_undecodable(self, message, exc) -> None:
        service = self.container.service_name
        try:
            publish_dead_letter(self.container.config["AMQP_URI"], service, message,
                                f"无法解码的消息：{type(exc).__name__}: {str(exc)[:300]}", error=type(exc).__name__,
                                queue=self.queue.name)
        except Exception:
            self.log.exception("dead_letter_failed", reason="undecodable")
            message.requeue()
            return
        message.ack()
        self.log.error("event_dead_lettered", reason="undecodable", queue=dlq_name(service), error=type(exc).__name__)


batch_event_handler = BatchEventHandler.decorator


def _events(items) -> list:
    """The events of (message, body) pairs, bundles flattened, in delivery order."""
    return [event for _, body in items for event in unbundle(body)]


def batch_fields(events: list, applied: int) -> dict:
    """What a batch handler logs: how many events came, how many were new, the last event's id."""
    last = events[-1] if events else None
    return {"events": len(events), "applied": applied,
            "last_event_id": last.get("event_id") if isinstance(last, dict) else None}
