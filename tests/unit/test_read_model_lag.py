"""How far a read model is behind its sources (services/common/read_model_lag.py), on SQLite."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, Session

from services.common.errors import ValidationFailed
from services.common.idempotency import ProcessedEventMixin
from services.common.outbox import OutboxMixin
from services.common.read_model_lag import check_mark, check_types, describe, event_tail, lag_answer


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Processed(ProcessedEventMixin, Base):
    pass


NOW = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s


def emit(session, n, event_type="institution_registered", published=True, exchange="registry.events"):
    for i in range(n):
        session.add(Outbox(event_id=f"{event_type}-{exchange}-{i}-{session.query(Outbox).count()}", exchange=exchange,
                           event_type=event_type, body={}, created_at=NOW, published_at=NOW if published else None))
        session.flush()
    session.commit()


def apply(session, event_ids):
    for event_id in event_ids:
        session.add(Processed(event_id=event_id, event_type="x", processed_at=NOW))
    session.commit()


def lag(session, mark=None, queued=0, limit=100):
    tail = event_tail(session, Outbox, "registry", ["institution_registered", "institution_updated"], mark, limit)
    return tail, lag_answer(session, Processed, [tail], queued, now=NOW)


def test_an_import_is_pending_until_every_event_is_applied_then_caught_up(session):
    emit(session, 5, published=False)
    _, answer = lag(session)
    assert (answer["caught_up"], answer["pending_events"], answer["unpublished"]) == (False, 5, 5)
    assert answer["marks"] == {"registry": 5} and answer["last_applied_at"] is None
    assert describe(answer) == "数据更新中：尚有约 5 条变更待计入"

    session.query(Outbox).update({"published_at": NOW})
    session.commit()
    ids = lag(session)[0]["event_ids"]["institution_registered"]
    apply(session, ids[1:])  # the oldest is still in flight at a consumer
    _, answer = lag(session)
    assert (answer["caught_up"], answer["unapplied_recent"], answer["pending_events"]) == (False, 1, 1)

    apply(session, ids[:1])
    _, answer = lag(session)
    assert answer["caught_up"] and answer["pending_events"] == 0 and answer["last_applied_at"] == NOW.isoformat()
    assert describe(answer).startswith("数据已是最新")


def test_a_mark_ignores_what_was_committed_after_it_and_types_not_consumed(session):
    emit(session, 3)
    _, first = lag(session)
    apply(session, [r.event_id for r in session.query(Outbox).all()])
    emit(session, 4, published=False)  # committed after the command started
    emit(session, 2, event_type="case_step_reminded")  # reporting does not consume these
    emit(session, 2, exchange="escrow.events")  # another source's outbox (its own service)
    assert lag(session, mark=first["marks"]["registry"])[1]["caught_up"]
    assert not lag(session)[1]["caught_up"]


def test_queued_messages_count_when_beyond_the_tail(session):
    emit(session, 3)
    _, answer = lag(session, queued=500, limit=2)  # a backlog longer than the tail checked
    assert answer["unapplied_recent"] == 2 and answer["pending_events"] == 500


def test_bad_arguments_are_refused_naming_the_field():
    with pytest.raises(ValidationFailed) as info:
        check_types("institution_registered")
    assert info.value.field == "types"
    with pytest.raises(ValidationFailed):
        check_mark(-1)
    assert check_mark(None) is None and check_types(["b", "a", "a"]) == ["a", "b"]


def test_the_tail_checked_grows_with_what_a_consumer_may_hold_unacked():
    from types import SimpleNamespace

    from services.common.read_model_lag import MAX_TAIL, TAIL, ReadModelLag, check_limit

    def lag_of(*prefetches):
        provider = ReadModelLag()
        provider.container = SimpleNamespace(config={"max_workers": 10}, entrypoints=[
            SimpleNamespace(source_service="registry", event_type="institution_registered", prefetch=p)
            for p in prefetches])
        return provider

    assert lag_of(1000).tail_size() == TAIL
    assert lag_of(1000, 5000).tail_size() == 10000
    assert lag_of(50000).tail_size() == MAX_TAIL
    assert lag_of(1000).subscriptions() == {"registry": ["institution_registered"]}
    with pytest.raises(ValidationFailed) as info:
        check_limit(MAX_TAIL + 1)
    assert info.value.field == "limit"


def test_a_bundle_is_pending_as_its_events_until_its_last_event_is_applied(session):
    session.add(Outbox(event_id="last-of-bundle", exchange="registry.events", event_type="institution_registered",
                       body={}, headers={"x-bundle-size": 500}, created_at=NOW, published_at=None))
    session.commit()
    _, answer = lag(session)
    assert (answer["unpublished"], answer["pending_events"]) == (500, 500)
    assert describe(answer) == "数据更新中：尚有约 500 条变更待计入"

    session.query(Outbox).update({"published_at": NOW})
    session.commit()
    tail, answer = lag(session)
    assert tail["bundle_sizes"] == {"last-of-bundle": 500}
    assert (answer["caught_up"], answer["unapplied_recent"], answer["pending_events"]) == (False, 500, 500)

    apply(session, ["last-of-bundle"])
    assert lag(session)[1]["caught_up"]
