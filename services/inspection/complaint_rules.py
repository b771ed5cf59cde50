"""Complaint (举报) rules on plain data: receipt numbers, phone masking, SLA deadlines, who may act."""
from __future__ import annotations

import re
import secrets
from datetime import datetime

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.workdays import SHANGHAI, workday_deadline

MAX_CONTENT = 2000
MAX_NOTE = 2000

# 12 symbols of Crockford-style base32 (no I, L, O, U): 60 random bits, unguessable in practice
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_RANDOM_LEN = 12
_RECEIPT = re.compile(r"^JB\d{8}[0-9A-HJKMNP-TV-Z]{12}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")

CHANNELS = {"public": "网上举报", "hlw_edu_supervision": "互联网+教育督导"}

# department kinds a complaint may be assigned to, with their default SLA in working days
DEPARTMENTS = ("education", "market_regulation", "public_security", "urban_management", "township")
DEFAULT_SLA_DAYS = {"education": 10, "market_regulation": 10, "public_security": 7,
                    "urban_management": 7, "township": 10}
LEAD_DEPARTMENT = "education"  # 教体局 leads 双减 complaints: assigns, and may answer any of them

STATUS_NAMES = {
    "received": "已受理", "verified": "已核实待交办", "assigned": "已交办办理中", "replied": "已答复",
    "closed": "已办结", "not_a_case": "不予立案", "duplicate": "重复举报",
}
TRIAGE_RESULTS = {"verified": "verified", "not_a_case": "not_a_case", "duplicate": "duplicate"}
# statuses in which the SLA clock runs (no reply yet)
AWAITING_REPLY = ("received", "verified", "assigned")

# action -> statuses it may start from
TRANSITIONS = {
    "triage": ("received",),
    "assign": ("verified", "assigned"),  # re-assigning before the reply is allowed
    "reply": ("assigned",),
    "close": ("replied",),
}


def make_receipt_no(now: datetime, token: bytes | None = None) -> str:
    """"JB" + the Shanghai date + 12 random base32 symbols, e.g. JB20260930K7Q2M9XWA4TD."""
    token = token if token is not None else secrets.token_bytes(8)
    value = int.from_bytes(token, "big")
    chars = []
    for _ in range(RECEIPT_RANDOM_LEN):
        value, rest = divmod(value, 32)
        chars.append(_ALPHABET[rest])
    return "JB" + now.astimezone(SHANGHAI).strftime("%Y%m%d") + "".join(chars)


def is_receipt_no(value: object) -> bool:
    return isinstance(value, str) and bool(_RECEIPT.match(value))


def validate_phone(value: object, field: str = "contact_phone") -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip().replace(" ", "").replace("-", "")
    if not _MOBILE.match(text):
        raise ValidationFailed("联系电话应为11位手机号码", field=field)
    return text


def mask_phone(value: str | None) -> str | None:
    """138****5678: the middle four digits hidden in every response and log."""
    if not value:
        return None
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def validate_content(value: object, field: str = "content", max_len: int = MAX_CONTENT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("不能为空", field=field)
    text = value.strip()
    if len(text) > max_len:
        raise ValidationFailed(f"不能超过{max_len}字（当前{len(text)}字）", field=field)
    return text


def validate_department(value: object, field: str = "department") -> str:
    if value not in DEPARTMENTS:
        raise ValidationFailed(f"应为以下之一：{'、'.join(DEPARTMENTS)}", field=field)
    return value


def sla_days(settings: dict | None, department: str | None) -> int:
    merged = {**DEFAULT_SLA_DAYS, **(settings or {})}
    return int(merged[department or LEAD_DEPARTMENT])


def validate_sla_settings(value: object) -> dict:
    if not isinstance(value, dict) or not value:
        raise ValidationFailed("应为 {部门类型: 工作日数}", field="sla_days")
    out = {}
    for dept, days in value.items():
        validate_department(dept, field=f"sla_days.{dept}")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 60:
            raise ValidationFailed("应为 1 到 60 之间的整数（工作日）", field=f"sla_days.{dept}")
        out[dept] = days
    return out


def deadline_for(received_at: datetime, settings: dict | None, department: str | None) -> datetime:
    """The SLA runs from receipt (the citizen's clock): before assignment on the lead department's
    days, after it on the assigned department's, counted in working days (holidays skipped)."""
    return workday_deadline(received_at, sla_days(settings, department))


def is_overdue(status: str, deadline_at: datetime | None, as_of: datetime) -> bool:
    return status in AWAITING_REPLY and deadline_at is not None and as_of > deadline_at


def check_transition(status: str, action: str) -> None:
    if status not in TRANSITIONS[action]:
        raise Conflict(f"举报当前状态为“{STATUS_NAMES.get(status, status)}”，不能执行此操作", field="status")


def check_handler(actor_kind: str, assigned: str | None) -> None:
    """Only the assigned department answers and closes; education, as the lead department, may too."""
    if actor_kind == LEAD_DEPARTMENT or (assigned is not None and actor_kind == assigned):
        return
    raise Forbidden("只有承办部门（或牵头的教体局）可以答复或办结此举报", field="department")


def parse_received_at(value: object, field: str = "反映时间") -> datetime:
    """Beijing time as the channel exports it: 2026-09-30 10:15[:00], 2026/09/30 10:15 or a date."""
    text = str(value or "").strip().replace("/", "-").replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=SHANGHAI)
    raise ValidationFailed("应为“2026-09-30 10:15”格式的时间", field=field)
