"""The county ledger (台账) import, on plain data: headers, rows, and what each row would change.

A ledger is a table with Chinese headers in any column order. Every problem is reported as
(row, column, reason) with the file's own row numbers (the header is row 1), so an official
can fix the file and import it again. No I/O here: the CLI or the gateway reads the file
(ledger_file.py), handlers.py/imports.py load what is stored.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable

from services.common.errors import DomainError, ValidationFailed

from . import domain
from .domain import HistoryEntry, InstitutionDraft, Status

# header -> field of the institution record
HEADERS: dict[str, str] = {
    "机构名称": "name",
    "统一社会信用代码": "uscc",
    "办学许可证号": "licence_no",
    "发证日期": "licence_issued_on",
    "类别": "category",
    "法人类型": "legal_form",
    "乡镇": "township",
    "地址": "address",
    "状态": "status",
    "状态日期": "status_on",
    "全国平台注册": "platform_registered",
}
COLUMN_OF = {f: h for h, f in HEADERS.items()} | {"township_code": "乡镇"}
YES = {"是", "已注册", "Y", "YES", "TRUE", "1"}
NO = {"否", "未注册", "N", "NO", "FALSE", "0"}
MAX_ROWS = 100_000


@dataclass(frozen=True, order=True)
class LedgerError:
    row: int
    column: str
    reason: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "reason": self.reason}

    def __str__(self) -> str:
        return f"第{self.row}行  {self.column or '-'}  {self.reason}"


def normalize_header(raw: object) -> str:
    """`全国平台注册（是/否）`, ` 乡镇 ` → the bare header: no spaces, no trailing note in brackets."""
    header = re.sub(r"\s+", "", "" if raw is None else str(raw))
    return re.sub(r"[（(][^（）()]*[)）]$", "", header)


def check_headers(headers: Iterable[object]) -> list[LedgerError]:
    """Row-1 problems: a missing required header, an unknown or repeated one, a blank one."""
    errors: list[LedgerError] = []
    seen: set[str] = set()
    for index, raw in enumerate(headers, start=1):
        header = normalize_header(raw)
        if not header:
            errors.append(LedgerError(1, f"第{index}列", "表头为空"))
        elif header not in HEADERS:
            errors.append(LedgerError(1, header, f"未知的表头“{header}”，可用表头：{'、'.join(HEADERS)}"))
        elif header in seen:
            errors.append(LedgerError(1, header, f"表头“{header}”重复"))
        seen.add(header)
    for header in HEADERS:
        if header not in seen:
            errors.append(LedgerError(1, header, f"缺少必需的表头“{header}”"))
    return errors


class TownshipDirectory:
    """Township names and codes the importing official may use (from the gateway's divisions)."""

    def __init__(self, townships: Iterable[dict]):
        self.codes: set[str] = set()
        self.by_name: dict[str, list[str]] = defaultdict(list)
        for item in townships:
            code, name = str(item["code"]), str(item["name"]).strip()
            if len(code) != 9:
                continue
            self.codes.add(code)
            self.by_name[name].append(code)

    def resolve(self, value: str) -> str:
        """A 9-digit code or a township name → the code; ValueError with the reason otherwise."""
        if re.fullmatch(r"\d{9}", value):
            if value not in self.codes:
                raise ValueError(f"乡镇代码 {value} 不在您辖区已登记的乡镇中")
            return value
        codes = self.by_name.get(value, [])
        if not codes:
            raise ValueError(f"未知的乡镇“{value}”（请填写辖区内的乡镇名称或9位代码）")
        if len(codes) > 1:
            raise ValueError(f"乡镇名称“{value}”对应多个乡镇（{'、'.join(sorted(codes))}），请填写9位代码")
        return codes[0]


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def parse_date_cell(value: str) -> date:
    """Dates as officials type them: 2021-06-18, 2021/6/18, 2021.6.18, 2021年6月18日, 20210618."""
    for pattern in _DATE_PATTERNS:
        match = pattern.match(value)
        if match:
            try:
                return date(*(int(g) for g in match.groups()))
            except ValueError:
                raise ValueError(f"“{value}”不是有效日期") from None
    raise ValueError(f"日期“{value}”格式不对，应为 YYYY-MM-DD（如 2021-06-18）")


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise ValueError("应为文本")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if not isinstance(value, str):
        raise ValueError("应为文本")
    return value.strip()


@dataclass(frozen=True)
class LedgerRecord:
    row: int
    draft: InstitutionDraft
    status: Status
    status_on: date | None
    platform_registered: bool
    history: tuple[HistoryEntry, ...] = field(default=())


def is_blank(cells: dict) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in cells.values())


