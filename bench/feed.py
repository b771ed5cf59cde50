"""Bank feed benchmarks, in one plain process (threads, like the feed): `python -m bench.feed`.

Parts (choose with positional names; default both):

* ``feed`` — baseline: raw kombu publish, then consume+ack, of the very messages the feed gets
  (batches of BATCH_ROWS transactions, persistent, durable queue, the feed's prefetch).
  Measured: the real `services.escrow.feed_consumer.FeedConsumer` (consumer + writer threads, every
  rule, COPY → INSERT … ON CONFLICT → balances → feed_batches → commit, the
  `bank_transactions_booked` event published with confirms, ack) on the same messages
  pre-loaded in `escrow.bank_feed`; transactions/s until the last message is settled.
* ``statement`` — baseline: PostgreSQL COPY of the statement file itself (CSV, header) into a
  scratch table with typed columns. Measured: `shuangjian escrow import-statement FILE.csv`
  run as a subprocess against a real gateway (`nameko run`) and a real feed process
  (`python -m services.escrow.feed`) started here: read and check the file, upload in chunks,
  gateway publishes each chunk, the feed books it, the CLI polls until every chunk is booked.

Both need PostgreSQL (bench.run gives this run its own databases); on SQLite the parts report
that they were skipped. Reads SHUANGJIAN_AMQP_URI / SHUANGJIAN_DB_URL_TEMPLATE / SHUANGJIAN_VAR_DIR.
"""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from kombu import Connection, Consumer, Exchange, Producer, Queue
from sqlalchemy import insert, text

from services.common.config import amqp_uri, database_url, project_root
from services.common.db import make_engine, migrate
from services.common.logging import configure_logging
from services.escrow.feed import MIGRATIONS
from services.escrow.feed_consumer import PREFETCH, FeedConsumer
from services.common.bank_feed_wire import (
    BOOKED_EVENT,
    FEED_ROUTING_KEY,
    PERSISTENT,
    declare_topology,
    encode_batch,
    events_exchange,
    feed_exchange,
)
from services.escrow.models import EscrowAccount

from .result import Figure, Results, Tally, halves, parse_parts, progress, rate

PARTS = ("feed", "statement")
SIZES = {  # (full, --quick)
    "messages": (400, 60),  # feed part: messages of BATCH_ROWS transactions each
    "statement_rows": (1_000_000, 100_000),
}
BATCH_ROWS = 500
ACCOUNTS = 200
BANK = "BENCHBANK"
TOWNSHIP = "340722100"
RAW_QUEUE = "bench.feed.raw"
EVENTS_QUEUE = "bench.feed.events"
STALL_SECONDS = 60.0
CST = timezone(timedelta(hours=8))
KINDS = ("receipt", "receipt", "receipt", "receipt", "receipt", "receipt", "release", "release", "release", "refund")


def account_no(i: int) -> str:
    return f"6217{i:012d}"


def ensure_accounts(engine) -> None:
    with engine.begin() as conn:
        present = conn.execute(text("SELECT count(*) FROM escrow_accounts WHERE bank_code = :b"), {"b": BANK}).scalar()
        if present:
            return
        now = datetime.now(timezone.utc)
        conn.execute(insert(EscrowAccount), [dict(
            institution_id=1000 + i, division_code=TOWNSHIP, mode="custody", bank_name="压测银行", bank_code=BANK,
            account_no=account_no(i), status="open", opened_on=date(2021, 9, 1), version=1, updated_at=now,
            updated_by="bench") for i in range(ACCOUNTS)])


def setup_database():
    url = database_url("escrow")
    migrate("escrow", MIGRATIONS, url)
    engine = make_engine(url)
    ensure_accounts(engine)
    return url, engine


