"""The county ledger (台账) import, on plain data: headers, rows, and what each row would change.

A ledger is a table with Chinese headers in any column order (services/common/ledger_format.py
names them and their variants). Every problem is reported as (row, column, reason) with the
file's own row numbers, so an official can fix the file and import it again. No I/O here: the
CLI or the registry reads the file (services/common/ledger_file.py), imports.py loads what is stored.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable

from services.common.errors import DomainError, ValidationFailed
from services.common.textfiles import fold
from services.common.ledger_format import HEADERS, canonical_header, check_headers, normalize_header  # noqa: F401
from services.common.row_error import RowError  # noqa: F401  (re-exported)

from . import domain
from .domain import HistoryEntry, InstitutionDraft, Status

COLUMN_OF = {f: h for h, f in HEADERS.items()} | {"township_code": "乡镇"}
YES = {"是", "已注册", "Y", "YES", "TRUE", "1"}
NO = {"否", "未注册", "N", "NO", "FALSE", "0"}
MAX_ROWS = 100_000
# fields read as codes (every space dropped, full-width forms folded); the others are tidied text
_COMPACT = {"uscc", "licence_issued_on", "category", "legal_form", "township", "status", "status_on",
            "platform_registered"}


class TownshipDirectory:
    """Township names and codes the importing official may use (from the gateway's divisions)."""

    def __init__(self, townships: Iterable[dict]):
        self.codes: set[str] = set()
        self.by_name: dict[str, list[str]] = defaultdict(list)
        for item in townships:
            code, name = str(item["code"]), compact(str(item["name"]))
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
        codes = self.by_name.get(compact(value), [])
        if not codes:
            raise ValueError(f"未知的乡镇“{value}”（请填写辖区内的乡镇名称或9位代码）")
        if len(codes) > 1:
            raise ValueError(f"乡镇名称“{value}”对应多个乡镇（{'、'.join(sorted(codes))}），请填写9位代码")
        return codes[0]


_TIME = r"(?:[ T]?0?0:00(?::00)?)?$"  # Excel's CSV writes a date cell as 2021/9/15 0:00
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})" + _TIME),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_SERIAL = re.compile(r"^\d{5}$")  # a date cell formatted as a number: days since 1899-12-30


def parse_date_cell(value: str) -> date:
    """Dates as officials type them: 2021-06-18, 2021/6/18, 2021.6.18, 2021年6月18日, 20210618,
    and an Excel date cell (read as a date, or as its serial number 44365 when formatted as a number)."""
    for pattern in _DATE_PATTERNS:
        match = pattern.match(value)
        if match:
            try:
                return date(*(int(g) for g in match.groups()))
            except ValueError:
                raise ValueError(f"“{value}”不是有效日期") from None
    if _EXCEL_SERIAL.match(value) and 20000 <= int(value) <= 80000:  # 1954 … 2119
        return date.fromordinal(_EXCEL_EPOCH.toordinal() + int(value))
    raise ValueError(f"日期“{value}”格式不对，应为 YYYY-MM-DD（如 2021-06-18）")


_SPACES = re.compile(r"[\s\u200b\ufeff]+")
_CJK = r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]"
_SPACE_IN_CJK = re.compile(rf"(?<={_CJK})\s+(?={_CJK})")


compact = fold  # a code, date or listed value: full-width forms folded (２０２１ → 2021), every space dropped


def tidy(value: str) -> str:
    """A name or address: ends trimmed (full-width spaces too), spaces between Chinese characters
    dropped (阳光　培训 → 阳光培训), other runs of spaces one space (ABC  English → ABC English)."""
    text = _SPACES.sub(" ", value.replace("\u3000", " ")).strip()
    return _SPACE_IN_CJK.sub("", text)


def cell_text(value: object, column_field: str = "") -> str:
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
    return compact(value) if column_field in _COMPACT else tidy(value)


@dataclass(frozen=True)
class LedgerRecord:
    row: int
    draft: InstitutionDraft
    status: Status
    status_on: date | None
    platform_registered: bool
    history: tuple[HistoryEntry, ...] = field(default=())


def is_blank(cells: dict) -> bool:
    """No value in any column the import uses."""
    return all(v is None or (isinstance(v, str) and not v.strip())
               for k, v in cells.items() if canonical_header(k) is not None)


def parse_row(row: int, cells: dict, townships: TownshipDirectory, today: date
              ) -> tuple[LedgerRecord | None, list[RowError]]:
    """One ledger row → a record, or every problem in it (one per bad cell)."""
    errors: list[RowError] = []
    text: dict[str, str] = {}
    for written, value in cells.items():
        header = canonical_header(written)
        if header is None:
            continue  # a column the import does not use (序号, 备注): listed when the file is read
        try:
            text[HEADERS[header]] = cell_text(value, HEADERS[header])
        except ValueError as exc:
            errors.append(RowError(row, header, str(exc)))
    for header, name in HEADERS.items():
        text.setdefault(name, "")

    def attempt(column_field: str, parse):
        try:
            return parse()
        except DomainError as exc:
            errors.append(RowError(row, COLUMN_OF.get(exc.field or column_field, COLUMN_OF[column_field]),
                                      exc.message))
        except ValueError as exc:
            errors.append(RowError(row, COLUMN_OF[column_field], str(exc)))
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
               ) -> tuple[list[LedgerRecord], list[RowError]]:
    """Every row; blank rows are skipped; a 统一社会信用代码 may appear once in a file."""
    records: list[LedgerRecord] = []
    errors: list[RowError] = []
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
            errors.append(RowError(row, "统一社会信用代码", f"与第{earlier}行的统一社会信用代码重复"))
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


def plan_row(record: LedgerRecord, stored: Stored | None, today: date) -> tuple[RowPlan | None, list[RowError]]:
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
            return None, [RowError(record.row, "状态", f"{exc.message}（已登记状态自 {stored.status_since} 起）")]
        try:
            domain.check_effective_on(effective_on, stored.status_since, today)
        except DomainError as exc:
            return None, [RowError(record.row, "状态日期", exc.message)]
        status_change = domain.StatusChangeDraft(record.status, effective_on, LEDGER_REASON)
    elif record.status is not Status.operating and record.status_on != stored.status_since:
        return None, [RowError(
            record.row, "状态日期",
            f"已登记为自 {stored.status_since} 起{domain.STATUS_NAMES[stored.status]}，与台账的 {record.status_on} 不一致",
        )]
    if not changes and status_change is None:
        return RowPlan("unchanged"), []
    return RowPlan("update", changes, status_change), []
