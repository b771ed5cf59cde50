"""The parent's contract code (家长端 of 一课一消, issue 14): the one format the escrow service (which
issues and checks codes) and the gateway (which reads what a parent typed) both need.

16 symbols of Crockford's base-32 alphabet (no I, L, O, U: nothing to misread on paper): 80 random
bits from `secrets`, printed in groups of four and as a QR code. Guessing one is hopeless at the
gateway's rate limit; the code is a bearer secret all the same — whoever holds the paper can act
for the parent on that one contract.
"""
from __future__ import annotations

import re
import secrets

from .errors import ValidationFailed

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32
CODE_LENGTH = 16  # 16 × 5 bits = 80 bits
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V", "-": None, " ": None})
_CODE = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(value: object) -> str:
    """What a parent typed (any case, dashes, spaces, O for 0) as stored; refused when malformed."""
    text = value.strip().upper().translate(_READ_AS) if isinstance(value, str) and len(value) <= 40 else ""
    if not _CODE.match(text):
        raise ValidationFailed(f"合同码应为{CODE_LENGTH}位字母和数字（可带短横线），请核对合同上印制的合同码",
                               field="code")
    return text


def format_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))
