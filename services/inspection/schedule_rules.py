"""Leads from course schedules (课程表), on plain data.

* 学科类 training on statutory holidays, rest days or the county's school vacations (official
  calendar with make-up days: a make-up Saturday is a working day);
* classes ending after 20:30 offline or 21:00 online; online lessons over 30 minutes.
A weekly schedule is laid over the dates from its publication for a horizon (default 180 days),
so a Friday class published in September is found on 2021-10-01 (国庆节).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta

from services.common import workcalendar

OFFLINE_END = time(20, 30)
ONLINE_END = time(21, 0)
ONLINE_MAX_MINUTES = 30
DEFAULT_HORIZON_DAYS = 180
EVIDENCE_DATES = 10  # at most this many dates listed in a lead's evidence

HOLIDAY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}

KIND_NAMES = {
    "holiday_academic": "法定节假日开展学科类培训",
    "rest_day_academic": "休息日开展学科类培训",
    "vacation_academic": "寒暑假开展学科类培训",
    "late_offline_class": "线下培训结束晚于20:30",
    "late_online_class": "线上培训结束晚于21:00",
    "long_online_lesson": "线上单次课超过30分钟",
}


@dataclass
class Finding:
    kind: str
    evidence: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return KIND_NAMES[self.kind]


def _hhmm(value: str) -> time:
    return time.fromisoformat(value)


def _day_kind(day: date, vacations: list[tuple[date, date]]) -> tuple[str, str] | None:
    """(kind, label) if an academic class may not run on `day`, else None."""
    workday, name = workcalendar.current().day_detail(day)
    if not workday and name:
        return "holiday_academic", HOLIDAY_NAMES.get(name, name)
    if not workday:
        return "rest_day_academic", "休息日"
    for start, end in vacations:
        if start <= day <= end:
            return "vacation_academic", "寒暑假"
    return None


def schedule_findings(category: str, mode: str, schedule: list[dict], start: date,
                      horizon_days: int = DEFAULT_HORIZON_DAYS,
                      vacations: list[tuple[date, date]] | None = None) -> list[Finding]:
    vacations = vacations or []
    findings: dict[str, Finding] = {}
    for slot in schedule:
        begins, ends = _hhmm(slot["start"]), _hhmm(slot["end"])
        where = {"weekday": slot["weekday"], "start": slot["start"], "end": slot["end"]}
        if mode == "offline" and ends > OFFLINE_END:
            findings.setdefault("late_offline_class", Finding("late_offline_class", {"slots": []}))
            findings["late_offline_class"].evidence["slots"].append(where)
        if mode == "online" and ends > ONLINE_END:
            findings.setdefault("late_online_class", Finding("late_online_class", {"slots": []}))
            findings["late_online_class"].evidence["slots"].append(where)
        minutes = (ends.hour * 60 + ends.minute) - (begins.hour * 60 + begins.minute)
        if mode == "online" and minutes > ONLINE_MAX_MINUTES:
            findings.setdefault("long_online_lesson", Finding("long_online_lesson", {"slots": []}))
            findings["long_online_lesson"].evidence["slots"].append(where | {"minutes": minutes})
        if category != "academic":
            continue
        for offset in range(horizon_days):
            day = start + timedelta(days=offset)
            if day.isoweekday() != slot["weekday"]:
                continue
            found = _day_kind(day, vacations)
            if found is None:
                continue
            kind, label = found
            finding = findings.setdefault(kind, Finding(kind, {"dates": []}))
            if len(finding.evidence["dates"]) < EVIDENCE_DATES:
                finding.evidence["dates"].append({"date": day.isoformat(), "label": label, **where})
    return list(findings.values())
