"""The transactional outbox and its relay on SQLite (services/common/outbox.py), and the dead-letter
headers (services/common/deadletter.py). No broker: the publisher is a fake."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from services.common.deadletter import dead_letter_headers, failure_reason
from services.common.errors import ValidationFailed
from services.common.events import make_bundle, make_event
from services.common.confirming_publisher import PublishFailed
from services.common.outbox import Outbox, OutboxMixin, Relay, RelayLoop, context_headers


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "things"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)


class OutboxRow(OutboxMixin, Base):
    pass


class FakePublisher:
    def __init__(self, fail: bool = False):
        self.sent: list[tuple] = []
        self.fail = fail
        self.closed = False

    def publish(self, messages):
        if self.fail:
            raise PublishFailed("broker away")
        self.sent.extend(messages)

    def close(self):
        self.closed = True


@pytest.fixture
def sessions(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    Base.metadata.create_all(engine)
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


def event(n: int) -> dict:
    return make_event("registry", "institution_registered", {"id": n}, "340722100")


def pending(sessions) -> list[OutboxRow]:
    with sessions() as s:
        return s.scalars(select(OutboxRow).where(OutboxRow.published_at.is_(None)).order_by(OutboxRow.id)).all()


def test_dispatch_adds_a_row_that_commits_with_the_change(sessions):
    woken = []
    with sessions() as s:
        dispatch = Outbox(s, OutboxRow, "registry", headers={"nameko.correlation_id": "c1"},
                          on_commit=lambda: woken.append(1))
        s.add(Thing(name="a"))
        e = event(1)
        dispatch("institution_registered", e)
        assert woken == []  # nothing published, nothing woken before the commit
        s.commit()
    assert woken == [1]
    [row] = pending(sessions)
    assert (row.event_id, row.exchange, row.event_type) == (e["event_id"], "registry.events", "institution_registered")
    assert row.body == e and row.headers == {"nameko.correlation_id": "c1"} and row.attempts == 0


def test_a_rolled_back_change_leaves_no_event(sessions):
    with sessions() as s:
        s.add(Thing(name="a"))
        s.commit()
    with sessions() as s:
        dispatch = Outbox(s, OutboxRow, "registry")
        s.add(Thing(name="a"))  # the same key: the commit fails
        dispatch("institution_registered", event(1))
        with pytest.raises(Exception):
            s.commit()
        s.rollback()
    assert pending(sessions) == []


def test_many_is_one_bulk_insert_in_order(sessions):
    with sessions() as s:
        dispatch = Outbox(s, OutboxRow, "registry")
        dispatch("first", event(0))
        assert dispatch.many([("institution_registered", event(n)) for n in range(1, 6)]) == 5
        s.commit()
    rows = pending(sessions)
    assert [r.body["data"]["id"] for r in rows] == [0, 1, 2, 3, 4, 5]


def test_many_sends_runs_of_a_bundled_type_as_bundles_and_the_rest_alone(sessions):
    registered = [event(n) for n in range(1, 6)]
    updated = make_event("registry", "institution_updated", {"id": 9}, "340722100")
    with sessions() as s:
        dispatch = Outbox(s, OutboxRow, "registry", headers={"nameko.correlation_id": "c"})
        events = [("institution_registered", e) for e in registered] + [("institution_updated", updated)]
        assert dispatch.many(events, bundle={"institution_registered"}, bundle_size=2) == 6
        s.commit()
    rows = pending(sessions)
    assert [(r.event_type, r.headers.get("x-bundle-size")) for r in rows] == [
        ("institution_registered", 2), ("institution_registered", 2), ("institution_registered", 1),
        ("institution_updated", None)]
    bundles = [r.body for r in rows[:3]]
    assert all(b["bundle_of"] == "institution_registered" and b["source"] == "registry" for b in bundles)
    # every event keeps its own envelope and id; a bundle's row is known by its last event's id
    assert [e["event_id"] for b in bundles for e in b["events"]] == [e["event_id"] for e in registered]
    assert [r.event_id for r in rows[:3]] == [registered[1]["event_id"], registered[3]["event_id"],
                                               registered[4]["event_id"]]
    assert rows[3].body["event_id"] == updated["event_id"] and rows[3].headers == {"nameko.correlation_id": "c"}


def test_the_relay_publishes_in_id_order_and_marks_published(sessions):
    with sessions() as s:
        dispatch = Outbox(s, OutboxRow, "registry", headers={"nameko.correlation_id": "c"})
        for n in range(7):
            dispatch("institution_registered", event(n))
        s.commit()
    publisher = FakePublisher()
    relay = Relay(sessions, OutboxRow, publisher, batch=3)
    assert relay.publish_pending() == 7
    assert [json.loads(m[2])["data"]["id"] for m in publisher.sent] == list(range(7))  # stored JSON text, as is
    exchange, routing_key, _body, headers = publisher.sent[0]
    assert (exchange, routing_key, headers) == ("registry.events", "institution_registered",
                                                {"nameko.correlation_id": "c"})
    assert pending(sessions) == [] and relay.pending() == 0
    assert relay.publish_pending() == 0  # nothing twice


def test_a_broker_failure_keeps_the_rows_and_counts_attempts(sessions):
    with sessions() as s:
        Outbox(s, OutboxRow, "escrow")("escrow_alert_raised", event(1))
        s.commit()
    relay = Relay(sessions, OutboxRow, FakePublisher(fail=True))
    with pytest.raises(PublishFailed):
        relay.publish_pending()
    [row] = pending(sessions)
    assert row.attempts == 1 and "broker away" in row.last_error
    loop = RelayLoop(relay)  # the loop logs and backs off instead of raising
    assert loop.step() == 0 and loop._backoff > loop.sweep
    relay.publisher = FakePublisher()
    assert loop.step() == 1 and pending(sessions) == []


def test_retention_deletes_only_old_published_rows(sessions):
    with sessions() as s:
        dispatch = Outbox(s, OutboxRow, "registry")
        for n in range(3):
            dispatch("x", event(n))
        s.commit()
    relay = Relay(sessions, OutboxRow, FakePublisher(), retention_days=7)
    relay.publish_pending()
    with sessions() as s:
        Outbox(s, OutboxRow, "registry")("x", event(9))  # still pending: never deleted
        s.commit()
    assert relay.delete_published() == 0
    later = datetime.now(timezone.utc) + timedelta(days=8)
    assert relay.delete_published(now=later) == 3
    assert [r.body["data"]["id"] for r in pending(sessions)] == [9]


def test_headers_as_nameko_encodes_them():
    assert context_headers({"correlation_id": "c", "call_id_stack": ["x"], "user": None}) == {
        "nameko.correlation_id": "c", "nameko.call_id_stack": ["x"]}


def test_dead_letter_headers_carry_the_reason_and_the_origin():
    body = b'{"event_id": "e1", "type": "institution_registered"}'
    headers = dead_letter_headers({"nameko.correlation_id": "c", "x-attempts": 2},
                                  reason=failure_reason(ValidationFailed("事件缺少字段 source", field="source")),
                                  exchange="registry.events", routing_key="institution_registered",
                                  service="reporting", body=body, error="ValidationFailed")
    assert headers["x-death-reason"] == "事件缺少字段 source（字段 source）"
    assert (headers["x-original-exchange"], headers["x-original-routing-key"]) == (
        "registry.events", "institution_registered")
    assert headers["x-failed-service"] == "reporting" and headers["x-failed-at"]
    assert (headers["x-event-id"], headers["x-event-type"]) == ("e1", "institution_registered")
    assert headers["nameko.correlation_id"] == "c" and "x-attempts" not in headers


def test_a_dead_bundle_of_one_is_known_by_its_event_even_compressed():
    """The relay compresses big bodies (outbox.COMPRESS_ABOVE); a bundle of one is never split."""
    from kombu.compression import compress

    inner = make_event("registry", "institution_registered", {"id": 1}, "340722100")
    bundle = json.dumps(make_bundle("registry", "institution_registered", [inner])).encode()
    body, content_type = compress(bundle, "zlib")
    headers = dead_letter_headers({"compression": content_type}, reason="x", exchange="registry.events",
                                  routing_key="institution_registered", service="reporting", body=body)
    assert (headers["x-event-id"], headers["x-event-type"]) == (inner["event_id"], "institution_registered")
