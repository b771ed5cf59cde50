"""Valid identifiers for demo and test data (real checksums, made-up numbers)."""
from __future__ import annotations

from stdnum.cn import uscc


def make_uscc(serial: int, region: str = "340722", authority: str = "9", entity: str = "1") -> str:
    """A 统一社会信用代码 with a correct GB 32100 check character."""
    body = f"{authority}{entity}{region}{serial:09d}"[:17]
    return body + uscc.calc_check_digit(body)
