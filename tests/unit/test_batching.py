"""Events applied in batches (issue 12): when a batch is ready, and what one transaction per batch
keeps — each event applied once, in order, and nothing of a failed batch left behind."""
from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from services.common.batching import BatchBuffer, halves
from services.common.errors import ValidationFailed
from services.common.events import make_event
from services.common.idempotency import ProcessedEventMixin, apply_batch


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_full_batch_is_ready_at_once_and_keeps_delivery_order():
    buffer = BatchBuffer(size=3, linger=0.05, clock=FakeClock())
    for n in range(7):
        buffer.add(n)
    assert buffer.ready()
    assert buffer.take() == [0, 1, 2]
    assert buffer.take() == [3, 4, 5]
    assert len(buffer) == 1


def test_a_bundle_counts_as_its_events_and_a_batch_holds_at_most_size_events():
    buffer = BatchBuffer(size=500, linger=0.05, clock=FakeClock())
    buffer.add("bundle-a", 300)
    assert not buffer.ready()  # 300 events: wait for company
    buffer.add("bundle-b", 300)
    assert buffer.ready()
    assert buffer.take() == ["bundle-a"]  # a + b would be 600 events in one transaction
    buffer.add("single")
    buffer.add("bundle-c", 900)  # bigger than a batch: still taken, alone
    assert buffer.take() == ["bundle-b", "single"]
    assert buffer.take() == ["bundle-c"] and len(buffer) == 0


def test_a_lone_event_waits_at_most_the_linger():
    clock = FakeClock()
    buffer = BatchBuffer(size=500, linger=0.05, clock=clock)
    assert buffer.wait_left() is None  # nothing buffered: wait for the first delivery
    buffer.add("a")
    assert buffer.wait_left() == pytest.approx(0.05)
    clock.now += 0.03
    buffer.add("b")  # the linger counts from the oldest, not the newest
    assert buffer.wait_left() == pytest.approx(0.02)
    clock.now += 0.02
    assert buffer.ready() and buffer.take() == ["a", "b"]
    assert buffer.wait_left() is None


def test_the_rest_of_a_split_batch_starts_its_own_linger():
    clock = FakeClock()
    buffer = BatchBuffer(size=2, linger=0.05, clock=clock)
    for n in range(3):
        buffer.add(n)
    clock.now += 1
    buffer.take()
    assert buffer.wait_left() == pytest.approx(0.05)


def test_a_failed_batch_is_retried_in_halves_down_to_the_poison_message():
    assert halves(["a", "b", "c"]) == [["a", "b"], ["c"]]
    assert halves(["a"]) == [["a"]]

    def settle(batch, poison, log):  # as the consumer does: try, and on failure split
        log.append(len(batch))
        if poison in batch and len(batch) > 1:
            for half in halves(batch):
                settle(half, poison, log)
        return log

    tries = settle(list(range(500)), 123, [])
    assert len(tries) <= 2 * 9 + 1  # about 2·log2(500) transactions, not 500 single ones
    with pytest.raises(ValueError):
        BatchBuffer(size=0)


# -- one transaction per batch -------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class Status(Base):
    """A read model row: the record's latest status, guarded by the registry's seq."""

    __tablename__ = "statuses"
    record_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int] = mapped_column(Integer)


def apply_status(session, event):
    data = event["data"]
    row = session.get(Status, int(data["id"]))
    if row is None:
        session.add(Status(record_id=int(data["id"]), status=str(data["status"]), seq=int(data["seq"])))
    elif int(data["seq"]) > row.seq:  # a later status is never overwritten by an earlier one
        row.status, row.seq = str(data["status"]), int(data["seq"])


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with sessionmaker(bind=engine)() as s:
        yield s


def status_event(record_id, status, seq):
    return make_event("registry", "institution_status_changed", {"id": record_id, "status": status, "seq": seq},
                      "340722100")


def statuses(session):
    return {r.record_id: (r.status, r.seq) for r in session.scalars(select(Status))}


def markers(session):
    return session.scalar(select(func.count()).select_from(ProcessedEvent))


def test_a_batch_applies_in_order_once_and_records_every_event_id(session):
    first, later = status_event(1, "operating", 1), status_event(1, "suspended", 2)
    batch = [first, later, status_event(2, "operating", 1), dict(later)]  # a duplicate inside the batch
    assert apply_batch(session, ProcessedEvent, batch, apply_status) == 3
    assert statuses(session) == {1: ("suspended", 2), 2: ("operating", 1)}
    assert markers(session) == 3
    # redelivered with an earlier status arriving late: nothing is applied twice, nothing goes back
    stale = status_event(1, "operating", 1)
    assert apply_batch(session, ProcessedEvent, [first, stale, later], apply_status) == 1
    assert statuses(session)[1] == ("suspended", 2)
    assert markers(session) == 4


def test_a_bulk_applier_gets_only_the_new_events_once(session):
    seen = []
    done = status_event(1, "operating", 1)
    apply_batch(session, ProcessedEvent, [done, status_event(9, "operating", 1)], apply_status)
    batch = [done, status_event(2, "operating", 1), status_event(3, "operating", 1)]

    def bulk(s, events):
        seen.append([e["data"]["id"] for e in events])
        for e in events:
            apply_status(s, e)

    assert apply_batch(session, ProcessedEvent, batch, bulk=bulk) == 2
    assert seen == [[2, 3]]


def test_a_failing_batch_leaves_nothing_behind(session):
    good, bad = status_event(1, "operating", 1), status_event(2, "operating", 1)
    del bad["data"]["seq"]
    with pytest.raises(KeyError):
        apply_batch(session, ProcessedEvent, [good, bad], apply_status)
    assert statuses(session) == {} and markers(session) == 0
    # alone (as the consumer retries a failed batch), the good one applies and the bad one is
    # a clear validation error: it dead-letters by itself
    assert apply_batch(session, ProcessedEvent, [good], apply_status) == 1
    with pytest.raises(ValidationFailed):
        apply_batch(session, ProcessedEvent, [bad], apply_status)
    assert statuses(session) == {1: ("operating", 1)} and markers(session) == 1


def test_a_malformed_envelope_fails_the_batch(session):
    with pytest.raises(ValidationFailed):
        apply_batch(session, ProcessedEvent, [status_event(1, "operating", 1), {"type": "x"}], apply_status)
    assert markers(session) == 0
