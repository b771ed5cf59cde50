"""Statement files (对账单 .csv) → feed transactions: columns, row numbers, reasons, exact money."""
from __future__ import annotations

import pytest

from services.common.statement_file import (
    StatementFileError,
    parse_statement,
    parse_time,
    yuan_to_fen,
)

HEADER = "银行代码,交易流水号,监管账号,交易类型,金额（元）,交易时间,合同编号\n"


def parse(text: str, encoding="utf-8", **kwargs):
    return parse_statement(text.encode(encoding), **kwargs)


def errors(statement):
    return [(e.row, e.column, e.reason) for e in statement.errors]


@pytest.mark.parametrize("text, fen", [
    ("1280.50", 128050), ("1,280.50", 128050), ("0.1", 10), ("0.01", 1), ("12", 1200),
    ("1,234,567.89", 123456789), ("99999999.99", 9999999999),
])
def test_yuan_are_read_exactly(text, fen):
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["1.234", "1e3", "-5", "12.", ".5", "1,28.00", "", "abc", "1 000"])
def test_not_a_yuan_amount(text):
    assert yuan_to_fen(text) is None


def test_times_without_offset_are_beijing_time():
    assert parse_time("2021-11-10 09:30:00") == "2021-11-10 09:30:00+08:00"
    assert parse_time("2021/11/10 09:30") == "2021-11-10 09:30+08:00"
    assert parse_time("2021-11-10") == "2021-11-10T00:00:00+08:00"
    assert parse_time("2021-11-10T09:30:00+00:00") == "2021-11-10T09:30:00+00:00"
    assert parse_time("2021-02-30 09:00:00") is None
    assert parse_time("昨天") is None


def test_a_good_file_gives_wire_transactions_with_their_row_numbers():
    statement = parse(HEADER + "ICBC,S1,6222000000000001,收款,\"1,280.50\",2021-11-10 09:30:00,HT-1\n"
                      "\n"
                      "ICBC,S2,6222000000000001,划转,100.05,2021-11-11T10:00:00+08:00,\n"
                      "ICBC,S3,6222000000000002,退款,0.10,2021/11/12 08:00,\n")
    assert statement.errors == [] and statement.rows == 3
    assert statement.transactions == [
        ("ICBC", {"row": 2, "bank_tx_id": "S1", "account_no": "6222000000000001", "kind": "receipt",
                  "amount_fen": 128050, "occurred_at": "2021-11-10 09:30:00+08:00", "contract_no": "HT-1"}),
        ("ICBC", {"row": 4, "bank_tx_id": "S2", "account_no": "6222000000000001", "kind": "release",
                  "amount_fen": 10005, "occurred_at": "2021-11-11T10:00:00+08:00"}),
        ("ICBC", {"row": 5, "bank_tx_id": "S3", "account_no": "6222000000000002", "kind": "refund",
                  "amount_fen": 10, "occurred_at": "2021-11-12 08:00+08:00"}),
    ]


def test_bad_rows_are_listed_with_row_column_and_reason_and_the_rest_kept():
    statement = parse(HEADER + "ICBC,S1,6222000000000001,收款,10,2021-11-10 09:30,\n"
                      "ICBC,S1,6222000000000001,收款,1.234,2021-11-10 09:30,\n"
                      ",S3,6222000000000001,付款,-5,明天,\n"
                      "ICBC,S4,6222000000000001,退款,0,2021-11-10 09:30,\n"
                      "ICBC,S5,6222000000000001,退款,0.00,2021-11-10 09:30," + "长" * 61 + "\n")
    assert [t["row"] for _, t in statement.transactions] == [2]
    assert errors(statement) == [
        (3, "交易流水号", "与第2行重复"),
        (3, "金额（元）", "应为金额（元），最多两位小数，如 1280.50"),
        (4, "银行代码", "不能为空"),
        (4, "交易类型", "应为 收款、划转 或 退款"),
        (4, "金额（元）", "应为金额（元），最多两位小数，如 1280.50"),
        (4, "交易时间", "应为时间，如 2021-11-10 09:30:00 或 2021-11-10T09:30:00+08:00"),
        (5, "金额（元）", "应大于 0"),
        (6, "金额（元）", "应大于 0"),
        (6, "合同编号", "应为1–60个字符"),
    ]


def test_headers_in_any_order_with_aliases_fen_and_extra_columns_in_gbk():
    text = ("摘要\t金额(分)\t类型\t账号\t流水号\t交易时间\t银行代码\n"
            "学费\t128050\treceipt\t6222000000000001\tS1\t2021-11-10 09:30\tICBC\n"
            "学费\t12.5\t收款\t6222000000000001\tS2\t2021-11-10 09:30\tICBC\n")
    statement = parse(text, encoding="gbk")
    assert [(t["bank_tx_id"], t["amount_fen"], t["kind"]) for _, t in statement.transactions] == [("S1", 128050, "receipt")]
    assert errors(statement) == [(3, "金额（分）", "应为整数（分）")]


def test_header_problems_stop_the_import():
    with pytest.raises(StatementFileError) as info:
        parse("银行代码,交易流水号,交易类型,金额（元）,金额（分）,交易时间\nICBC,S1,收款,1,100,2021-11-10\n")
    assert [(p.row, p.column, p.reason) for p in info.value.problems] == [
        (1, "监管账号", "缺少此列"), (1, "金额", "金额（元）与金额（分）只能有一列")]
    with pytest.raises(StatementFileError):
        parse("")
    with pytest.raises(StatementFileError):
        parse_statement(b"\xff\xfe\xfa\xfb\x81")


def test_chunks_keep_one_bank_each_and_file_order():
    rows = "".join(f"{bank},S{i},6222000000000001,收款,1,2021-11-10 09:30,\n"
                   for i, bank in enumerate(["ICBC", "ABC", "ICBC", "ICBC", "ABC"]))
    statement = parse(HEADER + rows)
    chunks = statement.chunks(2)
    assert [(bank, [t["bank_tx_id"] for t in txs]) for bank, txs in chunks] == [
        ("ICBC", ["S0", "S2"]), ("ICBC", ["S3"]), ("ABC", ["S1", "S4"])]
    handed = []
    streamed = parse(HEADER + rows, chunk_rows=2, on_chunk=lambda bank, txs: handed.append((bank, list(txs))))
    assert streamed.transactions == [] and streamed.rows == 5
    assert [(bank, [t["bank_tx_id"] for t in txs]) for bank, txs in handed] == [  # as each fills up
        ("ICBC", ["S0", "S2"]), ("ABC", ["S1", "S4"]), ("ICBC", ["S3"])]


def test_duplicates_are_found_across_chunks_too():
    rows = "".join(f"ICBC,S{i % 3},6222000000000001,收款,1,2021-11-10 09:30,\n" for i in range(5))
    handed = []
    statement = parse(HEADER + rows, chunk_rows=2, on_chunk=lambda bank, txs: handed.extend(txs))
    assert [t["row"] for t in handed] == [2, 3, 4]
    assert errors(statement) == [(5, "交易流水号", "与第2行重复"), (6, "交易流水号", "与第3行重复")]
