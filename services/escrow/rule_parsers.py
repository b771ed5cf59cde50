"""The small parsers the escrow desk rules share (account_rules.py, charge_rules.py): request
bodies, texts, ids, days and moments. Every refusal names its field."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from services.common.errors import ValidationFailed


def obj(data: object) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    return data


def text(data: dict, field: str, label: str, max_len: int, required: bool = True) -> str | None:
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed(f"请填写{label}", field=field)
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{label}应为文本", field=field)
    value = value.strip()
    if len(value) > max_len:
        raise ValidationFailed(f"{label}不能超过{max_len}个字", field=field)
    return value


MAX_INT = 2**31 - 1  # ids and counts are 32-bit columns: a larger number names nothing and cannot be stored


def positive_int(value: object, field: str, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationFailed(f"{label}应为正整数", field=field)
    if value > MAX_INT:
        raise ValidationFailed(f"{label}过大", field=field)
    return value


def parse_id(value: object, field: str) -> int:
    return positive_int(value, field, "编号")


def day_(value: object, field: str, label: str) -> date:
    try:
        if isinstance(value, str):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValidationFailed(f"{label}应为 YYYY-MM-DD", field=field)


def optional_day(data: dict, field: str, label: str, today: date) -> date:
    if data.get(field) in (None, ""):
        return today
    day = day_(data[field], field, label)
    if day > today:
        raise ValidationFailed(f"{label}不能晚于今天", field=field)
    return day


def parse_moment(value: object, field: str, now: datetime) -> datetime:
    """An ISO 8601 timestamp with its offset, not in the future (5 minutes of clock skew allowed)."""
    if value in (None, ""):
        return now
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValidationFailed("时间应为 ISO 8601 格式，如 2021-11-10T19:30:00+08:00", field=field)
    if moment.tzinfo is None:
        raise ValidationFailed("时间应带时区，如 +08:00", field=field)
    if moment > now + timedelta(minutes=5):
        raise ValidationFailed("时间不能晚于现在", field=field)
    return moment