def batch_bodies(run: str, messages: int) -> tuple[list[bytes], int]:
    """Realistic batches: 60 % receipts naming a contract, 30 % releases, 10 % refunds, amounts
    in whole fen, times over the last days with +08:00. Returns the bodies and the expected
    balance change (receipts − releases − refunds)."""
    rnd = random.Random(7)
    base = datetime.now(CST).replace(microsecond=0) - timedelta(days=3)
    bodies, balance = [], 0
    for m in range(messages):
        txs = []
        for k in range(BATCH_ROWS):
            kind = KINDS[rnd.randrange(10)]
            amount = rnd.randrange(100, 500_000)
            balance += amount if kind == "receipt" else -amount
            tx = {"bank_tx_id": f"{run}-{m:05d}-{k:04d}", "account_no": account_no(rnd.randrange(ACCOUNTS)),
                  "kind": kind, "amount_fen": amount,
                  "occurred_at": (base + timedelta(seconds=m * BATCH_ROWS + k)).isoformat()}
            if kind == "receipt":
                tx["contract_no"] = f"HT{run}{m:05d}{k:04d}"
            txs.append(tx)
        bodies.append(encode_batch({"batch_id": f"bench-{run}-{m:05d}", "bank_code": BANK, "transactions": txs}))
    return bodies, balance


# --- feed ------------------------------------------------------------------------------------
def kombu_round(bodies: list[bytes], publish: Tally, consume: Tally) -> None:
    exchange = Exchange(RAW_QUEUE, type="direct", durable=True, delivery_mode=PERSISTENT)
    queue = Queue(RAW_QUEUE, exchange, routing_key=RAW_QUEUE, durable=True)
    n = len(bodies)
    with Connection(amqp_uri()) as conn:
        channel = conn.channel()
        bound = queue(channel)
        bound.declare()
        bound.purge()
        producer = Producer(channel, exchange=exchange)
        t0 = time.perf_counter()
        for body in bodies:
            producer.publish(body, routing_key=RAW_QUEUE, content_type="application/json", content_encoding="utf-8",
                             delivery_mode=PERSISTENT, retry=False)
        publish.add(n * BATCH_ROWS, time.perf_counter() - t0)
        received = 0

        def on_message(message):
            nonlocal received
            message.ack()
            received += 1

        with Consumer(channel, queues=[bound], on_message=on_message, prefetch_count=PREFETCH):
            t0 = time.perf_counter()
            while received < n:
                conn.drain_events(timeout=STALL_SECONDS)
            consume.add(n * BATCH_ROWS, time.perf_counter() - t0)
        bound.delete()
    progress(f"raw kombu round: {n} messages; publish {publish.n / publish.seconds:,.0f} tx/s, "
             f"consume+ack {consume.n / consume.seconds:,.0f} tx/s so far")


def feed_figure(bodies: list[bytes], balance: int, engine, baseline: str) -> Figure:
    n = len(bodies)
    with engine.connect() as conn:
        rows_before = conn.execute(text("SELECT count(*) FROM bank_transactions")).scalar()
        balance_before = conn.execute(text("SELECT coalesce(sum(balance_fen), 0) FROM account_balances")).scalar()
    events = Queue(EVENTS_QUEUE, events_exchange(), routing_key=BOOKED_EVENT, durable=True)
    with Connection(amqp_uri()) as conn:  # pre-load the feed's queue (the banks have sent their batches)
        channel = conn.channel()
        declare_topology(channel)
        events(channel).declare()
        events(channel).purge()
        producer = Producer(channel, exchange=feed_exchange())
        for body in bodies:
            producer.publish(body, routing_key=FEED_ROUTING_KEY, content_type="application/json",
                             content_encoding="utf-8", delivery_mode=PERSISTENT, retry=False)
    consumer = FeedConsumer(amqp_uri(), database_url("escrow"))
    t0 = time.perf_counter()
    consumer.start()
    last, last_change = -1, time.monotonic()
    while consumer.stats.messages < n:
        if consumer.stats.messages != last:
            last, last_change = consumer.stats.messages, time.monotonic()
        elif time.monotonic() - last_change > STALL_SECONDS:
            raise RuntimeError(f"feed stuck at {last}/{n} messages")
        time.sleep(0.01)
    seconds = time.perf_counter() - t0
    stats = consumer.stats
    consumer.stop()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM bank_transactions")).scalar() - rows_before
        booked_balance = conn.execute(text("SELECT coalesce(sum(balance_fen), 0) FROM account_balances")).scalar()
    with Connection(amqp_uri()) as conn:
        _, event_count, _ = conn.default_channel.queue_declare(queue=EVENTS_QUEUE, passive=True)
        Queue(EVENTS_QUEUE, channel=conn.default_channel).delete()
    if rows != n * BATCH_ROWS or booked_balance - balance_before != balance or stats.rejected_rows:
        raise RuntimeError(f"feed booked {rows} of {n * BATCH_ROWS} rows, balance change "
                           f"{booked_balance - balance_before} instead of {balance}, {stats.rejected_rows} rejected")
    figure = rate(f"bank feed: AMQP → PostgreSQL, every rule ({BATCH_ROWS}-tx batches)", n * BATCH_ROWS, seconds,
                  "tx/s", baseline,
                  note=f"{n} messages in {stats.groups} DB transactions; {event_count} bank_transactions_booked "
                       f"events; balances checked")
    progress(f"{figure.name}: {figure.value:,.0f} {figure.unit} ({figure.n} in {figure.seconds:.2f}s)")
    return figure


