"""What the page modules share: refusals, small form helpers, the public field list."""
from __future__ import annotations

from services.common.errors import DomainError, ValidationFailed
from services.common.identity import DepartmentKind

from ..ratelimit import TooManyAttempts  # noqa: F401  (the pages raise it)


K = DepartmentKind
CHECKLIST = None  # filled lazily from services.inspection.campaign_rules (labels of the 12 items)

PUBLIC_FIELDS = ("name", "licence_no", "township_code", "category_name", "status_name")
PUBLIC_STATUSES = {
    "operating": "白名单（正常营业）",
    "paused": "暂停营业",
    "suspended_for_rectification": "停业整顿",
    "deregistering": "注销中",
    "deregistered": "已注销",
}


def _checklist() -> dict:
    global CHECKLIST
    if CHECKLIST is None:
        from services.common.checklist import CHECKLIST as items

        CHECKLIST = dict(items)
    return CHECKLIST


def attempt(call, *args):
    """A page section's data, or None when the user may not see it (the page shows the rest)."""
    try:
        return call(*args)
    except DomainError:
        return None


def case_id_of(workflow_id: str) -> int | None:
    """The registry's case id: the last part of a case's workflow id (`conversion-<institution>-<case>`)."""
    tail = str(workflow_id).rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _form_int(form, name: str, label: str) -> int:
    try:
        return int(form.get(name, ""))
    except ValueError:
        raise ValidationFailed(f"{label}应为整数", field=name) from None


def _temporal_ui_url(request) -> str:
    """The Temporal UI on the gateway's host (the dev server's UI port; SHUANGJIAN_TEMPORAL_UI_URL
    overrides it behind a proxy)."""
    import os

    explicit = os.environ.get("SHUANGJIAN_TEMPORAL_UI_URL")
    if explicit:
        return explicit
    from shuangjian.localrun import temporal_ui_port

    host = (request.host or "127.0.0.1").split(":")[0]
    return f"http://{host}:{temporal_ui_port()}"
