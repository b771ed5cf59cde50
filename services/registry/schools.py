"""Compulsory-education schools (for 督导, homework and after-school reports)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from services.common.errors import ValidationFailed

from .domain import validate_township


class SchoolType(str, Enum):
    primary = "primary"  # 小学
    junior = "junior"  # 初中
    nine_year = "nine_year"  # 九年一贯制


SCHOOL_TYPE_NAMES = {SchoolType.primary: "小学", SchoolType.junior: "初中", SchoolType.nine_year: "九年一贯制"}

# grades each type may have (五四制 puts grade 6 in junior high, so both allow it)
GRADE_RANGES = {SchoolType.primary: range(1, 7), SchoolType.junior: range(6, 10), SchoolType.nine_year: range(1, 10)}

_SCHOOL_CODE = re.compile(r"^\d{10}$")


@dataclass(frozen=True)
class SchoolDraft:
    code: str  # 学校标识码 (10 digits, issued by the Ministry of Education)
    name: str
    school_type: SchoolType
    grades: tuple[int, ...]
    division_code: str
    zone: str  # 督学责任区


def parse_school(data: object) -> SchoolDraft:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    code = data.get("code")
    if not isinstance(code, str) or not _SCHOOL_CODE.match(code.strip()):
        raise ValidationFailed("学校标识码应为10位数字", field="code")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise ValidationFailed("学校名称应为1–100个字符", field="name")
    raw_type = data.get("type")
    school_type = next(
        (t for t in SchoolType if raw_type in (t.value, SCHOOL_TYPE_NAMES[t])), None
    )
    if school_type is None:
        raise ValidationFailed("学校类型应为 小学、初中 或 九年一贯制", field="type")
    grades = data.get("grades")
    if not isinstance(grades, list) or not grades:
        raise ValidationFailed("年级应为非空的整数列表（1–9）", field="grades")
    allowed = GRADE_RANGES[school_type]
    for grade in grades:
        if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 9:
            raise ValidationFailed("年级应为1–9的整数", field="grades")
        if grade not in allowed:
            raise ValidationFailed(
                f"{SCHOOL_TYPE_NAMES[school_type]}不设{grade}年级", field="grades"
            )
    zone = data.get("zone")
    if not isinstance(zone, str) or not zone.strip() or len(zone.strip()) > 50:
        raise ValidationFailed("督学责任区应为1–50个字符", field="zone")
    return SchoolDraft(
        code=code.strip(),
        name=name.strip(),
        school_type=school_type,
        grades=tuple(sorted(set(grades))),
        division_code=validate_township(data.get("township_code"), what="学校"),
        zone=zone.strip(),
    )
