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

    def wait(self, client: str) -> float:
        """Like `take` without taking: 0 when a token is there, else the seconds until one is."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.capacity), now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def reset(self, client: str) -> None:
        with self._lock:
            self._buckets.pop(client, None)

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

# 家长端 contract codes (issue 14): every request naming a code, 60 per client IP per 10 minutes; codes
# that name no contract, 10 — at that pace an 80-bit code cannot be guessed
contract_code_uses = TokenBuckets(_limit("SHUANGJIAN_CONTRACT_CODE_LIMIT", 60), PUBLIC_WINDOW_SECONDS)
contract_code_misses = TokenBuckets(_limit("SHUANGJIAN_CONTRACT_CODE_MISS_LIMIT", 10), PUBLIC_WINDOW_SECONDS)


# login throttling: 5 failed logins per username + client IP per 15 minutes, then 429 until a token
# refills (one every 3 minutes); a successful login clears the count. Keyed by both so that an
# attacker cannot lock a user out from elsewhere and one client cannot try many passwords.
LOGIN_WINDOW_SECONDS = 900
failed_logins = TokenBuckets(_limit("SHUANGJIAN_LOGIN_FAILURE_LIMIT", 5), LOGIN_WINDOW_SECONDS)


def login_key(username: object, client: str | None) -> str:
    name = username.strip().lower() if isinstance(username, str) else ""
    return f"{name}|{client or 'unknown'}"


def login_wait(username: object, client: str | None) -> int:
    """Seconds the user must wait before the next attempt from this client (0: may try now)."""
    wait = failed_logins.wait(login_key(username, client))
    return retry_after(wait) if wait else 0


def login_failed(username: object, client: str | None) -> None:
    failed_logins.take(login_key(username, client))


def login_succeeded(username: object, client: str | None) -> None:
    failed_logins.reset(login_key(username, client))


def login_throttled_message(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return f"登录失败次数过多，请{minutes}分钟后再试（为保护账户安全，同一用户在同一终端15分钟内最多失败5次）"
