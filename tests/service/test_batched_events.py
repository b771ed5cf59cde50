"""Read models apply events in batches (issue 12): a burst of a few hundred registry events reaches
reporting's counts whole — a duplicate applied once, a late earlier status not undoing a later
one, a malformed event dead-lettered alone while the rest of its batch applies.

Real RabbitMQ (this run's vhost), the ReportingService in a container, the run's database."""
from __future__ import annotations

import time

from kombu import Connection, Producer
from nameko.constants import PERSISTENT
from nameko.standalone.events import get_event_exchange
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import func, select

from services.common.config import database_url
from services.common.db import make_engine
from services.common.deadletter import list_dead_letters
from services.common.events import BUNDLE_SIZE_HEADER, make_bundle, make_event
from services.reporting import handlers
from services.reporting.models import ProcessedEvent
from services.reporting.service import ReportingService
from tests.service.test_delivery import purge

TOWNSHIP = "340722105"  # 义津镇
N = 300


def registered(institution_id: int) -> dict:
    return make_event("registry", "institution_registered", {
        "id": institution_id, "name": f"枞阳县批量测试学校{institution_id}", "township_code": TOWNSHIP,
        "category": "academic", "status": "operating", "version": 1, "registered_on": "2024-01-02",
        "history": [{"status": "operating", "effective_on": "2024-01-02", "seq": 1}]}, TOWNSHIP)


def status_changed(institution_id: int, status: str, day: str, seq: int) -> dict:
    return make_event("registry", "institution_status_changed", {
        "id": institution_id, "status": status, "effective_on": day, "seq": seq, "version": seq}, TOWNSHIP)


def publish(amqp: str, config: dict, events: list[tuple[str, dict]], headers: list[dict] | None = None) -> None:
    with Connection(amqp) as conn:
        producer = Producer(conn.channel(), exchange=get_event_exchange("registry", config), serializer="json")
        for i, (event_type, event) in enumerate(events):
            producer.publish(event, routing_key=event_type, delivery_mode=PERSISTENT, retry=False,
                             headers=headers[i] if headers else {})


def wait_for_dead_letters(amqp: str) -> list[dict]:
    deadline = time.monotonic() + 15
    while not (dead := list_dead_letters(amqp, ["dlq.reporting"])):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return dead


def processed_events() -> int:
    engine = make_engine(database_url("reporting"))
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(ProcessedEvent.__table__))
    finally:
        engine.dispose()


def counts_of(config: dict, actor: str, as_of: str) -> dict:
    with ServiceRpcProxy("reporting", config) as reporting:
        return reporting.get_institution_counts(actor, TOWNSHIP, as_of)


def test_a_burst_of_events_is_applied_in_batches_once_in_order_and_a_poison_event_alone(
        start_services, config, token, monkeypatch):
    amqp = config["AMQP_URI"]
    purge(amqp, "dlq.reporting")
    batches: list[int] = []
    apply = handlers.apply_institution_registered

    def counting(session, events):
        batches.append(len(events))
        return apply(session, events)

    monkeypatch.setattr(handlers, "apply_institution_registered", counting)
    start_services(ReportingService)

    events = [registered(900_000 + i) for i in range(N)]
    poison = registered(999_999)
    del poison["data"]["township_code"]
    burst = [("institution_registered", e) for e in events[:N // 2]] + [("institution_registered", poison)]
    burst += [("institution_registered", e) for e in events[N // 2:]]
    burst.append(("institution_registered", events[7]))  # redelivered: applied once
    first = events[0]["data"]["id"]
    # the later status first, the earlier one arriving late: 停业整顿 (seq 3) must stay in force
    burst += [("institution_status_changed", status_changed(first, "suspended_for_rectification", "2024-06-01", 3)),
              ("institution_status_changed", status_changed(first, "paused", "2024-03-01", 2))]
    publish(amqp, config, burst)

    education = token("education")

    def counts(as_of: str) -> dict:
        return counts_of(config, education, as_of)

    deadline = time.monotonic() + 30
    while True:
        later = counts("2024-07-01")
        if later["institutions_total"] >= N and later["status_counts"]["停业整顿"] == 1:
            break
        assert time.monotonic() < deadline, later
        time.sleep(0.2)
    assert later["institutions_total"] == N
    assert later["status_counts"] == {"正常营业": N - 1, "暂停营业": 0, "停业整顿": 1, "注销中": 0, "已注销": 0}
    assert counts("2024-04-01")["status_counts"]["暂停营业"] == 1  # the earlier status keeps its own days

    # the poison event alone went to dlq.reporting, with its reason
    dead = wait_for_dead_letters(amqp)
    assert [d["event_id"] for d in dead] == [poison["event_id"]]
    assert "township_code" in dead[0]["reason"]

    # every event id recorded once; far fewer transactions than events
    assert processed_events() == N + 2
    assert max(batches) > 1 and len(batches) < N // 2, batches


def test_bundled_events_are_applied_whole_and_a_bundle_with_a_poison_event_is_split(
        start_services, config, token):
    """A ledger import's events come in bundles (services/common/events.py): one message each."""
    amqp = config["AMQP_URI"]
    purge(amqp, "dlq.reporting")
    start_services(ReportingService)
    events = [registered(800_000 + i) for i in range(N)]
    poison = registered(899_999)
    del poison["data"]["history"][0]["effective_on"]
    first = make_bundle("registry", "institution_registered", events[:N // 2])
    second = make_bundle("registry", "institution_registered", events[N // 2:N - 10] + [poison] + events[N - 10:])
    bundles = [first, second, first]  # the first one redelivered: applied once
    publish(amqp, config, [("institution_registered", b) for b in bundles],
            headers=[{BUNDLE_SIZE_HEADER: len(b["events"])} for b in bundles])

    education = token("education")
    deadline = time.monotonic() + 30
    while (total := counts_of(config, education, "2024-07-01")["institutions_total"]) < N:
        assert time.monotonic() < deadline, total
        time.sleep(0.2)
    assert total == N
    dead = wait_for_dead_letters(amqp)
    assert [d["event_id"] for d in dead] == [poison["event_id"]]  # the poison alone, not its bundle
    assert "effective_on" in dead[0]["reason"]
    assert processed_events() == N
