"""How far a read model is behind the events committed by its sources (issue 12).

A source's events are rows of its outbox (services/common/outbox.py), numbered by id in commit
order, published by the relay in id order; a consumer records each event id it applied in its
`processed_events`, in the transaction of the effect, and acks after commit. So:

* source side, `event_tail`: the outbox's highest id (the *mark*: everything committed so far is
  at or below it), how many rows up to the mark are not yet published, and the ids of the newest
  `limit` rows of each event type the reader consumes;
* reader side, `lag_answer`: which of those ids are not yet in `processed_events`, plus the ready
  messages in its own queues (passive declares).

Caught up with a mark = nothing up to the mark left unpublished and every id of the tails applied.
Delivery per queue is FIFO and acks follow commits, so once the newest `limit` events of a type are
applied the older ones were too (or were dead-lettered: `shuangjian dlq list` shows them), as long as
`limit` exceeds what a consumer holds unacked at once (the reader sizes it from its consumers'
prefetch: `ReadModelLag.tail_size`). Ids, not clocks: nothing compares times between processes.
A bundle's outbox row carries its last event's id and its size (services/common/events.py): it is
applied when that event is, and counted as its size.
"""
from __future__ import annotations

from datetime import datetime, timezone

from nameko.extensions import DependencyProvider
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .clock import iso_utc
from .errors import ValidationFailed
from .events import BUNDLE_SIZE_HEADER, bundle_size
from .outbox import OutboxDispatcher, exchange_name

TAIL = 2000  # newest events checked per event type, at least; more when a consumer prefetches more
MAX_TAIL = 20000
_CHUNK = 500  # ids per IN (…) query


def check_types(types: object) -> list[str]:
    if not isinstance(types, (list, tuple)) or not all(isinstance(t, str) and t for t in types):
        raise ValidationFailed("事件类型应为文字列表", field="types")
    return sorted(set(types))


def check_limit(limit: object) -> int:
    if limit is None:
        return TAIL
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_TAIL:
        raise ValidationFailed(f"检查条数应在 1 到 {MAX_TAIL} 之间", field="limit")
    return limit


def check_mark(mark: object) -> int | None:
    if mark is None:
        return None
    if not isinstance(mark, int) or isinstance(mark, bool) or not 0 <= mark < 2**63:
        raise ValidationFailed("标记应为非负整数", field="mark")
    return mark


def outbox_model_of(service_cls):
    """The outbox table of a service: the model of its OutboxDispatcher(s) (one table per service)."""
    for value in vars(service_cls).values():
        if isinstance(value, OutboxDispatcher):
            return value.model
    for base in service_cls.__mro__[1:]:
        for value in vars(base).values():
            if isinstance(value, OutboxDispatcher):
                return value.model
    return None


def event_tail(session: Session, model, source: str, types: list[str], mark: int | None = None,
               limit: int = TAIL) -> dict:
    """The source side: {source, mark, unpublished, event_ids: {type: [newest published ids up to the mark]}}."""
    if mark is None:
        mark = session.scalar(select(func.max(model.id))) or 0
    mine = (model.exchange == exchange_name(source), model.id <= mark)
    # a bundle's row holds many events (services/common/events.py): counted by its size header
    events_in_row = func.coalesce(model.headers[BUNDLE_SIZE_HEADER].as_integer(), 1)
    unpublished = session.scalar(
        select(func.sum(events_in_row)).where(*mine, model.published_at.is_(None), model.event_type.in_(types))
    ) or 0
    tails, sizes = {}, {}
    for event_type in types:
        rows = session.execute(select(model.event_id, model.headers).where(*mine, model.event_type == event_type,
                                                                            model.published_at.is_not(None))
                               .order_by(model.id.desc()).limit(limit)).all()
        if rows:
            tails[event_type] = [event_id for event_id, _ in rows]
            sizes.update({event_id: size for event_id, headers in rows
                          if (size := bundle_size(headers)) > 1})
    return {"source": source, "mark": mark, "unpublished": int(unpublished), "event_ids": tails,
            "bundle_sizes": sizes}


