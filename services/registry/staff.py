"""培训人员 rules: 居民身份证号 (GB 11643) checked, masked and never kept in the clear.

Personal data: the registry stores only the mask (`340722********1234`) and a keyed digest
(HMAC-SHA256 with a deployment key) that finds the same person twice. No message built here
ever contains the number itself, so neither an error nor a log line can leak it.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date
from enum import Enum

from stdnum.cn import ric

from services.common.errors import ValidationFailed

from .domain import Category, check_not_future, parse_iso_date


class StaffRole(str, Enum):
    teaching = "teaching"  # 教学人员
    support = "support"  # 教辅人员
    management = "management"  # 管理人员


STAFF_ROLE_NAMES = {StaffRole.teaching: "教学人员", StaffRole.support: "教辅人员", StaffRole.management: "管理人员"}

_CERT = re.compile(r"^[0-9A-Za-z]{6,30}$")


def validate_id_number(value: object, field: str = "id_number") -> str:
    """18-character 居民身份证号 with a valid birth date and GB 11643 check character."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("身份证号不能为空", field=field)
    number = value.strip().replace(" ", "").upper()
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise ValidationFailed("身份证号应为18位（前17位为数字，末位为数字或X）", field=field)
    try:
        ric.get_birth_date(number)
    except ric.ValidationError:
        raise ValidationFailed("身份证号中的出生日期无效", field=field) from None
    try:
        ric.validate(number)
    except ric.ValidationError:
        raise ValidationFailed("身份证号校验位错误", field=field) from None
    return number


def mask_id_number(number: str) -> str:
    """Region (6) and last 4 visible: `340722********1234`. Anything shorter is masked whole."""
    if len(number) != 18:
        return "*" * len(number)
    return number[:6] + "*" * 8 + number[-4:]


def id_number_digest(number: str, key: bytes) -> str:
    """Keyed digest: equal for the same person, useless to anyone without the deployment key."""
    return hmac.new(key, number.encode("ascii"), hashlib.sha256).hexdigest()


def _enum(enum_cls, names, value, field):
    for member in enum_cls:
        if value == member.value or value == names[member]:
            return member
    raise ValidationFailed(f"“{value}”不是有效取值，可选：{'、'.join(names.values())}", field=field)


@dataclass(frozen=True)
class StaffDraft:
    name: str
    id_number: str  # in memory only, for the mask and the digest
    role: StaffRole
    qualification_cert_no: str | None
    subjects: tuple[str, ...]
    hired_on: date | None

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)

    def __repr__(self) -> str:  # never print the number, even in a traceback's repr
        return f"StaffDraft(name={self.name!r}, id_number={self.id_number_masked!r}, role={self.role.value})"

    __str__ = __repr__


def parse_staff(data: object, category: Category, today: date | None = None) -> StaffDraft:
    """学科类 institutions' teaching staff must hold a 教师资格证 (its number is required)."""
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 50:
        raise ValidationFailed("姓名应为1–50个字符", field="name")
    number = validate_id_number(data.get("id_number"))
    role = _enum(StaffRole, STAFF_ROLE_NAMES, data.get("role", StaffRole.teaching.value), "role")
    cert = data.get("qualification_cert_no")
    if cert in (None, ""):
        cert = None
    elif not isinstance(cert, str) or not _CERT.match(cert.strip()):
        raise ValidationFailed("教师资格证书编号应为6–30位字母或数字", field="qualification_cert_no")
    else:
        cert = cert.strip().upper()
    if category is Category.academic and role is StaffRole.teaching and cert is None:
        raise ValidationFailed("学科类机构的教学人员须登记教师资格证书编号", field="qualification_cert_no")
    subjects = data.get("subjects") or []
    if not isinstance(subjects, list) or not all(isinstance(s, str) and 0 < len(s.strip()) <= 20 for s in subjects):
        raise ValidationFailed("任教科目应为字符串列表", field="subjects")
    hired = data.get("hired_on")
    hired_on = None if hired in (None, "") else parse_iso_date(hired, "hired_on", "入职日期")
    check_not_future(hired_on, today, "hired_on", "入职日期")
    return StaffDraft(
        name=name.strip(),
        id_number=number,
        role=role,
        qualification_cert_no=cert,
        subjects=tuple(dict.fromkeys(s.strip() for s in subjects)),
        hired_on=hired_on,
    )


def parse_leaving(data: object, hired_on: date | None, today: date) -> date:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    raw = data.get("left_on")
    left_on = today if raw in (None, "") else parse_iso_date(raw, "left_on", "离职日期")
    check_not_future(left_on, today, "left_on", "离职日期")
    if hired_on is not None and left_on < hired_on:
        raise ValidationFailed("离职日期不能早于入职日期", field="left_on")
    return left_on
