"""FeedConsumer: the bank feed's consumer and writer threads (how they work: feed.py)."""
from __future__ import annotations

import queue
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from kombu import Connection, Consumer, Producer

from services.common.config import amqp_uri, database_url, deployment, load_secrets
from services.common.divisions import scope_prefix
from services.common.events import make_event
from services.common.identity import ActorSigner
from services.common.logging import get_logger
from services.common import metrics
from services.common.policy import authorize

from .feed_relay import feed_relay
from .feed_rules import Batch, MalformedBatch, check_transactions, common_division, decode_batch
from .feed_store import Booked, Malformed, open_store
from services.common.bank_feed_wire import (
    BOOKED_EVENT,
    DLQ_ROUTING_KEY,
    FEED_EXCHANGE,
    FEED_ROUTING_KEY,
    PERSISTENT,
    declare_topology,
    dlq_exchange,
    events_exchange,
    feed_queue,
)

SERVICE = "escrow_feed"
METRIC_EVENT = "bank_feed_batch"  # the `event_type` label of messages_consumed_total here
PREFETCH = 64  # messages the broker may send ahead
GROUP_ROWS = 10_000  # transactions per database transaction (several messages)
GROUP_WAIT = 0.05  # seconds a partial group waits for more messages while more keep arriving
MAX_IN_FLIGHT = 2  # groups handed to the writer and not yet settled
STOP_GRACE = 20.0
IMPORT_ACTION = "escrow.import_statement"

try:  # psycopg2 is what the PostgreSQL store uses; SQLAlchemy wraps the SQLite driver's errors
    from psycopg2 import InterfaceError as _PgInterfaceError
    from psycopg2 import OperationalError as _PgOperationalError
except ImportError:  # pragma: no cover
    _PgInterfaceError = _PgOperationalError = ()
from sqlalchemy.exc import InterfaceError as _SaInterfaceError
from sqlalchemy.exc import OperationalError as _SaOperationalError

TRANSIENT = tuple(e for e in (_PgOperationalError, _PgInterfaceError, _SaOperationalError, _SaInterfaceError) if e)


@dataclass
class FeedStats:
    messages: int = 0  # settled (acked) messages
    batches: int = 0  # of them, batches checked and recorded
    booked: int = 0  # transactions inserted
    duplicates: int = 0  # valid transactions already booked
    rejected_rows: int = 0
    dead_lettered: int = 0  # messages sent to the dead-letter queue
    groups: int = 0  # database transactions
    last_settled_at: str | None = None


@dataclass
class Failure:
    """A batch the database refused for a reason retrying will not cure."""

    reason: str


