"""A loaded holiday schedule as it reaches running workflows (issue 13): signal `calendar_changed`
with the year's whole schedule. The workflow keeps what it was told and hands it to its deadline
activity, so the deadline is computed on data in the history, never on a database read."""
from __future__ import annotations

from dataclasses import dataclass, field

SIGNAL_CALENDAR_CHANGED = "calendar_changed"


@dataclass
class CalendarSchedule:
    year: int
    version: int
    days: list[dict] = field(default_factory=list)  # [{date, kind (休|班), name}]


def merged(known: list[CalendarSchedule], new: CalendarSchedule) -> list[CalendarSchedule]:
    """Known schedules with `new` in place of an older one of its year (a late signal never wins)."""
    kept = [s for s in known if s.year != new.year]
    older = [s for s in known if s.year == new.year and s.version >= new.version]
    return sorted(kept + (older or [new]), key=lambda s: s.year)
