"""Publishing many events at once — now through the transactional outbox (services/common/outbox.py).

Before issue 8, `BatchEventDispatcher` published a ledger import's 10,000 events straight to the
broker after the commit (pipelined confirms). Events now go into the `outbox` table in the same
transaction as the change (`dispatch.many(events)` is one bulk INSERT), and the relay publishes
them with the same pipelined confirms (`confirming_publisher.ConfirmingPublisher`). What is left here:

* `BatchEventDispatcher` — the name services used; it is `OutboxDispatcher` (give the outbox model).
* `publish_confirmed(...)` — publish messages to one exchange and wait for every confirm (tools, benchmarks).
"""
from __future__ import annotations

from .confirming_publisher import ConfirmingPublisher
from .outbox import OutboxDispatcher

CONFIRM_TIMEOUT = 60.0


class BatchEventDispatcher(OutboxDispatcher):
    """Kept for the name: `BatchEventDispatcher(OutboxRow)` writes to the outbox, `dispatch.many()` included."""


def publish_confirmed(amqp_uri: str, exchange, messages: list[tuple[str, dict]], headers: dict,
                      serializer: str = "json", timeout: float = CONFIRM_TIMEOUT) -> int:
    """Publish `messages` (routing key, body) persistently to `exchange` (an Exchange or its name);
    return once the broker confirmed all (raises confirming_publisher.PublishFailed otherwise)."""
    if not messages:
        return 0
    name = getattr(exchange, "name", exchange)
    publisher = ConfirmingPublisher(amqp_uri, confirm_timeout=timeout)
    try:
        publisher.publish([(name, key, body, headers) for key, body in messages])
    finally:
        publisher.close()
    return len(messages)
