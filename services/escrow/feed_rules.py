"""The bank feed's rules: a batch message and each of its transactions (pure; no I/O).

Two levels (docs/bank_feed.md):

* the **message** — JSON object, `batch_id`, `bank_code`, `transactions` (a non-empty list of at
  most MAX_BATCH_ROWS), and for statement chunks a valid signed actor. A message that fails
  here is *malformed*: nothing of it is booked and it goes whole to the dead-letter queue.
* each **transaction** — field types, `amount_fen` a positive int (floats, strings, booleans
  refused), `kind`, `occurred_at` ISO 8601 with an offset and not in the future, a supervised
  account known to the platform, held at this bank, open when the money moved, within the
  uploader's division (statements), and no `bank_tx_id` twice in the batch. A transaction
  that fails is *rejected* with (index, row, field, reason); the batch's other rows are booked.

Both run on every message, so this module is written for speed: one pass, no per-row objects
beyond a tuple, regular expressions compiled once.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Mapping

from services.common.bank_feed_wire import (ACCOUNT_NO, BANK_CODE, CONTRACT_NO, MAX_AMOUNT_FEN, MAX_BATCH_ROWS,
                                            STATEMENT_PREFIX, TX_ID, statement_batch_id)

KINDS = ("receipt", "release", "refund")  # 收款 / 划转（释放至基本户）/ 退款
KIND_NAMES = {"receipt": "收款", "release": "划转", "refund": "退款"}
FUTURE_TOLERANCE = timedelta(days=1)  # clock skew between the bank and the platform
CST = timezone(timedelta(hours=8))

_BATCH_ID = re.compile(r"[0-9A-Za-z_.:\-]{1,64}\Z")
_STATEMENT_ID = re.compile(r"[0-9a-f]{32}\Z")


@dataclass(frozen=True, slots=True)
class AccountRef:
    """What the feed needs of a supervised account (escrow_accounts)."""

    account_no: str
    institution_id: int
    division_code: str
    bank_code: str
    status: str  # open | closed
    closed_on: date | None = None


@dataclass(slots=True)
class Rejection:
    index: int  # position in the batch's `transactions`, from 0
    row: int | None  # the statement file's row, when the transaction came from one
    field: str
    reason: str

    def as_dict(self) -> dict:
        return {"index": self.index, "row": self.row, "field": self.field, "reason": self.reason}


class MalformedBatch(Exception):
    """The message as a whole cannot be taken; nothing of it is booked."""

    def __init__(self, reason: str, field: str | None = None, batch_id: str | None = None, rows: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.batch_id = batch_id  # when the message had a usable one
        self.rows = rows


# a valid transaction: (index, bank_tx_id, account_no, institution_id, kind, amount_fen,
#                       occurred_at (aware datetime), contract_no | None)
ValidRow = tuple


@dataclass(slots=True)
class Batch:
    batch_id: str
    bank_code: str
    transactions: list
    source: str = "amqp"  # amqp | statement
    actor: object = None  # the verified Actor of a statement upload
    statement_id: str | None = None
    chunk: int | None = None
    valid: list = field(default_factory=list)
    rejected: list = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.transactions)


def decode_batch(body: bytes | str, verify_actor: Callable[[object], object] | None = None) -> Batch:
    """The message's own fields (not yet its transactions); MalformedBatch when unusable.

    `verify_actor(token)` returns the Actor of a statement upload or raises (any exception:
    its message becomes the reason)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedBatch("消息体不是有效的 JSON（UTF-8）", field="body") from None
    if not isinstance(data, dict):
        raise MalformedBatch("消息体应为 JSON 对象", field="body")
    batch_id = data.get("batch_id")
    usable_id = batch_id if isinstance(batch_id, str) and _BATCH_ID.match(batch_id) else None
    transactions = data.get("transactions")
    rows = len(transactions) if isinstance(transactions, list) else 0

    def bad(reason: str, name: str):
        return MalformedBatch(reason, field=name, batch_id=usable_id, rows=rows)

    if usable_id is None:
        raise bad("batch_id 应为1–64位字母、数字或 _ . : -", "batch_id")
    bank_code = data.get("bank_code")
    if not isinstance(bank_code, str) or not BANK_CODE.match(bank_code):
        raise bad("bank_code 应为1–20位字母、数字或 _ . -", "bank_code")
    if not isinstance(transactions, list):
        raise bad("transactions 应为数组", "transactions")
    if not transactions:
        raise bad("批次中没有交易", "transactions")
    if len(transactions) > MAX_BATCH_ROWS:
        raise bad(f"一个批次至多 {MAX_BATCH_ROWS} 笔交易（本批 {len(transactions)} 笔）", "transactions")
    source = data.get("source", "amqp")
    batch = Batch(batch_id, bank_code, transactions)
    if source == "amqp":
        if batch_id.startswith(STATEMENT_PREFIX):
            raise bad(f"以 {STATEMENT_PREFIX} 开头的批次号留给对账单导入", "batch_id")
        return batch
    if source != "statement":
        raise bad("source 应为 amqp 或 statement", "source")
    statement_id, chunk = data.get("statement_id"), data.get("chunk")
    if not isinstance(statement_id, str) or not _STATEMENT_ID.match(statement_id):
        raise bad("statement_id 应为32位小写十六进制", "statement_id")
    if type(chunk) is not int or not 1 <= chunk <= 99_999:
        raise bad("chunk 应为 1–99999 的整数", "chunk")
    if batch_id != statement_batch_id(statement_id, chunk):
        raise bad("对账单分块的批次号应为 stmt-<对账单编号>-<分块号>", "batch_id")
    if verify_actor is None:
        raise bad("此处不接受对账单分块", "source")
    try:
        actor = verify_actor(data.get("actor"))
    except Exception as exc:  # the signer's or the policy's refusal, in its own words
        raise bad(getattr(exc, "message", None) or str(exc) or "操作人身份无效", "actor") from None
    batch.source, batch.actor, batch.statement_id, batch.chunk = "statement", actor, statement_id, chunk
    return batch


