"""The bank feed: `python -m services.escrow.feed` — custodian banks' transactions into escrow.

Its own process: plain threads and kombu, neither nameko (eventlet) nor the Temporal worker
(asyncio). It shares the escrow service's database and waits until that service has migrated
it (docs/bank_feed.md, docs/decisions.md "Bank feed"). The threads (feed_consumer.py):

    consumer thread                               writer thread
    ───────────────                               ─────────────
    receive (prefetch) → decode message     ┌──▶  one DB transaction per group:
    group messages (≤ GROUP_ROWS rows)      │     COPY → INSERT … ON CONFLICT DO NOTHING
    check every transaction (rules)  ───────┘     → balances → feed_batches → COMMIT
    ◀── publish `bank_transactions_booked` (confirmed), dead-letter what was refused
        (confirmed), then ack — nothing is acked before its commit

While the writer books one group the consumer thread receives and checks the next, so the
Python work and PostgreSQL's overlap. A redelivered message books nothing twice: the unique
(bank_code, bank_tx_id) decides, and the balances grow only by the rows actually inserted.
"""
from __future__ import annotations

import argparse
import signal
import threading
import time
from dataclasses import asdict
from pathlib import Path

from services.common.config import amqp_uri, database_url
from services.common.logging import configure_logging, get_logger
from services.common import metrics

from .feed_consumer import SERVICE, FeedConsumer
from services.common.bank_feed_wire import DLQ_QUEUE, feed_queue

MIGRATIONS = Path(__file__).parent / "migrations"


# -- the process ---------------------------------------------------------------------------------


def schema_ready(url: str) -> bool:
    """The escrow service has migrated its database to the head this code knows."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect, text

    from services.common.db import make_engine

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("alembic_version_escrow"):
            return False
        with engine.connect() as conn:
            current = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version_escrow"))}
        return current == heads
    except Exception:
        return False
    finally:
        engine.dispose()


def wait_for_schema(url: str, stop: threading.Event, log) -> bool:
    waited = 0.0
    while not stop.is_set():
        if schema_ready(url):
            return True
        if waited % 10 < 0.5:
            log.info("feed_waiting_for_escrow_migrations", waited_s=round(waited))
        stop.wait(0.5)
        waited += 0.5
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.escrow.feed", description="银行流水接收（资金监管）")
    parser.add_argument("--migrate", action="store_true",
                        help="apply the escrow migrations itself instead of waiting for the escrow service")
    args = parser.parse_args(argv)
    configure_logging(SERVICE)
    log = get_logger(component="escrow_feed")
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("feed_stopping", signal=signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # /metrics from the start: the probes (docs/operations.md) answer while the feed waits for escrow
    metrics.serve()
    queues = metrics.queue_depths(amqp_uri(), SERVICE, [feed_queue().name, DLQ_QUEUE])
    metrics.SCRAPED.add(queues)
    url = database_url("escrow")
    if args.migrate:
        from services.common.db import migrate

        migrate("escrow", MIGRATIONS, url)
    if not wait_for_schema(url, stop, log):
        return 0
    from .feed_rpc import FeedRpcServer

    consumer = FeedConsumer(amqp_uri(), url)
    rpc = FeedRpcServer(consumer, amqp_uri(), url, queues)
    consumer.start()
    rpc.start()
    last = time.monotonic()
    code = 0
    while not stop.wait(1.0):
        if not consumer.is_alive():
            log.error("feed_consumer_died")
            code = 1
            break
        if time.monotonic() - last >= 60:
            log.info("feed_heartbeat", ready=consumer.ready.is_set(), **asdict(consumer.stats))
            last = time.monotonic()
    rpc.stop()
    consumer.stop()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
