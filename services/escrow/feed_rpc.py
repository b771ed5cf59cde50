"""`escrow_feed` RPC, served by the feed process over AMQP in nameko's wire format.

So the gateway reaches it with `RpcProxy("escrow_feed")` like any service: requests on
exchange `nameko-rpc` (topic, durable), queue `rpc-escrow_feed` bound with `escrow_feed.*`,
JSON `{"args": [...], "kwargs": {...}}`; the reply `{"result", "error"}` goes to `nameko-rpc`
with the request's `reply_to` as routing key and its `correlation_id`.

Methods: `ping()` (health: fails unless the consumer is connected), `get_statement(actor,
statement_id)` (what became of a statement's chunks), `get_batch(actor, batch_id)`.
A plain thread with its own connection; calls are short reads, handled one at a time.
"""
from __future__ import annotations

import re
import socket
import threading
import time

from kombu import Connection, Consumer, Exchange, Producer, Queue
from nameko.exceptions import serialize

from services.common.errors import DomainError, NotFound, Unavailable, ValidationFailed
from services.common.logging import get_logger
from services.common.rpc_wire import resolve_call
from services.common.policy import authorize

from services.common.bank_feed_wire import STATEMENT_PREFIX

SERVICE_NAME = "escrow_feed"
RPC_EXCHANGE = "nameko-rpc"
IMPORT_ACTION = "escrow.import_statement"
_STATEMENT_ID = re.compile(r"[0-9a-f]{32}\Z")
_BATCH_ID = re.compile(r"[0-9A-Za-z_.:\-]{1,64}\Z")


def rpc_queue() -> Queue:
    return Queue(f"rpc-{SERVICE_NAME}", Exchange(RPC_EXCHANGE, type="topic", durable=True),
                 routing_key=f"{SERVICE_NAME}.*", durable=True)


def serialize_error(exc: BaseException) -> dict:
    data = serialize(exc)
    if isinstance(exc, DomainError):  # nameko's serialize would turn None into "None"
        data["exc_args"] = [exc.message, exc.field, exc.row]
    return data


def statement_view(statement_id: str, batches: list[dict]) -> dict:
    chunks = []
    totals = {"chunks": 0, "rows": 0, "booked": 0, "duplicates": 0, "rejected": 0}
    prefix = f"{STATEMENT_PREFIX}{statement_id}-"
    for b in batches:
        suffix = b["batch_id"][len(prefix):]
        chunk = int(suffix) if suffix.isdigit() else None
        chunks.append({**b, "chunk": chunk})
        totals["chunks"] += 1
        for key in ("rows", "booked", "duplicates", "rejected"):
            totals[key] += b[key]
    return {"statement_id": statement_id, "chunks": chunks, "totals": totals}


class FeedRpc:
    """The methods. `consumer` is the running FeedConsumer (for ping), `store` gives the reads."""

    def __init__(self, consumer, store, signer, queue_reader=None):
        self.consumer = consumer
        self.store = store
        self.signer = signer
        self.queue_reader = queue_reader  # services.common.metrics.queue_depths of the feed's queues

    def ping(self) -> dict:
        if not self.consumer.is_alive() or not self.consumer.ready.is_set():
            raise Unavailable("银行流水接收未连接消息中间件")
        stats = self.consumer.stats
        return {"service": SERVICE_NAME, "ok": True, "batches": stats.batches, "booked": stats.booked,
                "dead_lettered": stats.dead_lettered}

    def ops_status(self, actor) -> dict:
        """For the 运维 page: the feed's queue and dead-letter queue, and its recent error lines."""
        from services.common.logging import recent_errors

        authorize(self.signer.verify(actor), "ops.read_status")
        queues = {}
        for name, _, labels, value in (self.queue_reader() if self.queue_reader else []):
            row = queues.setdefault(labels["queue"], {"queue": labels["queue"], "messages": None, "consumers": None})
            row["messages" if name == "amqp_queue_messages_ready" else "consumers"] = int(value)
        return {"service": SERVICE_NAME, "queues": [queues[q] for q in sorted(queues)], "errors": recent_errors()}

    def get_statement(self, actor, statement_id) -> dict:
        authorize(self.signer.verify(actor), IMPORT_ACTION)
        if not isinstance(statement_id, str) or not _STATEMENT_ID.match(statement_id):
            raise ValidationFailed("对账单编号应为32位十六进制", field="statement_id")
        batches = self.store.feed_batches(batch_id_prefix=f"{STATEMENT_PREFIX}{statement_id}-")
        return statement_view(statement_id, batches)

    def get_batch(self, actor, batch_id) -> dict:
        authorize(self.signer.verify(actor), IMPORT_ACTION)
        if not isinstance(batch_id, str) or not _BATCH_ID.match(batch_id):
            raise ValidationFailed("批次号格式不正确", field="batch_id")
        rows = self.store.feed_batches(batch_id=batch_id)
        if not rows:
            raise NotFound("没有这个批次（尚未收到，或消息无法识别批次号）", field="batch_id")
        return rows[0]