def check_transactions(batch: Batch, accounts: Mapping[str, AccountRef], now: datetime,
                       scope_prefix: str | None = None) -> Batch:
    """Fill `batch.valid` and `batch.rejected`. `scope_prefix`: the uploader's division prefix
    (statements) — accounts outside it are refused."""
    valid = batch.valid
    rejected = batch.rejected
    bank_code = batch.bank_code
    latest = now + FUTURE_TOLERANCE
    seen: dict[str, int] = {}
    tx_id_ok, account_ok, contract_ok = TX_ID.match, ACCOUNT_NO.match, CONTRACT_NO.match
    fromiso = datetime.fromisoformat
    get_account = accounts.get

    for index, tx in enumerate(batch.transactions):
        if type(tx) is not dict:
            rejected.append(Rejection(index, None, "transaction", "交易应为 JSON 对象"))
            continue
        row = tx.get("row")
        if row is not None and (type(row) is not int or row < 1):
            row = None
        errors = None

        tx_id = tx.get("bank_tx_id")
        if type(tx_id) is not str or not tx_id_ok(tx_id):
            errors = [("bank_tx_id", "交易流水号应为1–64位可见 ASCII 字符（不含空格）")]
        else:
            first = seen.get(tx_id)
            if first is None:
                seen[tx_id] = index
            else:
                errors = [("bank_tx_id", f"批次内重复：与第 {first} 笔交易的流水号相同")]

        kind = tx.get("kind")
        if kind != "receipt" and kind != "release" and kind != "refund":
            errors = (errors or []) + [("kind", "交易类型应为 receipt（收款）、release（划转）或 refund（退款）")]

        amount = tx.get("amount_fen")
        if type(amount) is not int:
            what = "小数" if type(amount) is float else ("布尔值" if type(amount) is bool else "非整数")
            errors = (errors or []) + [("amount_fen", f"金额应为以分计的正整数（收到{what}）")]
        elif amount <= 0:
            errors = (errors or []) + [("amount_fen", "金额应大于 0（方向由交易类型表示）")]
        elif amount > MAX_AMOUNT_FEN:
            errors = (errors or []) + [("amount_fen", "金额超过 100 亿元，疑为数据错误")]

        occurred = None
        raw_time = tx.get("occurred_at")
        if type(raw_time) is not str or len(raw_time) > 40:
            errors = (errors or []) + [("occurred_at", "交易时间应为带时区的 ISO 8601 字符串")]
        else:
            try:
                occurred = fromiso(raw_time)
            except ValueError:
                errors = (errors or []) + [("occurred_at", "交易时间应为带时区的 ISO 8601 字符串")]
            else:
                if occurred.tzinfo is None:
                    occurred = None
                    errors = (errors or []) + [("occurred_at", "交易时间缺少时区（如 +08:00）")]
                elif occurred > latest:
                    errors = (errors or []) + [("occurred_at", "交易时间晚于当前时间")]

        contract_no = tx.get("contract_no")
        if contract_no is not None and (type(contract_no) is not str or not contract_ok(contract_no)):
            errors = (errors or []) + [("contract_no", "合同编号应为1–60个字符")]

        account_no = tx.get("account_no")
        account = None
        if type(account_no) is not str or not account_ok(account_no):
            errors = (errors or []) + [("account_no", "监管账号应为1–40位字母、数字或 -")]
        else:
            account = get_account(account_no)
            if account is None:
                errors = (errors or []) + [("account_no", "不是平台登记的监管账户")]
            elif account.bank_code != bank_code:
                errors = (errors or []) + [("account_no", f"该监管账户不在本银行（开户行代码 {account.bank_code}）")]
            else:
                if account.status != "open" and occurred is not None:
                    closed_on = account.closed_on
                    if closed_on is None or occurred.astimezone(CST).date() > closed_on:
                        when = f"已于 {closed_on.isoformat()} 销户" if closed_on else "已销户"
                        errors = (errors or []) + [("account_no", f"监管账户{when}，交易发生在销户之后")]
                if scope_prefix is not None and not account.division_code.startswith(scope_prefix):
                    errors = (errors or []) + [("account_no", "监管账户不在您所属行政区划范围内")]

        if errors is None:
            valid.append((index, tx_id, account_no, account.institution_id, kind, amount, occurred, contract_no))
        else:
            for name, reason in errors:
                rejected.append(Rejection(index, row, name, reason))
    return batch


def rejected_indexes(batch: Batch) -> list[int]:
    return sorted({r.index for r in batch.rejected})


def common_division(codes) -> str | None:
    """The smallest division covering all `codes` (township 9 digits → county → city → province)."""
    codes = set(codes)
    if not codes:
        return None
    if len(codes) == 1:
        return next(iter(codes))
    for size, pad in ((6, ""), (4, "00"), (2, "0000")):
        prefixes = {c[:size] for c in codes}
        if len(prefixes) == 1:
            return next(iter(prefixes)) + pad
    return None
