"""Rules of the registry's side of cases (营转非, 注销), on plain data."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from services.common.errors import Conflict, ValidationFailed
from services.common.processes import CONVERSION, steps_for

NATIONAL_CONVERSION_DEADLINE = date(2021, 12, 31)  # 教育部等三部门: 2021年底前完成审批登记
DEFAULT_VARIANT = "national"

DECISION_ACTIONS = {"approve", "reject", "return", "request_documents", "documents_received", "checked"}
CLOSED = {"completed", "rejected"}


def check_may_apply_for_conversion(category: str, legal_form: str, status: str) -> None:
    if category != "academic" or legal_form != "for_profit":
        raise ValidationFailed("只有营利性学科类机构需要办理营转非", field="institution_id")
    if status in ("deregistering", "deregistered"):
        raise Conflict("机构已在注销或已注销，不能办理营转非", field="institution_id")


def check_may_apply_for_deregistration(status: str) -> None:
    if status in ("deregistering", "deregistered"):
        raise Conflict("机构已在注销或已注销", field="institution_id")


def parse_settings(data: object) -> tuple[date, str]:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    raw = data.get("conversion_deadline")
    try:
        deadline = date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        deadline = None
    if deadline is None:
        raise ValidationFailed("营转非截止日期应为 YYYY-MM-DD", field="conversion_deadline")
    variant = data.get("conversion_variant", DEFAULT_VARIANT)
    try:
        steps_for(CONVERSION, variant if isinstance(variant, str) else "?")
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="conversion_variant") from None
    return deadline, variant


def event_name(process: str, action: str) -> str:
    """The event a case entry is published as."""
    if action in DECISION_ACTIONS:
        return f"{process}_step_decided"
    if action == "reminded":
        return "case_step_reminded"
    if action == "escalated":
        return "case_step_escalated"
    if action in CLOSED:
        return f"{process}_{action}"
    return f"{process}_step_{action}"  # started, waiting, opened


def step_title(process: str, variant: str, key: str | None) -> str | None:
    if key is None:
        return None
    for step in steps_for(process, variant):
        if step.key == key:
            return step.title
    return key


def inbox_order(items: list[dict], now: datetime) -> list[dict]:
    """Overdue first, then the nearest deadline; each item gets its time left."""
    for item in items:
        deadline = item.get("deadline")
        if deadline:
            left = datetime.fromisoformat(deadline) - now
            item["seconds_left"] = int(left / timedelta(seconds=1))
            item["overdue"] = left < timedelta(0)
        else:
            item["seconds_left"] = None
            item["overdue"] = False
    return sorted(items, key=lambda i: (not i["overdue"], i["seconds_left"] if i["seconds_left"] is not None
                                        else float("inf")))

