"""The bank feed's rules: the message, then each transaction (services/escrow/feed_rules.py)."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from services.common.errors import Forbidden
from services.escrow.feed_rules import (
    AccountRef,
    MalformedBatch,
    check_transactions,
    common_division,
    decode_batch,
)
from services.common.bank_feed_wire import MAX_BATCH_ROWS, statement_batch_id

NOW = datetime(2021, 11, 20, 12, 0, tzinfo=timezone.utc)
ACCOUNTS = {
    "6222000000000001": AccountRef("6222000000000001", 7, "340722100", "ICBC", "open"),
    "6222000000000002": AccountRef("6222000000000002", 8, "340722101", "ICBC", "closed", date(2021, 11, 10)),
    "6228000000000003": AccountRef("6228000000000003", 9, "340722100", "ABC", "open"),
    "6222000000000004": AccountRef("6222000000000004", 10, "340823100", "ICBC", "open"),
}


def tx(**changes):
    base = {"bank_tx_id": "T1", "account_no": "6222000000000001", "kind": "receipt", "amount_fen": 128050,
            "occurred_at": "2021-11-10T09:30:00+08:00", "contract_no": "HT-1"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def body(transactions, **fields):
    data = {"batch_id": "B-1", "bank_code": "ICBC", "transactions": transactions, **fields}
    return json.dumps(data).encode()


def check(*transactions, scope=None):
    return check_transactions(decode_batch(body(list(transactions))), ACCOUNTS, NOW, scope)


def reasons(batch):
    return [(r.index, r.field, r.reason) for r in batch.rejected]


def test_a_good_transaction_is_valid_with_its_account_and_exact_time():
    batch = check(tx(), tx(bank_tx_id="T2", kind="release", amount_fen=1, contract_no=None),
                  tx(bank_tx_id="T3", kind="refund", contract_no=...))
    assert batch.rejected == []
    first = batch.valid[0]
    assert first[:6] == (0, "T1", "6222000000000001", 7, "receipt", 128050)
    assert first[6] == datetime(2021, 11, 10, 1, 30, tzinfo=timezone.utc) and first[7] == "HT-1"
    assert [v[7] for v in batch.valid[1:]] == [None, None]


@pytest.mark.parametrize("amount, words", [
    (1280.5, "小数"), (100.0, "小数"), (True, "布尔值"), ("128050", "非整数"), (None, "非整数"),
])
def test_money_is_a_positive_int_of_fen_and_nothing_else(amount, words):
    batch = check(tx(amount_fen=amount))
    assert batch.valid == []
    assert reasons(batch) == [(0, "amount_fen", f"金额应为以分计的正整数（收到{words}）")]


@pytest.mark.parametrize("amount", [0, -5])
def test_zero_and_negative_amounts_are_refused_the_kind_gives_the_direction(amount):
    assert reasons(check(tx(amount_fen=amount))) == [(0, "amount_fen", "金额应大于 0（方向由交易类型表示）")]


def test_an_absurd_amount_is_refused():
    assert reasons(check(tx(amount_fen=10**12 + 1)))[0][1] == "amount_fen"


@pytest.mark.parametrize("value, reason", [
    ("2021-11-10T09:30:00", "交易时间缺少时区（如 +08:00）"),
    ("2021-11-10 09:30", "交易时间缺少时区（如 +08:00）"),
    ("10/11/2021", "交易时间应为带时区的 ISO 8601 字符串"),
    (1636507800, "交易时间应为带时区的 ISO 8601 字符串"),
    ("2021-11-22T09:30:00+08:00", "交易时间晚于当前时间"),
])
def test_time_needs_an_offset_and_may_not_lie_in_the_future(value, reason):
    assert reasons(check(tx(occurred_at=value))) == [(0, "occurred_at", reason)]


def test_utc_and_other_offsets_are_fine():
    batch = check(tx(occurred_at="2021-11-10T01:30:00Z"), tx(bank_tx_id="T2", occurred_at="2021-11-10T09:30:00.5+08:00"))
    assert batch.rejected == [] and batch.valid[0][6] == datetime(2021, 11, 10, 1, 30, tzinfo=timezone.utc)


def test_kind_and_ids_and_contract_are_checked():
    batch = check(tx(kind="payment"), tx(bank_tx_id="has space"), tx(bank_tx_id=""), tx(bank_tx_id="T4", contract_no=""),
                  tx(bank_tx_id="T5", account_no="6222 0001"))
    assert [(i, f) for i, f, _ in reasons(batch)] == [
        (0, "kind"), (1, "bank_tx_id"), (2, "bank_tx_id"), (3, "contract_no"), (4, "account_no")]


def test_every_problem_of_a_row_is_listed():
    batch = check(tx(kind="x", amount_fen=-1, occurred_at="yesterday"))
    assert [f for _, f, _ in reasons(batch)] == ["kind", "amount_fen", "occurred_at"]


def test_the_account_must_be_known_at_this_bank():
    batch = check(tx(account_no="6222999999999999"), tx(bank_tx_id="T2", account_no="6228000000000003"))
    assert reasons(batch) == [(0, "account_no", "不是平台登记的监管账户"),
                              (1, "account_no", "该监管账户不在本银行（开户行代码 ABC）")]


def test_a_closed_account_takes_what_happened_until_its_closing_day_only():
    batch = check(tx(account_no="6222000000000002", occurred_at="2021-11-10T23:59:00+08:00"),
                  tx(bank_tx_id="T2", account_no="6222000000000002", occurred_at="2021-11-11T00:01:00+08:00"))
    assert [v[1] for v in batch.valid] == ["T1"]
    assert reasons(batch) == [(1, "account_no", "监管账户已于 2021-11-10 销户，交易发生在销户之后")]


def test_a_transaction_id_twice_in_a_batch_keeps_the_first():
    batch = check(tx(), tx(amount_fen=5), tx(bank_tx_id="T2"))
    assert [v[1] for v in batch.valid] == ["T1", "T2"]
    assert reasons(batch) == [(1, "bank_tx_id", "批次内重复：与第 0 笔交易的流水号相同")]


def test_statement_scope_refuses_accounts_outside_the_uploaders_division():
    batch = check(tx(), tx(bank_tx_id="T2", account_no="6222000000000004"), scope="340722")
    assert [v[1] for v in batch.valid] == ["T1"]
    assert reasons(batch) == [(1, "account_no", "监管账户不在您所属行政区划范围内")]


def test_row_numbers_travel_with_rejections_and_a_non_object_is_rejected():
    batch = check(tx(row=17, kind="?"), "not an object")
    assert [(r.index, r.row) for r in batch.rejected] == [(0, 17), (1, None)]
    assert batch.rejected[1].field == "transaction"


@pytest.mark.parametrize("raw, field", [
    (b"not json", "body"),
    (b"\xff\xfe", "body"),
    (b"[1, 2]", "body"),
    (json.dumps({"bank_code": "ICBC", "transactions": [tx()]}).encode(), "batch_id"),
    (body([tx()], batch_id="with space"), "batch_id"),
    (body([tx()], bank_code=None), "bank_code"),
    (body({"a": 1}), "transactions"),
    (body([]), "transactions"),
    (body([tx()] * (MAX_BATCH_ROWS + 1)), "transactions"),
    (body([tx()], source="ftp"), "source"),
    (body([tx()], batch_id="stmt-abc"), "batch_id"),
])
def test_a_malformed_message_is_refused_whole_with_its_reason(raw, field):
    with pytest.raises(MalformedBatch) as info:
        decode_batch(raw)
    assert info.value.field == field and info.value.reason


def test_a_malformed_message_keeps_a_usable_batch_id_for_the_record():
    with pytest.raises(MalformedBatch) as info:
        decode_batch(body({"a": 1}))
    assert info.value.batch_id == "B-1"


def statement_body(token="tok", chunk=1, **changes):
    sid = "0123456789abcdef0123456789abcdef"
    data = {"batch_id": statement_batch_id(sid, chunk), "bank_code": "ICBC", "source": "statement",
            "statement_id": sid, "chunk": chunk, "actor": token, "transactions": [tx(row=2)]}
    data.update(changes)
    return json.dumps(data).encode()


def test_a_statement_chunk_needs_a_verified_actor():
    seen = []

    def verify(token):
        seen.append(token)
        if token != "good":
            raise Forbidden("运维无权执行此操作")
        return "the actor"

    batch = decode_batch(statement_body("good"), verify)
    assert (batch.source, batch.actor, batch.chunk) == ("statement", "the actor", 1)
    with pytest.raises(MalformedBatch) as info:
        decode_batch(statement_body("forged"), verify)
    assert (info.value.field, info.value.reason) == ("actor", "运维无权执行此操作")
    with pytest.raises(MalformedBatch) as info:
        decode_batch(statement_body("good"))  # a consumer that takes no statements
    assert info.value.field == "source"
    with pytest.raises(MalformedBatch) as info:
        decode_batch(statement_body("good", chunk=2, batch_id="stmt-0123456789abcdef0123456789abcdef-00001"), verify)
    assert info.value.field == "batch_id"


def test_common_division_of_the_institutions_in_an_event():
    assert common_division(["340722100"]) == "340722100"
    assert common_division(["340722100", "340722101"]) == "340722"
    assert common_division(["340722100", "340711100"]) == "340700"
    assert common_division(["340722100", "340823100"]) == "340000"
    assert common_division(["340722100", "320100100"]) is None
    assert common_division([]) is None
