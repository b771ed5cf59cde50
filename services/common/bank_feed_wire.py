"""The bank feed on the wire: exchanges, queues and the batch message (docs/bank_feed.md).

Light on purpose (kombu only): the gateway, the benchmarks and tests publish batches with it
without importing the feed's database code.

* Batches: exchange `escrow.bank_feed` (direct, durable), routing key `escrow.bank_feed`,
  queue `escrow.bank_feed` (durable; dead-letter exchange `escrow.bank_feed.dlq`). Persistent
  JSON messages `{batch_id, bank_code, transactions: [...]}`.
* Dead letters: exchange and queue `escrow.bank_feed.dlq` (durable). The feed publishes there
  itself, with the reason in the headers; a message rejected without requeue (the safety net)
  lands there too, with RabbitMQ's `x-death` header.
* Booked: `bank_transactions_booked` on `escrow.events` (topic, durable) — nameko's wire
  format, so nameko `@event_handler("escrow", "bank_transactions_booked")` receives it.

Every publisher declares the queues before publishing, so a batch published before the feed
ever ran is kept, not dropped by an exchange without a queue.
"""
from __future__ import annotations

import json
import re

from kombu import Connection, Exchange, Producer, Queue

FEED_EXCHANGE = "escrow.bank_feed"
FEED_QUEUE = "escrow.bank_feed"
FEED_ROUTING_KEY = "escrow.bank_feed"
DLQ_EXCHANGE = "escrow.bank_feed.dlq"
DLQ_QUEUE = "escrow.bank_feed.dlq"
DLQ_ROUTING_KEY = "escrow.bank_feed.dlq"
EVENTS_EXCHANGE = "escrow.events"  # nameko: "<service>.events"
BOOKED_EVENT = "bank_transactions_booked"
PERSISTENT = 2

MAX_BATCH_ROWS = 10_000  # transactions in one message; a statement chunk is at most this
STATEMENT_PREFIX = "stmt-"

# A transaction's fields as the feed accepts them (the feed checks them; a statement file's
# reader checks them too, so a row that would be refused is listed before anything is sent)
MAX_AMOUNT_FEN = 10**12  # 100 亿元: one bank transaction above this is a data error
BANK_CODE = re.compile(r"[0-9A-Za-z_.\-]{1,20}\Z")
TX_ID = re.compile(r"[\x21-\x7e]{1,64}\Z")  # visible ASCII, no spaces
ACCOUNT_NO = re.compile(r"[0-9A-Za-z\-]{1,40}\Z")
CONTRACT_NO = re.compile(r"[^\x00-\x1f\x7f]{1,60}\Z")


def feed_exchange() -> Exchange:
    return Exchange(FEED_EXCHANGE, type="direct", durable=True, delivery_mode=PERSISTENT)


def dlq_exchange() -> Exchange:
    return Exchange(DLQ_EXCHANGE, type="direct", durable=True, delivery_mode=PERSISTENT)


def events_exchange() -> Exchange:
    return Exchange(EVENTS_EXCHANGE, type="topic", durable=True, delivery_mode=PERSISTENT)


def feed_queue() -> Queue:
    return Queue(
        FEED_QUEUE, feed_exchange(), routing_key=FEED_ROUTING_KEY, durable=True,
        queue_arguments={"x-dead-letter-exchange": DLQ_EXCHANGE, "x-dead-letter-routing-key": DLQ_ROUTING_KEY},
    )


def dlq_queue() -> Queue:
    return Queue(DLQ_QUEUE, dlq_exchange(), routing_key=DLQ_ROUTING_KEY, durable=True)


def declare_topology(channel) -> None:
    """Exchanges, the feed queue and the dead-letter queue (idempotent)."""
    for exchange in (feed_exchange(), dlq_exchange(), events_exchange()):
        exchange(channel).declare()
    for queue in (dlq_queue(), feed_queue()):
        queue(channel).declare()


def statement_batch_id(statement_id: str, chunk: int) -> str:
    """A statement chunk's batch id: the same chunk sent again is the same batch."""
    return f"{STATEMENT_PREFIX}{statement_id}-{chunk:05d}"


def encode_batch(batch: dict) -> bytes:
    return json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode()


def publish_batches(amqp_uri: str, bodies, connect_timeout: float = 5, headers: dict | None = None) -> int:
    """Publish encoded batch messages persistently, each confirmed by the broker. Returns the count.
    `headers`: e.g. the uploader's `nameko.correlation_id`, which the feed's log lines carry."""
    count = 0
    with Connection(amqp_uri, connect_timeout=connect_timeout,
                    transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        declare_topology(channel)
        producer = Producer(channel, exchange=feed_exchange())
        for body in bodies:
            producer.publish(body, routing_key=FEED_ROUTING_KEY, content_type="application/json",
                             content_encoding="utf-8", delivery_mode=PERSISTENT, retry=False,
                             headers=headers or {})
            count += 1
    return count


def statement_chunk(statement_id: object, chunk: object, payload: object, actor_token: str) -> tuple[str, bytes]:
    """The gateway's part of a statement upload: chunk → feed batch message (batch id, body).

    Only the shape is checked here; every rule runs in the feed, which also verifies the signed
    actor carried in the message (a client on the bus cannot upload as someone else)."""
    import re

    from services.common.errors import ValidationFailed

    if not isinstance(statement_id, str) or not re.fullmatch(r"[0-9a-f]{32}", statement_id):
        raise ValidationFailed("对账单编号应为32位十六进制", field="statement_id")
    if type(chunk) is not int or not 1 <= chunk <= 99_999:
        raise ValidationFailed("分块号应为 1–99999", field="chunk")
    if not isinstance(payload, dict):
        raise ValidationFailed("请求体应为 JSON 对象 {bank_code, transactions}", field="body")
    bank_code, transactions = payload.get("bank_code"), payload.get("transactions")
    if not isinstance(bank_code, str) or not bank_code:
        raise ValidationFailed("缺少银行代码", field="bank_code")
    if not isinstance(transactions, list) or not transactions:
        raise ValidationFailed("transactions 应为非空数组", field="transactions")
    if len(transactions) > MAX_BATCH_ROWS:
        raise ValidationFailed(f"每块至多 {MAX_BATCH_ROWS} 笔交易", field="transactions")
    batch_id = statement_batch_id(statement_id, chunk)
    body = encode_batch({"batch_id": batch_id, "bank_code": bank_code, "source": "statement",
                         "statement_id": statement_id, "chunk": chunk, "actor": actor_token,
                         "transactions": transactions})
    return batch_id, body
