"""Helpers for the service tests."""
from __future__ import annotations

import time
from contextlib import contextmanager

from kombu import Connection, Exchange, Queue, binding
from nameko.testing.services import entrypoint_hook

from services.common.events import unbundle


def call(container, method, *args):
    """Call an entrypoint of a running container as a remote caller would."""
    with entrypoint_hook(container, method) as hook:
        return hook(*args)


class EventTap:
    """Events a service publishes while a test runs, read off a queue of the test's own."""

    def __init__(self, queue: Queue):
        self.queue = queue
        self.messages = 0  # messages read so far (a bundle is one message with many events)
        self.compressed = 0  # of those, sent compressed (outbox.COMPRESS_ABOVE)

    def drain(self, expect: int = 0, seconds: float = 5.0) -> list[tuple[str, dict]]:
        """[(event type, envelope)], bundles unbundled, waiting up to `seconds` for at least `expect`."""
        got, deadline = [], time.monotonic() + seconds
        while True:
            message = self.queue.get(no_ack=True)
            if message is not None:
                self.messages += 1
                self.compressed += "compression" in (message.headers or {})
                routing_key = message.delivery_info["routing_key"]
                got.extend((routing_key, event) for event in unbundle(message.decode()))
                continue
            if len(got) >= expect or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def by_type(self, event_types, seconds: float = 3.0) -> dict[str, list[dict]]:
        """{event type: [data, …]}, waiting until every type in `event_types` has shown up."""
        got: dict[str, list] = {t: [] for t in event_types}
        deadline = time.monotonic() + seconds
        while True:
            for event_type, body in self.drain(seconds=0):
                got.setdefault(event_type, []).append(body["data"])
            if all(got[t] for t in event_types) or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


@contextmanager
def tap_events(amqp_uri: str, service: str, event_types=("#",)):
    """`with tap_events(uri, "escrow", ["lesson_delivered"]) as tap:` … `tap.drain()`."""
    exchange = Exchange(f"{service}.events", type="topic", durable=True)
    with Connection(amqp_uri) as conn:
        queue = Queue(f"test-{service}-events-{time.monotonic_ns()}",
                      bindings=[binding(exchange, routing_key=k) for k in event_types],
                      auto_delete=True, channel=conn.channel())
        queue.declare()
        try:
            yield EventTap(queue)
        finally:
            queue.delete()


@contextmanager
def captured(config, service: str, *event_types):
    """{event type: [data, …]} of what `service` publishes while the block runs (filled on exit)."""
    got: dict[str, list] = {t: [] for t in event_types}
    with tap_events(config["AMQP_URI"], service, event_types) as tap:
        yield got
        got.update(tap.by_type(event_types))
