"""预收费资金监管 desk rules on plain data: county settings and supervised accounts. No nameko,
no SQLAlchemy; every refusal names its field.

Sources (../shared/domain.md, 教监管函〔2021〕2号): one charge covers at most 3 months or 60 class
hours (a county may be stricter, not looser) and at most the county's cap (often 5,000 yuan); two
supervision modes, 银行托管 and 风险保证金; deemed confirmation of a lesson after 15 working days,
of a refund after 5.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import date

from services.common.errors import Conflict, ValidationFailed

from .money import parse_fen, yuan
from .rule_parsers import obj, optional_day, parse_id, text

# -- county settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EscrowRules:
    """One county's settings; the defaults are the national values (or common practice)."""

    charge_cap_fen: int = 500_000  # 5,000 yuan per charge (a county setting)
    max_class_hours: int = 60  # national: one charge covers at most 60 class hours
    max_months: int = 3  # national: … or 3 months
    deemed_confirmation_workdays: int = 15  # 一课一消: silence for 15 working days = confirmed (some places 7)
    refund_answer_workdays: int = 5  # a refund request unanswered for 5 working days is accepted
    receipt_grace_days: int = 3  # a contract with no bank receipt after N days: money taken outside the account
    delivery_stop_days: int = 30  # no lesson for N days while holding prepaid money (卷钱跑路 signal)

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_RULES = EscrowRules()

# setting -> (minimum, maximum, why the bound)
SETTING_BOUNDS: dict[str, tuple[int, int, str]] = {
    "max_class_hours": (1, 60, "国家规定一次收费不得超过60课时，县可从严、不可放宽"),
    "max_months": (1, 3, "国家规定一次收费不得超过3个月，县可从严、不可放宽"),
    "deemed_confirmation_workdays": (1, 30, "应在1到30个工作日之间"),
    "refund_answer_workdays": (1, 30, "应在1到30个工作日之间"),
    "receipt_grace_days": (1, 30, "应在1到30天之间"),
    "delivery_stop_days": (1, 365, "应在1到365天之间"),
}
SETTING_NAMES = {
    "charge_cap_fen": "单次收费上限（分）",
    "max_class_hours": "单次收费最多课时",
    "max_months": "单次收费最长月数",
    "deemed_confirmation_workdays": "课消视为确认的工作日数",
    "refund_answer_workdays": "退费视为同意的工作日数",
    "receipt_grace_days": "合同无银行入账的宽限天数",
    "delivery_stop_days": "停止授课预警天数",
}


def parse_settings_update(current: EscrowRules, data: object) -> EscrowRules:
    """Apply a partial update; unknown keys and out-of-bound values are refused by name."""
    if not isinstance(data, dict) or not data:
        raise ValidationFailed("请求体应为非空 JSON 对象，可设置：" + "、".join(SETTING_NAMES), field="body")
    values = {}
    for key, value in data.items():
        if key not in SETTING_NAMES:
            raise ValidationFailed(f"未知设置项“{key}”，可设置：{'、'.join(SETTING_NAMES)}", field=str(key))
        if key == "charge_cap_fen":
            values[key] = parse_fen(value, key)
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationFailed(f"{SETTING_NAMES[key]}应为整数", field=key)
        low, high, why = SETTING_BOUNDS[key]
        if not low <= value <= high:
            raise ValidationFailed(f"{SETTING_NAMES[key]}{why}", field=key)
        values[key] = value
    return replace(current, **values)


# -- supervised accounts -----------------------------------------------------------------------

MODES = {"custody": "银行托管", "guarantee": "风险保证金"}
_MODE_ALIASES = {**{k: k for k in MODES}, **{v: k for k, v in MODES.items()}}
_BANK_CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_ACCOUNT_NO = re.compile(r"^[0-9A-Za-z-]{6,40}$")


def parse_mode(value: object, field: str = "mode") -> str:
    mode = _MODE_ALIASES.get(value) if isinstance(value, str) else None
    if mode is None:
        raise ValidationFailed("监管方式应为 custody（银行托管）或 guarantee（风险保证金）", field=field)
    return mode


@dataclass(frozen=True)
class AccountDraft:
    institution_id: int
    mode: str
    bank_name: str
    bank_code: str
    account_no: str
    custody_agreement_no: str | None
    guarantee_minimum_fen: int | None
    opened_on: date


