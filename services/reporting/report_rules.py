"""The report calendar and formulas, on plain values (no I/O, no framework).

* 半月报 covers a half month (1st–15th, 16th–month end), is drafted at the start of the next half
  (the 16th and the 1st) and is due before the 22nd and the 7th (the county's cadence in the seed);
* 周报 covers Friday to Thursday, is drafted on Friday and is due by the end of that Friday;
* due moments are Asia/Shanghai midnights; 压减率 = (基数 − 仍正常营业的学科类) / 基数.
"""
from __future__ import annotations

import calendar
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from services.common.workdays import SHANGHAI

KINDS = {"half_monthly": "半月报", "weekly": "周报"}
DEFAULT_BASELINE = date(2021, 7, 24)
REDUCTION_FORMULA = "压减率 = (基数 − 仍正常营业的学科类机构数) ÷ 基数"
HALF_MONTH_DUE_DAYS = {1: 22, 2: 7}  # first half due before the 22nd, second half before the next 7th
THURSDAY, FRIDAY = 3, 4


def check_kind(kind: object) -> str:
    if kind not in KINDS:
        raise ValueError("报表类型应为 half_monthly（半月报）或 weekly（周报）")
    return str(kind)


def period_containing(kind: str, as_of: date) -> tuple[date, date]:
    """The period a report as of `as_of` covers: its start up to `as_of` itself."""
    if kind == "weekly":
        return as_of - timedelta(days=6), as_of
    return as_of.replace(day=1 if as_of.day <= 15 else 16), as_of


@dataclass(frozen=True)
class Cycle:
    kind: str
    period_start: date
    period_end: date
    due_on: date  # the report is owed before this day begins

    @property
    def due_at(self) -> datetime:
        return datetime.combine(self.due_on, time(0), SHANGHAI)


def last_closed_cycle(kind: str, today: date) -> Cycle:
    """The cycle a draft made on `today` is for: the latest period that has ended by then."""
    if kind == "weekly":
        end = today - timedelta(days=(today.weekday() - THURSDAY - 1) % 7 + 1)  # the Thursday before today
        return Cycle(kind, end - timedelta(days=6), end, end + timedelta(days=2))  # due when Friday ends
    if today.day > 15:
        return Cycle(kind, today.replace(day=1), today.replace(day=15), today.replace(day=HALF_MONTH_DUE_DAYS[1]))
    previous = today.replace(day=1) - timedelta(days=1)
    return Cycle(kind, previous.replace(day=16), previous, today.replace(day=HALF_MONTH_DUE_DAYS[2]))


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def reduction_rate(baseline: int, operating: int) -> float | None:
    """A fraction rounded half-up to 4 places; None without a baseline."""
    if baseline == 0:
        return None
    rate = (Decimal(baseline - operating) / Decimal(baseline)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    return float(rate)


def fraction(part: int, whole: int) -> float | None:
    if whole == 0:
        return None
    return float((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def percent_text(value: float | None) -> str:
    return "—" if value is None else f"{Decimal(str(value)) * 100:.2f}%"


def school_year_of(day: date) -> int:
    """School years are named by their starting year; 一校一案 plans are filed from July."""
    return day.year if day.month >= 7 else day.year - 1


def content_hash(content: dict) -> str:
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
