"""The bank feed on the real broker and database: idempotent booking, dead letters, events, RPC."""
from __future__ import annotations

import json

from services.common.identity import Actor, DepartmentKind
from services.escrow.feed_rpc import FeedRpcServer
from services.common.bank_feed_wire import (
    BOOKED_EVENT,
    DLQ_QUEUE,
    encode_batch,
    publish_batches,
    statement_batch_id,
    statement_chunk,
)
from tests import feed_store_cases as cases
from tests.feed.conftest import EVENTS_QUEUE, drain, wait_settled

FIRST = cases.FIRST


def bank_batch(batch_id, *txs, bank="ICBC"):
    return encode_batch({"batch_id": batch_id, "bank_code": bank, "transactions": list(txs)})


def test_replaying_the_same_bank_batch_books_it_once_and_announces_it_once(bus, store, start_feed):
    body = bank_batch("ICBC-20211110-001", *FIRST)
    publish_batches(bus, [body, body])  # the same batch twice before the feed even runs
    feed = start_feed()
    wait_settled(feed, 2)
    publish_batches(bus, [body])  # and once more later
    wait_settled(feed, 3)

    expected = {"A1": (500_000, 120_000, 0, 380_000, 2), "A2": (300_000, 0, 0, 300_000, 1),
                "B1": (90_000, 0, 10_000, 80_000, 2)}
    assert cases.balances(store.engine) == expected
    assert cases.feed_batch(store.engine, "ICBC-20211110-001") == (5, 5, 0, "booked")
    assert (feed.stats.booked, feed.stats.duplicates, feed.stats.dead_lettered) == (5, 10, 0)

    [message] = drain(bus, EVENTS_QUEUE, 1)
    assert message.delivery_info["routing_key"] == BOOKED_EVENT
    event = json.loads(message.body)
    assert (event["type"], event["source"], event["division_code"]) == (BOOKED_EVENT, "escrow", "340722")
    assert event["event_id"] and event["occurred_at"] and event["actor"] is None
    data = event["data"]
    assert data["batch_id"] == "ICBC-20211110-001" and sorted(data["contract_nos"]) == ["HT-1", "HT-2"]
    assert data["institutions"] == [
        {"institution_id": 7, "township_code": "340722100", "receipts_fen": 800_000, "releases_fen": 120_000,
         "refunds_fen": 0, "balance_fen": 680_000},
        {"institution_id": 8, "township_code": "340722101", "receipts_fen": 90_000, "releases_fen": 0,
         "refunds_fen": 10_000, "balance_fen": 80_000},
    ]


def test_a_malformed_message_is_dead_lettered_with_its_reason_and_never_blocks_the_next(bus, store, start_feed):
    feed = start_feed()
    missing = json.dumps({"batch_id": "ICBC-X", "transactions": [cases.tx("T1", "A1", "receipt", 1)]}).encode()
    publish_batches(bus, [b"\x00 not json", missing, bank_batch("ICBC-OK", FIRST[0])])
    wait_settled(feed, 3)

    dead = drain(bus, DLQ_QUEUE, 2)
    bodies = [m.body if isinstance(m.body, bytes) else m.body.encode() for m in dead]
    assert bodies == [b"\x00 not json", missing]  # the original message, untouched
    assert [(m.headers["error"], m.headers["reason"], m.headers.get("field"), m.headers.get("batch_id"))
            for m in dead] == [
        ("malformed_message", "消息体不是有效的 JSON（UTF-8）", "body", None),
        ("malformed_message", "bank_code 应为1–20位字母、数字或 _ . -", "bank_code", "ICBC-X"),
    ]
    assert cases.feed_batch(store.engine, "ICBC-X") == (1, 0, 0, "rejected")
    assert cases.feed_batch(store.engine, "ICBC-OK") == (1, 1, 0, "booked")
    assert cases.balances(store.engine)["A1"][3] == 500_000


def test_bad_rows_are_dead_lettered_with_index_field_and_reason_while_good_rows_book(bus, store, start_feed):
    feed = start_feed()
    rows = [cases.tx("R1", "A1", "receipt", 10_000, "HT-9"),
            {**cases.tx("R2", "A1", "receipt", 1), "amount_fen": 12.5},
            cases.tx("R3", "UNKNOWN", "refund", 1),
            cases.tx("R1", "A2", "receipt", 7)]
    publish_batches(bus, [bank_batch("ICBC-MIX", *rows)])
    wait_settled(feed, 1)

    assert cases.feed_batch(store.engine, "ICBC-MIX") == (4, 1, 0, "partial")
    [dead] = drain(bus, DLQ_QUEUE, 1)
    assert (dead.headers["error"], dead.headers["batch_id"], dead.headers["rejected_rows"]) == ("rows_rejected", "ICBC-MIX", 3)
    body = json.loads(dead.body)
    assert [(r["index"], r["errors"]) for r in body["rejected"]] == [
        (1, [{"field": "amount_fen", "reason": "金额应为以分计的正整数（收到小数）"}]),
        (2, [{"field": "account_no", "reason": "不是平台登记的监管账户"}]),
        (3, [{"field": "bank_tx_id", "reason": "批次内重复：与第 0 笔交易的流水号相同"}]),
    ]
    assert body["rejected"][1]["transaction"] == rows[2]
    [event] = drain(bus, EVENTS_QUEUE, 1)
    assert json.loads(event.body)["data"]["contract_nos"] == ["HT-9"]


def ops_actor(division="340722", kind=DepartmentKind.ops):
    return Actor(1, "admin", "管理员", 1, kind, "运维", division, ("admin",))


SID = "0123456789abcdef0123456789abcdef"


