"""Delivery guarantees (issue 8): the transactional outbox, its relay after a crash, dead letters and replay.

Real RabbitMQ (this run's vhost) and the run's databases."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from kombu import Connection
from nameko.standalone.events import event_dispatcher
from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from services.common.config import database_url
from services.common.db import make_engine, migrate
from services.common.deadletter import DeadLetteringEventHandler, list_dead_letters, replay_dead_letters
from services.common.events import make_event
from services.common.identity import Actor, DepartmentKind
from services.common.outbox import Outbox
from services.registry import handlers as registry_handlers
from services.registry.models import Institution, OutboxRow, ProcessedEvent
from services.registry.service import RegistryService
from services.reporting.models import ProcessedEvent as ReportingProcessed
from services.reporting.service import ReportingService
from shuangjian.codes import make_uscc
from tests.service.support import call

EDUCATION = Actor(11, "user11", "测试用户", 3, DepartmentKind("education"), "", "340722", ("clerk",))


def registration(serial: int) -> dict:
    return {"name": f"枞阳县投递测试学校{serial}", "uscc": make_uscc(700 + serial),
            "licence_no": f"教民13407227000{serial:03d}号", "category": "学科类", "legal_form": "营利性",
            "township_code": "340722100", "address": "枞阳镇渡江路1号"}


@pytest.fixture
def registry_db():
    url = database_url("registry")
    migrate("registry", Path(registry_handlers.__file__).parent / "migrations", url)
    engine = make_engine(url)
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


def purge(amqp: str, *queues: str) -> None:
    with Connection(amqp) as conn:
        for name in queues:
            channel = conn.channel()
            try:
                channel.queue_purge(name)
            except Exception:
                pass
            finally:
                channel.close()


def wait_for(check, seconds: float = 15.0, every: float = 0.1):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def counts(sessions) -> tuple[int, int]:
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(Institution)),
                s.scalar(select(func.count()).select_from(OutboxRow)))


# -- (a) the change and its event commit together -----------------------------------------------


def test_a_use_case_commits_its_change_and_its_event_together(registry_db):
    with registry_db() as s:
        registry_handlers.register_institution(s, Outbox(s, OutboxRow, "registry"), EDUCATION, registration(1))
    assert counts(registry_db) == (1, 1)
    with registry_db() as s:
        row = s.scalar(select(OutboxRow))
        assert (row.exchange, row.event_type, row.published_at) == ("registry.events", "institution_registered", None)
        assert row.body["data"]["uscc"] == registration(1)["uscc"]


def test_when_the_commit_fails_neither_the_change_nor_its_event_is_left(registry_db):
    with registry_db() as s:  # a row the failing transaction will clash with at commit
        s.add(ProcessedEvent(event_id="clash", event_type="x", processed_at=datetime.now(timezone.utc)))
        s.commit()
    with registry_db() as s:
        outbox = Outbox(s, OutboxRow, "registry")

        def dispatch(event_type, event):  # the event goes in, then something else in the same commit fails
            outbox(event_type, event)
            s.add(ProcessedEvent(event_id="clash", event_type="x", processed_at=datetime.now(timezone.utc)))

        with pytest.raises(Exception):
            registry_handlers.register_institution(s, dispatch, EDUCATION, registration(2))
        s.rollback()
    assert counts(registry_db) == (0, 0)


# -- (b) a crash between the commit and the publish ------------------------------------------------


def test_rows_left_by_a_crash_are_published_after_restart_and_applied_once(registry_db, start_services, config,
                                                                          token):
    # the registry "crashed" right after its commit: the rows are in its outbox, nothing reached the bus
    with registry_db() as s:
        for serial in (3, 4):
            registry_handlers.register_institution(s, Outbox(s, OutboxRow, "registry"), EDUCATION,
                                                   registration(serial))
    assert counts(registry_db) == (2, 2)
    # a fresh start: the consumer first (its queues exist), then the registry, whose relay sweeps
    services = start_services(ReportingService)
    start_services(RegistryService)
    reporting = services["reporting"]
    assert wait_for(lambda: call(reporting, "get_institution_counts", token("education"))["institutions_total"] == 2)
    with registry_db() as s:
        assert wait_for(lambda: s.scalar(select(func.count()).select_from(OutboxRow)
                                         .where(OutboxRow.published_at.is_(None))) == 0 or s.rollback())
    # at least once: a relay that crashed after the broker's confirm but before marking publishes again
    with registry_db() as s:
        s.execute(update(OutboxRow).values(published_at=None))
        s.commit()
    with registry_db() as s:
        assert wait_for(lambda: (s.rollback() or s.scalar(select(func.count()).select_from(OutboxRow)
                                                           .where(OutboxRow.published_at.is_(None)))) == 0)
    time.sleep(1.0)  # the redelivered events reach the consumer
    assert call(reporting, "get_institution_counts", token("education"))["institutions_total"] == 2
    engine = make_engine(database_url("reporting"))
    try:
        with engine.connect() as conn:  # each event applied once
            assert conn.execute(select(func.count()).select_from(ReportingProcessed.__table__)).scalar() == 2
    finally:
        engine.dispose()


# -- (c) poison events, dead letters, replay ---------------------------------------------------------


def test_a_malformed_event_is_dead_lettered_with_its_reason_and_the_consumer_keeps_going(start_services, config,
                                                                                        token):
    amqp = config["AMQP_URI"]
    purge(amqp, "dlq.reporting")
    reporting = start_services(ReportingService)["reporting"]
    dispatch = event_dispatcher(config)
    dispatch("registry", "institution_registered", {"event_id": "poison-1", "type": "institution_registered"})
    good = make_event("registry", "institution_registered",
                      {"id": 77, "township_code": "340722100", "category": "academic", "status": "operating",
                       "name": "x"}, "340722100")
    dispatch("registry", "institution_registered", good)
    assert wait_for(lambda: call(reporting, "get_institution_counts", token("education"))["institutions_total"] == 1)
    [dead] = wait_for(lambda: list_dead_letters(amqp, ["dlq.reporting"]))
    assert dead["event_id"] == "poison-1" and dead["event_type"] == "institution_registered"
    assert "source" in dead["reason"] and dead["failed_service"] == "reporting" and dead["failed_at"]
    assert (dead["original_exchange"], dead["original_routing_key"]) == ("registry.events", "institution_registered")
    assert len(list_dead_letters(amqp, ["dlq.reporting"])) == 1  # browsing does not consume


class QuickRetries(DeadLetteringEventHandler):
    max_attempts = 2
    retry_pause = 0.05


DOWNSTREAM = {"broken": True, "applied": []}


class FlakyConsumer:
    """A consumer whose cause of failure an operator fixes (here: a flag) before replaying."""

    name = "flaky"

    @QuickRetries.decorator("registry", "institution_registered")
    def on_registered(self, event):
        if DOWNSTREAM["broken"]:
            raise RuntimeError("下游记录缺失")
        DOWNSTREAM["applied"].append(event["event_id"])


def test_a_repeatedly_failing_event_is_dead_lettered_then_replayed_once_fixed(container_factory, config):
    amqp = config["AMQP_URI"]
    purge(amqp, "dlq.flaky", "evt-registry-institution_registered--flaky.on_registered")
    DOWNSTREAM.update(broken=True, applied=[])
    container_factory(FlakyConsumer, config).start()
    event = make_event("registry", "institution_registered", {"id": 5}, "340722100")
    event_dispatcher(config)("registry", "institution_registered", event)
    [dead] = wait_for(lambda: list_dead_letters(amqp, ["dlq.flaky"]))
    assert dead["event_id"] == event["event_id"]
    assert dead["reason"].startswith("处理失败 2 次") and "下游记录缺失" in dead["reason"]
    assert DOWNSTREAM["applied"] == []
    DOWNSTREAM["broken"] = False  # the operator fixed the cause
    replayed = replay_dead_letters(amqp, "dlq.flaky", event_id=event["event_id"])
    assert [r["event_id"] for r in replayed if r.get("replayed")] == [event["event_id"]]
    assert wait_for(lambda: DOWNSTREAM["applied"]) == [event["event_id"]]
    assert list_dead_letters(amqp, ["dlq.flaky"]) == []


# -- RPC deadlines ---------------------------------------------------------------------------------

from nameko.rpc import rpc as _rpc  # noqa: E402

from services.common.rpc_timeouts import RpcTimedOut, TimedRpcProxy  # noqa: E402


class Slowpoke:
    name = "slowpoke"

    @_rpc
    def nap(self, seconds):
        import eventlet

        eventlet.sleep(seconds)
        return "awake"


class Caller:
    name = "caller"
    slowpoke = TimedRpcProxy("slowpoke", timeout=0.5)

    @_rpc
    def ask(self, seconds):
        return self.slowpoke.nap(seconds)


def test_an_rpc_not_answered_in_time_is_a_clear_timeout(container_factory, config):
    from services.gateway.api import status_for

    container_factory(Slowpoke, config).start()
    caller = container_factory(Caller, config)
    caller.start()
    assert call(caller, "ask", 0) == "awake"
    with pytest.raises(RpcTimedOut) as info:
        call(caller, "ask", 3)
    assert info.value.message == "后台服务（slowpoke）未在 0.5 秒内答复，请稍后再试"
    assert info.value.code == "service_timeout" and status_for(info.value) == 504
