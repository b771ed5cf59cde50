"""Bank feed tests: the real feed consumer in a thread of this (unpatched) process, the real
RabbitMQ (this run's vhost, or a fresh one) and the run's escrow database (PostgreSQL under
`make test`, SQLite when run alone)."""
from __future__ import annotations

import time

import pytest
from kombu import Connection, Queue

from services.common.config import database_url, load_secrets
from services.common.db import migrate
from services.common.identity import ActorSigner
from services.escrow.feed import MIGRATIONS
from services.escrow.feed_consumer import FeedConsumer
from services.escrow.feed_store import open_store
from services.common.bank_feed_wire import BOOKED_EVENT, DLQ_QUEUE, FEED_QUEUE, declare_topology, events_exchange
from shuangjian.infra import session_vhost
from tests import feed_store_cases as cases

EVENTS_QUEUE = "test.feed.bank_transactions_booked"


@pytest.fixture(scope="session")
def amqp():
    yield from session_vhost("sj_feed")


@pytest.fixture(scope="session")
def db_url():
    url = database_url("escrow")
    migrate("escrow", MIGRATIONS, url)
    return url


@pytest.fixture
def store(db_url):
    store = open_store(db_url)
    cases.clear(store.engine)
    cases.add_accounts(store.engine)
    yield store
    cases.clear(store.engine)
    store.close()


@pytest.fixture
def bus(amqp):
    """Fresh feed, dead-letter and event queues for each test."""
    with Connection(amqp) as conn:
        channel = conn.channel()
        declare_topology(channel)
        events = Queue(EVENTS_QUEUE, events_exchange(), routing_key=BOOKED_EVENT, durable=False)
        events(channel).declare()
        for name in (FEED_QUEUE, DLQ_QUEUE, EVENTS_QUEUE):
            Queue(name, channel=channel).purge()
        yield amqp
        for name in (FEED_QUEUE, DLQ_QUEUE, EVENTS_QUEUE):
            Queue(name, channel=channel).delete()


@pytest.fixture
def signer():
    return ActorSigner(load_secrets().actor_signing_key)


@pytest.fixture
def start_feed(bus, store, signer):
    started = []

    def start(**options):
        consumer = FeedConsumer(bus, store.url, signer=signer, group_wait=0.01, **options)
        consumer.start()
        assert consumer.ready.wait(10), "feed consumer did not connect"
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        consumer.stop()


def wait_settled(consumer, messages: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while consumer.stats.messages < messages:
        assert time.monotonic() < deadline, f"only {consumer.stats.messages} of {messages} messages settled"
        time.sleep(0.01)


def drain(amqp: str, queue: str, expected: int, seconds: float = 5) -> list:
    """Exactly `expected` messages from `queue` (waits for them; then checks none follows)."""
    out = []
    deadline = time.monotonic() + seconds
    with Connection(amqp) as conn:
        q = Queue(queue, channel=conn.channel())
        while len(out) < expected and time.monotonic() < deadline:
            message = q.get(no_ack=True)
            if message is None:
                time.sleep(0.02)
                continue
            out.append(message)
        time.sleep(0.1)
        extra = q.get(no_ack=True)
    assert len(out) == expected and extra is None, f"{queue}: {len(out)} messages (+{extra is not None}), expected {expected}"
    return out
