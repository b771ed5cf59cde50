"""A small in-process token bucket per client (the public complaint form): N requests per window,
refilled continuously. One gateway process keeps its own buckets; several gateways behind a
balancer would each allow N (acceptable for a county form; a shared store is the upgrade)."""
from __future__ import annotations

import math
import threading
import time


class TokenBuckets:
    def __init__(self, capacity: int, window_seconds: float, clock=time.monotonic, max_clients: int = 10000):
        self.capacity = capacity
        self.rate = capacity / window_seconds  # tokens per second
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last time)
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when allowed (a token taken), else the seconds to wait before the next one."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.capacity), now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                self._evict(now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate

    def _evict(self, now: float) -> None:
        if len(self._buckets) <= self.max_clients:
            return
        full = self.capacity / self.rate
        for key, (_, last) in list(self._buckets.items()):
            if now - last >= full:
                del self._buckets[key]


def retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def _limit(name: str, default: int) -> int:
    import os

    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


# the public complaint form: 5 submissions per client IP per 10 minutes; receipt look-ups 60
PUBLIC_WINDOW_SECONDS = 600
public_submissions = TokenBuckets(_limit("SHUANGJIAN_PUBLIC_COMPLAINT_LIMIT", 5), PUBLIC_WINDOW_SECONDS)
public_lookups = TokenBuckets(_limit("SHUANGJIAN_PUBLIC_LOOKUP_LIMIT", 60), PUBLIC_WINDOW_SECONDS)
