"""The half-monthly and weekly reports, computed from the read models alone (no RPC to other
services), as of a day: a few set-based queries, then plain arithmetic in `report_rules`.

Stock figures (institutions by status, open orders, open alerts…) are those in force on the
report's day; flow figures (inspections, complaints received…) count the report's period.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.common.divisions import scope_prefix

from . import report_rules as rules
from .domain import STATUS_NAMES
from .escrow import escrow_figures

ACADEMIC = "academic"
OUTCOMES = ("pass", "rectify", "suspend", "refer")
ORDER_KINDS = ("rectify", "suspend", "refer")

# One row per (county, category, status, in baseline, platform flags): the registry's figures.
# Each institution's status / attribute in force on a day is its entry with the highest seq /
# version among those effective by then; records from before attributes were kept fall back on
# the record's current category.
INSTITUTIONS_SQL = text("""
WITH scope AS (
    SELECT f.institution_id, f.division_code, f.category, f.registered_on,
           COALESCE(s.baseline_date, :default_baseline) AS baseline_date
    FROM institution_facts f
    LEFT JOIN county_report_settings s ON s.county_code = substr(f.division_code, 1, 6)
    WHERE f.division_code LIKE :prefix AND f.registered_on <= :day
),
status_on_day AS (
    SELECT st.institution_id, st.status,
           ROW_NUMBER() OVER (PARTITION BY st.institution_id ORDER BY st.seq DESC) AS rn
    FROM institution_status_facts st JOIN scope ON scope.institution_id = st.institution_id
    WHERE st.effective_on <= :day
),
attributes_on_day AS (
    SELECT a.institution_id, a.attribute, a.value,
           ROW_NUMBER() OVER (PARTITION BY a.institution_id, a.attribute ORDER BY a.version DESC) AS rn
    FROM institution_attribute_facts a JOIN scope ON scope.institution_id = a.institution_id
    WHERE a.effective_on <= :day
),
category_at_baseline AS (
    SELECT a.institution_id, a.value,
           ROW_NUMBER() OVER (PARTITION BY a.institution_id ORDER BY a.version DESC) AS rn
    FROM institution_attribute_facts a JOIN scope ON scope.institution_id = a.institution_id
    WHERE a.attribute = 'category' AND a.effective_on <= scope.baseline_date
),
pivot AS (
    SELECT institution_id,
           MAX(CASE WHEN attribute = 'category' THEN value END) AS category,
           MAX(CASE WHEN attribute = 'platform_basic_info' THEN value END) AS basic_info,
           MAX(CASE WHEN attribute = 'platform_staff' THEN value END) AS staff,
           MAX(CASE WHEN attribute = 'platform_fund_supervision' THEN value END) AS fund_supervision
    FROM attributes_on_day WHERE rn = 1 GROUP BY institution_id
)
SELECT substr(scope.division_code, 1, 6) AS county,
       COALESCE(p.category, scope.category) AS category,
       st.status,
       CASE WHEN scope.registered_on <= scope.baseline_date
                 AND COALESCE(b.value, scope.category) = 'academic' THEN 1 ELSE 0 END AS in_baseline,
       CASE WHEN p.basic_info = 'true' THEN 1 ELSE 0 END AS basic_info,
       CASE WHEN p.staff = 'true' THEN 1 ELSE 0 END AS staff,
       CASE WHEN p.fund_supervision = 'true' THEN 1 ELSE 0 END AS fund_supervision,
       MIN(scope.baseline_date) AS baseline_date,
       COUNT(*) AS n
FROM scope
JOIN status_on_day st ON st.institution_id = scope.institution_id AND st.rn = 1
LEFT JOIN pivot p ON p.institution_id = scope.institution_id
LEFT JOIN category_at_baseline b ON b.institution_id = scope.institution_id AND b.rn = 1
GROUP BY 1, 2, 3, 4, 5, 6, 7
""")

INSPECTIONS_SQL = text("""
SELECT outcome, illegal_ad, COUNT(*) AS n FROM inspection_facts
WHERE division_code LIKE :prefix AND inspected_on BETWEEN :start AND :day
GROUP BY outcome, illegal_ad
""")
INSPECTED_INSTITUTIONS_SQL = text("""
SELECT COUNT(DISTINCT institution_id) FROM inspection_facts
WHERE division_code LIKE :prefix AND inspected_on BETWEEN :start AND :day
""")
CAMPAIGNS_SQL = text("""
SELECT SUM(CASE WHEN start_date BETWEEN :start AND :day THEN 1 ELSE 0 END),
       SUM(CASE WHEN end_date BETWEEN :start AND :day THEN 1 ELSE 0 END),
       SUM(CASE WHEN start_date <= :day AND end_date >= :day THEN 1 ELSE 0 END)
