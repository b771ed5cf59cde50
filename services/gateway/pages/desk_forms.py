"""What the desks' forms share: a service's refusal placed next to the field it names, sums typed in
yuan, and the names the pages show instead of ids."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from services.common.errors import DomainError, ValidationFailed
from services.common.workdays import SHANGHAI

from .web import env, redirect

_YUAN = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


def field_of(exc: DomainError) -> str | None:
    """The form field a refusal names: `townships[1]` → `townships`, `sla_days.township` stays whole
    (a setting per department is its own input)."""
    field = getattr(exc, "field", None)
    if not field:
        return None
    return str(field).split("[", 1)[0]


def refusal(exc: DomainError, form: str, fields, aliases: dict | None = None) -> dict:
    """Template context for a refused form: {errors: {form: {field: message}}} when the field is on the
    form (shown beside it), else {error: message} (shown at the top). `aliases`: the service's field
    name → the form's, where they differ."""
    aliases = aliases or {}
    field = aliases.get(getattr(exc, "field", None)) or aliases.get(field_of(exc)) or field_of(exc)
    if field in fields:
        return {"errors": {form: {field: exc.message}}}
    return {"error": exc.message}


def yuan_to_fen(text: object, field: str, label: str) -> int:
    """'3200' / '3,200.50' → integer fen; anything else a refusal naming the field."""
    raw = str(text or "").replace(",", "").replace("，", "").strip()
    if not _YUAN.match(raw):
        raise ValidationFailed(f"{label}应为金额（元），最多两位小数，如 3200.00", field=field)
    try:
        return int(Decimal(raw) * 100)
    except InvalidOperation:
        raise ValidationFailed(f"{label}应为金额（元）", field=field) from None


def institution_names(registry, signed: str) -> dict[int, str]:
    """Every institution the user may see: id → name (one call; a county holds a few hundred)."""
    names: dict[int, str] = {}
    offset = 0
    while True:
        page = registry.list_institutions(signed, 500, offset, {})
        items = page.get("items", [])
        names.update({i["id"]: i["name"] for i in items})
        if len(items) < 500:
            return names
        offset += 500


def _seconds_until(value) -> float | None:
    """An ISO deadline → seconds from now (negative when past), for the `time_left` filter."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return (moment - datetime.now(timezone.utc)).total_seconds()


env.filters["seconds_until"] = _seconds_until

# what an escrow alert's evidence says, in the officials' words (the rest of it stays in the API)
EVIDENCE_LABELS = {
    "contract_no": "合同编号", "class_hours": "课时", "max_class_hours": "课时上限", "starts_on": "开始日期",
    "ends_on": "结束日期", "max_months": "最长月数", "amount_fen": "金额", "charge_cap_fen": "单次收费上限",
    "excess_fen": "超出金额", "unearned_fen": "未消课预收费", "delivered_fen": "已上课金额",
    "confirmed_fen": "已确认金额", "releases_fen": "已划拨", "days_without_receipt": "未入账天数",
    "grace_days": "宽限天数", "idle_days": "停课天数", "idle_since": "停课起始", "last_delivered_on": "最后上课日期",
    "stop_days": "预警天数", "signed_at": "签约时间", "summary": "摘要", "reason": "原因",
}
env.globals["evidence_labels"] = EVIDENCE_LABELS


class DeskActions:
    """A desk's form post: CSRF-checked, the owning service called with the user's signed actor, its
    refusal shown on the form's page, success a redirect with the message (post/redirect/get)."""

    def _act(self, request, call, refused, done):
        """call(signed, form) → result; refused(exc, form) → the page again; done(result) → (url, message)."""
        self._page_post(request)
        form = request.form
        try:
            result = call(self._signed(request), form)
        except DomainError as exc:
            return refused(exc, form)
        location, message = done(result)
        return redirect(location, message)