# --- statement -------------------------------------------------------------------------------
def write_statement(path: Path, run: str, rows: int) -> None:
    kinds = ("收款", "收款", "收款", "收款", "收款", "收款", "划转", "划转", "划转", "退款")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("银行代码,交易流水号,监管账号,交易类型,金额（元）,交易时间,合同编号\n")
        lines = []
        for i in range(rows):
            kind = kinds[i % 10]
            contract = f"HT{run}S{i:09d}" if kind == "收款" else ""
            lines.append(f"{BANK},{run}S{i:09d},{account_no(i % ACCOUNTS)},{kind},{100 + i % 90_000}.{i % 100:02d},"
                         f"2021-11-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d},{contract}\n")
            if len(lines) >= 100_000:
                fh.writelines(lines)
                lines.clear()
        fh.writelines(lines)


COPY_TABLE = """CREATE TABLE bench_statement_copy (bank_code text, bank_tx_id text, account_no text, kind text,
    amount numeric(16, 2), occurred_at timestamptz, contract_no text)"""


def copy_round(path: Path, rows: int, tally: Tally) -> None:
    import psycopg2
    from sqlalchemy.engine import make_url

    dsn = make_url(database_url("escrow")).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_statement_copy")
            cur.execute(COPY_TABLE)
            cur.execute("SET TIME ZONE 'Asia/Shanghai'")
            conn.commit()
            t0 = time.perf_counter()
            with open(path, "rb") as fh:
                cur.copy_expert("COPY bench_statement_copy FROM STDIN WITH (FORMAT csv, HEADER true)", fh,
                                size=1 << 20)
            conn.commit()
            tally.add(rows, time.perf_counter() - t0)
            cur.execute("SELECT count(*) FROM bench_statement_copy")
            copied = cur.fetchone()[0]
            cur.execute("DROP TABLE bench_statement_copy")
            conn.commit()
        if copied != rows:
            raise RuntimeError(f"COPY loaded {copied} of {rows} rows")
    finally:
        conn.close()
    progress(f"PostgreSQL COPY round: {rows:,} rows, {tally.seconds / max(tally.n / rows, 1):.2f}s per copy so far")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=project_root(), env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def wait_for_feed_health(url: str, procs: list, seconds: float = 90) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args} exited with {p.returncode}")
        try:
            report = requests.get(url + "/health", timeout=5).json()
            if report["components"].get("escrow_feed") == "ok":
                return
        except Exception:
            pass
        time.sleep(0.5)
    raise RuntimeError("gateway or feed did not come up")