FROM campaign_facts WHERE division_code LIKE :prefix AND created_on <= :day
""")
ORDERS_SQL = text("""
SELECT kind,
       SUM(CASE WHEN issued_on BETWEEN :start AND :day THEN 1 ELSE 0 END) AS issued,
       SUM(CASE WHEN (closed_on IS NULL OR closed_on > :day)
                 AND (escalated_on IS NULL OR escalated_on > :day) THEN 1 ELSE 0 END) AS open,
       SUM(CASE WHEN closed_on BETWEEN :start AND :day THEN 1 ELSE 0 END) AS closed,
       SUM(CASE WHEN escalated_on BETWEEN :start AND :day THEN 1 ELSE 0 END) AS escalated
FROM order_facts WHERE division_code LIKE :prefix AND issued_on <= :day
GROUP BY kind
""")
COMPLAINTS_SQL = text("""
SELECT SUM(CASE WHEN received_on >= :start THEN 1 ELSE 0 END),
       SUM(CASE WHEN verified_on BETWEEN :start AND :day THEN 1 ELSE 0 END),
       SUM(CASE WHEN closed_on BETWEEN :start AND :day THEN 1 ELSE 0 END),
       SUM(CASE WHEN overdue_on <= :day AND (closed_on IS NULL OR closed_on > :day) THEN 1 ELSE 0 END),
       COUNT(*)
FROM complaint_facts WHERE division_code LIKE :prefix AND received_on <= :day
""")
SCHOOLS_SQL = text("""
SELECT COUNT(*) FROM school_facts WHERE division_code LIKE :prefix AND registered_on <= :day
""")
VISITED_SQL = text("""
SELECT COUNT(DISTINCT v.school_id) FROM school_visit_facts v
JOIN school_facts s ON s.school_id = v.school_id AND s.registered_on <= :day
WHERE v.division_code LIKE :prefix AND v.visited_on BETWEEN :month_start AND :day
""")
# a school meets the homework limits when none of its classes' latest results by the day is flagged
HOMEWORK_SQL = text("""
WITH latest AS (
    SELECT school_id, flagged,
           ROW_NUMBER() OVER (PARTITION BY school_id, class_name ORDER BY checked_on DESC, period_to DESC, id DESC) AS rn
    FROM homework_check_facts WHERE division_code LIKE :prefix AND checked_on <= :day
)
SELECT COUNT(*), SUM(CASE WHEN flagged_classes = 0 THEN 1 ELSE 0 END)
FROM (SELECT school_id, SUM(CASE WHEN flagged THEN 1 ELSE 0 END) AS flagged_classes
      FROM latest WHERE rn = 1 GROUP BY school_id) per_school
""")
AFTER_SCHOOL_SQL = text("""
SELECT COUNT(*),
       SUM(CASE WHEN deadline IS NULL OR filed_on <= deadline THEN 1 ELSE 0 END),
       COALESCE(SUM(participating), 0), COALESCE(SUM(enrolled), 0)
