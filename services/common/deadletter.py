"""Dead letters: a message a consumer cannot apply goes, with its reason, to a queue an operator reads.

* Exchange `dlx` (direct, durable); one durable queue per consumer: `dlq.<service>` (registry,
  escrow, inspection, reporting, workflows), bound with routing key `<service>`.
  (The bank feed keeps its own `escrow.bank_feed.dlq`, same headers — services/common/bank_feed_wire.py.)
* A dead letter is the original body (bytes, content type kept) and the original headers plus
  `x-death-reason`, `x-original-exchange`, `x-original-routing-key`, `x-failed-service`,
  `x-failed-at` (ISO UTC) and `x-event-id` / `x-event-type` when the body had them.
* When: the handler raised a DomainError (ValidationFailed for a malformed event: retrying
  cannot help), or it failed `MAX_ATTEMPTS` times in a row with another error (each failure
  republishes the message to its own queue with `x-attempts` + 1 after a pause, so the counter
  survives a restart). The original is acknowledged once the dead letter is confirmed — never
  redelivered forever, never silently dropped.
* `shuangjian dlq list|replay` (shuangjian/dlq.py) browses the queues and republishes a fixed
  message to its original exchange and routing key.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from kombu import Connection, Exchange, Producer, Queue
from nameko.events import EventHandler

from .errors import DomainError
from .events import is_bundle
from .logging import get_logger

DLX = "dlx"
DLQ_PREFIX = "dlq."
PERSISTENT = 2
MAX_ATTEMPTS = 5
RETRY_PAUSE = 1.0  # seconds before a failed message is put back (× attempt)
ATTEMPTS_HEADER = "x-attempts"
PUBLISH_RETRY = {"max_retries": 3, "interval_start": 0.5, "interval_step": 1}  # broker away for a moment
DEATH_HEADERS = ("x-death-reason", "x-original-exchange", "x-original-routing-key", "x-failed-service",
                 "x-failed-at", "x-event-id", "x-event-type", "x-error", ATTEMPTS_HEADER, "x-original-queue")


def dlx_exchange() -> Exchange:
    return Exchange(DLX, type="direct", durable=True, delivery_mode=PERSISTENT)


def dlq_name(service: str) -> str:
    return f"{DLQ_PREFIX}{service}"


def dlq_queue(service: str) -> Queue:
    return Queue(dlq_name(service), dlx_exchange(), routing_key=service, durable=True)


def _event_fields(body: bytes | str | None, compression: str | None = None) -> dict:
    try:
        if compression:  # a bundle as the outbox relay sends it (outbox.COMPRESS_ABOVE)
            from kombu.compression import decompress

            body = decompress(body, compression)
        payload = json.loads(body)
    except Exception:
        return {}
    if not isinstance(payload, dict):
        return {}
    if is_bundle(payload) and len(payload["events"]) == 1 and isinstance(payload["events"][0], dict):
        payload = payload["events"][0]  # a bundle of one: its event is what an operator looks for
    return {k: str(payload[f])[:64] for k, f in (("x-event-id", "event_id"), ("x-event-type", "type"))
            if payload.get(f) is not None}


def dead_letter_headers(headers: dict | None, *, reason: str, exchange: str, routing_key: str, service: str,
                        body=None, error: str | None = None, queue: str | None = None) -> dict:
    out = {k: v for k, v in (headers or {}).items() if k not in DEATH_HEADERS}
    out.update({
        "x-death-reason": str(reason)[:2000],
        "x-original-exchange": exchange or "",
        "x-original-routing-key": routing_key or "",
        "x-failed-service": service,
        "x-failed-at": datetime.now(timezone.utc).isoformat(),
    })
    if error:
        out["x-error"] = error
    if queue:
        out["x-original-queue"] = queue
    out.update(_event_fields(body, (headers or {}).get("compression")))
    return out


def publish_raw(amqp_uri: str, exchange: Exchange | str, routing_key: str, body, headers: dict,
                content_type: str | None, content_encoding: str | None, declare: list | None = None) -> None:
    """One persistent message, confirmed by the broker (raises if not)."""
    with Connection(amqp_uri, connect_timeout=5, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        for entity in declare or ():
            entity(channel).declare()
        producer = Producer(channel)
        producer.publish(body, exchange=exchange, routing_key=routing_key, headers=headers,
                         delivery_mode=PERSISTENT, content_type=content_type or "application/octet-stream",
                         content_encoding=content_encoding or "binary", retry=True,
                         retry_policy=PUBLISH_RETRY)


def split_bundle(amqp_uri: str, message, events: list, queue: str) -> None:
    """A bundle (services/common/events.py) that failed as a whole: put each of its events back on
    `queue` as a message of its own (default exchange, confirmed, the bundle's headers and origin
    kept), so the events that apply do and a bad one is retried or dead-lettered alone. The caller
    acks the bundle afterwards; events applied before are skipped by their processed-event marks."""
    from .events import BUNDLE_SIZE_HEADER

    info = message.delivery_info or {}
    # (each event goes as plain JSON: the bundle's `compression` header must not follow it)
    headers = {k: v for k, v in (message.headers or {}).items()
               if k not in (BUNDLE_SIZE_HEADER, ATTEMPTS_HEADER, "compression")}
    headers.setdefault("x-original-exchange", info.get("exchange", ""))
    headers.setdefault("x-original-routing-key", info.get("routing_key", ""))
    with Connection(amqp_uri, connect_timeout=5, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.channel(), serializer="json")
        for event in events:
            producer.publish(event, exchange="", routing_key=queue, headers=headers, delivery_mode=PERSISTENT,
                             retry=True, retry_policy=PUBLISH_RETRY)


def publish_dead_letter(amqp_uri: str, service: str, message, reason: str, error: str | None = None,
                        queue: str | None = None) -> dict:
    """Copy a kombu `message` to `dlq.<service>` with its reason; returns the dead letter's headers."""
    info = message.delivery_info or {}
    headers = dead_letter_headers(message.headers, reason=reason, exchange=info.get("exchange", ""),
                                  routing_key=info.get("routing_key", ""), service=service, body=message.body,
                                  error=error, queue=queue)
    publish_raw(amqp_uri, dlx_exchange(), service, message.body, headers, message.content_type,
                message.content_encoding, declare=[dlx_exchange(), dlq_queue(service)])
    return headers


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        field = f"（字段 {exc.field}）" if getattr(exc, "field", None) else ""
        return f"{exc.message}{field}"
    return f"{type(exc).__name__}: {str(exc)[:1000]}"


