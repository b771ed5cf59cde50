"""Chart data for the dashboards: the trend of operating 学科类 institutions (half-month by
half-month), escrow alerts and complaints week by week, and coverage by township."""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.divisions import scope_prefix
from services.common.errors import ValidationFailed
from services.common.identity import Actor

from . import report_rules as rules
from .handlers import parse_as_of, readable_division
from .report import _institutions

MAX_POINTS = 48

ALERTS_BY_DAY = text("""SELECT raised_on, COUNT(*) FROM escrow_alert_facts
WHERE division_code LIKE :prefix AND raised_on BETWEEN :start AND :end GROUP BY raised_on""")
COMPLAINTS_BY_DAY = text("""SELECT received_on, COUNT(*) FROM complaint_facts
WHERE division_code LIKE :prefix AND received_on BETWEEN :start AND :end GROUP BY received_on""")
ROSTER_BY_TOWNSHIP = text("""SELECT division_code, COUNT(*) FROM institution_facts
WHERE division_code LIKE :prefix AND registered_on <= :end GROUP BY division_code""")
INSPECTED_BY_TOWNSHIP = text("""SELECT division_code, COUNT(DISTINCT institution_id) FROM inspection_facts
WHERE division_code LIKE :prefix AND inspected_on BETWEEN :start AND :end GROUP BY division_code""")
SCHOOLS_BY_TOWNSHIP = text("""SELECT division_code, COUNT(*) FROM school_facts
WHERE division_code LIKE :prefix AND registered_on <= :end GROUP BY division_code""")
VISITED_BY_TOWNSHIP = text("""SELECT division_code, COUNT(DISTINCT school_id) FROM school_visit_facts
WHERE division_code LIKE :prefix AND visited_on BETWEEN :month_start AND :end GROUP BY division_code""")


def half_month_ends(start: date, end: date) -> list[date]:
    points, day = [], start
    while day <= end:
        point = day.replace(day=15) if day.day <= 15 else rules.month_end(day)
        points.append(min(point, end))
        day = point + timedelta(days=1)
    return points


def week_starts(start: date, end: date) -> list[date]:
    first = start - timedelta(days=start.weekday())
    return [first + timedelta(weeks=i) for i in range((end - first).days // 7 + 1)]


def chart_data(session: Session, actor: Actor, division_code: object = None, date_from: object = None,
               date_to: object = None) -> dict:
    division = readable_division(actor, division_code)
    end = parse_as_of(date_to)
    start = parse_as_of(date_from) if date_from else end - timedelta(days=180)
    if start > end:
        raise ValidationFailed("开始日期不能晚于结束日期", field="from")
    points = half_month_ends(start, end)
    if len(points) > MAX_POINTS:
        raise ValidationFailed(f"时间跨度过大：至多{MAX_POINTS // 2}个月", field="from")
    prefix = scope_prefix(division) + "%"
    params = {"prefix": prefix, "start": start, "end": end, "month_start": end.replace(day=1)}

    trend = []
    for point in points:
        figures = _institutions(session, prefix, point)
        trend.append({"date": point.isoformat(), "academic_operating": figures["academic_operating"],
                      "academic_baseline": figures["academic_baseline"],
                      "reduction_rate": figures["reduction_rate"]})

    weeks = week_starts(start, end)

    def weekly(query) -> list[int]:
        counts = Counter()
        for day, n in session.execute(query, params).all():
            day = date.fromisoformat(str(day)[:10])
            counts[day - timedelta(days=day.weekday())] += n
        return [counts[w] for w in weeks]

    roster = dict(session.execute(ROSTER_BY_TOWNSHIP, params).all())
    inspected = dict(session.execute(INSPECTED_BY_TOWNSHIP, params).all())
    schools = dict(session.execute(SCHOOLS_BY_TOWNSHIP, params).all())
    visited = dict(session.execute(VISITED_BY_TOWNSHIP, params).all())
    townships = sorted(set(roster) | set(schools))
    return {
        "division_code": division, "from": start.isoformat(), "to": end.isoformat(),
        "academic_trend": trend,
        "weekly": {"weeks": [w.isoformat() for w in weeks], "alerts_raised": weekly(ALERTS_BY_DAY),
                   "complaints_received": weekly(COMPLAINTS_BY_DAY)},
        "coverage_by_township": [
            {"township_code": t, "institutions": roster.get(t, 0), "inspected": inspected.get(t, 0),
             "inspection_coverage": rules.fraction(min(inspected.get(t, 0), roster.get(t, 0)), roster.get(t, 0)),
             "schools": schools.get(t, 0), "schools_visited_this_month": visited.get(t, 0),
             "visit_coverage": rules.fraction(min(visited.get(t, 0), schools.get(t, 0)), schools.get(t, 0))}
            for t in townships],
    }