def parse_row(row: int, cells: dict, townships: TownshipDirectory, today: date
              ) -> tuple[LedgerRecord | None, list[LedgerError]]:
    """One ledger row → a record, or every problem in it (one per bad cell)."""
    errors: list[LedgerError] = []
    text: dict[str, str] = {}
    for header, value in cells.items():
        if header not in HEADERS:
            errors.append(LedgerError(row, str(header)[:50], "未知的列"))
            continue
        try:
            text[HEADERS[header]] = cell_text(value)
        except ValueError as exc:
            errors.append(LedgerError(row, header, str(exc)))
    for header, name in HEADERS.items():
        text.setdefault(name, "")

    def attempt(column_field: str, parse):
        try:
            return parse()
        except DomainError as exc:
            errors.append(LedgerError(row, COLUMN_OF.get(exc.field or column_field, COLUMN_OF[column_field]),
                                      exc.message))
        except ValueError as exc:
            errors.append(LedgerError(row, COLUMN_OF[column_field], str(exc)))
        return None

    def required(column_field: str, label: str, max_len: int):
        value = text[column_field]
        if not value:
            raise ValidationFailed(f"{label}不能为空", field=column_field)
        if len(value) > max_len:
            raise ValidationFailed(f"{label}不能超过{max_len}个字符", field=column_field)
        return value

    def a_date(column_field: str, label: str, needed: bool):
        value = text[column_field]
        if not value:
            if needed:
                raise ValidationFailed(f"{label}不能为空", field=column_field)
            return None
        day = parse_date_cell(value)
        domain.check_not_future(day, today, column_field, label)
        return day

    def yes_no():
        value = text["platform_registered"].upper()
        if value in YES:
            return True
        if value in NO:
            return False
        raise ValueError("应填“是”或“否”")

    name = attempt("name", lambda: required("name", "机构名称", 100))
    uscc = attempt("uscc", lambda: domain.validate_uscc(text["uscc"], field="uscc"))
    licence_no = attempt("licence_no", lambda: required("licence_no", "办学许可证号", 50))
    issued = attempt("licence_issued_on", lambda: a_date("licence_issued_on", "发证日期", True))
    category = attempt("category", lambda: domain.parse_category(text["category"]))
    legal_form = attempt("legal_form", lambda: domain.parse_legal_form(text["legal_form"]))
    township = attempt("township", lambda: townships.resolve(required("township", "乡镇", 50)))
    address = attempt("address", lambda: required("address", "地址", 200))
    status = attempt("status", lambda: domain.parse_status(required("status", "状态", 10)))
    status_on = attempt("status_on", lambda: a_date("status_on", "状态日期", False))
    platform = attempt("platform_registered", yes_no)
    if errors:
        return None, errors
    history = attempt("status_on", lambda: domain.initial_history(issued, status, status_on))
    if errors:
        return None, errors
    draft = InstitutionDraft(
        name=name, uscc=uscc, licence_no=licence_no, licence_issued_on=issued, category=category,
        legal_form=legal_form, division_code=township, address=address,
    )
    return LedgerRecord(row, draft, status, status_on, platform, tuple(history)), []


def parse_rows(rows: Iterable[tuple[int, dict]], townships: TownshipDirectory, today: date
               ) -> tuple[list[LedgerRecord], list[LedgerError]]:
    """Every row; blank rows are skipped; a 统一社会信用代码 may appear once in a file."""
    records: list[LedgerRecord] = []
    errors: list[LedgerError] = []
    first_row_of: dict[str, int] = {}
    for row, cells in rows:
        if is_blank(cells):
            continue
        record, row_errors = parse_row(row, cells, townships, today)
        errors.extend(row_errors)
        if record is None:
            continue
        earlier = first_row_of.setdefault(record.draft.uscc, row)
        if earlier != row:
            errors.append(LedgerError(row, "统一社会信用代码", f"与第{earlier}行的统一社会信用代码重复"))
            continue
        records.append(record)
    return records, sorted(errors, key=lambda e: (e.row, list(HEADERS).index(e.column)
                                                  if e.column in HEADERS else len(HEADERS)))


# -- comparing a row with what is stored ---------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """What the registry holds for a 统一社会信用代码, as far as a ledger row can say."""

    name: str
    licence_no: str
    licence_issued_on: date | None
    category: str
    legal_form: str
    division_code: str
    address: str
    status: Status
    status_since: date  # effective date of the latest history entry
    platform_basic_info: bool


@dataclass(frozen=True)
class RowPlan:
    kind: str  # create / unchanged / update
    changes: dict = field(default_factory=dict)  # field -> new value
    status_change: domain.StatusChangeDraft | None = None


LEDGER_REASON = "台账导入"


def plan_row(record: LedgerRecord, stored: Stored | None, today: date) -> tuple[RowPlan | None, list[LedgerError]]:
    """Create, leave alone, or update (fields and/or a status change that the table allows)."""
    if stored is None:
        return RowPlan("create"), []
    d = record.draft
    wanted = {
        "name": d.name, "licence_no": d.licence_no, "licence_issued_on": d.licence_issued_on,
        "category": d.category.value, "legal_form": d.legal_form.value, "division_code": d.division_code,
        "address": d.address, "platform_basic_info": record.platform_registered,
    }
    changes = {k: v for k, v in wanted.items() if getattr(stored, k) != v}
    status_change = None
    if record.status is not stored.status:
        effective_on = record.status_on or today
        try:
            domain.check_transition(stored.status, record.status)
        except DomainError as exc:
            return None, [LedgerError(record.row, "状态", f"{exc.message}（已登记状态自 {stored.status_since} 起）")]
        try:
            domain.check_effective_on(effective_on, stored.status_since, today)
        except DomainError as exc:
            return None, [LedgerError(record.row, "状态日期", exc.message)]
        status_change = domain.StatusChangeDraft(record.status, effective_on, LEDGER_REASON)
    elif record.status is not Status.operating and record.status_on != stored.status_since:
        return None, [LedgerError(
            record.row, "状态日期",
            f"已登记为自 {stored.status_since} 起{domain.STATUS_NAMES[stored.status]}，与台账的 {record.status_on} 不一致",
        )]
    if not changes and status_change is None:
        return RowPlan("unchanged"), []
    return RowPlan("update", changes, status_change), []
