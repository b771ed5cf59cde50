"""School supervision (督导) rules on plain data: visits and coverage, homework limits, 一校一案.

Sources: 枞阳县 press release of 2021-11-10 (the seed) — 督学责任区 visit every school every month
(覆盖率 100%) by 校园巡查、查阅资料、问卷调查、走访座谈; 小学一二年级不布置书面家庭作业, other primary
grades ≤ 60 minutes of written homework a day on average, junior high ≤ 90; every school files its
课后服务 "一校一案" plan by 8月25日, pupils join voluntarily, 知晓率 100%.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from services.common.errors import ValidationFailed

# -- visits and coverage ------------------------------------------------------------------------------

VISIT_METHODS = {
    "campus_patrol": "校园巡查",
    "document_review": "查阅资料",
    "questionnaire": "问卷调查",
    "interview": "走访座谈",
}

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_visit_method(value: object) -> str:
    for code, name in VISIT_METHODS.items():
        if value in (code, name):
            return code
    raise ValidationFailed("督导方式应为 校园巡查、查阅资料、问卷调查 或 走访座谈", field="method")


def parse_month(value: object, field: str = "month") -> tuple[date, date]:
    """'2021-09' → (first day, first day of the next month)."""
    match = _MONTH.match(value) if isinstance(value, str) else None
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValidationFailed("月份应为 YYYY-MM", field=field)
    year, month = int(match.group(1)), int(match.group(2))
    start = date(year, month, 1)
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return start, end


def parse_date(value: object, field: str) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationFailed("日期应为 YYYY-MM-DD", field=field)


def percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part * 100 / whole, 2)


def coverage(in_scope: set[int], visited: set[int]) -> dict:
    """Schools visited in the month / schools in scope; complete (100%) only when every one was."""
    seen = in_scope & visited
    return {
        "schools": len(in_scope),
        "visited": len(seen),
        "rate": percent(len(seen), len(in_scope)),
        "complete": bool(in_scope) and seen == in_scope,
        "unvisited": sorted(in_scope - seen),
    }


# -- homework (作业公示 and the limits) ---------------------------------------------------------------


@dataclass(frozen=True)
class GradeBand:
    code: str
    name: str
    limit: int  # minutes of written homework a day on average; 0 = none allowed at all


BANDS = {
    "lower_primary": GradeBand("lower_primary", "小学一二年级", 0),
    "primary": GradeBand("primary", "小学三至六年级", 60),
    "junior": GradeBand("junior", "初中", 90),
}


def grade_band(grade: int) -> GradeBand:
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 9:
        raise ValidationFailed("年级应为1–9的整数", field="grade")
    if grade <= 2:
        return BANDS["lower_primary"]
    if grade <= 6:
        return BANDS["primary"]
    return BANDS["junior"]


def parse_items(items: object) -> list[dict]:
    """[{subject, minutes, written (default true)}]; an empty list is a day without homework."""
    if not isinstance(items, list):
        raise ValidationFailed("作业内容应为列表 [{subject, minutes, written}]", field="items")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationFailed("每项作业应为 JSON 对象", field=f"items[{i}]")
        subject = item.get("subject")
        if not isinstance(subject, str) or not subject.strip() or len(subject.strip()) > 30:
            raise ValidationFailed("学科应为1–30个字符", field=f"items[{i}].subject")
        minutes = item.get("minutes")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 600:
            raise ValidationFailed("预计完成时间应为0–600的整数分钟", field=f"items[{i}].minutes")
        written = item.get("written", True)
        if not isinstance(written, bool):
            raise ValidationFailed("written 应为 true 或 false", field=f"items[{i}].written")
        out.append({"subject": subject.strip(), "minutes": minutes, "written": written})
    return out


def written_minutes(items: list[dict]) -> int:
    return sum(i["minutes"] for i in items if i.get("written", True))


def check_class(grade: int, daily_written_minutes: list[int]) -> dict:
    """One class over a period: each published day's written minutes → average, limit, flagged.

    The average is over the days the class published (each publication is one school day).
    Grades 1–2: any written homework on any day is flagged. Others: flagged when the average is
    over the band's limit (60 primary, 90 junior high): 60.0 passes, 60.2 does not.
    """
    band = grade_band(grade)
    days = len(daily_written_minutes)
    total = sum(daily_written_minutes)
    average = round(total / days, 1) if days else None
    if band.limit == 0:
        flagged = total > 0
        reason = "小学一二年级不应布置书面家庭作业" if flagged else None
    else:
        flagged = days > 0 and total > band.limit * days  # exact: avoids rounding at the boundary
        reason = f"日均书面作业{average}分钟，超过{band.limit}分钟" if flagged else None
    return {
        "grade": grade,
        "band": band.code,
        "band_name": band.name,
        "limit_minutes": band.limit,
        "days": days,
        "total_minutes": total,
        "average_minutes": average,
        "days_with_written_homework": sum(1 for m in daily_written_minutes if m > 0),
        "flagged": flagged,
        "reason": reason,
    }


# -- after-school service (课后服务 一校一案) ------------------------------------------------------------

DEFAULT_PLAN_DEADLINE = "08-25"
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")

PLAN_STATUS_NAMES = {"on_time": "按时报备", "late": "逾期报备", "missing": "逾期未报", "pending": "尚未到期"}


def parse_month_day(value: object, field: str = "plan_deadline") -> str:
    match = _MONTH_DAY.match(value) if isinstance(value, str) else None
    try:
        if match:
            date(2001, int(match.group(1)), int(match.group(2)))  # not a leap year: no 02-29
            return value
    except ValueError:
        pass
    raise ValidationFailed("截止日期应为 MM-DD（如 08-25）", field=field)


def school_year_of(day: date) -> int:
    """The school year a day belongs to, named by its starting year (September; plans from July)."""
    return day.year if day.month >= 7 else day.year - 1


def plan_deadline(school_year: int, month_day: str = DEFAULT_PLAN_DEADLINE) -> date:
    month, day = (int(x) for x in parse_month_day(month_day).split("-"))
    return date(school_year, month, day)


def plan_status(filed_on: date | None, deadline: date, today: date) -> str:
    if filed_on is not None:
        return "on_time" if filed_on <= deadline else "late"
    return "missing" if today > deadline else "pending"


def parse_count(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationFailed("应为非负整数", field=field)
    return value


def parse_figures(data: dict) -> dict:
    """participating/enrolled pupils and aware/surveyed (知晓率); each pair optional, whole or absent."""
    out = {}
    for part, whole, what in (("participating", "enrolled", "参加课后服务人数"), ("aware", "surveyed", "知晓人数")):
        if data.get(part) is None and data.get(whole) is None:
            continue
        p, w = parse_count(data.get(part), part), parse_count(data.get(whole), whole)
        if p > w:
            raise ValidationFailed(f"{what}不能超过总数", field=part)
        out[part], out[whole] = p, w
    return out
