"""家长端 of 一课一消 on plain data: the parent's answer to a lesson. The contract code itself is
services/common/contract_codes.py (the gateway reads it too)."""
from __future__ import annotations

from services.common.errors import Conflict, ValidationFailed


# -- the parent's answer to a lesson -----------------------------------------------------------

def parse_dispute(data: object) -> str:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("请写明异议原因（例如：当天未上课、课时不符）", field="reason")
    if len(reason.strip()) > 500:
        raise ValidationFailed("异议原因不能超过500个字", field="reason")
    return reason.strip()


def check_confirmable(confirmation: str, deemed: bool) -> bool:
    """Whether a confirmation changes the lesson: a pending one, or a disputed one when the parent (or
    the desk on the parent's word) withdraws the dispute — never by the deadline: silence after a
    dispute is not consent. False: already settled, nothing changes."""
    if confirmation == "pending":
        return True
    return confirmation == "disputed" and not deemed


def check_disputable(confirmation: str, lesson_no: int) -> None:
    if confirmation in ("confirmed", "deemed"):
        name = "家长已确认" if confirmation == "confirmed" else "逾期视为确认"
        raise Conflict(f"第{lesson_no}次课已{name}，课时费已可划拨，不能再提出异议；如有问题请申请退费或向教体局反映",
                       field="lesson_no")
