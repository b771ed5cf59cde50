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
    event_id = payload["event_id"]
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 64:
        raise ValidationFailed("事件编号 event_id 应为 1～64 个字符的字符串", field="event_id")
    if not isinstance(payload["type"], str):
        raise ValidationFailed("事件类型 type 应为字符串", field="type")
    try:
        datetime.fromisoformat(payload["occurred_at"])
    except (TypeError, ValueError):
        raise ValidationFailed("事件时间 occurred_at 应为 ISO 8601 时间", field="occurred_at") from None
    if not isinstance(payload["data"], dict):
        raise ValidationFailed("事件 data 应为 JSON 对象", field="data")
    return payload
