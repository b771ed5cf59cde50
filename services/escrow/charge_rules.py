"""预收费资金监管 desk rules on plain data: fee items, charges (contracts), lessons and refunds.
No nameko, no SQLAlchemy; every refusal names its field.

Sources (../shared/domain.md, 教监管函〔2021〕2号): the model contract is mandatory; fee items and
standards are published before charging; one charge covers at most 3 months or 60 class hours and
at most the county's cap (account_rules.py); 一课一消 with deemed confirmation after 15 working
days; refunds deemed accepted after 5 working days and paid back by the original channel.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.common.errors import Conflict, ValidationFailed

from .account_rules import EscrowRules
from .money import parse_fen, yuan
from .rule_parsers import day_, obj, parse_id, parse_moment, positive_int, text

# -- fee items (收费项目与标准公示) ----------------------------------------------------------------


def parse_fee_item(data: object) -> tuple[int, str, int, bool]:
    """→ (institution id, name, price per class hour in fen, publish now?)."""
    data = obj(data)
    institution_id = parse_id(data.get("institution_id"), "institution_id")
    name = text(data, "name", "收费项目名称", 100)
    price = parse_fen(data.get("price_per_hour_fen"), "price_per_hour_fen")
    publish = data.get("publish", True)
    if not isinstance(publish, bool):
        raise ValidationFailed("publish 应为 true 或 false", field="publish")
    return institution_id, name, price, publish


def fee_item_state(published: bool, withdrawn: bool) -> str:
    return "withdrawn" if withdrawn else "published" if published else "draft"


FEE_ITEM_STATE_NAMES = {"draft": "未公示", "published": "已公示", "withdrawn": "已撤下"}

# -- charges: the model contract and its one prepaid payment -------------------------------------

# 《中小学生校外培训服务合同（示范文本）》 versions a contract may be signed on (add new ones here)
MODEL_CONTRACT_VERSIONS = {"2021": "《中小学生校外培训服务合同（示范文本）》（2021年修订版）"}
CURRENT_MODEL_CONTRACT = "2021"
CHANNELS = {"bank_transfer": "银行转账", "bank_card": "银行卡刷卡", "wechat": "微信支付", "alipay": "支付宝",
            "unionpay": "云闪付"}
REFUSED_CHANNELS = {
    "cash": "预收费须全部进入监管账户，不得收取现金",
    "现金": "预收费须全部进入监管账户，不得收取现金",
    "loan": "不得以培训贷方式收取培训费用",
    "培训贷": "不得以培训贷方式收取培训费用",
}
_CHANNEL_ALIASES = {**{k: k for k in CHANNELS}, **{v: k for k, v in CHANNELS.items()}}


def parse_channel(value: object, field: str = "channel") -> str:
    if isinstance(value, str) and value in REFUSED_CHANNELS:
        raise ValidationFailed(REFUSED_CHANNELS[value], field=field)
    channel = _CHANNEL_ALIASES.get(value) if isinstance(value, str) else None
    if channel is None:
        allowed = "、".join(f"{k}（{v}）" for k, v in CHANNELS.items())
        raise ValidationFailed(f"未知付款方式，可选：{allowed}", field=field)
    return channel


@dataclass(frozen=True)
class ChargeDraft:
    institution_id: int
    contract_no: str
    template_version: str
    fee_item_id: int
    student_name: str
    class_hours: int
    starts_on: date
    ends_on: date
    amount_fen: int
    channel: str


_CONTRACT_NO = re.compile(r"^[0-9A-Za-z\-_/]{1,60}$")


def parse_charge(data: object) -> ChargeDraft:
    """The shape of a charge; the limits are `cap_violations`, the state `check_charge_state`."""
    data = obj(data)
    institution_id = parse_id(data.get("institution_id"), "institution_id")
    contract_no = text(data, "contract_no", "合同编号", 60)
    if not _CONTRACT_NO.match(contract_no):
        raise ValidationFailed("合同编号只能包含字母、数字和 - _ /", field="contract_no")
    version = data.get("template_version", CURRENT_MODEL_CONTRACT)
    if version not in MODEL_CONTRACT_VERSIONS:
        known = "、".join(f"{k}：{v}" for k, v in MODEL_CONTRACT_VERSIONS.items())
        raise ValidationFailed(f"须使用示范合同文本（{known}）", field="template_version")
    fee_item_id = parse_id(data.get("fee_item_id"), "fee_item_id")
    student = text(data, "student_name", "学员姓名", 50)
    class_hours = positive_int(data.get("class_hours"), "class_hours", "课时数")
    starts_on = day_(data.get("starts_on"), "starts_on", "课程开始日期")
    ends_on = day_(data.get("ends_on"), "ends_on", "课程结束日期")
    if ends_on < starts_on:
        raise ValidationFailed("课程结束日期不能早于开始日期", field="ends_on")
    amount = parse_fen(data.get("amount_fen"), "amount_fen")
    channel = parse_channel(data.get("channel"))
    return ChargeDraft(institution_id, contract_no, version, fee_item_id, student, class_hours, starts_on,
                       ends_on, amount, channel)


def period_end(starts_on: date, months: int) -> date:
    """Last day of a period of `months` calendar months from `starts_on`: the day before the same
    day-of-month `months` later (2021-11-10 → 2022-02-09); when that month is shorter, its last day
    (2021-11-30 + 3 months → 2022-02-28)."""
    index = starts_on.month - 1 + months
    year, month = starts_on.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if starts_on.day > last:
        return date(year, month, last)
    return date(year, month, starts_on.day) - timedelta(days=1)


@dataclass(frozen=True)
class Violation:
    field: str
    reason: str


def cap_violations(draft: ChargeDraft, rules: EscrowRules) -> list[Violation]:
    """Every cap the charge breaks (60 class hours, 3 months, the county's amount cap)."""
    out = []
    if draft.class_hours > rules.max_class_hours:
        out.append(Violation("class_hours", f"一次收费不得超过{rules.max_class_hours}课时（本次{draft.class_hours}课时）"))
    last = period_end(draft.starts_on, rules.max_months)
    if draft.ends_on > last:
        out.append(Violation("ends_on", f"一次收费的课程周期不得超过{rules.max_months}个月"
                                        f"（{draft.starts_on.isoformat()}起最晚至{last.isoformat()}，"
                                        f"本次至{draft.ends_on.isoformat()}）"))
    if draft.amount_fen > rules.charge_cap_fen:
        out.append(Violation("amount_fen", f"一次收费不得超过本县上限{yuan(rules.charge_cap_fen)}元"
                                           f"（本次{yuan(draft.amount_fen)}元）"))
    return out


def refuse_over_caps(violations: list[Violation]) -> None:
    if violations:
        raise ValidationFailed("；".join(v.reason for v in violations), field=violations[0].field)


@dataclass(frozen=True)
class FeeItemFacts:
    institution_id: int
    name: str
    price_per_hour_fen: int
    published: bool
    withdrawn: bool


def check_charge_state(institution_name: str, may_enrol: bool, reason: str | None, open_accounts: int,
                       institution_id: int, fee_item: FeeItemFacts | None) -> None:
    """The institution may enrol, has an open supervised account, and the item is published."""
    if not may_enrol:
        raise Conflict(f"{institution_name}：{reason}，不得收取新的费用", field="institution_id")
    if open_accounts == 0:
        raise Conflict(f"{institution_name}尚未开设资金监管账户，不得收费", field="institution_id")
    if fee_item is None or fee_item.institution_id != institution_id:
        raise ValidationFailed("收费项目不存在或不属于该机构", field="fee_item_id")
    if fee_item.withdrawn:
        raise Conflict(f"收费项目“{fee_item.name}”已撤下，不得据此收费", field="fee_item_id")
    if not fee_item.published:
        raise Conflict(f"收费项目“{fee_item.name}”尚未公示，须先公示收费项目和标准", field="fee_item_id")


def check_amount(draft: ChargeDraft, fee_item: FeeItemFacts) -> None:
    expected = draft.class_hours * fee_item.price_per_hour_fen
    if draft.amount_fen != expected:
        raise ValidationFailed(
            f"收费金额应为课时数×公示单价：{draft.class_hours}课时×{yuan(fee_item.price_per_hour_fen)}元"
            f"={yuan(expected)}元，本次填写{yuan(draft.amount_fen)}元", field="amount_fen")


# -- lessons: 一课一消 ---------------------------------------------------------------------------

CONFIRMATION_NAMES = {"pending": "待确认", "confirmed": "家长已确认", "deemed": "逾期视为确认",
                      "disputed": "家长有异议"}  # disputed: not releasable (parent_rules.py)
CONTRACT_STATUS_NAMES = {"active": "履行中", "completed": "已完成", "refunded": "已退费"}


@dataclass(frozen=True)
class LessonDraft:
    lesson_no: int
    hours: int
    delivered_at: datetime


def parse_lesson(data: object, now: datetime) -> LessonDraft:
    data = obj(data)
    lesson_no = positive_int(data.get("lesson_no"), "lesson_no", "课次编号")
    hours = positive_int(data.get("hours", 1), "hours", "课时数")
    delivered_at = parse_moment(data.get("delivered_at"), "delivered_at", now)
    return LessonDraft(lesson_no, hours, delivered_at)


def lesson_fee(amount_fen: int, class_hours: int, hours: int) -> int:
    """A lesson's fee: its hours at the contract's price per hour (amount = hours × price, exact)."""
    return amount_fen // class_hours * hours


def check_lesson(status: str, class_hours: int, delivered_hours: int, hours: int, fee_fen: int,
                 remaining_fen: int, starts_on: date, delivered_on: date) -> None:
    if status != "active":
        raise Conflict(f"合同{CONTRACT_STATUS_NAMES.get(status, status)}，不能再登记课消", field="contract_id")
    if delivered_hours + hours > class_hours:
        raise ValidationFailed(f"超出合同课时：合同{class_hours}课时，已上{delivered_hours}课时，本次{hours}课时",
                               field="hours")
    if fee_fen > remaining_fen:
        raise Conflict(f"合同剩余预付款{yuan(remaining_fen)}元（已扣除退费），不足本次课消{yuan(fee_fen)}元",
                       field="hours")
    if delivered_on < starts_on:
        raise ValidationFailed(f"上课日期早于合同课程开始日期 {starts_on.isoformat()}", field="delivered_at")


# -- refunds ------------------------------------------------------------------------------------

REFUND_STATUS_NAMES = {"requested": "待机构答复", "accepted": "机构同意", "deemed_accepted": "逾期视为同意",
                       "rejected": "机构拒绝", "paid": "已原路退回"}
REFUND_COUNTS = ("requested", "accepted", "deemed_accepted", "paid")  # all but rejected hold money back
REFUND_GRANTED = ("accepted", "deemed_accepted", "paid")


def parse_refund_request(data: object, contract_channel: str) -> tuple[int, str]:
    """→ (amount in fen, reason). The money goes back by the contract's own channel."""
    data = obj(data)
    amount = parse_fen(data.get("amount_fen"), "amount_fen")
    reason = text(data, "reason", "退费原因", 500)
    if data.get("channel") not in (None, ""):
        channel = parse_channel(data["channel"])
        if channel != contract_channel:
            raise ValidationFailed(f"退费须原路退回（{CHANNELS[contract_channel]}）", field="channel")
    return amount, reason


def refundable(amount_fen: int, delivered_fen: int, refunds_fen: int) -> int:
    """Paid minus lessons given minus refunds already asked for (rejected ones aside)."""
    return max(amount_fen - delivered_fen - refunds_fen, 0)


def check_refund(amount: int, paid_fen: int, delivered_fen: int, refunds_fen: int, pending: bool) -> None:
    if pending:
        raise Conflict("该合同已有退费申请待机构答复", field="contract_id")
    most = refundable(paid_fen, delivered_fen, refunds_fen)
    if amount > most:
        raise ValidationFailed(
            f"退费金额{yuan(amount)}元超过可退金额{yuan(most)}元（已付{yuan(paid_fen)}元，"
            f"已上课{yuan(delivered_fen)}元，已申请或已退{yuan(refunds_fen)}元）", field="amount_fen")


def parse_refund_answer(data: object) -> tuple[str, str | None]:
    """→ ("accepted" | "rejected", the institution's answer)."""
    data = obj(data)
    decision = {"accept": "accepted", "同意": "accepted", "reject": "rejected", "拒绝": "rejected"}.get(
        data.get("decision")) if isinstance(data.get("decision"), str) else None
    if decision is None:
        raise ValidationFailed("答复应为 accept（同意）或 reject（拒绝）", field="decision")
    answer = text(data, "answer", "答复意见", 500, required=decision == "rejected")
    return decision, answer


def check_refund_answerable(status: str, deadline: datetime, now: datetime) -> None:
    if status != "requested":
        raise Conflict(f"该退费申请已{REFUND_STATUS_NAMES.get(status, status)}，不能再答复", field="refund_id")
    if now > deadline:
        raise Conflict("答复期限已过，该退费申请视为同意", field="refund_id")
