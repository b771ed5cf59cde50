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


# -- bundles: many envelopes of one type in one message (issue 12) ---------------------------------
#
# A bulk producer (a ledger import: 10,000 `institution_registered`) writes its events to the outbox
# as bundles of up to BUNDLE_SIZE envelopes, one message each, instead of one message per event:
# the broker then stores a few dozen persistent copies per bound queue, not ten thousand.
#
#     {"bundle_of": "<event type>", "source": "<service>", "events": [<envelope>, …]}
#
# Routing key and exchange are the event type's own, so queues and bindings do not change. Every
# inner envelope keeps its own `event_id`: consumers deduplicate, dead-letter and report lag per
# event. Only consumers that flatten bundles may be sent them: the batch consumer
# (services/common/batch_consumer.py) and the workflows bridge do; a type is bundled only when
# every consumer of it is one of those (registry: BUNDLED_TYPES in services/registry/imports.py).
# The outbox row of a bundle carries the last inner event's id, so read-model lag checks stay per
# event id (services/common/read_model_lag.py), and the header BUNDLE_SIZE_HEADER says how many
# events it holds (the consumer sizes its batches by events, not messages).

BUNDLE_SIZE = 500  # as many as a batch consumer applies per transaction (batching.DEFAULT_SIZE)
BUNDLE_SIZE_HEADER = "x-bundle-size"


def make_bundle(source: str, event_type: str, envelopes: list[dict]) -> dict:
    return {"bundle_of": event_type, "source": source, "events": list(envelopes)}


def is_bundle(payload: object) -> bool:
    return isinstance(payload, dict) and "bundle_of" in payload and isinstance(payload.get("events"), list)


def unbundle(payload: object) -> list:
    """The events a message carries: a bundle's envelopes, or the message itself. Nothing is
    checked here: each envelope is checked where it is applied, so one bad envelope fails alone."""
    return list(payload["events"]) if is_bundle(payload) else [payload]


def bundle_size(headers: dict | None) -> int:
    """Events in a message, from its header (1 for a plain event or a header that makes no sense)."""
    value = (headers or {}).get(BUNDLE_SIZE_HEADER)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1
