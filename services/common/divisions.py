"""行政区划 codes and the "this division and those below it" rule.

Codes follow GB/T 2260 and the statistical township codes: province `340000`, city `340700`,
county `340722`, township `340722100`. A division covers every code that starts with its
significant prefix, so scope checks need no table lookups.
"""
from __future__ import annotations

import re
from enum import Enum

from .errors import ValidationFailed


class DivisionLevel(str, Enum):
    province = "province"  # 省
    city = "city"  # 市
    county = "county"  # 县/区
    township = "township"  # 乡镇/街道


LEVEL_NAMES = {
    DivisionLevel.province: "省",
    DivisionLevel.city: "市",
    DivisionLevel.county: "县",
    DivisionLevel.township: "乡镇",
}

_CODE = re.compile(r"^\d{6}$|^\d{9}$")


def validate_code(code: object, field: str = "division_code") -> str:
    if not isinstance(code, str) or not _CODE.match(code):
        raise ValidationFailed("行政区划代码应为6位（省市县）或9位（乡镇）数字", field=field)
    if len(code) == 6 and code[:2] == "00":
        raise ValidationFailed("行政区划代码无效", field=field)
    return code


def level_of(code: str) -> DivisionLevel:
    validate_code(code)
    if len(code) == 9:
        return DivisionLevel.township
    if code[2:] == "0000":
        return DivisionLevel.province
    if code[4:] == "00":
        return DivisionLevel.city
    return DivisionLevel.county


def scope_prefix(code: str) -> str:
    return {
        DivisionLevel.province: code[:2],
        DivisionLevel.city: code[:4],
        DivisionLevel.county: code[:6],
        DivisionLevel.township: code,
    }[level_of(code)]


def is_within(code: str, scope_code: str) -> bool:
    """True when `code` is `scope_code` itself or lies below it."""
    return code.startswith(scope_prefix(scope_code))


def parent_of(code: str) -> str | None:
    level = level_of(code)
    if level is DivisionLevel.township:
        return code[:6]
    if level is DivisionLevel.county:
        return code[:4] + "00"
    if level is DivisionLevel.city:
        return code[:2] + "0000"
    return None


def county_of(code: str) -> str | None:
    """The county a township or county code belongs to (None above county level)."""
    level = level_of(code)
    if level in (DivisionLevel.county, DivisionLevel.township):
        return code[:6]
    return None
