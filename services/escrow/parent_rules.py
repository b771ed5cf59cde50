"""家长端 of 一课一消 on plain data: the contract code and the parent's answer to a lesson.

The contract code is the parent's only credential (no registration): 16 symbols of Crockford's
base-32 alphabet (no I, L, O, U: nothing to misread on paper), 80 random bits from `secrets`,
printed in groups of four and as a QR code. Guessing one is hopeless at the gateway's rate limit;
the code is a bearer secret all the same — whoever holds the paper can act for the parent.
"""
from __future__ import annotations

import re
import secrets

from services.common.errors import Conflict, ValidationFailed

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32
CODE_LENGTH = 16  # 16 × 5 bits = 80 bits
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
_CODE = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(value: object) -> str:
    """What a parent typed (any case, dashes, spaces, O for 0) as stored; refused when malformed."""
    text = value.strip().upper().translate(_READ_AS) if isinstance(value, str) else ""
    if not _CODE.match(text):
        raise ValidationFailed(f"合同码应为{CODE_LENGTH}位字母和数字（可带短横线），请核对合同上印制的合同码",
                               field="code")
    return text


def format_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


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
