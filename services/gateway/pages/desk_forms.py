"""What the desks' forms share: a service's refusal placed next to the field it names, sums typed in
yuan, and the names the pages show instead of ids."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from services.common.errors import DomainError, ValidationFailed

from .web import redirect

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
