"""Reports as files a county office sends upward: xlsx (Chinese headings, each formula shown as
its value with the inputs beside it) and csv (UTF-8 with BOM, so Excel opens it in Chinese).

`report_rows` is the one layout both formats share.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from . import report_rules as rules
from .domain import STATUS_NAMES

PERCENT = "percent"
YUAN = "yuan"
OUTCOME_NAMES = {"pass": "合格", "rectify": "责令整改", "suspend": "停业整顿", "refer": "移送处理"}
ORDER_NAMES = {"rectify": "责令整改", "suspend": "停业整顿", "refer": "移送（联合查处）"}


def _yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def report_rows(report: dict) -> list[tuple[str, str, object, str, str | None]]:
    """(类别, 指标, 数值, 说明, kind) rows in the order the report is read."""
    r, rows = report, []

    def add(section, label, value, note="", kind=None):
        rows.append((section, label, value, note, kind))

    section = "一、校外培训机构"
    add(section, "有证有照机构总数", r["institutions_total"])
    add(section, "其中：学科类机构数", r["institutions_academic"])
    for name in STATUS_NAMES.values():
        add(section, f"{name}（全部 / 学科类）", r["status_counts"][name],
            f"其中学科类 {r['academic_status_counts'][name]} 家")
    reduction = r["reduction"]
    inputs = f"基数 {r['academic_baseline']}，仍正常营业的学科类机构数 {r['academic_operating']}"
    add(section, "学科类机构基数", r["academic_baseline"],
        f"基数日期 {'、'.join(reduction['baseline_dates'])} 及以前取得许可的学科类机构")
    add(section, "仍正常营业的学科类机构数", r["academic_operating"])
    add(section, "压减率", r["reduction_rate"], f"{reduction['formula']}；{inputs}", PERCENT)
    platform = r["platform_registration"]
    add(section, "全国平台：基本情况已录入", platform["basic_info"])
    add(section, "全国平台：培训人员已录入", platform["staff"])
    add(section, "全国平台：资金监管已录入", platform["fund_supervision"])
    add(section, "全国平台：三项均已完成", platform["complete"])

    section = "二、检查执法"
    inspections = r["inspections"]
    add(section, "本期检查次数", inspections["records"], "、".join(
        f"{OUTCOME_NAMES[k]} {v}" for k, v in inspections["by_outcome"].items() if k in OUTCOME_NAMES))
    add(section, "本期检查机构数", inspections["institutions_inspected"])
    add(section, "本期开展专项检查", inspections["campaigns_started"],
        f"本期结束 {inspections['campaigns_completed']}，截至统计日进行中 {inspections['campaigns_active']}")
    orders = r["orders"]
    for kind, name in ORDER_NAMES.items():
        add(section, f"本期下达{name}", orders["issued"][kind], f"截至统计日未办结 {orders['open'][kind]}")
    add(section, "本期整改到位销号", orders["closed"])
    add(section, "本期整改不到位升级处理", orders["escalated"])
    add(section, "本期查处违规广告", r["illegal_ads_handled"])

    section = "三、举报投诉"
    complaints = r["complaints"]
    add(section, "本期受理举报", complaints["received"], f"累计受理 {complaints['received_to_date']}")
    add(section, "本期核查属实", complaints["verified"])
    add(section, "本期办结", complaints["closed"])
    add(section, "截至统计日超期未办结", complaints["overdue_open"])

    section = "四、预收费资金监管"
    escrow = r["escrow"]
    add(section, "已开设监管账户", escrow["accounts_open"])
    add(section, "监管资金余额（元）", _yuan(escrow["funds_under_supervision_fen"]), "", YUAN)
    add(section, "未处置预警", escrow["alerts_open"])

    section = "五、学校“双减”落实"
    schools = r["schools"]
    after = schools["after_school"]
    add(section, "义务教育学校数", schools["total"])
    add(section, "作业管理：抽查学校数", schools["homework_checked"])
    add(section, "作业管理：符合时长要求的学校数", schools["homework_compliant"])
    add(section, "本月督学到校学校数", schools["visited_this_month"])
    add(section, "督学到校覆盖率", schools["visit_coverage"], f"{schools['visited_this_month']} ÷ {schools['total']}", PERCENT)
    add(section, f"课后服务“一校一案”报备（{after['school_year']}学年）", after["plans_filed"],
        f"按时报备 {after['plans_on_time']}")
    add(section, "课后服务参加学生数", after["participating"], f"在校学生 {after['enrolled']}")
    add(section, "课后服务参与率", after["participation_rate"], f"{after['participating']} ÷ {after['enrolled']}",
        PERCENT)
    return rows


def _title(report: dict, division_name: str | None) -> str:
    return f"{division_name or report['division_code']}校外培训治理{report['kind_name']}"


def _period_text(report: dict) -> str:
    return f"统计期：{report['period_start']} 至 {report['period_end']}"


def to_csv(report: dict, division_name: str | None = None, submission: dict | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_title(report, division_name)])
    writer.writerow([_period_text(report)])
    writer.writerow(["类别", "指标", "数值", "说明"])
    for section, label, value, note, kind in report_rows(report):
        shown = rules.percent_text(value) if kind == PERCENT else ("" if value is None else value)
        writer.writerow([section, label, shown, note])
    for line in _footer(submission):
        writer.writerow([line])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _footer(submission: dict | None) -> list[str]:
    if not submission:
        return ["草稿（未报送）"]
    who = submission["submitted_by"]
    return [f"报送人：{who.get('name') or who.get('username')}（{who.get('department')}）",
            f"报送时间：{submission['submitted_at']}　版本：第{submission['version']}版",
            f"内容校验码（SHA-256）：{submission['content_hash']}"]


def to_xlsx(report: dict, division_name: str | None = None, submission: dict | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = report["kind_name"]
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    sheet.append([_title(report, division_name)])
    sheet.merge_cells("A1:E1")
    sheet["A1"].font = Font(size=16, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append([_period_text(report) + f"　截至 {report['as_of']}"])
    sheet.merge_cells("A2:E2")
    sheet.append(["序号", "类别", "指标", "数值", "说明（计算依据）"])
    for cell in sheet[3]:
        cell.font, cell.border = Font(bold=True), border
        cell.alignment = Alignment(horizontal="center")
    for index, (section, label, value, note, kind) in enumerate(report_rows(report), start=1):
        sheet.append([index, section, label, value, note])
        row = sheet.max_row
        if kind == PERCENT:
            sheet.cell(row, 4).number_format = "0.00%"
        elif kind == YUAN:
            sheet.cell(row, 4).number_format = "#,##0.00"
        for column in range(1, 6):
            sheet.cell(row, column).border = border
            sheet.cell(row, column).alignment = Alignment(vertical="center", wrap_text=column == 5)
    sheet.append([])
    for line in _footer(submission):
        sheet.append([line])
    for column, width in zip("ABCDE", (6, 20, 36, 16, 60)):
        sheet.column_dimensions[column].width = width
    _county_sheet(book, report, border)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _county_sheet(book: Workbook, report: dict, border: Border) -> None:
    sheet = book.create_sheet("分县压减率")
    headings = ["县（区）代码", "基数日期", "机构总数", "学科类机构数", "学科类基数", "仍正常营业的学科类", "压减率"]
    sheet.append(headings)
    for county in report["counties"]:
        sheet.append([county["division_code"], county["baseline_date"], county["institutions_total"],
                      county["institutions_academic"], county["academic_baseline"], county["academic_operating"],
                      county["reduction_rate"]])
        sheet.cell(sheet.max_row, 7).number_format = "0.00%"
    for row in sheet.iter_rows():
        for cell in row:
            cell.border = border
    for index, width in enumerate((14, 12, 10, 12, 12, 18, 10), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


FORMATS = {
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", to_xlsx),
    "csv": ("text/csv; charset=utf-8", to_csv),
}