def test_statement_chunks_carry_a_signed_actor_checked_by_the_feed(bus, store, start_feed, signer):
    feed = start_feed()
    good = [{**cases.tx("S1", "A1", "receipt", 100), "row": 2}, {**cases.tx("S2", "B1", "receipt", 200), "row": 3}]
    _, own = statement_chunk(SID, 1, {"bank_code": "ICBC", "transactions": good}, signer.sign(ops_actor()))
    township = ops_actor("340722101", DepartmentKind.education)  # sees B1's township only
    _, scoped = statement_chunk(SID, 2, {"bank_code": "ICBC", "transactions": [
        {**cases.tx("S3", "A1", "receipt", 1), "row": 4}, {**cases.tx("S4", "B1", "receipt", 1), "row": 5}]},
        signer.sign(township))
    market = ops_actor(kind=DepartmentKind.market_regulation)
    _, refused = statement_chunk(SID, 3, {"bank_code": "ICBC", "transactions": good}, signer.sign(market))
    forged = json.loads(own)
    forged.update(batch_id=statement_batch_id(SID, 4), chunk=4, actor=signer.sign(ops_actor())[:-3] + "xyz")
    publish_batches(bus, [own, scoped, refused, encode_batch(forged)])
    wait_settled(feed, 4)

    view = FeedRpcServer(feed, bus, store.url).rpc.get_statement(signer.sign(ops_actor()), SID)
    chunks = {c["chunk"]: c for c in view["chunks"]}
    assert {n: (c["status"], c["booked"], c["rejected"]) for n, c in chunks.items()} == {
        1: ("booked", 2, 0), 2: ("partial", 1, 1), 3: ("rejected", 0, 2), 4: ("rejected", 0, 2)}
    assert chunks[2]["rejected_rows"] == [{"index": 0, "row": 4, "field": "account_no",
                                           "reason": "监管账户不在您所属行政区划范围内"}]
    assert chunks[3]["field"] == "actor" and "无权" in chunks[3]["message"]
    assert chunks[4]["message"] == "操作人身份签名无效"
    assert view["totals"] == {"chunks": 4, "rows": 8, "booked": 3, "duplicates": 0, "rejected": 5}
    [first, second] = [json.loads(m.body) for m in drain(bus, EVENTS_QUEUE, 2)]
    assert first["actor"]["username"] == "admin" and first["data"]["source"] == "statement"


def test_rpc_over_amqp_in_namekos_wire_format(bus, store, start_feed, signer):
    from nameko.standalone.rpc import ClusterRpcProxy

    from services.common.errors import Forbidden, ValidationFailed

    feed = start_feed()
    server = FeedRpcServer(feed, bus, store.url)
    server.start()
    try:
        assert server.ready.wait(10)
        with ClusterRpcProxy({"AMQP_URI": bus}, timeout=10) as rpc:
            assert rpc.escrow_feed.ping()["ok"] is True
            assert rpc.escrow_feed.get_statement(signer.sign(ops_actor()), SID)["totals"]["chunks"] == 0
            try:
                rpc.escrow_feed.get_statement(signer.sign(ops_actor(kind=DepartmentKind.township)), SID)
            except Forbidden:
                pass
            else:
                raise AssertionError("a township may not read statements")
            try:
                rpc.escrow_feed.get_batch(signer.sign(ops_actor()), "bad id!")
            except ValidationFailed as exc:
                assert exc.field == "batch_id"
            else:
                raise AssertionError("expected ValidationFailed")
    finally:
        server.stop()


def test_postgres_or_sqlite_store_books_twice_once(store):
    cases.case_booking_twice_books_once(store)


def test_postgres_or_sqlite_store_groups_and_rejections(store):
    cases.case_one_group_many_batches_and_rejections(store)


def test_postgres_or_sqlite_store_commits_a_booking_with_its_outbox_event(store):
    cases.case_a_booking_and_its_event_commit_together(store)


def test_a_database_outage_keeps_the_batch_until_it_can_be_booked(bus, store, start_feed, monkeypatch):
    from sqlalchemy.exc import OperationalError

    feed = start_feed()
    real_book, calls = feed.store.book, []

    def flaky(entries):
        calls.append(len(entries))
        if len(calls) <= 2:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
        return real_book(entries)

    monkeypatch.setattr(feed.store, "book", flaky)
    publish_batches(bus, [bank_batch("ICBC-OUTAGE", *FIRST)])
    wait_settled(feed, 1, seconds=20)
    assert len(calls) == 3
    assert cases.feed_batch(store.engine, "ICBC-OUTAGE") == (5, 5, 0, "booked")
    assert feed.stats.dead_lettered == 0
    drain(bus, DLQ_QUEUE, 0)


def test_a_batch_the_database_refuses_is_dead_lettered_and_the_others_book(bus, store, start_feed, monkeypatch):
    feed = start_feed()
    real_book = feed.store.book

    def picky(entries):
        if any(getattr(e, "batch_id", None) == "ICBC-POISON" for e in entries):
            raise ValueError("value out of range")
        return real_book(entries)

    monkeypatch.setattr(feed.store, "book", picky)
    publish_batches(bus, [bank_batch("ICBC-POISON", FIRST[0]), bank_batch("ICBC-FINE", FIRST[1])])
    wait_settled(feed, 2)
    [dead] = drain(bus, DLQ_QUEUE, 1)
    assert (dead.headers["error"], dead.headers["batch_id"]) == ("booking_failed", "ICBC-POISON")
    assert "value out of range" in dead.headers["reason"]
    assert cases.feed_batch(store.engine, "ICBC-FINE") == (1, 1, 0, "booked")
