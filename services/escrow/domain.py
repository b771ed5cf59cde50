"""Escrow rules on plain data."""
from __future__ import annotations

# Statuses in which an institution may not enrol pupils or collect fees (domain.md, 预收费).
NO_ENROLMENT_STATUSES = {
    "suspended_for_rectification": "停业整顿期间不得招生收费",
    "deregistering": "注销中不得招生收费",
    "deregistered": "已注销不得招生收费",
    "paused": "暂停营业期间不得招生收费",
}


def enrolment_decision(status: str) -> tuple[bool, str | None]:
    reason = NO_ENROLMENT_STATUSES.get(status)
    return reason is None, reason
