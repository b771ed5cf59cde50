"""The event envelope on the bus.

Wire format is nameko's: exchange `<service>.events`, routing key = event type, JSON body.
The body is this envelope, so every consumer (nameko handlers, the workflows bridge,
reporting) can deduplicate by `event_id` and place the fact in time and space.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from .errors import ValidationFailed

ENVELOPE_FIELDS = ("event_id", "type", "source", "occurred_at", "division_code", "data")


def make_event(
    source: str,
    event_type: str,
    data: dict,
    division_code: str,
    actor: dict | None = None,
    occurred_at: datetime | None = None,
) -> dict:
    return {
        "event_id": uuid.uuid4().hex,
        "type": event_type,
        "source": source,
        "occurred_at": (occurred_at or datetime.now(timezone.utc)).isoformat(),
        "division_code": division_code,
        "actor": actor,
        "data": data,
    }


def check_envelope(payload: object) -> dict:
    """Reject malformed messages with a reason (they go to the dead-letter queue)."""
    if not isinstance(payload, dict):
        raise ValidationFailed("事件消息体应为 JSON 对象", field="body")
    for name in ENVELOPE_FIELDS:
        if name not in payload:
            raise ValidationFailed(f"事件缺少字段 {name}", field=name)
    if not isinstance(payload["data"], dict):
        raise ValidationFailed("事件 data 应为 JSON 对象", field="data")
    return payload
