"""The ledger template (台账模板.xlsx): what a county fills in and imports without editing.

Laid out as county ledgers are (a title row, 序号 and 备注 columns, header notes such as
统一社会信用代码（18位）), so the template is itself read by the same importer as any county file:
the example row is marked 示例 in 序号 and skipped. Drop-down lists (data validation) hold the
values the import accepts; 乡镇 lists the county's townships from the gateway's divisions.
"""
from __future__ import annotations

import base64
import io
from datetime import date

from services.common.identity import Actor
from services.common.ledger_format import EXAMPLE_MARK, INDEX_HEADER
from services.common.policy import authorize

from . import domain

FILE_NAME = "台账模板.xlsx"
TITLE = "校外培训机构台账（截至    年  月  日）"
FILL_ROWS = 5000  # rows below the example that carry the drop-down lists
# (header as written in the template, column width, drop-down values or None)
COLUMNS: list[tuple[str, int, tuple[str, ...] | None]] = [
    (INDEX_HEADER, 6, None),
    ("机构名称*", 28, None),
    ("统一社会信用代码（18位）*", 24, None),
    ("办学许可证号*", 22, None),
    ("发证日期*", 13, None),
    ("类别*", 10, tuple(domain.CATEGORY_NAMES.values())),
    ("法人类型*", 10, tuple(domain.LEGAL_FORM_NAMES.values())),
    ("乡镇*", 12, ()),  # filled from the county's townships
    ("地址*", 30, None),
    ("状态*", 10, tuple(domain.STATUS_NAMES.values())),
    ("状态日期（非正常营业时必填）", 16, None),
    ("全国平台注册（是/否）*", 12, ("是", "否")),
    ("备注", 24, None),
]
TEXT_COLUMNS = {"统一社会信用代码（18位）*", "办学许可证号*"}  # as text: Excel would turn 18 digits into 9.13E+17
DATE_COLUMNS = {"发证日期*", "状态日期（非正常营业时必填）"}


def _example(township: str) -> list:
    body = "52340722MJ0000001"  # 民办非企业单位: a made-up number with a correct check character
    return [EXAMPLE_MARK, "枞阳县示例培训学校", body + domain.uscc_check_character(body), "教民134072270000001号",
            date(2021, 9, 15), "非学科类", "非营利性", township, "渡江路1号", "正常营业", None, "是",
            "此行为填写示例，导入时自动跳过，可保留或删除"]


def build_template(townships: list[dict]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    names = [t["name"] for t in townships]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "台账"  # the first sheet: the one the import reads
    last = get_column_letter(len(COLUMNS))
    sheet.append([TITLE])
    sheet.merge_cells(f"A1:{last}1")
    sheet["A1"].font = Font(size=14, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append([header for header, _, _ in COLUMNS])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    sheet.append(_example(names[0] if names else "（本县乡镇）"))
    for cell in sheet[3]:
        cell.font = Font(italic=True, color="808080")
    sheet.freeze_panes = "B3"

    lists = workbook.create_sheet("乡镇")
    lists.append(["乡镇名称", "乡镇代码"])
    for township in townships:
        lists.append([township["name"], township["code"]])
    lists.sheet_state = "hidden"
    first, end = 3, 3 + FILL_ROWS
    for index, (header, width, values) in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = width
        if header in TEXT_COLUMNS:
            sheet.column_dimensions[letter].number_format = "@"
        if header in DATE_COLUMNS:
            sheet.column_dimensions[letter].number_format = "yyyy-mm-dd"
            sheet.cell(3, index).number_format = "yyyy-mm-dd"
        if values is None:
            continue
        if values:
            formula = '"' + ",".join(values) + '"'
        elif names:
            formula = f"'乡镇'!$A$2:$A${len(names) + 1}"  # a range: a county's names pass Excel's 255-character list limit
        else:
            continue
        rule = DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=True,
                              errorTitle="请从列表中选择", error=f"{header.rstrip('*')}：请从下拉列表中选择")
        rule.add(f"{letter}{first}:{letter}{end}")
        sheet.add_data_validation(rule)

    notes = workbook.create_sheet("填写说明", 1)
    for line in (
        ["填写说明"],
        ["1. 在“台账”表第4行起逐行填写，每家机构一行；第3行为示例（序号为“示例”），导入时跳过。"],
        ["2. 带 * 的列必填；状态不是“正常营业”时须填状态日期（该状态开始的日期）。"],
        ["3. 日期可写 2021-09-15、2021/9/15、2021.9.15 或 2021年9月15日，也可用 Excel 日期格式。"],
        ["4. 乡镇填写本县已登记的乡镇名称（下拉选择）或9位乡镇代码。"],
        ["5. 序号、备注及其他列不导入；标题行可保留。任何一行有误则全部不导入，并列出行号、列名和原因。"],
        ["6. 重复导入同一台账不会重复登记（按统一社会信用代码识别），有变化的记录会被更新。"],
    ):
        notes.append(line)
    notes.column_dimensions["A"].width = 100
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def template_file(actor: Actor, townships: object) -> dict:
    authorize(actor, "registry.import_ledger")
    if not isinstance(townships, list):
        townships = []
    rows = [t for t in townships if isinstance(t, dict) and isinstance(t.get("name"), str) and t.get("code")]
    return {"file_name": FILE_NAME, "content_b64": base64.b64encode(build_template(rows)).decode("ascii")}