class DeadLetteringEventHandler(EventHandler):
    """nameko's event_handler whose failures end in `dlq.<service>` instead of being dropped.

    The handler method still raises (nameko logs it; tests' entrypoint_waiter sees it); only what
    happens to the message changes: a DomainError is dead-lettered at once, any other error is
    retried (`x-attempts`) up to MAX_ATTEMPTS and then dead-lettered. Acked only afterwards."""

    max_attempts = MAX_ATTEMPTS
    retry_pause = RETRY_PAUSE

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return result, exc_info
        try:
            self._settle_failure(message, exc_info[1])
        except Exception:  # the broker refused the dead letter: leave the message for redelivery
            get_logger(service=self.container.service_name).exception(
                "dead_letter_failed", routing_key=(message.delivery_info or {}).get("routing_key"))
            self.queue_consumer.requeue_message(message)
            return result, exc_info
        self.queue_consumer.ack_message(message)
        return result, exc_info

    def _settle_failure(self, message, exc: BaseException) -> None:
        service = self.container.service_name
        amqp_uri = self.container.config["AMQP_URI"]
        log = get_logger(service=service, entrypoint=self.method_name)
        headers = dict(message.headers or {})
        attempts = int(headers.get(ATTEMPTS_HEADER) or 0) + 1
        queue = self.queue.name if getattr(self, "queue", None) is not None else None
        if not isinstance(exc, DomainError) and attempts < self.max_attempts and queue:
            import eventlet

            eventlet.sleep(self.retry_pause * attempts)
            headers[ATTEMPTS_HEADER] = attempts
            headers.setdefault("x-original-exchange", (message.delivery_info or {}).get("exchange", ""))
            headers.setdefault("x-original-routing-key", (message.delivery_info or {}).get("routing_key", ""))
            # straight back to this handler's queue (default exchange, routing key = queue name)
            publish_raw(amqp_uri, "", queue, message.body, headers, message.content_type, message.content_encoding)
            log.warning("event_retry", attempts=attempts, error=type(exc).__name__, queue=queue)
            return
        # a retried copy came through the default exchange: keep the event's real origin
        if headers.get("x-original-exchange") is not None:
            info = {"exchange": headers["x-original-exchange"], "routing_key": headers.get("x-original-routing-key")}
            message.delivery_info.update(info)
        reason = failure_reason(exc)
        if not isinstance(exc, DomainError):
            reason = f"处理失败 {attempts} 次：{reason}"
        dead = publish_dead_letter(amqp_uri, service, message, reason, error=type(exc).__name__, queue=queue)
        log.error("event_dead_lettered", reason=reason, queue=dlq_name(service), event_id=dead.get("x-event-id"),
                  event_type=dead.get("x-event-type"))


event_handler = DeadLetteringEventHandler.decorator


def _dead_letter_undecodable(self, message, exc) -> None:
    """nameko's QueueConsumer `on_decode_error` (kombu's ConsumerMixin only logs and acks): a body
    that cannot be decoded (not JSON, a content type nameko does not accept) never reaches a
    handler, so it is dead-lettered here with the decoding error as its reason, then acked."""
    service = self.container.service_name
    try:
        publish_dead_letter(self.amqp_uri, service, message, f"无法解码的消息：{type(exc).__name__}: {str(exc)[:300]}",
                            error=type(exc).__name__)
    except Exception:  # the broker refused the copy: leave it for redelivery
        get_logger(service=service).exception("dead_letter_failed", reason="undecodable")
        message.requeue()
        return
    message.ack()
    get_logger(service=service).error("event_dead_lettered", reason="undecodable", queue=dlq_name(service),
                                      error=type(exc).__name__)