class FeedConsumer(threading.Thread):
    """Consumes `escrow.bank_feed`; books through a writer thread; publishes and acks."""

    def __init__(self, amqp: str | None = None, db_url: str | None = None, *, prefetch: int = PREFETCH,
                 group_rows: int = GROUP_ROWS, group_wait: float = GROUP_WAIT, signer: ActorSigner | None = None,
                 stop_grace: float = STOP_GRACE):
        super().__init__(name="escrow_feed.consumer", daemon=True)
        self.amqp_uri = amqp or amqp_uri()
        self.db_url = db_url or database_url("escrow")
        self.prefetch = prefetch
        self.group_rows = group_rows
        self.group_wait = group_wait
        self.stop_grace = stop_grace
        self.signer = signer or ActorSigner(load_secrets().actor_signing_key)
        self.store = open_store(self.db_url)
        self.store.events_for = self._booked_event  # `bank_transactions_booked` into the outbox, in the booking's commit
        self.relay = feed_relay(self.amqp_uri, self.store)
        self.stats = FeedStats()
        self.ready = threading.Event()  # set while consuming
        self.log = get_logger(component="escrow_feed")
        self._stopping = threading.Event()
        self._work: queue.Queue = queue.Queue()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="escrow_feed.writer", daemon=True)
        self._generation = 0
        self._accounts: dict = {}
        self._fingerprint = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._writer.start()
        self._relay_thread = threading.Thread(target=self.relay.run, name="escrow_feed.outbox_relay", daemon=True)
        self._relay_thread.start()
        super().start()

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout if timeout is not None else self.stop_grace + 5)
        self._work.put(None)
        self._writer.join(5)
        self.relay.stop()
        self._relay_thread.join(10)
        self.store.close()

    def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                self._consume()
                backoff = 0.5
            except Exception as exc:  # broker lost or refused: unacked messages come back
                self.ready.clear()
                if self._stopping.is_set():
                    break
                self.log.warning("feed_reconnecting", error=type(exc).__name__, detail=str(exc)[:300],
                                 retry_in=backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 15.0)
        self.ready.clear()
        self.log.info("feed_stopped", **asdict(self.stats))

    # -- the consumer thread -------------------------------------------------------------------------
    def _consume(self) -> None:
        with Connection(self.amqp_uri, heartbeat=30, connect_timeout=5) as conn, \
                Connection(self.amqp_uri, connect_timeout=5, transport_options={"confirm_publish": True}) as pub:
            conn.connect()
            pub.connect()
            self._generation += 1
            generation = self._generation
            channel = conn.channel()
            declare_topology(channel)
            out = pub.channel()
            events = Producer(out, exchange=events_exchange())
            dead = Producer(out, exchange=dlq_exchange())
            pending: list[tuple] = []  # (message, Batch | Malformed)
            state = {"rows": 0, "first": 0.0, "in_flight": 0}

            def on_message(message):
                entry = self._decode(message)
                if not pending:
                    state["first"] = time.monotonic()
                pending.append((message, entry))
                state["rows"] += entry.rows if isinstance(entry, Batch) else 1

            consumer = Consumer(channel, queues=[feed_queue()], on_message=on_message, prefetch_count=self.prefetch)
            last_beat = time.monotonic()
            with consumer:
                self.ready.set()
                self.log.info("feed_ready", queue=feed_queue().name, prefetch=self.prefetch, store=type(self.store).__name__)
                while not self._stopping.is_set():
                    idle = False
                    try:
                        conn.drain_events(timeout=0.002 if pending else 0.05)
                    except socket.timeout:
                        idle = True
                    now = time.monotonic()
                    if now - last_beat > 1:
                        conn.heartbeat_check()
                        last_beat = now
                    state["in_flight"] -= self._settle(generation, events, dead)
                    if pending and state["in_flight"] < MAX_IN_FLIGHT and (
                            idle or state["rows"] >= self.group_rows or now - state["first"] >= self.group_wait):
                        group = self._cut(pending, state)
                        entries = self._check([e for _, e in group])
                        self._work.put((generation, [m for m, _ in group], entries))
                        state["in_flight"] += 1
            # stopping: let what the writer holds settle (acks), then close; the rest is redelivered
            until = time.monotonic() + self.stop_grace
            while state["in_flight"] > 0 and time.monotonic() < until:
                state["in_flight"] -= self._settle(generation, events, dead, wait=0.1)

    def _decode(self, message) -> Batch | Malformed:
        try:
            return decode_batch(message.body, self._verify_actor)
        except MalformedBatch as error:
            return Malformed(error)
        except Exception as exc:  # a bug must not make a message loop forever: dead-letter it
            self.log.exception("feed_decode_failed")
            return Malformed(MalformedBatch(f"无法处理的消息：{type(exc).__name__}: {str(exc)[:300]}"))

    def _verify_actor(self, token):
        actor = self.signer.verify(token)
        authorize(actor, IMPORT_ACTION)
        return actor

    def _cut(self, pending: list, state: dict) -> list:
        """The next group: up to group_rows rows, never the same batch id twice."""
        group, ids, rows = [], set(), 0
        while pending:
            message, entry = pending[0]
            batch_id = entry.batch_id if isinstance(entry, Batch) else entry.error.batch_id
            size = entry.rows if isinstance(entry, Batch) else 1
            if group and (batch_id in ids or rows + size > self.group_rows):
                break
            pending.pop(0)
            group.append((message, entry))
            rows += size
            if batch_id:
                ids.add(batch_id)
        state["rows"] -= rows
        if pending:
            state["first"] = time.monotonic()
        return group

    def _check(self, entries: list) -> list:
        """Every transaction rule, against the current account directory."""
        if any(isinstance(e, Batch) for e in entries):
            self._refresh_accounts()
        now = datetime.now(timezone.utc)
        for i, e in enumerate(entries):
            if isinstance(e, Batch):
                try:
                    scope = scope_prefix(e.actor.division_code) if e.actor is not None else None
                    check_transactions(e, self._accounts, now, scope)
                except Exception as exc:  # as in _decode: never a redelivery loop
                    self.log.exception("feed_check_failed", batch_id=e.batch_id)
                    entries[i] = Malformed(MalformedBatch(f"无法处理的批次：{type(exc).__name__}: {str(exc)[:300]}",
                                                          batch_id=e.batch_id, rows=e.rows), e.source)
        return entries

    def _refresh_accounts(self) -> None:
        fingerprint = self.store.accounts_fingerprint()
        if fingerprint != self._fingerprint:
            self._accounts = self.store.load_accounts()
            self._fingerprint = fingerprint

    def _settle(self, generation: int, events: Producer, dead: Producer, wait: float = 0) -> int:
        """Publish and ack what the writer has committed; returns how many groups were settled."""
        settled = 0
        while True:
            try:
                item = self._done.get(timeout=wait) if wait else self._done.get_nowait()
            except queue.Empty:
                return settled
            wait = 0
            done_generation, messages, entries, results = item
            if done_generation != generation:
                continue  # its channel is gone; the broker redelivers those messages
            settled += 1
            if results is None:  # not booked: leave the messages to the broker, which redelivers them
                if self._stopping.is_set():
                    continue
                raise RuntimeError("group not booked; reconnecting so the broker redelivers it")
            for message, entry, result in zip(messages, entries, results):
                self._settle_one(message, entry, result, events, dead)
            self.stats.groups += 1
            self.stats.last_settled_at = datetime.now(timezone.utc).isoformat()

    def _settle_one(self, message, entry, result, events: Producer, dead: Producer) -> None:
        stats = self.stats
        cid = (message.headers or {}).get("nameko.correlation_id")  # the upload's, from the gateway
        if isinstance(entry, Malformed):
            self._dead_letter_message(dead, message, entry.error.reason, "malformed_message", entry.error.field,
                                      entry.error.batch_id)
            self.log.warning("feed_message_dead_lettered", reason=entry.error.reason, field=entry.error.field,
                             batch_id=entry.error.batch_id, correlation_id=cid)
        elif isinstance(result, Failure):
            self._dead_letter_message(dead, message, result.reason, "booking_failed", None, entry.batch_id)
            self.log.error("feed_batch_failed", batch_id=entry.batch_id, reason=result.reason, correlation_id=cid)
        else:
            stats.batches += 1
            stats.booked += result.new
            stats.duplicates += len(entry.valid) - result.new
            stats.rejected_rows += result.rejected
            if result.new:  # its event is in the outbox, committed with the booking: the relay sends it
                self.relay.wake()  # messages_published_total: counted by the relay once published
            if entry.rejected:
                self._dead_letter_rows(dead, entry)
            self.log.info("feed_batch_booked", batch_id=entry.batch_id, source=entry.source, rows=entry.rows,
                          new=result.new, booked=result.booked, duplicates=result.duplicates,
                          rejected=result.rejected, status=result.status,
                          redelivered=bool(message.delivery_info.get("redelivered")), correlation_id=cid)
        message.ack()
        stats.messages += 1
        metrics.count_consumed(SERVICE, METRIC_EVENT, failed=isinstance(entry, Malformed) or isinstance(result, Failure))

    def _booked_event(self, batch: Batch, result: Booked) -> tuple[str, dict, dict]:
        """The `bank_transactions_booked` event of a booking (called by the store before its commit)."""
        institutions = []
        for institution_id, (receipts, releases, refunds) in sorted(result.by_institution.items()):
            account = self._accounts.get(result.accounts.get(institution_id))
            institutions.append({
                "institution_id": institution_id,
                "township_code": account.division_code if account else None,
                "receipts_fen": receipts, "releases_fen": releases, "refunds_fen": refunds,
                "balance_fen": result.balances.get(institution_id, 0),
            })
        data = {"batch_id": batch.batch_id, "bank_code": batch.bank_code, "source": batch.source,
                "booked": result.new, "institutions": institutions, "contract_nos": result.contract_nos}
        division = common_division(i["township_code"] for i in institutions if i["township_code"])
        actor = batch.actor.to_dict() if batch.actor is not None else None
        event = make_event("escrow", BOOKED_EVENT, data, division or deployment().root_code, actor)
        return BOOKED_EVENT, event, {"nameko.correlation_id": uuid.uuid4().hex}

    def _dead_letter_rows(self, dead: Producer, batch: Batch) -> None:
        by_index: dict[int, list] = {}
        for r in batch.rejected:
            by_index.setdefault(r.index, []).append(r)
        rows = []
        for index, problems in sorted(by_index.items()):
            rows.append({
                "index": index, "row": problems[0].row,
                "errors": [{"field": p.field, "reason": p.reason} for p in problems],
                "transaction": batch.transactions[index],
            })
        body = {"batch_id": batch.batch_id, "bank_code": batch.bank_code, "source": batch.source,
                "rejected": rows}
        headers = {"reason": f"{len(rows)} 笔交易被拒收", "error": "rows_rejected", "batch_id": batch.batch_id,
                   "bank_code": batch.bank_code, "rejected_rows": len(rows),
                   # the rows, not a batch: nothing to replay (the bank sends corrected rows again)
                   "x-death-reason": f"{len(rows)} 笔交易被拒收", "x-failed-service": SERVICE,
                   "x-failed-at": datetime.now(timezone.utc).isoformat()}
        dead.publish(body, routing_key=DLQ_ROUTING_KEY, serializer="json", delivery_mode=PERSISTENT,
                     headers=headers, retry=False)
        self.stats.dead_lettered += 1
        metrics.MESSAGES_DEAD_LETTERED.labels(SERVICE, "rows_rejected").inc()

    def _dead_letter_message(self, dead: Producer, message, reason: str, error: str, field: str | None,
                             batch_id: str | None) -> None:
        headers = {"reason": reason, "error": error,
                   # for `shuangjian dlq replay`: back onto the feed once the cause is fixed
                   "x-death-reason": reason, "x-original-exchange": FEED_EXCHANGE,
                   "x-original-routing-key": FEED_ROUTING_KEY, "x-failed-service": SERVICE,
                   "x-failed-at": datetime.now(timezone.utc).isoformat()}
        if field:
            headers["field"] = field
        if batch_id:
            headers["batch_id"] = batch_id
        dead.publish(message.body, routing_key=DLQ_ROUTING_KEY, delivery_mode=PERSISTENT, headers=headers,
                     content_type=message.content_type or "application/octet-stream",
                     content_encoding=message.content_encoding or "binary", retry=False)
        self.stats.dead_lettered += 1
        metrics.MESSAGES_DEAD_LETTERED.labels(SERVICE, error).inc()

    # -- the writer thread -----------------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            generation, messages, entries = item
            try:
                results = self._book(entries)
            except BaseException:  # keep the writer alive; the messages stay unacked until reconnect
                self.log.exception("feed_writer_failed")
                results = None
            self._done.put((generation, messages, entries, results))

    def _book(self, entries: list):
        backoff = 0.5
        while True:
            try:
                return self.store.book(entries)
            except TRANSIENT as exc:  # the database is away: keep the messages, try again
                self.store.reset()
                self.log.warning("feed_database_unavailable", error=type(exc).__name__, detail=str(exc)[:300],
                                 retry_in=backoff)
                if self._stopping.wait(backoff):
                    return None
                backoff = min(backoff * 2, 15.0)
            except Exception as exc:
                if len(entries) == 1:
                    reason = f"入账失败：{type(exc).__name__}: {str(exc)[:500]}"
                    self.log.exception("feed_booking_failed", batch_id=getattr(entries[0], "batch_id", None))
                    return [Failure(reason)]
                results = []  # find the batch the database refuses; book the others
                for entry in entries:
                    one = self._book([entry])
                    if one is None:
                        return None
                    results.extend(one)
                return results
