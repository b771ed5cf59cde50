"""Course rules: subject, price in integer fen, class hours, mode and weekly schedule.

Only the record's shape is checked here. Whether a schedule breaks the 双减 rules (学科类 on
rest days, offline past 20:30, online past 21:00, online lessons over 30 minutes) is for the
inspection service to flag from `course_published`: the registry records what is offered.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from enum import Enum

from services.common.errors import ValidationFailed

from .domain import ACADEMIC_SUBJECTS, Category

MAX_PRICE_FEN = 10**9  # 1,000万元: anything above is a typing error
MAX_CLASS_HOURS = 10_000
MAX_SLOTS = 50
WEEKDAY_NAMES = {1: "周一", 2: "周二", 3: "周三", 4: "周四", 5: "周五", 6: "周六", 7: "周日"}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class CourseMode(str, Enum):
    online = "online"  # 线上
    offline = "offline"  # 线下


MODE_NAMES = {CourseMode.online: "线上", CourseMode.offline: "线下"}


@dataclass(frozen=True)
class Slot:
    weekday: int  # 1 = Monday … 7 = Sunday
    start: time
    end: time

    def as_dict(self) -> dict:
        return {"weekday": self.weekday, "start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}


@dataclass(frozen=True)
class CourseDraft:
    name: str
    subject: str
    price_fen: int
    class_hours: int
    mode: CourseMode
    schedule: tuple[Slot, ...]


def parse_money_fen(value: object, field: str = "price_fen") -> int:
    """Money is integer fen: floats, strings, booleans and negatives are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed("金额应为以“分”为单位的整数（不接受小数）", field=field)
    if value < 0:
        raise ValidationFailed("金额不能为负数", field=field)
    if value > MAX_PRICE_FEN:
        raise ValidationFailed("金额超出上限（1000万元）", field=field)
    return value


def parse_positive_int(value: object, field: str, label: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationFailed(f"{label}应为正整数", field=field)
    if value > maximum:
        raise ValidationFailed(f"{label}不能超过{maximum}", field=field)
    return value


def _clock(value: object, field: str) -> time:
    match = _HHMM.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValidationFailed("时间应为 HH:MM（24小时制）", field=field)
    return time(int(match.group(1)), int(match.group(2)))


def parse_schedule(value: object, field: str = "schedule") -> tuple[Slot, ...]:
    """Weekly schedule: [{weekday 1–7, start "HH:MM", end "HH:MM"}], no overlaps on a day."""
    if not isinstance(value, list) or not value:
        raise ValidationFailed("上课时间表应为非空列表", field=field)
    if len(value) > MAX_SLOTS:
        raise ValidationFailed(f"上课时间段不能超过{MAX_SLOTS}个", field=field)
    slots: list[Slot] = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise ValidationFailed("时间段应为 {weekday, start, end}", field=where)
        weekday = item.get("weekday")
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 1 <= weekday <= 7:
            raise ValidationFailed("星期应为1（周一）到7（周日）的整数", field=f"{where}.weekday")
        start = _clock(item.get("start"), f"{where}.start")
        end = _clock(item.get("end"), f"{where}.end")
        if end <= start:
            raise ValidationFailed("结束时间应晚于开始时间", field=f"{where}.end")
        slots.append(Slot(weekday, start, end))
    slots.sort(key=lambda s: (s.weekday, s.start))
    for earlier, later in zip(slots, slots[1:]):
        if earlier.weekday == later.weekday and later.start < earlier.end:
            day = WEEKDAY_NAMES[later.weekday]
            raise ValidationFailed(
                f"{day} {earlier.start:%H:%M}–{earlier.end:%H:%M} 与 {later.start:%H:%M}–{later.end:%H:%M} 重叠",
                field=field,
            )
    return tuple(slots)


def parse_course(data: object, category: Category) -> CourseDraft:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise ValidationFailed("课程名称应为1–100个字符", field="name")
    subject = data.get("subject")
    if not isinstance(subject, str) or not subject.strip() or len(subject.strip()) > 20:
        raise ValidationFailed("科目应为1–20个字符", field="subject")
    subject = subject.strip()
    if category is Category.non_academic and subject in ACADEMIC_SUBJECTS:
        raise ValidationFailed(f"非学科类机构不得开设学科类课程（{subject}）", field="subject")
    mode = data.get("mode")
    for member in CourseMode:
        if mode == member.value or mode == MODE_NAMES[member]:
            mode = member
            break
    else:
        raise ValidationFailed("授课方式应为 online（线上）或 offline（线下）", field="mode")
    return CourseDraft(
        name=name.strip(),
        subject=subject,
        price_fen=parse_money_fen(data.get("price_fen")),
        class_hours=parse_positive_int(data.get("class_hours"), "class_hours", "课时数", MAX_CLASS_HOURS),
        mode=mode,
        schedule=parse_schedule(data.get("schedule")),
    )