class FeedRpcServer(threading.Thread):
    def __init__(self, consumer, amqp_uri: str, db_url: str, queue_reader=None):
        super().__init__(name="escrow_feed.rpc", daemon=True)
        from .feed_store import open_store

        self.amqp_uri = amqp_uri
        self.store = open_store(db_url)
        self.rpc = FeedRpc(consumer, self.store, consumer.signer, queue_reader)
        self.methods = {name: getattr(self.rpc, name)
                        for name in ("ping", "get_statement", "get_batch", "ops_status")}
        self.ready = threading.Event()
        self.log = get_logger(component="escrow_feed.rpc")
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.join(5)
        self.store.close()

    def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                self._serve()
                backoff = 0.5
            except Exception as exc:
                self.ready.clear()
                if self._stopping.is_set():
                    break
                self.log.warning("rpc_reconnecting", error=type(exc).__name__, detail=str(exc)[:300], retry_in=backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 15.0)
        self.ready.clear()

    def _serve(self) -> None:
        with Connection(self.amqp_uri, heartbeat=30, connect_timeout=5) as conn:
            conn.connect()
            producer = Producer(conn.channel())
            consumer = Consumer(conn.channel(), queues=[rpc_queue()], on_message=lambda m: self._handle(m, producer),
                                prefetch_count=4)
            with consumer:
                self.ready.set()
                last_beat = time.monotonic()
                while not self._stopping.is_set():
                    try:
                        conn.drain_events(timeout=0.5)
                    except socket.timeout:
                        pass
                    if time.monotonic() - last_beat > 1:
                        conn.heartbeat_check()
                        last_beat = time.monotonic()

    def _handle(self, message, producer: Producer) -> None:
        method = str(message.delivery_info.get("routing_key", "")).split(".", 1)[-1]
        correlation = (message.headers or {}).get("nameko.correlation_id")
        started = time.perf_counter()
        result, error = None, None
        try:
            function, args, kwargs = resolve_call(self.methods, method, message.body)
            result = function(*args, **kwargs)
        except DomainError as exc:
            error = exc
            self.log.info("rpc_refused", rpc=f"{SERVICE_NAME}.{method}", error=exc.code, message=exc.message,
                          correlation_id=correlation)
        except Exception as exc:
            error = exc
            self.log.exception("rpc_failed", rpc=f"{SERVICE_NAME}.{method}", correlation_id=correlation)
        else:  # reads only, polled by the CLI: not worth a line each
            self.log.debug("rpc_done", rpc=f"{SERVICE_NAME}.{method}", correlation_id=correlation,
                           ms=round((time.perf_counter() - started) * 1000))
        from services.common import metrics

        metrics.observe_rpc(SERVICE_NAME, method if method in self.methods else "<unknown>",
                            "ok" if error is None else "rejected" if isinstance(error, DomainError) else "error",
                            time.perf_counter() - started)
        reply_to = message.properties.get("reply_to")
        if reply_to:
            payload = {"result": result, "error": serialize_error(error) if error is not None else None}
            producer.publish(payload, exchange=RPC_EXCHANGE, routing_key=reply_to, serializer="json",
                             correlation_id=message.properties.get("correlation_id"), retry=False)
        message.ack()
