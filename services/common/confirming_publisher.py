"""Publishing to RabbitMQ with publisher confirms, many messages per wait (the outbox relay's and the
bank feed's way out; services/common/outbox.py, services/common/publish.py)."""
from __future__ import annotations

import socket
import time

from kombu import Connection, Exchange, Producer

PERSISTENT = 2
CONFIRM_TIMEOUT = 30.0
# bodies past this are compressed: only bundles get there (a bundle's JSON shrinks ~20×: less for the
# broker to store and for every consumer to read); a single event (~2 kB) goes as it is
COMPRESS_ABOVE = 64 * 1024


def event_exchange(name: str) -> Exchange:
    """As nameko declares it (nameko.standalone.events.get_event_exchange)."""
    return Exchange(name, type="topic", durable=True, delivery_mode=PERSISTENT, auto_delete=False)


class PublishFailed(Exception):
    pass


class ConfirmingPublisher:
    """One connection and channel in confirm mode; `publish(messages)` returns once the broker has
    confirmed them all (pipelined: one wait for the batch, not a round trip per message)."""

    def __init__(self, amqp_uri: str, connect_timeout: float = 5, confirm_timeout: float = CONFIRM_TIMEOUT):
        self.amqp_uri = amqp_uri
        self.connect_timeout = connect_timeout
        self.confirm_timeout = confirm_timeout
        self.conn: Connection | None = None
        self.channel = None
        self.declared: set[str] = set()
        self._sent = 0
        self._acked = 0
        self._nacked = 0

    def _open(self) -> None:
        if self.conn is not None:
            return
        conn = Connection(self.amqp_uri, connect_timeout=self.connect_timeout, heartbeat=0)
        conn.connect()
        channel = conn.channel()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.confirm_select()
        self.conn, self.channel = conn, channel
        self.declared = set()
        self._sent = self._acked = self._nacked = 0

    def _on_ack(self, tag, multiple):
        self._acked = max(self._acked, tag) if multiple else max(self._acked + 1, tag)

    def _on_nack(self, tag, multiple):
        self._nacked += 1

    def close(self) -> None:
        conn, self.conn, self.channel = self.conn, None, None
        if conn is not None:
            try:
                conn.release()
            except Exception:
                pass

    def publish(self, messages: list[tuple[str, str, object, dict | None]]) -> None:
        """messages: (exchange, routing key, body, headers); a body is a JSON value, or JSON text sent
        as it is (zlib-compressed past COMPRESS_ABOVE bytes: kombu decompresses it on the consumer's
        side, by the `compression` header). Raises PublishFailed unless all confirmed."""
        if not messages:
            return
        try:
            self._open()
            producer = Producer(self.channel, serializer="json")
            nacked_before = self._nacked
            for exchange, routing_key, body, headers in messages:
                if exchange not in self.declared:
                    event_exchange(exchange)(self.channel).declare()
                    self.declared.add(exchange)
                options = {}
                if isinstance(body, str):  # JSON text: as it is, compressed when big
                    body = body.encode()
                    options = {"content_type": "application/json", "content_encoding": "utf-8",
                               "compression": "zlib" if len(body) > COMPRESS_ABOVE else None}
                # (a copy of the headers: kombu adds `compression` to the dict it is given)
                producer.publish(body, exchange=exchange, routing_key=routing_key, headers=dict(headers or {}),
                                 delivery_mode=PERSISTENT, retry=False, **options)
                self._sent += 1
            deadline = time.monotonic() + self.confirm_timeout
            while self._acked < self._sent and self._nacked == nacked_before:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PublishFailed(f"消息中间件未在 {self.confirm_timeout:.0f} 秒内确认")
                try:
                    self.conn.drain_events(timeout=min(left, 1.0))
                except (socket.timeout, TimeoutError):
                    pass
            if self._nacked != nacked_before:
                raise PublishFailed("消息中间件拒收了事件（nack）")
        except PublishFailed:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc
