"""Bus benchmarks, in one eventlet-patched process (like a nameko service): `python -m bench.bus`.

Parts (choose with positional names; default all):

* ``events`` — baseline: raw kombu publish, then consume+ack, of N event envelopes on a
  durable queue with persistent delivery. Measured: the same envelopes sent as
  ``institution_registered`` in nameko's wire format to the real ReportingService in a
  ServiceContainer; events/s until the reporting database holds every row (ratio vs raw kombu
  consume+ack).
* ``rpc`` — baseline: raw SQL, one transaction per registration writing the same two rows the
  registry writes (institution + status history) to scratch tables in the registry's own
  database, one connection. Measured: ``registry.register_institution`` through
  ``ClusterRpcProxy`` from C concurrent green threads, RegistryService in a container here.

Each baseline is measured in two halves, before and after its measured figure, so that a change
in the machine's load during the run hits both alike.

Reads SHUANGJIAN_AMQP_URI / SHUANGJIAN_DB_URL_TEMPLATE / SHUANGJIAN_VAR_DIR (bench.run sets them).
"""
from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import json
import time
from datetime import datetime, timezone

from eventlet.greenpool import GreenPool
from kombu import Connection, Consumer, Exchange, Producer, Queue
from nameko.constants import PERSISTENT
from nameko.containers import ServiceContainer
from nameko.standalone.events import get_event_exchange
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from services.common.config import amqp_uri, database_url, load_secrets
from services.common.db import make_engine
from services.common.events import make_event
from services.common.identity import Actor, ActorSigner, DepartmentKind
from services.common.workdays import today_shanghai
from services.registry.service import RegistryService
from services.reporting.service import ReportingService
from shuangjian.codes import make_uscc

from .result import Figure, Results, Tally, halves, parse_parts, progress, rate

TOWNSHIP = "340722100"
COUNTY = "340722"
MAX_WORKERS = 10
PREFETCH = MAX_WORKERS  # nameko's consumer prefetch is max_workers: the baseline consumes the same way
REPORTING_QUEUE = "evt-registry-institution_registered--reporting.on_institution_registered"
RAW_QUEUE = "bench.raw"
STALL_SECONDS = 30.0  # no progress for this long: the benchmark fails instead of hanging

PARTS = ("events", "rpc")
SIZES = {  # (full, --quick)
    "kombu": (20000, 3000),
    "events": (4000, 500),
    "sql": (2000, 300),
    "rpc": (2000, 300),
    "rpc_concurrency": (8, 8),
}

ACTOR = Actor(
    user_id=11,
    username="bench_clerk",
    display_name="压测经办人",
    department_id=3,
    department_kind=DepartmentKind.education,
    department_name="枞阳县教体局",
    division_code=COUNTY,
    roles=("clerk",),
)


def envelope(institution_id: int) -> dict:
    data = {
        "id": institution_id,
        "name": f"枞阳县压测培训学校{institution_id}",
        "township_code": TOWNSHIP,
        "category": "academic",
        "status": "operating",
    }
    # the registry sends the acting user along; keep it so the size is a real envelope's
    return make_event("registry", "institution_registered", data, TOWNSHIP, ACTOR.to_dict())


def nameko_config() -> dict:
    return {"AMQP_URI": amqp_uri(), "max_workers": MAX_WORKERS}


# --- events ----------------------------------------------------------------------------------
def kombu_round(n: int, publish: Tally, consume: Tally) -> int:
    """Raw kombu: publish n persistent JSON envelopes to a durable queue, then consume+ack them.
    Returns the message size in bytes."""
    bodies = [envelope(10_000_000 + i) for i in range(n)]
    size = len(json.dumps(bodies[0]).encode())
    exchange = Exchange(RAW_QUEUE, type="direct", durable=True, delivery_mode=PERSISTENT)
    queue = Queue(RAW_QUEUE, exchange, routing_key=RAW_QUEUE, durable=True)
    with Connection(amqp_uri()) as conn:
        channel = conn.channel()
        bound = queue(channel)
        bound.declare()
        bound.purge()
        producer = Producer(channel, exchange=exchange, serializer="json")
        t0 = time.perf_counter()
        for body in bodies:
            producer.publish(body, routing_key=RAW_QUEUE, delivery_mode=PERSISTENT, retry=False)
        publish.add(n, time.perf_counter() - t0)

        received = 0

        def on_message(body, message):
            nonlocal received
            message.ack()
            received += 1

        with Consumer(channel, queues=[bound], callbacks=[on_message], accept=["json"], prefetch_count=PREFETCH):
            t0 = time.perf_counter()
            while received < n:
                conn.drain_events(timeout=STALL_SECONDS)
            consume.add(n, time.perf_counter() - t0)
        bound.delete()
    progress(f"raw kombu round: {n} published at {publish.n / publish.seconds:,.0f}/s so far, "
             f"consumed at {consume.n / consume.seconds:,.0f}/s so far")
    return size


def _count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def wait_for_rows(engine, table: str, expected: int) -> float:
    """Poll until `table` holds `expected` rows; returns perf_counter() at that moment."""
    last, last_change = -1, time.monotonic()
    while True:
        count = _count(engine, table)
        now = time.perf_counter()
        if count >= expected:
            return now
        if count != last:
            last, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > STALL_SECONDS:
            raise RuntimeError(f"{table}: stuck at {count}/{expected} rows for {STALL_SECONDS:.0f}s")
        eventlet.sleep(0.05)


def reporting_events(n: int, baseline: str) -> Figure:
    """The real ReportingService applies `institution_registered` events: events/s to the DB."""
    config = nameko_config()
    container = ServiceContainer(ReportingService, config)
    container.start()  # migrations run here; returns once the event consumer is ready
    engine = make_engine(database_url("reporting"))
    exchange = get_event_exchange("registry", config)
    warmup = max(50, n // 20)
    try:
        with Connection(amqp_uri()) as conn:
            producer = Producer(conn.channel(), exchange=exchange, serializer="json")
            producer.declare()

            def publish(ids):
                for i in ids:
                    producer.publish(envelope(i), routing_key="institution_registered",
                                     delivery_mode=PERSISTENT, retry=False)

            before = _count(engine, "institution_facts")
            with engine.connect() as db:  # fresh ids also when run again on the same database
                first = db.execute(text("SELECT coalesce(max(institution_id), 0) FROM institution_facts")).scalar_one() + 1
            publish(range(first, first + warmup))
            wait_for_rows(engine, "institution_facts", before + warmup)
            bodies = range(first + warmup, first + warmup + n)
            t0 = time.perf_counter()
            publish(bodies)
            published = time.perf_counter() - t0
            done = wait_for_rows(engine, "institution_facts", before + warmup + n)
        figure = rate("reporting: institution_registered applied", n, done - t0, "events/s", baseline,
                      note=f"ServiceContainer max_workers {MAX_WORKERS}; publishing took {published:.2f}s of it")
        progress(f"{figure.name}: {figure.value:,.1f} {figure.unit} ({figure.n} in {figure.seconds:.2f}s)")
        return figure
    finally:
        container.stop()
        engine.dispose()
        with Connection(amqp_uri()) as conn:  # later parts publish registry events: don't pile them up
            Queue(REPORTING_QUEUE, channel=conn.channel()).delete()


# --- rpc -------------------------------------------------------------------------------------
def registration(serial: int) -> dict:
    return {
        "name": f"枞阳县压测培训学校{serial}",
        "uscc": make_uscc(serial),
        "licence_no": f"教民1340722{serial:08d}号",
        "category": "学科类",
        "legal_form": "营利性",
        "township_code": TOWNSHIP,
        "address": "枞阳镇渡江路1号",
    }


def scratch_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Same columns, keys and indexes as the registry's institutions / status history."""
    institutions = Table(
        "bench_institutions", metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(100), nullable=False),
        Column("uscc", String(18), nullable=False, unique=True),
        Column("licence_no", String(50), nullable=False),
        Column("licence_issued_on", Date),
        Column("category", String(20), nullable=False),
        Column("legal_form", String(20), nullable=False),
        Column("division_code", String(12), nullable=False, index=True),
        Column("address", String(200), nullable=False),
        Column("status", String(40), nullable=False),
        Column("verification", String(20), nullable=False),
        Column("verification_reason", Text),
        Column("verified_by", String(100)),
        Column("verified_at", DateTime(timezone=True)),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("created_by", String(100), nullable=False),
    )
    history = Table(
        "bench_status_history", metadata,
        Column("id", Integer, primary_key=True),
        Column("institution_id", Integer, ForeignKey("bench_institutions.id"), nullable=False, index=True),
        Column("status", String(40), nullable=False),
        Column("effective_on", Date, nullable=False),
        Column("reason", Text, nullable=False),
        Column("changed_by", String(100), nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    )
    return institutions, history


INSERT_INSTITUTION = text(
    "INSERT INTO bench_institutions (name, uscc, licence_no, category, legal_form, division_code, address,"
    " status, verification, created_at, created_by)"
    " VALUES (:name, :uscc, :licence_no, :category, :legal_form, :division_code, :address,"
    " 'operating', 'pending', :now, :who) RETURNING id"
)
INSERT_HISTORY = text(
    "INSERT INTO bench_status_history (institution_id, status, effective_on, reason, changed_by, recorded_at)"
    " VALUES (:id, 'operating', :day, '登记', :who, :now)"
)


def sql_round(n: int, tally: Tally) -> str:
    """Raw SQL: the registration's two rows, one transaction (commit) per registration, on one
    connection to the registry's database (in scratch tables). Returns the dialect's name."""
    engine = make_engine(database_url("registry"))
    metadata = MetaData()
    scratch_tables(metadata)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    who = "枞阳县教体局/压测经办人"
    try:
        with engine.connect() as conn:
            def insert(serial):
                data = registration(serial)
                now = datetime.now(timezone.utc)
                with conn.begin():
                    new_id = conn.execute(INSERT_INSTITUTION, {
                        "name": data["name"], "uscc": data["uscc"], "licence_no": data["licence_no"],
                        "category": "academic", "legal_form": "for_profit", "division_code": TOWNSHIP,
                        "address": data["address"], "now": now, "who": who,
                    }).scalar_one()
                    conn.execute(INSERT_HISTORY, {"id": new_id, "day": today_shanghai(now), "who": who, "now": now})

            for serial in range(900_000, 900_020):  # warm-up
                insert(serial)
            t0 = time.perf_counter()
            for serial in range(1, n + 1):
                insert(serial)
            tally.add(n, time.perf_counter() - t0)
        progress(f"raw SQL round: {n} registrations, {tally.n / tally.seconds:,.0f} txn/s so far")
        return engine.dialect.name
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def registry_rpc(n: int, concurrency: int, baseline: str) -> Figure:
    config = nameko_config()
    container = ServiceContainer(RegistryService, config)
    container.start()
    token = ActorSigner(load_secrets().actor_signing_key).sign(ACTOR)
    proxies = [ClusterRpcProxy({"AMQP_URI": config["AMQP_URI"]}, timeout=30) for _ in range(concurrency)]
    errors: list[str] = []
    try:
        clients = [p.start() for p in proxies]  # one proxy per green thread: a proxy is not shareable

        def run(serials):
            it = iter(serials)  # shared by the green threads; next() never yields

            def client(rpc):
                for serial in it:
                    try:
                        rpc.registry.register_institution(token, registration(serial))
                    except Exception as exc:  # counted, reported, fails the run
                        errors.append(f"{type(exc).__name__}: {exc}")

            pool = GreenPool(concurrency)
            for rpc in clients:
                pool.spawn(client, rpc)
            pool.waitall()

        engine = make_engine(database_url("registry"))
        try:  # unused serials (USCCs) also when run again on the same database
            first = _count(engine, "institutions") + 1
        finally:
            engine.dispose()
        warmup = max(20, concurrency * 4)
        run(range(first, first + warmup))  # warm-up: connections, pools, caches
        t0 = time.perf_counter()
        run(range(first + warmup, first + warmup + n))
        seconds = time.perf_counter() - t0
        if errors:
            raise RuntimeError(f"{len(errors)} register_institution calls failed, first: {errors[0][:600]}")
        figure = rate(f"registry.register_institution RPC ({concurrency} clients)", n, seconds, "calls/s",
                      baseline, note="a ClusterRpcProxy per green thread; clients and RegistryService in this process")
        progress(f"{figure.name}: {figure.value:,.1f} {figure.unit} ({figure.n} in {figure.seconds:.2f}s)")
        return figure
    finally:
        for p in proxies:
            try:
                p.stop()
            except Exception:
                pass
        container.stop()


def main(argv: list[str] | None = None) -> None:
    parts, size = parse_parts("python -m bench.bus", PARTS, SIZES, argv)
    results = Results("bus")
    if "events" in parts:
        # baseline in two halves, before and after the measured figure (see result.Tally)
        publish, consume = Tally(), Tally()
        first, second = halves(size["kombu"])
        msg_size = kombu_round(first, publish, consume)
        consume_name = "raw kombu consume+ack"
        measured = reporting_events(size["events"], consume_name)
        kombu_round(second, publish, consume)
        results.add(publish.figure(f"raw kombu publish ({msg_size} B JSON, persistent)", "msg/s"))
        results.add(consume.figure(consume_name, "msg/s", note=f"prefetch {PREFETCH}, ack per message"))
        results.add(measured)
    if "rpc" in parts:
        sql = Tally()
        first, second = halves(size["sql"])
        dialect = sql_round(first, sql)
        sql_name = "raw SQL registration insert (2 rows, 1 commit)"
        measured = registry_rpc(size["rpc"], size["rpc_concurrency"], sql_name)
        sql_round(second, sql)
        results.add(sql.figure(sql_name, "txn/s", note=f"{dialect}, one connection, sequential"))
        results.add(measured)
    results.emit()


if __name__ == "__main__":
    main()
