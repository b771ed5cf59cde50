"""Publishing many events at once, in nameko's wire format, with pipelined publisher confirms.

nameko's EventDispatcher waits for the broker's confirm of each message before sending the
next (measured here: 10,000 events ≈ 18 s). `BatchEventDispatcher` injects the same
`dispatch(event_type, data)` and adds `dispatch.many([(event_type, data), …])`, which sends
every message on one channel in confirm mode and then waits once until the broker has
confirmed them all — the same guarantee, without a round trip per message. Consumers see
ordinary nameko events (exchange `<service>.events`, routing key = event type, the worker's
context headers such as the correlation id).
"""
from __future__ import annotations

import socket
import time

from kombu import Connection, Producer
from nameko.constants import PERSISTENT
from nameko.events import EventDispatcher

from .errors import Unavailable

DRAIN_EVERY = 500  # read pending confirms while publishing, so they never pile up unread
CONFIRM_TIMEOUT = 60.0


def publish_confirmed(amqp_uri: str, exchange, messages: list[tuple[str, dict]], headers: dict,
                      serializer: str = "json", timeout: float = CONFIRM_TIMEOUT) -> int:
    """Publish `messages` (routing key, body) persistently; return once the broker confirmed all."""
    if not messages:
        return 0
    state = {"acked": 0, "nacked": 0}

    def on_ack(tag, multiple):
        state["acked"] = max(state["acked"], tag) if multiple else state["acked"] + 1

    def on_nack(tag, multiple):
        state["nacked"] += 1

    with Connection(amqp_uri, transport_options={"confirm_publish": False}) as conn:
        channel = conn.channel()
        channel.events["basic_ack"].add(on_ack)
        channel.events["basic_nack"].add(on_nack)
        channel.confirm_select()
        producer = Producer(channel, exchange=exchange, serializer=serializer)
        exchange(channel).declare()
        for count, (routing_key, body) in enumerate(messages, start=1):
            producer.publish(body, routing_key=routing_key, headers=headers, delivery_mode=PERSISTENT,
                             retry=False)
            if count % DRAIN_EVERY == 0:
                _drain(conn, 0)
        deadline = time.monotonic() + timeout
        while state["acked"] < len(messages) and not state["nacked"]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Unavailable(f"消息中间件未在 {timeout:.0f} 秒内确认全部事件")
            _drain(conn, min(left, 1.0))
    if state["nacked"]:
        raise Unavailable("消息中间件拒收了部分事件")
    return len(messages)


def _drain(conn: Connection, timeout: float) -> None:
    try:
        while True:
            conn.drain_events(timeout=timeout)
            timeout = 0
    except (socket.timeout, TimeoutError):
        pass


class BatchEventDispatcher(EventDispatcher):
    """EventDispatcher whose injected `dispatch` also has `.many(events)` for bulk publishing."""

    def get_dependency(self, worker_ctx):
        dispatch = super().get_dependency(worker_ctx)

        def many(events: list[tuple[str, dict]]) -> int:
            headers = self.get_message_headers(worker_ctx)
            return publish_confirmed(self.amqp_uri, self.exchange, [(t, d) for t, d in events], headers,
                                     serializer=self.serializer)

        dispatch.many = many
        return dispatch
