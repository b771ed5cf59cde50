"""Booking cases run against both stores: SQLite in the unit suite, PostgreSQL in the feed suite."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

from sqlalchemy import insert, select, text

from services.escrow.feed_rules import MalformedBatch, check_transactions, decode_batch
from services.escrow.feed_store import Malformed
from services.escrow.models import AccountBalance, BankTransaction, EscrowAccount, FeedBatch

NOW = datetime(2021, 11, 20, tzinfo=timezone.utc)
TABLES = ("outbox", "bank_transactions", "account_balances", "feed_batches", "escrow_account_changes",
          "escrow_accounts")


def add_accounts(engine) -> None:
    now = datetime.now(timezone.utc)
    rows = [dict(institution_id=inst, division_code=div, mode="custody", bank_name="工商银行", bank_code="ICBC",
                 account_no=acc, status="open", opened_on=date(2021, 9, 1), version=1, updated_at=now, updated_by="t")
            for acc, inst, div in (("A1", 7, "340722100"), ("A2", 7, "340722100"), ("B1", 8, "340722101"))]
    with engine.begin() as conn:
        conn.execute(insert(EscrowAccount), rows)


def clear(engine) -> None:
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))


def batch(store, batch_id, *txs):
    raw = json.dumps({"batch_id": batch_id, "bank_code": "ICBC", "transactions": list(txs)}).encode()
    return check_transactions(decode_batch(raw), store.load_accounts(), NOW)


def tx(tx_id, account, kind, fen, contract=None):
    out = {"bank_tx_id": tx_id, "account_no": account, "kind": kind, "amount_fen": fen,
           "occurred_at": "2021-11-10T09:30:00+08:00"}
    if contract:
        out["contract_no"] = contract
    return out


FIRST = (tx("T1", "A1", "receipt", 500_000, "HT-1"), tx("T2", "A2", "receipt", 300_000, "HT-2"),
         tx("T3", "A1", "release", 120_000), tx("T4", "B1", "receipt", 90_000), tx("T5", "B1", "refund", 10_000))


def balances(engine) -> dict:
    with engine.connect() as conn:
        return {r.account_no: (r.receipts_fen, r.releases_fen, r.refunds_fen, r.balance_fen, r.tx_count)
                for r in conn.execute(select(AccountBalance))}


def feed_batch(engine, batch_id):
    with engine.connect() as conn:
        return conn.execute(select(FeedBatch.rows, FeedBatch.booked, FeedBatch.duplicates, FeedBatch.status)
                            .where(FeedBatch.batch_id == batch_id)).one()


def case_booking_twice_books_once(store) -> None:
    engine = store.engine
    [first] = store.book([batch(store, "B-1", *FIRST)])
    assert (first.new, first.booked, first.duplicates, first.rejected, first.status) == (5, 5, 0, 0, "booked")
    assert first.by_institution == {7: [800_000, 120_000, 0], 8: [90_000, 0, 10_000]}
    assert first.balances == {7: 680_000, 8: 80_000}
    assert sorted(first.contract_nos) == ["HT-1", "HT-2"]
    expected = {"A1": (500_000, 120_000, 0, 380_000, 2), "A2": (300_000, 0, 0, 300_000, 1),
                "B1": (90_000, 0, 10_000, 80_000, 2)}
    assert balances(engine) == expected

    [again] = store.book([batch(store, "B-1", *FIRST)])  # the same batch replayed
    assert (again.new, again.booked, again.duplicates, again.status) == (0, 5, 0, "booked")
    assert balances(engine) == expected
    assert feed_batch(engine, "B-1") == (5, 5, 0, "booked")

    # another batch repeating two booked transactions and adding one: only the new one counts
    [other] = store.book([batch(store, "B-2", FIRST[0], FIRST[3], tx("T6", "A2", "release", 1))])
    assert (other.new, other.booked, other.duplicates) == (1, 1, 2)
    assert balances(engine)["A2"] == (300_000, 1, 0, 299_999, 2)
    with store.engine.connect() as conn:
        assert conn.execute(select(BankTransaction.batch_id).where(BankTransaction.bank_tx_id == "T1")).scalar() == "B-1"
        assert conn.execute(text("SELECT count(*) FROM bank_transactions")).scalar() == 6


def case_one_group_many_batches_and_rejections(store) -> None:
    engine = store.engine
    good = batch(store, "G-1", FIRST[0], FIRST[1])
    mixed = batch(store, "G-2", FIRST[0], tx("T7", "NOPE", "receipt", 1), tx("T8", "A1", "refund", 2_000))
    bad = batch(store, "G-3", tx("T9", "A1", "receipt", 0))
    malformed = Malformed(MalformedBatch("批次中没有交易", field="transactions", batch_id="G-4"))
    nameless = Malformed(MalformedBatch("消息体不是有效的 JSON（UTF-8）", field="body"))
    results = store.book([good, mixed, bad, malformed, nameless])
    assert [(r.new, r.duplicates, r.rejected, r.status) for r in results[:3]] == [
        (2, 0, 0, "booked"), (1, 1, 1, "partial"), (0, 0, 1, "rejected")]
    assert results[3:] == [None, None]
    assert feed_batch(engine, "G-2") == (3, 1, 1, "partial")
    assert feed_batch(engine, "G-4") == (0, 0, 0, "rejected")
    rows = store.feed_batches(batch_id_prefix="G-")
    assert [(r["batch_id"], r["rejected"]) for r in rows] == [("G-1", 0), ("G-2", 1), ("G-3", 1), ("G-4", 0)]
    assert rows[1]["rejected_rows"] == [{"index": 1, "row": None, "field": "account_no", "reason": "不是平台登记的监管账户"}]
    assert rows[3]["message"] == "批次中没有交易"
    assert balances(engine)["A1"] == (500_000, 0, 2_000, 498_000, 2)


def case_a_booking_and_its_event_commit_together(store) -> None:
    """The `bank_transactions_booked` event goes into escrow's outbox in the booking's own transaction:
    once per batch that booked something new; nothing when the transaction fails."""
    from services.common.events import make_event
    from services.escrow.models import OutboxRow

    def events_for(entry, result):
        return "bank_transactions_booked", make_event("escrow", "bank_transactions_booked",
                                                      {"batch_id": entry.batch_id, "booked": result.new},
                                                      "340722"), {"nameko.correlation_id": "c"}

    def outbox():
        with store.engine.connect() as conn:
            return [(r.event_type, r.body["data"], r.headers, r.published_at)
                    for r in conn.execute(select(OutboxRow).order_by(OutboxRow.id))]

    store.events_for = events_for
    try:
        store.book([batch(store, "O-1", *FIRST)])
        store.book([batch(store, "O-1", *FIRST)])  # replayed: books nothing new, announces nothing
        assert outbox() == [("bank_transactions_booked", {"batch_id": "O-1", "booked": 5},
                             {"nameko.correlation_id": "c"}, None)]

        def broken(entry, result):
            raise RuntimeError("the commit never happens")

        store.events_for = broken
        try:
            store.book([batch(store, "O-2", tx("T9", "A1", "receipt", 1))])
        except RuntimeError:
            pass
        else:
            raise AssertionError("book() should have failed")
        store.reset()
        assert len(outbox()) == 1 and balances(store.engine)["A1"][4] == 2  # T9 not booked either
    finally:
        store.events_for = None
