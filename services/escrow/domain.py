"""Escrow rules on plain data."""
from __future__ import annotations

# Statuses in which an institution may not enrol pupils or collect fees (domain.md, 预收费).
NO_ENROLMENT_STATUSES = {
    "suspended_for_rectification": "停业整顿期间不得招生收费",
    "deregistering": "注销中不得招生收费",
    "deregistered": "已注销不得招生收费",
    "paused": "暂停营业期间不得招生收费",
}
CONVERSION_SUSPENSION = "营转非办理中，登记为民办非企业单位前暂停招生和收费"


def enrolment_decision(status: str, conversion_suspended: bool = False) -> tuple[bool, str | None]:
    """May the institution take new enrolments and charges, and if not, why."""
    reason = NO_ENROLMENT_STATUSES.get(status)
    if reason is None and conversion_suspended:
        reason = CONVERSION_SUSPENSION
    return reason is None, reason


def is_newer(occurred_at: str, last_seen: str | None) -> bool:
    """Events of different types may arrive out of order; keep the latest fact."""
    return last_seen is None or occurred_at >= last_seen
