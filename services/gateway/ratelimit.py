"""Token buckets shared by every gateway replica: N requests per window per client, refilled
continuously, kept in the gateway's database (`rate_buckets`), so two gateways behind a balancer
allow N together and a restart forgets nothing (issue 16; no extra server for one host).

A take locks the bucket's row (an UPDATE first: a row lock on PostgreSQL, the write lock on
SQLite), refills it for the time passed, takes a token if there is one and commits: one short
transaction per request that is limited. Times are wall-clock epoch seconds (`clock`), the same
for every process.
"""
from __future__ import annotations

import hashlib
import math
import os
import random

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.clock import SystemClock
from services.common.errors import DomainError

from .models import RateBucket

MAX_KEY = 200


class TooManyAttempts(DomainError):
    """429: the client must wait (login throttling)."""

    code = "rate_limited"


class SharedBuckets:
    def __init__(self, name: str, capacity: int, window_seconds: float, clock=None):
        self.name = name
        self.capacity = capacity
        self.window = window_seconds
        self.rate = capacity / window_seconds  # tokens per second
        self.clock = clock or SystemClock()

    def _key(self, client: str) -> str:
        key = f"{self.name}:{client}"
        if len(key) > MAX_KEY:  # a long user name: its digest, still one bucket per name
            key = f"{self.name}:sha256:{hashlib.sha256(client.encode()).hexdigest()}"
        return key

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _locked(self, db: Session, key: str, now: float) -> RateBucket:
        for _ in range(3):
            locked = db.execute(update(RateBucket).where(RateBucket.key == key).values(key=key)).rowcount
            if locked:
                return db.get(RateBucket, key, populate_existing=True)
            try:
                with db.begin_nested():
                    row = RateBucket(key=key, tokens=float(self.capacity), updated=now)
                    db.add(row)
                return row
            except IntegrityError:  # another replica made it meanwhile: lock theirs
                continue
        raise RuntimeError(f"rate bucket {key} could not be locked")

    def _refilled(self, row: RateBucket, now: float) -> float:
        return min(float(self.capacity), row.tokens + max(0.0, now - row.updated) * self.rate)

    def take(self, db: Session, client: str) -> float:
        """0 when allowed (a token taken), else the seconds to wait before the next one. Commits."""
        now = self._now()
        try:
            row = self._locked(db, self._key(client), now)
            tokens = self._refilled(row, now)
            allowed = tokens >= 1
            row.tokens, row.updated = (tokens - 1 if allowed else tokens), now
            if random.random() < 0.01:  # now and then, forget the clients whose bucket is full again
                db.execute(delete(RateBucket).where(RateBucket.key.startswith(self.name + ":"),
                                                    RateBucket.updated < now - self.window))
            db.commit()
        except Exception:
            db.rollback()
            raise
        return 0.0 if allowed else (1 - tokens) / self.rate

    def wait(self, db: Session, client: str) -> float:
        """Like `take` without taking: 0 when a token is there, else the seconds until one is."""
        row = db.get(RateBucket, self._key(client), populate_existing=True)
        if row is None:
            return 0.0
        tokens = self._refilled(row, self._now())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def reset(self, db: Session, client: str) -> None:
        db.execute(delete(RateBucket).where(RateBucket.key == self._key(client)))
        db.commit()


def retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def _limit(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


# the public complaint form: 5 submissions per client IP per 10 minutes; receipt look-ups 60
PUBLIC_WINDOW_SECONDS = 600
public_submissions = SharedBuckets("public_submit", _limit("SHUANGJIAN_PUBLIC_COMPLAINT_LIMIT", 5),
                                   PUBLIC_WINDOW_SECONDS)
public_lookups = SharedBuckets("public_lookup", _limit("SHUANGJIAN_PUBLIC_LOOKUP_LIMIT", 60), PUBLIC_WINDOW_SECONDS)

# 家长端 contract codes (issue 14): every request naming a code, 60 per client IP per 10 minutes; codes
# that name no contract, 10 — at that pace an 80-bit code cannot be guessed
contract_code_uses = SharedBuckets("contract_code", _limit("SHUANGJIAN_CONTRACT_CODE_LIMIT", 60), PUBLIC_WINDOW_SECONDS)
contract_code_misses = SharedBuckets("contract_code_miss", _limit("SHUANGJIAN_CONTRACT_CODE_MISS_LIMIT", 10),
                                     PUBLIC_WINDOW_SECONDS)


# login throttling: 5 failed logins per username + client IP per 15 minutes, then 429 until a token
# refills (one every 3 minutes); a successful login clears the count. Keyed by both so that an
# attacker cannot lock a user out from elsewhere and one client cannot try many passwords.
LOGIN_WINDOW_SECONDS = 900
failed_logins = SharedBuckets("login", _limit("SHUANGJIAN_LOGIN_FAILURE_LIMIT", 5), LOGIN_WINDOW_SECONDS)


def login_key(username: object, client: str | None) -> str:
    name = username.strip().lower() if isinstance(username, str) else ""
    return f"{name}|{client or 'unknown'}"


def login_wait(db: Session, username: object, client: str | None) -> int:
    """Seconds the user must wait before the next attempt from this client (0: may try now)."""
    wait = failed_logins.wait(db, login_key(username, client))
    return retry_after(wait) if wait else 0


def login_failed(db: Session, username: object, client: str | None) -> None:
    failed_logins.take(db, login_key(username, client))


def login_succeeded(db: Session, username: object, client: str | None) -> None:
    failed_logins.reset(db, login_key(username, client))


def login_throttled_message(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return f"登录失败次数过多，请{minutes}分钟后再试（为保护账户安全，同一用户在同一终端15分钟内最多失败5次）"
