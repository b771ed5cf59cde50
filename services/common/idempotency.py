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
