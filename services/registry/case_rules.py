"""Rules of the registry's side of cases (营转非, 注销), on plain data."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from services.common.errors import Conflict, ValidationFailed
from services.common.processes import CONVERSION, steps_for

NATIONAL_CONVERSION_DEADLINE = date(2021, 12, 31)  # 教育部等三部门: 2021年底前完成审批登记
DEFAULT_VARIANT = "national"
REDUCTION_BASELINE_DATE = date(2021, 7, 24)  # 压减率的基数日：《意见》印发之日
MAX_VACATIONS = 20
DEFAULT_SETTINGS = {
    "conversion_deadline": NATIONAL_CONVERSION_DEADLINE.isoformat(),
    "conversion_variant": DEFAULT_VARIANT,
    "school_vacations": [],
    "reduction_baseline_date": REDUCTION_BASELINE_DATE.isoformat(),
}

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


def parse_settings(data: object, current: dict | None = None) -> dict:
    """A full or partial PUT: fields not given keep `current` (the stored values or the defaults).
    Returns {conversion_deadline: date, conversion_variant, school_vacations: [{name, start, end}]
    (ISO dates, sorted), reduction_baseline_date: date}; the first bad field raises and nothing is kept."""
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    current = current or {}
    merged = {**DEFAULT_SETTINGS, **{k: v for k, v in current.items() if k in DEFAULT_SETTINGS and v is not None},
              **{k: v for k, v in data.items() if k in DEFAULT_SETTINGS}}
    deadline = _iso_date(merged["conversion_deadline"], "conversion_deadline", "营转非截止日期应为 YYYY-MM-DD")
    variant = merged["conversion_variant"]
    try:
        steps_for(CONVERSION, variant if isinstance(variant, str) else "?")
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="conversion_variant") from None
    return {
        "conversion_deadline": deadline,
        "conversion_variant": variant,
        "school_vacations": parse_vacations(merged["school_vacations"]),
        "reduction_baseline_date": _iso_date(merged["reduction_baseline_date"], "reduction_baseline_date",
                                             "压减率基数日期应为 YYYY-MM-DD"),
    }


def _iso_date(raw: object, field: str, message: str) -> date:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and len(raw) == 10:  # YYYY-MM-DD only (fromisoformat also takes 20211231)
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise ValidationFailed(message, field=field)


def parse_vacations(value: object) -> list[dict]:
    """寒暑假: [{name, start, end}], start ≤ end, no two overlapping, at most MAX_VACATIONS.
    Errors name the item, e.g. `school_vacations[1].end`."""
    if not isinstance(value, list):
        raise ValidationFailed("寒暑假应为列表 [{name, start, end}]", field="school_vacations")
    if len(value) > MAX_VACATIONS:
        raise ValidationFailed(f"寒暑假最多{MAX_VACATIONS}段", field="school_vacations")
    parsed = []
    for i, item in enumerate(value):
        where = f"school_vacations[{i}]"
        if not isinstance(item, dict):
            raise ValidationFailed("每段假期应为对象 {name, start, end}", field=where)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 30:
            raise ValidationFailed("假期名称必填，不超过30字", field=f"{where}.name")
        start = _iso_date(item.get("start"), f"{where}.start", "假期开始日期应为 YYYY-MM-DD")
        end = _iso_date(item.get("end"), f"{where}.end", "假期结束日期应为 YYYY-MM-DD")
        if end < start:
            raise ValidationFailed("假期结束日期不能早于开始日期", field=f"{where}.end")
        parsed.append((start, end, name.strip(), i))
    parsed.sort()
    for (_, prev_end, prev_name, _), (start, _, name, i) in zip(parsed, parsed[1:]):
        if start <= prev_end:
            raise ValidationFailed(f"“{name}”与“{prev_name}”的日期重叠", field=f"school_vacations[{i}].start")
    return [{"name": name, "start": start.isoformat(), "end": end.isoformat()} for start, end, name, _ in parsed]


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

