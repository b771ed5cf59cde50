"""Counting rules for reports, on plain data (no I/O)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

STATUS_NAMES = {
    "operating": "正常营业",
    "paused": "暂停营业",
    "suspended_for_rectification": "停业整顿",
    "deregistering": "注销中",
    "deregistered": "已注销",
}


@dataclass(frozen=True)
class InstitutionFact:
    institution_id: int
    category: str
    registered_on: date
    status: str  # status effective on the report date


def count_institutions(facts: list[InstitutionFact]) -> dict:
    status_counts = {name: 0 for name in STATUS_NAMES.values()}
    for fact in facts:
        status_counts[STATUS_NAMES[fact.status]] += 1
    return {
        "institutions_total": len(facts),
        "institutions_academic": sum(1 for f in facts if f.category == "academic"),
        "status_counts": status_counts,
    }
