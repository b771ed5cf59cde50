"""A bank statement file (对账单 .csv) → bank-feed transactions. Bytes in, rows out; pure.

Used by `shuangjian escrow import-statement FILE.csv` (docs/bank_feed.md "Statement files").
Row 1 holds the headers, in any order (spaces ignored, （）and () alike):

    银行代码     the custodian bank's code on its feed (as on the supervised account)
    交易流水号   the bank's transaction id — with 银行代码, what makes a transaction unique
    监管账号     the supervised account (also: 账号)
    交易类型     收款 | 划转 | 退款  (or receipt | release | refund; also: 类型)
    金额（元）   yuan with at most two decimals, read exactly (Decimal): 1,280.50 → 128050 fen
      or 金额（分） integer fen — exactly one of the two columns
    交易时间     ISO 8601 with offset (2021-11-10T09:30:00+08:00), or `2021-11-10 09:30[:00]`
                 (also with /), which is Beijing time
    合同编号     optional: the contract a receipt pays

Other columns (摘要, 对方户名, …) are ignored. Row numbers are the file's: the header is row 1.
What can be checked without the platform is checked here (a row that fails is listed and not
sent); the rest — the account known, at this bank, open — is the feed's (escrow/feed_rules.py).
The file may be UTF-8 (with or without BOM) or GBK/GB18030, comma-, tab- or semicolon-separated.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from . import bank_feed_wire as wire
from .row_error import RowError
from .textfiles import decode_office_text

BANK, TX_ID, ACCOUNT, KIND, YUAN, FEN, TIME, CONTRACT = (
    "银行代码", "交易流水号", "监管账号", "交易类型", "金额（元）", "金额（分）", "交易时间", "合同编号")
REQUIRED = (BANK, TX_ID, ACCOUNT, KIND, TIME)
ALIASES = {
    "银行代码": BANK, "交易流水号": TX_ID, "流水号": TX_ID, "监管账号": ACCOUNT, "账号": ACCOUNT,
    "交易类型": KIND, "类型": KIND, "金额(元)": YUAN, "金额(分)": FEN, "交易时间": TIME, "合同编号": CONTRACT,
}
KIND_WORDS = {"收款": "receipt", "划转": "release", "退款": "refund",
              "receipt": "receipt", "release": "release", "refund": "refund"}
# the feed's wire fields → this file's columns, to report the feed's rejections in the file's words
COLUMN_OF_FIELD = {"bank_tx_id": TX_ID, "account_no": ACCOUNT, "kind": KIND, "amount_fen": "金额",
                   "occurred_at": TIME, "contract_no": CONTRACT, "transaction": "", "bank_code": BANK}
_YUAN = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?\Z")
_FEN = re.compile(r"\d{1,15}\Z")
MAX_FILE_BYTES = 1 << 30
fromisoformat = datetime.fromisoformat


class StatementFileError(Exception):
    """The file itself cannot be used (encoding, headers, empty). Chinese message."""

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass
class Statement:
    transactions: list = field(default_factory=list)  # (bank_code, wire transaction with "row")
    errors: list = field(default_factory=list)  # RowError, in row order
    rows: int = 0  # data rows read (blank rows left out)

    def chunks(self, size: int) -> list[tuple[str, list[dict]]]:
        """(bank_code, transactions) of at most `size` each, one bank per chunk, file order kept."""
        by_bank: dict[str, list[dict]] = {}
        for bank, tx in self.transactions:
            by_bank.setdefault(bank, []).append(tx)
        return [(bank, txs[i:i + size]) for bank, txs in by_bank.items() for i in range(0, len(txs), size)]


def decode(content: bytes) -> str:
    try:
        return decode_office_text(content)
    except UnicodeDecodeError:
        raise StatementFileError("无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV") from None


def normalize_header(raw: str) -> str:
    return re.sub(r"\s+", "", raw).replace("（", "(").replace("）", ")")


def columns(headers: list[str]) -> dict[str, int]:
    """Header row → {column: index}; StatementFileError listing every header problem."""
    found: dict[str, int] = {}
    problems = []
    for index, raw in enumerate(headers):
        name = ALIASES.get(normalize_header(raw))
        if name is None:
            continue
        if name in found:
            problems.append(RowError(1, name, "列重复"))
            continue
        found[name] = index
    for name in REQUIRED:
        if name not in found:
            problems.append(RowError(1, name, "缺少此列"))
    if YUAN in found and FEN in found:
        problems.append(RowError(1, "金额", "金额（元）与金额（分）只能有一列"))
    elif YUAN not in found and FEN not in found:
        problems.append(RowError(1, "金额", "缺少金额列：金额（元）或金额（分）"))
    if problems:
        raise StatementFileError("表头有误，未导入任何交易", problems)
    return found


def yuan_to_fen(text: str) -> int | None:
    """'1,280.50' → 128050, exactly; None when not a yuan amount with at most two decimals."""
    if not _YUAN.match(text):
        return None
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        return None
    return int(amount * 100)


def parse_time(text: str) -> str | None:
    """ISO 8601 with offset, or a Beijing local time → ISO 8601 with offset; None if unreadable.

    A local time keeps its text with `+08:00` added (fromisoformat has checked it is a real
    moment), which is much cheaper than formatting a datetime for each of a million rows."""
    if "/" in text:
        text = text.replace("/", "-")
    try:
        value = fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is not None:
        return text
    if len(text) == 10:  # a date alone: the start of that day
        return text + "T00:00:00+08:00"
    return text + "+08:00"


def parse_statement(content: bytes, chunk_rows: int | None = None, on_chunk=None) -> Statement:
    """Every row of the file. With `on_chunk(bank_code, transactions)`, each bank's rows are
    handed over `chunk_rows` at a time as soon as they are read (and not kept), so a caller
    can upload while the rest of the file is still being read; duplicates are still found
    across the whole file (a later row repeating an earlier one is the one refused)."""
    if len(content) > MAX_FILE_BYTES:
        raise StatementFileError(f"文件超过 {MAX_FILE_BYTES >> 30} GB，请拆分后分别导入")
    text = decode(content)
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = next(reader)
    except StopIteration:
        raise StatementFileError("文件是空的") from None
    cols = columns(headers)
    i_bank, i_tx, i_acc, i_kind, i_time = (cols[c] for c in (BANK, TX_ID, ACCOUNT, KIND, TIME))
    i_amount = cols.get(YUAN, cols.get(FEN))
    in_yuan = YUAN in cols
    amount_column = YUAN if in_yuan else FEN
    i_contract = cols.get(CONTRACT)
    width = max(cols.values()) + 1
    out = Statement()
    errors = out.errors
    pending: dict[str, list] = {}  # bank -> rows not yet handed over
    seen: dict[tuple[str, str], int] = {}
    bank_ok, tx_ok, acc_ok, contract_ok, fen_ok = (
        wire.BANK_CODE.match, wire.TX_ID.match, wire.ACCOUNT_NO.match, wire.CONTRACT_NO.match, _FEN.match)
    kinds = KIND_WORDS
    rows = 0
    for number, record in enumerate(reader, start=2):
        if len(record) < width:
            if not any(record):
                continue
            record = record + [""] * (width - len(record))
        bank, tx_id, account = record[i_bank].strip(), record[i_tx].strip(), record[i_acc].strip()
        raw_kind, raw_amount, raw_time = record[i_kind].strip(), record[i_amount].strip(), record[i_time].strip()
        if not (bank or tx_id or account or raw_kind or raw_amount or raw_time):
            continue  # a blank row (or one with only ignored columns)
        rows += 1
        problems = None
        if not bank_ok(bank):
            problems = [(BANK, "应为1–20位字母、数字或 _ . -" if bank else "不能为空")]
        if not tx_ok(tx_id):
            problems = (problems or []) + [(TX_ID, "应为1–64位可见 ASCII 字符（不含空格）" if tx_id else "不能为空")]
        else:
            key = (bank, tx_id)
            first_row = seen.get(key)
            if first_row is None:
                seen[key] = number
            else:
                problems = (problems or []) + [(TX_ID, f"与第{first_row}行重复")]
        if not acc_ok(account):
            problems = (problems or []) + [(ACCOUNT, "应为1–40位字母、数字或 -" if account else "不能为空")]
        kind = kinds.get(raw_kind)
        if kind is None:
            problems = (problems or []) + [(KIND, "应为 收款、划转 或 退款")]
        if in_yuan:
            amount = yuan_to_fen(raw_amount)
            if amount is None:
                problems = (problems or []) + [(YUAN, "应为金额（元），最多两位小数，如 1280.50")]
        else:
            amount = int(raw_amount) if fen_ok(raw_amount) else None
            if amount is None:
                problems = (problems or []) + [(FEN, "应为整数（分）")]
        if amount is not None and not 0 < amount <= wire.MAX_AMOUNT_FEN:
            problems = (problems or []) + [(amount_column, "应大于 0" if amount <= 0 else "超过 100 亿元，疑为数据错误")]
        occurred = parse_time(raw_time)
        if occurred is None:
            problems = (problems or []) + [(TIME, "应为时间，如 2021-11-10 09:30:00 或 2021-11-10T09:30:00+08:00")]
        contract = record[i_contract].strip() if i_contract is not None else ""
        if contract and not contract_ok(contract):
            problems = (problems or []) + [(CONTRACT, "应为1–60个字符")]
        if problems is not None:
            errors.extend(RowError(number, column, reason) for column, reason in problems)
            continue
        tx = {"row": number, "bank_tx_id": tx_id, "account_no": account, "kind": kind, "amount_fen": amount,
              "occurred_at": occurred}
        if contract:
            tx["contract_no"] = contract
        if on_chunk is None:
            out.transactions.append((bank, tx))
            continue
        part = pending.get(bank)
        if part is None:
            part = pending[bank] = []
        part.append(tx)
        if len(part) >= chunk_rows:
            on_chunk(bank, part)
            pending[bank] = []
    if on_chunk is not None:
        for bank, part in pending.items():
            if part:
                on_chunk(bank, part)
    out.rows = rows
    return out
