"""When a batch of events is ready, and how a failed batch is settled — rules only (no AMQP, no nameko).

The consumer (services/common/batch_consumer.py) feeds every delivery into a `BatchBuffer`, takes a
batch once `ready()` (as many as `size`, or whatever arrived within `linger` seconds of the oldest)
and hands it to the handler, which applies it in one transaction (idempotency.apply_batch). When
that fails, the batch is retried in `halves` down to single messages, so one poison message
dead-letters by itself and the others still apply.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

T = TypeVar("T")

DEFAULT_SIZE = 500  # events applied per transaction
DEFAULT_PREFETCH = 1000  # unacked deliveries the broker may push: the next batch arrives while one applies
DEFAULT_LINGER = 0.05  # seconds a lone event waits for company (a trickle is applied within 50 ms)


@dataclass
class BatchBuffer(Generic[T]):
    size: int = DEFAULT_SIZE
    linger: float = DEFAULT_LINGER
    clock: Callable[[], float] = time.monotonic
    items: list = field(default_factory=list)
    weights: list = field(default_factory=list)  # events per item (a bundle holds many)
    total: int = 0  # events buffered (the sum of weights, kept as it changes: asked per delivery)
    oldest_at: float | None = None

    def __post_init__(self):
        if self.size < 1:
            raise ValueError("batch size must be at least 1")

    def add(self, item: T, weight: int = 1) -> None:
        if not self.items:
            self.oldest_at = self.clock()
        self.items.append(item)
        self.weights.append(max(1, weight))
        self.total += self.weights[-1]

    def __len__(self) -> int:
        return len(self.items)

    def wait_left(self) -> float | None:
        """Seconds until the buffer is due (0: now); None when empty (wait for the first delivery)."""
        if not self.items:
            return None
        if self.total >= self.size:
            return 0.0
        return max(0.0, self.oldest_at + self.linger - self.clock())

    def ready(self) -> bool:
        return self.wait_left() == 0.0

    def take(self) -> list[T]:
        """The oldest items holding up to `size` events (one item at least), in delivery order; the
        rest stay (their linger starts now)."""
        count, events = 0, 0
        while count < len(self.items) and (count == 0 or events + self.weights[count] <= self.size):
            events += self.weights[count]
            count += 1
        batch, self.items, self.weights = self.items[:count], self.items[count:], self.weights[count:]
        self.total -= events
        self.oldest_at = self.clock() if self.items else None
        return batch


def halves(batch: list[T]) -> list[list[T]]:
    """A batch that failed as a whole is retried as its two halves, in order, and a half that fails
    again as its halves: a poison message ends up alone (a batch of one, settled by the
    dead-letter rules) after about 2·log2(n) transactions, the other messages applied in groups."""
    if len(batch) < 2:
        return [batch]
    middle = (len(batch) + 1) // 2
    return [batch[:middle], batch[middle:]]
