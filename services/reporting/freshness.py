"""How far the reports' read models are behind their sources (issue 12): the gateway collects each
source's outbox tail (`get_event_tail`) and asks here which of those events are applied yet."""
from __future__ import annotations

from sqlalchemy.orm import Session

from services.common.errors import ValidationFailed
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.read_model_lag import lag_answer

from .models import ProcessedEvent


def sources(actor: Actor, subscriptions: dict, tail: int) -> dict:
    """{sources: {source: [event types]}, tail: ids to check per type}."""
    authorize(actor, "reporting.read")
    return {"sources": subscriptions, "tail": tail}


def read_model_lag(session: Session, actor: Actor, tails: object, queued: int | None) -> dict:
    authorize(actor, "reporting.read")
    if not isinstance(tails, list) or not all(
            isinstance(t, dict) and isinstance(t.get("source"), str) and isinstance(t.get("event_ids"), dict)
            for t in tails):
        raise ValidationFailed("来源进度应为 [{source, mark, unpublished, event_ids}] 列表", field="tails")
    return lag_answer(session, ProcessedEvent, tails, queued)