FROM after_school_plan_facts
WHERE division_code LIKE :prefix AND school_year = :school_year AND filed_on <= :day
""")


def build_report(session: Session, kind: str, division_code: str, as_of: date) -> dict:
    kind = rules.check_kind(kind)
    start, day = rules.period_containing(kind, as_of)
    prefix = scope_prefix(division_code) + "%"
    params = {"prefix": prefix, "start": start, "day": day}
    report = {
        "kind": kind, "kind_name": rules.KINDS[kind], "division_code": division_code,
        "as_of": day.isoformat(), "period_start": start.isoformat(), "period_end": day.isoformat(),
    }
    report.update(_institutions(session, prefix, day))
    report["inspections"], report["illegal_ads_handled"] = _inspections(session, params)
    report["orders"] = _orders(session, params)
    report["complaints"] = _complaints(session, params)
    report["escrow"] = escrow_figures(session, scope_prefix(division_code), day)
    report["schools"] = _schools(session, params)
    return report


def _institutions(session: Session, prefix: str, day: date) -> dict:
    rows = session.execute(INSTITUTIONS_SQL, {"prefix": prefix, "day": day,
                                              "default_baseline": rules.DEFAULT_BASELINE}).all()
    status_counts = {name: 0 for name in STATUS_NAMES.values()}
    academic_counts = dict(status_counts)
    platform = {"basic_info": 0, "staff": 0, "fund_supervision": 0, "complete": 0}
    counties: dict[str, dict] = defaultdict(lambda: {"institutions_total": 0, "institutions_academic": 0,
                                                     "academic_baseline": 0, "academic_operating": 0})
    baselines: dict[str, str] = {}
    for county, category, status, in_baseline, basic, staff, fund, baseline_date, n in rows:
        name = STATUS_NAMES[status]
        status_counts[name] += n
        c = counties[county]
        c["institutions_total"] += n
        baselines[county] = str(baseline_date)[:10]
        if category == ACADEMIC:
            academic_counts[name] += n
            c["institutions_academic"] += n
        if in_baseline:
            c["academic_baseline"] += n
            if category == ACADEMIC and status == "operating":
                c["academic_operating"] += n
        platform["basic_info"] += n * basic
        platform["staff"] += n * staff
        platform["fund_supervision"] += n * fund
        platform["complete"] += n * (basic and staff and fund)
    for code, c in counties.items():
        c["division_code"], c["baseline_date"] = code, baselines[code]
        c["reduction_rate"] = rules.reduction_rate(c["academic_baseline"], c["academic_operating"])
    baseline = sum(c["academic_baseline"] for c in counties.values())
    operating = sum(c["academic_operating"] for c in counties.values())
    rate = rules.reduction_rate(baseline, operating)
    dates = sorted(set(baselines.values())) or [rules.DEFAULT_BASELINE.isoformat()]
    return {
        "institutions_total": sum(status_counts.values()),
        "institutions_academic": sum(academic_counts.values()),
        "status_counts": status_counts,
        "academic_status_counts": academic_counts,
        "academic_baseline": baseline,
        "academic_operating": operating,
        "reduction_rate": rate,
        "reduction": {
            "formula": rules.REDUCTION_FORMULA, "baseline_dates": dates,
            "inputs": {"基数": baseline, "仍正常营业的学科类机构数": operating},
            "rate": rate, "rate_text": rules.percent_text(rate),
        },
        "platform_registration": platform,
        "counties": [counties[code] for code in sorted(counties)],
    }


def _inspections(session: Session, params: dict) -> tuple[dict, int]:
    by_outcome = {o: 0 for o in OUTCOMES}
    illegal_ads = 0
    for outcome, illegal_ad, n in session.execute(INSPECTIONS_SQL, params).all():
        by_outcome[outcome] = by_outcome.get(outcome, 0) + n
        illegal_ads += n if illegal_ad else 0
    started, completed, active = session.execute(CAMPAIGNS_SQL, params).one()
    return {
        "records": sum(by_outcome.values()), "by_outcome": by_outcome,
        "institutions_inspected": session.scalar(INSPECTED_INSTITUTIONS_SQL, params) or 0,
        "campaigns_started": started or 0, "campaigns_completed": completed or 0, "campaigns_active": active or 0,
    }, illegal_ads


def _orders(session: Session, params: dict) -> dict:
    figures = {"issued": {k: 0 for k in ORDER_KINDS}, "open": {k: 0 for k in ORDER_KINDS}, "closed": 0,
               "escalated": 0}
    for kind, issued, open_, closed, escalated in session.execute(ORDERS_SQL, params).all():
        figures["issued"][kind] = issued or 0
        figures["open"][kind] = open_ or 0
        figures["closed"] += closed or 0
        figures["escalated"] += escalated or 0
    return figures


def _complaints(session: Session, params: dict) -> dict:
    received, verified, closed, overdue, to_date = session.execute(COMPLAINTS_SQL, params).one()
    return {"received": received or 0, "verified": verified or 0, "closed": closed or 0,
            "overdue_open": overdue or 0, "received_to_date": to_date or 0}


def _schools(session: Session, params: dict) -> dict:
    day = params["day"]
    total = session.scalar(SCHOOLS_SQL, params) or 0
    visited = session.scalar(VISITED_SQL, {**params, "month_start": day.replace(day=1)}) or 0
    checked, compliant = session.execute(HOMEWORK_SQL, params).one()
    year = rules.school_year_of(day)
    filed, on_time, participating, enrolled = session.execute(
        AFTER_SCHOOL_SQL, {**params, "school_year": year}).one()
    return {
        "total": total,
        "visited_this_month": visited, "visit_coverage": rules.fraction(visited, total),
        "homework_checked": checked or 0, "homework_compliant": compliant or 0,
        "after_school": {
            "school_year": year, "plans_filed": filed or 0, "plans_on_time": on_time or 0,
            "plan_filing_rate": rules.fraction(filed or 0, total),
            "participating": int(participating or 0), "enrolled": int(enrolled or 0),
            "participation_rate": rules.fraction(int(participating or 0), int(enrolled or 0)),
        },
    }
