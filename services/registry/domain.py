"""Registry rules: what a valid institution record is. No framework, no I/O."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from stdnum.cn import uscc as uscc_checksum

from services.common.divisions import DivisionLevel, level_of, validate_code
from services.common.errors import Conflict, ValidationFailed


class Category(str, Enum):
    academic = "academic"  # 学科类
    non_academic = "non_academic"  # 非学科类


CATEGORY_NAMES = {Category.academic: "学科类", Category.non_academic: "非学科类"}


class LegalForm(str, Enum):
    for_profit = "for_profit"  # 营利性
    non_profit = "non_profit"  # 非营利性


LEGAL_FORM_NAMES = {LegalForm.for_profit: "营利性", LegalForm.non_profit: "非营利性"}


class Status(str, Enum):
    operating = "operating"  # 正常营业
    paused = "paused"  # 暂停营业
    suspended_for_rectification = "suspended_for_rectification"  # 停业整顿
    deregistering = "deregistering"  # 注销中
    deregistered = "deregistered"  # 已注销


STATUS_NAMES = {
    Status.operating: "正常营业",
    Status.paused: "暂停营业",
    Status.suspended_for_rectification: "停业整顿",
    Status.deregistering: "注销中",
    Status.deregistered: "已注销",
}


class Verification(str, Enum):
    """办学许可核验: the county education bureau confirms a new record against the paper licence."""

    pending = "pending"  # 待核验
    verified = "verified"  # 已核验
    rejected = "rejected"  # 核验不通过


VERIFICATION_NAMES = {
    Verification.pending: "待核验",
    Verification.verified: "已核验",
    Verification.rejected: "核验不通过",
}


def _enum_by_code_or_name(enum_cls, names: dict, value: object, field: str):
    for member in enum_cls:
        if value == member.value or value == names[member]:
            return member
    allowed = "、".join(names[m] for m in enum_cls)
    raise ValidationFailed(f"“{value}”不是有效取值，可选：{allowed}", field=field)


def parse_category(value: object, field: str = "category") -> Category:
    return _enum_by_code_or_name(Category, CATEGORY_NAMES, value, field)


def parse_legal_form(value: object, field: str = "legal_form") -> LegalForm:
    return _enum_by_code_or_name(LegalForm, LEGAL_FORM_NAMES, value, field)


def parse_status(value: object, field: str = "status") -> Status:
    return _enum_by_code_or_name(Status, STATUS_NAMES, value, field)


def validate_uscc(value: object, field: str = "uscc") -> str:
    """统一社会信用代码: 18 characters with the GB 32100-2015 check character."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("统一社会信用代码不能为空", field=field)
    code = value.strip().upper()
    if len(code) != 18:
        raise ValidationFailed(f"统一社会信用代码应为18位，实际{len(code)}位", field=field)
    if not uscc_checksum.is_valid(code):
        raise ValidationFailed("统一社会信用代码校验位错误", field=field)
    return code


def _required_text(data: dict, field: str, label: str, max_len: int) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{label}不能为空", field=field)
    value = value.strip()
    if len(value) > max_len:
        raise ValidationFailed(f"{label}不能超过{max_len}个字符", field=field)
    return value


def _optional_date(data: dict, field: str, label: str) -> date | None:
    value = data.get(field)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{label}应为 YYYY-MM-DD 格式", field=field)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{label}应为 YYYY-MM-DD 格式", field=field) from None


@dataclass(frozen=True)
class InstitutionDraft:
    name: str
    uscc: str
    licence_no: str
    licence_issued_on: date | None
    category: Category
    legal_form: LegalForm
    division_code: str  # the township (乡镇) the institution sits in
    address: str


def parse_registration(data: object) -> InstitutionDraft:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    division_code = validate_code(data.get("township_code"), field="township_code")
    if level_of(division_code) is not DivisionLevel.township:
        raise ValidationFailed("机构须登记到乡镇（9位代码）", field="township_code")
    return InstitutionDraft(
        name=_required_text(data, "name", "机构名称", 100),
        uscc=validate_uscc(data.get("uscc")),
        licence_no=_required_text(data, "licence_no", "办学许可证号", 50),
        licence_issued_on=_optional_date(data, "licence_issued_on", "发证日期"),
        category=parse_category(data.get("category")),
        legal_form=parse_legal_form(data.get("legal_form")),
        division_code=division_code,
        address=_required_text(data, "address", "地址", 200),
    )


def parse_verification_decision(decision: object) -> tuple[Verification, datetime]:
    if not isinstance(decision, dict):
        raise ValidationFailed("核验决定应为 JSON 对象", field="decision")
    try:
        outcome = Verification(decision.get("outcome"))
    except ValueError:
        raise ValidationFailed("核验结果只能是 verified 或 rejected", field="outcome") from None
    try:
        decided_at = datetime.fromisoformat(decision["decided_at"])
    except (KeyError, TypeError, ValueError):
        raise ValidationFailed("决定时间应为带时区的 ISO 时间", field="decided_at") from None
    if decided_at.tzinfo is None:
        raise ValidationFailed("决定时间应带时区", field="decided_at")
    return outcome, decided_at


def check_verification_outcome(current: Verification, outcome: Verification) -> bool:
    """True if the outcome must be recorded; False if it is a harmless repeat.

    A record is verified or rejected once; a different outcome later is a conflict.
    """
    if outcome is Verification.pending:
        raise ValidationFailed("核验结果只能是已核验或核验不通过", field="outcome")
    if current is Verification.pending:
        return True
    if current is outcome:
        return False
    raise Conflict(
        f"该机构已{VERIFICATION_NAMES[current]}，不能改为{VERIFICATION_NAMES[outcome]}",
        field="outcome",
    )