def statement_figure(path: Path, rows: int, baseline: str, logs: Path) -> Figure:
    port = free_port()
    env = dict(os.environ, SHUANGJIAN_GATEWAY_ADDRESS=f"127.0.0.1:{port}",
               SHUANGJIAN_GATEWAY_URL=f"http://127.0.0.1:{port}", PYTHONUNBUFFERED="1")
    py = sys.executable
    nameko = str(Path(py).parent / "nameko")
    config = str(project_root() / "deploy" / "nameko.yaml")
    gateway = start([nameko, "run", "services.gateway.service", "--config", config], env, logs / "gateway.log")
    feed = start([py, "-m", "services.escrow.feed"], env, logs / "escrow_feed.log")
    try:
        wait_for_feed_health(env["SHUANGJIAN_GATEWAY_URL"], [gateway, feed])
        progress(f"gateway and feed up; importing {rows:,} rows")
        t0 = time.perf_counter()
        done = subprocess.run([py, "-m", "shuangjian.cli", "escrow", "import-statement", str(path), "--no-progress"],
                              cwd=project_root(), env=env, capture_output=True, text=True, timeout=900)
        seconds = time.perf_counter() - t0
    finally:
        stop(gateway)
        stop(feed)
    if done.returncode != 0 or f"入账 {rows} 笔" not in done.stdout:
        raise RuntimeError(f"import-statement exit {done.returncode}: {done.stdout[-500:]} {done.stderr[-1500:]}")
    figure = Figure(f"statement import {rows:,} rows (CLI → gateway → AMQP → feed → PostgreSQL)", seconds, "s",
                    rows, seconds, baseline,
                    note=f"`shuangjian escrow import-statement` as a subprocess, wall clock; {rows / seconds:,.0f} rows/s")
    progress(f"{figure.name}: {seconds:.1f}s")
    return figure


def main(argv: list[str] | None = None) -> None:
    parts, size = parse_parts("python -m bench.feed", PARTS, SIZES, argv)
    configure_logging("bench.feed", "WARNING")  # the feed's per-batch lines would cost and clutter
    results = Results("feed")
    if not database_url("escrow").startswith("postgresql"):
        results.notes.append("bank feed benchmarks skipped: they measure PostgreSQL (not reachable in this run)")
        results.emit()
        return
    run = time.strftime("%H%M%S")
    url, engine = setup_database()
    try:
        if "feed" in parts:
            bodies, balance = batch_bodies(run, size["messages"])
            progress(f"{len(bodies)} messages of {BATCH_ROWS} transactions, {len(bodies[0]) / 1024:.0f} KB each")
            publish, consume = Tally(), Tally()
            first, second = halves(len(bodies))
            kombu_round(bodies[:first], publish, consume)
            consume_name = "raw kombu consume+ack (same messages)"
            measured = feed_figure(bodies, balance, engine, consume_name)
            kombu_round(bodies[first:], publish, consume)
            kb = len(bodies[0]) / 1024
            results.add(publish.figure(f"raw kombu publish ({BATCH_ROWS}-tx messages, {kb:.0f} KB, persistent)", "tx/s",
                                       note=f"{publish.n / publish.seconds / BATCH_ROWS:,.0f} msg/s"))
            results.add(consume.figure(consume_name, "tx/s", note=f"prefetch {PREFETCH}, ack per message; "
                                       f"{consume.n / consume.seconds / BATCH_ROWS:,.0f} msg/s"))
            results.add(measured)
        if "statement" in parts:
            rows = size["statement_rows"]
            with tempfile.TemporaryDirectory(prefix="sj-bench-statement-") as tmp:
                path = Path(tmp) / "statement.csv"
                t0 = time.perf_counter()
                write_statement(path, run, rows)
                progress(f"statement file: {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB "
                         f"(written in {time.perf_counter() - t0:.1f}s)")
                copies = Tally()
                copy_round(path, rows, copies)
                copy_name = f"PostgreSQL COPY of the same {rows:,} rows"
                measured = statement_figure(path, rows, copy_name, Path(tmp))
                copy_round(path, rows, copies)
                mean = copies.seconds / 2
                results.add(Figure(copy_name, mean, "s", rows, mean, note="COPY … (FORMAT csv) into a scratch table "
                                   "with typed columns, no indexes; mean of one copy before and one after"))
                results.add(measured)
    finally:
        engine.dispose()
    results.emit()


if __name__ == "__main__":
    main()
