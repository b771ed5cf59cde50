"""Consume each event once: record its id in the same transaction as its effect."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from .clock import UtcDateTime


class ProcessedEventMixin:
    """Mix into a service's own Base: `class ProcessedEvent(ProcessedEventMixin, Base): pass`."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(80))
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime)


def create_processed_events_table(op) -> None:
    """For a service's Alembic migration."""
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def first_time(session: Session, model, event: dict) -> bool:
    """True if `event` was not processed before; adds its marker to the session (uncommitted)."""
    if session.get(model, event["event_id"]) is not None:
        return False
    session.add(
        model(event_id=event["event_id"], event_type=event["type"], processed_at=datetime.now(timezone.utc))
    )
    return True


def apply_once(session: Session, model, event: object, effect, attempts: int = 3) -> bool:
    """Check the envelope, run `effect(session, event)` and record the event id, all in one commit.

    Returns False for a repeat delivery (nothing changes). A payload missing fields raises
    ValidationFailed and leaves nothing behind. A unique-key clash is either a duplicate delivery
    that won the race (then False) or another event creating the same row concurrently (events of
    one record handled by two workers): then the effect runs again on the row now present.
    """
    from sqlalchemy.exc import IntegrityError

    from .errors import ValidationFailed
    from .events import check_envelope

    event = check_envelope(event)
    for attempt in range(1, attempts + 1):
        try:
            if not first_time(session, model, event):
                return False
            effect(session, event)
            session.commit()
            return True
        except IntegrityError:
            session.rollback()
            if session.get(model, event["event_id"]) is not None:
                return False  # a duplicate delivery won the race
            if attempt == attempts:
                raise
        except (KeyError, TypeError, ValueError) as exc:
            session.rollback()
            raise ValidationFailed(f"事件内容不完整或格式错误：{exc}", field="data") from None
        except BaseException:
            session.rollback()
            raise
    return False


def apply_batch(session: Session, model, events: list, effect=None, bulk=None) -> int:
    """Apply `events` (one queue's, in delivery order) in ONE transaction: check every envelope,
    skip the ids already processed (one SELECT … IN for the batch) or repeated within it, run
    `effect(session, event)` for the rest in order — or `bulk(session, events)` once with all of them,
    for a read model that loads its rows for the whole batch at once —, insert their markers in one
    statement, commit.

    Returns how many events were new. Any error rolls the whole batch back and is raised: the
    consumer (services/common/batch_consumer.py) then applies the messages one at a time, where
    `apply_once` settles each alone (a malformed event dead-letters by itself). A batch of one is
    `apply_once`, race handling included.
    """
    if effect is None:
        effect = lambda session_, event: bulk(session_, [event])  # noqa: E731
    if len(events) == 1:
        return int(apply_once(session, model, events[0], effect))
    from sqlalchemy import select

    from .bulk_insert import insert_rows
    from .events import check_envelope

    checked = [check_envelope(event) for event in events]
    ids = {event["event_id"] for event in checked}
    try:
        done = set(session.scalars(select(model.event_id).where(model.event_id.in_(ids))))
        fresh = []
        for event in checked:
            if event["event_id"] not in done:
                done.add(event["event_id"])
                fresh.append(event)
        if bulk is not None and fresh:
            bulk(session, fresh)
        else:
            for event in fresh:
                effect(session, event)
        if fresh:
            now = datetime.now(timezone.utc)
            insert_rows(session, model, [{"event_id": e["event_id"], "event_type": e["type"], "processed_at": now}
                                         for e in fresh])
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return len(fresh)