def applied_events(session: Session, processed_model, event_ids: list[str]) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for start in range(0, len(event_ids), _CHUNK):
        chunk = event_ids[start:start + _CHUNK]
        rows = session.execute(select(processed_model.event_id, processed_model.processed_at)
                               .where(processed_model.event_id.in_(chunk)))
        found.update({event_id: at for event_id, at in rows})
    return found


def lag_answer(session: Session, processed_model, tails: list[dict], queued: int | None,
               now: datetime | None = None) -> dict:
    """The reader side, from the sources' tails: what the import result and the report show.

    `pending_events` counts what is not applied yet: unpublished outbox rows plus the larger of the
    ready messages in the reader's queues and the tails' unapplied ids (each is a lower bound)."""
    ids = [i for tail in tails for type_ids in tail.get("event_ids", {}).values() for i in type_ids]
    sizes = {i: n for tail in tails for i, n in (tail.get("bundle_sizes") or {}).items()
             if isinstance(n, int) and not isinstance(n, bool) and n > 0}
    applied = applied_events(session, processed_model, ids)
    unapplied = sum(sizes.get(i, 1) for i in ids if i not in applied)  # a bundle's id stands for its events
    unpublished = sum(int(t.get("unpublished", 0)) for t in tails)
    caught_up = unpublished == 0 and unapplied == 0
    last = max(applied.values(), default=None)
    return {
        "caught_up": caught_up,
        "pending_events": unpublished + max(queued or 0, unapplied),
        "unpublished": unpublished,
        "queued": queued,
        "unapplied_recent": unapplied,
        "last_applied_at": iso_utc(last) if last else None,
        "marks": {t["source"]: t["mark"] for t in tails},
        "checked_at": iso_utc(now or datetime.now(timezone.utc)),
    }


def describe(lag: dict) -> str:
    """One line for officials: caught up, or how much is still on its way."""
    if lag.get("caught_up"):
        return "数据已是最新（所有已提交的变更均已计入）"
    return f"数据更新中：尚有约 {lag['pending_events']} 条变更待计入"


class ReadModelLag(DependencyProvider):
    """In a reader service: `self.read_model.subscriptions()` → {source: [event types]} from its event
    entrypoints, `tail_size()` → ids to check per type, `queued()` → ready messages in their queues
    (None if unknown)."""

    def get_dependency(self, worker_ctx):
        return self

    def _consumers(self):
        for entrypoint in self.container.entrypoints:
            source = getattr(entrypoint, "source_service", None)
            types = getattr(entrypoint, "event_types", None) or [getattr(entrypoint, "event_type", None)]
            if source:
                yield entrypoint, source, [t for t in types if t]

    def subscriptions(self) -> dict[str, list[str]]:
        subs: dict[str, set] = {}
        for _, source, types in self._consumers():
            subs.setdefault(source, set()).update(types)
        return {source: sorted(types) for source, types in sorted(subs.items())}

    def tail_size(self) -> int:
        """Ids to check per event type: twice the largest prefetch (what a consumer may hold
        unacked: a batching consumer's `prefetch`, nameko's `max_workers`), at least TAIL."""
        held = [int(getattr(ep, "prefetch", 0) or 0) for ep, _, _ in self._consumers()]
        held.append(int(self.container.config.get("max_workers", 10)))
        return min(max(TAIL, 2 * max(held)), MAX_TAIL)

    def queued(self) -> int | None:
        from kombu import Connection

        names = {q.name for entrypoint, _, _ in self._consumers()
                 for q in ([getattr(entrypoint, "queue", None)] + list(getattr(entrypoint, "queues", None) or []))
                 if q is not None}
        total = 0
        try:
            with Connection(self.container.config.get("AMQP_URI", ""), connect_timeout=2) as conn:
                channel = conn.channel()
                for name in sorted(names):
                    try:
                        total += channel.queue_declare(queue=name, passive=True).message_count
                    except Exception:  # not declared yet: the broker closed the channel
                        channel = conn.channel()
        except OSError:
            return None
        return total