def _mode_terms(mode: str, agreement: str | None, minimum: object) -> tuple[str | None, int | None]:
    """Custody needs the filed custody agreement; a guarantee account its required minimum."""
    if mode == "custody":
        if agreement is None:
            raise ValidationFailed("银行托管须填写已向教育部门备案的托管协议编号", field="custody_agreement_no")
        if minimum is not None:
            raise ValidationFailed("银行托管账户不设保证金最低额", field="guarantee_minimum_fen")
        return agreement, None
    return agreement, parse_fen(minimum, "guarantee_minimum_fen")


def parse_account_opening(data: object, today: date) -> AccountDraft:
    data = obj(data)
    institution_id = parse_id(data.get("institution_id"), "institution_id")
    mode = parse_mode(data.get("mode"))
    bank_name = text(data, "bank_name", "开户银行", 100)
    bank_code = text(data, "bank_code", "银行代码", 20)
    if not _BANK_CODE.match(bank_code):
        raise ValidationFailed("银行代码只能包含字母、数字、下划线和短横线", field="bank_code")
    account_no = text(data, "account_no", "监管账号", 40).replace(" ", "")
    if not _ACCOUNT_NO.match(account_no):
        raise ValidationFailed("监管账号应为6到40位数字或字母", field="account_no")
    agreement = text(data, "custody_agreement_no", "托管协议编号", 60, required=False)
    agreement, minimum = _mode_terms(mode, agreement, data.get("guarantee_minimum_fen"))
    opened_on = optional_day(data, "opened_on", "开户日期", today)
    return AccountDraft(institution_id, mode, bank_name, bank_code, account_no, agreement, minimum, opened_on)


def check_may_open(institution_status: str, mode: str, open_modes: set[str]) -> None:
    if institution_status == "deregistered":
        raise Conflict("机构已注销，不能开设监管账户", field="institution_id")
    other = open_modes - {mode}
    if other:
        current = MODES[next(iter(other))]
        raise Conflict(f"该机构已采用{current}方式；更换监管方式请变更或关闭现有账户", field="mode")


CHANGEABLE = ("mode", "bank_name", "custody_agreement_no", "guarantee_minimum_fen")


def parse_account_change(data: object, current: dict) -> tuple[dict, str | None]:
    """→ ({field: (before, after)} for what really changes, reason). `current` holds CHANGEABLE."""
    data = obj(data)
    unknown = set(data) - set(CHANGEABLE) - {"reason", "version"}
    if unknown:
        key = sorted(unknown)[0]
        raise ValidationFailed(f"不能变更“{key}”，可变更：{'、'.join(CHANGEABLE)}（更换账号请开设新账户）", field=key)
    after = dict(current)
    if "mode" in data:
        after["mode"] = parse_mode(data["mode"])
    if "bank_name" in data:
        after["bank_name"] = text(data, "bank_name", "开户银行", 100)
    if "custody_agreement_no" in data:
        after["custody_agreement_no"] = text(data, "custody_agreement_no", "托管协议编号", 60, required=False)
    minimum = data.get("guarantee_minimum_fen", after["guarantee_minimum_fen"])
    if after["mode"] == "custody" and "guarantee_minimum_fen" not in data:
        minimum = None  # switching to custody drops the guarantee minimum
    after["custody_agreement_no"], after["guarantee_minimum_fen"] = _mode_terms(
        after["mode"], after["custody_agreement_no"], minimum)
    reason = text(data, "reason", "变更原因", 200, required=False)
    changes = {k: (current[k], after[k]) for k in CHANGEABLE if current[k] != after[k]}
    return changes, reason


def parse_account_closing(data: object, today: date, opened_on: date) -> tuple[date, str]:
    data = obj(data)
    closed_on = optional_day(data, "closed_on", "销户日期", today)
    if closed_on < opened_on:
        raise ValidationFailed("销户日期不能早于开户日期", field="closed_on")
    return closed_on, text(data, "reason", "销户原因", 200)


def check_may_close(status: str, liability_fen: int, other_open_accounts: int) -> None:
    if status != "open":
        raise Conflict("该账户已关闭", field="account_id")
    if liability_fen > 0 and other_open_accounts == 0:
        raise Conflict(f"尚有未消课预收费 {yuan(liability_fen)} 元，须先清退或开设新的监管账户后再关闭",
                       field="account_id")
