"""The report calendar, the 压减率 formula, the content hash and the export layout."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta, timezone

import pytest
from openpyxl import load_workbook

from services.reporting import export
from services.reporting import report_rules as rules


@pytest.mark.parametrize("today, period, due", [
    (date(2021, 10, 1), (date(2021, 9, 16), date(2021, 9, 30)), date(2021, 10, 7)),
    (date(2021, 10, 16), (date(2021, 10, 1), date(2021, 10, 15)), date(2021, 10, 22)),
    (date(2024, 3, 1), (date(2024, 2, 16), date(2024, 2, 29)), date(2024, 3, 7)),  # leap February
    (date(2027, 1, 1), (date(2026, 12, 16), date(2026, 12, 31)), date(2027, 1, 7)),
])
def test_half_monthly_cycles_are_due_before_the_7th_and_the_22nd(today, period, due):
    cycle = rules.last_closed_cycle("half_monthly", today)
    assert (cycle.period_start, cycle.period_end) == period and cycle.due_on == due
    # due when that day begins in Beijing time: 16:00 UTC the evening before
    utc = cycle.due_at.astimezone(timezone.utc)
    assert (utc.date(), utc.hour) == (due - timedelta(days=1), 16)


def test_weekly_reports_cover_friday_to_thursday_and_are_due_when_friday_ends():
    cycle = rules.last_closed_cycle("weekly", date(2026, 11, 27))  # a Friday
    assert (cycle.period_start, cycle.period_end, cycle.due_on) == (date(2026, 11, 20), date(2026, 11, 26),
                                                                     date(2026, 11, 28))
    assert rules.last_closed_cycle("weekly", date(2026, 11, 26)).period_end == date(2026, 11, 19)


def test_reduction_rate_of_the_seed_county_and_rounding():
    assert rules.reduction_rate(18, 7) == 0.6111
    assert rules.reduction_rate(3, 1) == 0.6667  # half-up at the fifth place
    assert rules.reduction_rate(0, 0) is None
    assert rules.percent_text(0.6111) == "61.11%"


def test_the_content_hash_ignores_key_order_but_not_values():
    a = rules.content_hash({"x": 1, "y": "压减率"})
    assert a == rules.content_hash({"y": "压减率", "x": 1})
    assert a != rules.content_hash({"x": 2, "y": "压减率"})


def sample_report() -> dict:
    names = ["正常营业", "暂停营业", "停业整顿", "注销中", "已注销"]
    return {
        "kind": "half_monthly", "kind_name": "半月报", "division_code": "340722", "as_of": "2021-11-15",
        "period_start": "2021-11-01", "period_end": "2021-11-15",
        "institutions_total": 26, "institutions_academic": 18,
        "status_counts": dict(zip(names, [15, 4, 5, 2, 0])),
        "academic_status_counts": dict(zip(names, [7, 4, 5, 2, 0])),
        "academic_baseline": 18, "academic_operating": 7, "reduction_rate": 0.6111,
        "reduction": {"formula": rules.REDUCTION_FORMULA, "baseline_dates": ["2021-07-24"], "rate": 0.6111,
                      "inputs": {"基数": 18, "仍正常营业的学科类机构数": 7}, "rate_text": "61.11%"},
        "platform_registration": {"basic_info": 20, "staff": 10, "fund_supervision": 5, "complete": 5},
        "counties": [{"division_code": "340722", "baseline_date": "2021-07-24", "institutions_total": 26,
                      "institutions_academic": 18, "academic_baseline": 18, "academic_operating": 7,
                      "reduction_rate": 0.6111}],
        "inspections": {"records": 3, "by_outcome": {"pass": 2, "rectify": 0, "suspend": 1, "refer": 0},
                        "institutions_inspected": 3, "campaigns_started": 1, "campaigns_completed": 0,
                        "campaigns_active": 1},
        "illegal_ads_handled": 1,
        "orders": {"issued": {"rectify": 0, "suspend": 1, "refer": 0}, "open": {"rectify": 0, "suspend": 1, "refer": 0},
                   "closed": 0, "escalated": 0},
        "complaints": {"received": 4, "verified": 2, "closed": 1, "overdue_open": 1, "received_to_date": 9},
        "escrow": {"accounts_open": 12, "funds_under_supervision_fen": 123456789, "alerts_open": 2,
                   "alerts_open_by_kind": {}},
        "schools": {"total": 40, "visited_this_month": 30, "visit_coverage": 0.75, "homework_checked": 10,
                    "homework_compliant": 9,
                    "after_school": {"school_year": 2021, "plans_filed": 40, "plans_on_time": 39,
                                     "plan_filing_rate": 1.0, "participating": 33258, "enrolled": 36000,
                                     "participation_rate": 0.9238}},
    }


def test_the_xlsx_shows_each_formula_as_its_value_with_the_inputs_beside_it():
    book = load_workbook(io.BytesIO(export.to_xlsx(sample_report(), "枞阳县")))
    sheet = book["半月报"]
    assert sheet["A1"].value == "枞阳县校外培训治理半月报"
    rows = {row[2]: row for row in sheet.iter_rows(min_row=4, values_only=True)}
    assert rows["学科类机构基数"][3] == 18
    assert rows["仍正常营业的学科类机构数"][3] == 7
    rate = rows["压减率"]
    assert rate[3] == pytest.approx(0.6111) and "基数 18" in rate[4] and "仍正常营业的学科类机构数 7" in rate[4]
    assert float(rows["监管资金余额（元）"][3]) == 1234567.89
    assert book["分县压减率"]["G2"].value == pytest.approx(0.6111)
    assert any(c.value == "草稿（未报送）" for c in sheet["A"])


def test_the_csv_opens_in_excel_as_chinese():
    content = export.to_csv(sample_report(), "枞阳县")
    assert content.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[2] == ["类别", "指标", "数值", "说明"]
    assert ["一、校外培训机构", "压减率", "61.11%"] == rows[[r[1] if len(r) > 1 else "" for r in rows].index("压减率")][:3]
