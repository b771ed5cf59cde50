"""Timestamps: stored in UTC, rendered with their offset (SQLite drops it on the way back)."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


_frozen: datetime | None = None  # set by `frozen_at` in tests only


def utc_now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(timezone.utc)


@contextmanager
def frozen_at(moment: datetime):
    """Tests: `utc_now()` answers `moment` inside the block (a deadline opened on a given day)."""
    global _frozen
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a timezone")
    before, _frozen = _frozen, moment.astimezone(timezone.utc)
    try:
        yield
    finally:
        _frozen = before


def iso_utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


class UtcDateTime(TypeDecorator):
    """A timestamp column that stores UTC and always reads back timezone-aware.

    SQLite keeps no offset: without this, 23:59 Beijing time would come back as a naive 15:59
    and later be taken for UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class SystemClock:
    """The wall clock, as an object so that time-bound rules (session timeouts, throttles) can be
    handed another one in tests."""

    def now(self) -> datetime:
        return utc_now()


class FileOffsetClock(SystemClock):
    """The wall clock moved forward by the seconds written in a file (absent or unreadable: 0).

    For end-to-end tests only, which must let 30 idle minutes pass in a running gateway without
    waiting: enabled by SHUANGJIAN_CLOCK_OFFSET_FILE, which no deployment sets (docs/security.md)."""

    def __init__(self, path: str):
        self.path = path

    def offset_seconds(self) -> float:
        try:
            with open(self.path, encoding="utf-8") as fh:
                return float(fh.read().strip() or 0)
        except (OSError, ValueError):
            return 0.0

    def now(self) -> datetime:
        from datetime import timedelta

        return utc_now() + timedelta(seconds=self.offset_seconds())


def clock_from_env() -> SystemClock:
    import os

    path = os.environ.get("SHUANGJIAN_CLOCK_OFFSET_FILE")
    return FileOffsetClock(path) if path else SystemClock()
