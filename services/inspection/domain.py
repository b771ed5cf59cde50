"""Inspection rules on plain data."""
from __future__ import annotations

from datetime import date

RISK_GRADES = ("A", "B", "C", "D")  # A lowest risk … D highest (双随机 samples 5/10/20/40%)


def initial_risk_grade(category: str) -> str:
    """A new 学科类 institution starts at C (watched more), others at B, until inspected."""
    return "C" if category == "academic" else "B"


LEAD_STATUS_NAMES = {"open": "待核查", "closed": "已办结"}
LEAD_RESOLUTIONS = {"inspected": "已现场检查", "unfounded": "经核查不属实", "referred": "已移交其他部门"}
LEAD_SOURCE_NAMES = {"escrow_alert": "预收费资金预警", "course_schedule": "课程表自动比对", "complaint": "群众举报"}


def lead_key(source: str, institution_id: int, reason_kind: str) -> str:
    """One open lead per institution and reason: a repeated signal adds to it."""
    return f"{source}:{institution_id}:{reason_kind}"


def on_roster(registry_status: str | None) -> bool:
    """Only an 已注销 institution leaves sweeps and draws; suspended ones are exactly who to check."""
    return registry_status != "deregistered"


def parse_vacations(items: list) -> list[dict]:
    """The registry's checked `school_vacations` [{name, start, end}] with dates as `date`."""
    return [{"name": str(v["name"]), "start": date.fromisoformat(v["start"]), "end": date.fromisoformat(v["end"])}
            for v in items]
