"""Money on the escrow desk: integer fen in, integer fen stored, yuan only for display.

A float is never money here: 0.1 + 0.2 yuan is not 0.3 yuan in binary floating point. JSON
numbers with a fraction, strings and booleans are refused, each with the field that carried it.
"""
from __future__ import annotations

from services.common.errors import ValidationFailed
from services.common.money_text import yuan

__all__ = ["MAX_FEN", "parse_fen", "yuan"]

MAX_FEN = 10**11  # 10亿元: anything above is a typing error, not a school fee


def parse_fen(value: object, field: str, *, allow_zero: bool = False, maximum: int = MAX_FEN) -> int:
    """An amount in integer fen (分). Zero only where it makes sense (`allow_zero`)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float):
            reason = "金额应为以“分”为单位的整数，不接受小数"
        elif isinstance(value, str):
            reason = "金额应为以“分”为单位的整数，不接受字符串"
        elif isinstance(value, bool):
            reason = "金额应为以“分”为单位的整数，不接受布尔值"
        elif value is None:
            reason = "请填写金额（以“分”为单位的整数）"
        else:
            reason = "金额应为以“分”为单位的整数"
        raise ValidationFailed(reason, field=field)
    if value < 0:
        raise ValidationFailed("金额不能为负数", field=field)
    if value == 0 and not allow_zero:
        raise ValidationFailed("金额应大于0", field=field)
    if value > maximum:
        raise ValidationFailed(f"金额超出上限（{yuan(maximum)}元）", field=field)
    return value