def _install_decode_error_dead_lettering() -> None:
    from nameko.messaging import QueueConsumer

    QueueConsumer.on_decode_error = _dead_letter_undecodable


_install_decode_error_dead_lettering()


# -- browsing and replaying (shuangjian dlq) ---------------------------------------------------------

KNOWN_QUEUES = tuple(dlq_name(s) for s in ("registry", "escrow", "inspection", "reporting", "workflows")) + (
    "escrow.bank_feed.dlq",)


def _headers_view(queue: str, message) -> dict:
    h = message.headers or {}
    body_fields = _event_fields(message.body)
    return {
        "queue": queue,
        "delivery_tag": message.delivery_tag,
        "event_id": h.get("x-event-id") or body_fields.get("x-event-id") or h.get("batch_id"),
        "event_type": h.get("x-event-type") or body_fields.get("x-event-type"),
        "reason": h.get("x-death-reason") or h.get("reason") or _x_death_reason(h),
        "failed_service": h.get("x-failed-service"),
        "failed_at": h.get("x-failed-at"),
        "original_exchange": h.get("x-original-exchange"),
        "original_routing_key": h.get("x-original-routing-key"),
        "error": h.get("x-error") or h.get("error"),
    }


def _x_death_reason(headers: dict) -> str | None:
    deaths = headers.get("x-death")
    if deaths:
        d = deaths[0]
        return f"RabbitMQ：{d.get('reason')}（队列 {d.get('queue')}）"
    return None


def _drain_queue(channel, queue: str, limit: int):
    messages = []
    while len(messages) < limit:
        message = channel.basic_get(queue, no_ack=False)
        if message is None:
            break
        messages.append(message)
    return messages


def _message_from(channel, raw):
    return channel.message_to_python(raw) if hasattr(channel, "message_to_python") else raw


def list_dead_letters(amqp_uri: str, queues: list[str] | None = None, limit: int = 1000) -> list[dict]:
    """Browse without consuming: get every message unacked, read it, close the channel (all come back)."""
    out = []
    with Connection(amqp_uri, connect_timeout=5) as conn:
        for queue in queues or KNOWN_QUEUES:
            channel = conn.channel()
            try:
                try:
                    channel.queue_declare(queue, passive=True)
                except Exception:  # never declared: nothing dead-lettered there
                    continue
                for raw in _drain_queue(channel, queue, limit):
                    out.append(_headers_view(queue, _message_from(channel, raw)))
            finally:
                try:
                    channel.close()  # unacked messages return to the queue, in order
                except Exception:
                    pass
    return out


def replay_dead_letters(amqp_uri: str, queue: str | None = None, event_id: str | None = None,
                        replay_all: bool = False, limit: int = 100_000) -> list[dict]:
    """Republish matching dead letters to their original exchange and routing key (confirmed), then
    remove them from the dead-letter queue. Returns what was replayed."""
    if not replay_all and not event_id:
        raise ValueError("give an event id or replay_all")
    replayed = []
    queues = [queue] if queue else list(KNOWN_QUEUES)
    with Connection(amqp_uri, connect_timeout=5) as conn, \
            Connection(amqp_uri, connect_timeout=5, transport_options={"confirm_publish": True}) as pub:
        producer = Producer(pub.channel())
        for name in queues:
            channel = conn.channel()
            try:
                try:
                    channel.queue_declare(name, passive=True)
                except Exception:
                    continue
                for raw in _drain_queue(channel, name, limit):
                    message = _message_from(channel, raw)
                    view = _headers_view(name, message)
                    if not replay_all and view["event_id"] != event_id:
                        continue
                    h = dict(message.headers or {})
                    exchange, routing_key = h.get("x-original-exchange"), h.get("x-original-routing-key")
                    if exchange is None or routing_key is None:
                        view["skipped"] = "无原交换机/路由键，不能重放"
                        replayed.append(view)
                        continue
                    headers = {k: v for k, v in h.items() if k not in DEATH_HEADERS and k != "x-death"}
                    headers["x-replayed-at"] = datetime.now(timezone.utc).isoformat()
                    producer.publish(message.body, exchange=exchange, routing_key=routing_key, headers=headers,
                                     delivery_mode=PERSISTENT,
                                     content_type=message.content_type or "application/json",
                                     content_encoding=message.content_encoding or "utf-8", retry=False)
                    channel.basic_ack(message.delivery_tag)  # after the broker confirmed the republish
                    view["replayed"] = True
                    replayed.append(view)
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
    return replayed


def wait_for_queue_length(amqp_uri: str, queue: str, at_least: int, timeout: float = 10.0) -> int:
    """For tests and probes: the ready-message count of `queue` once it reaches `at_least` (or on timeout)."""
    deadline = time.monotonic() + timeout
    count = 0
    while True:
        with Connection(amqp_uri, connect_timeout=5) as conn:
            channel = conn.channel()
            try:
                count = channel.queue_declare(queue, passive=True).message_count
            except Exception:
                count = 0
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
        if count >= at_least or time.monotonic() > deadline:
            return count
        time.sleep(0.1)
