"""Ledger files as tests need them: a clean one, and the same records laid out as county offices keep
them (a merged title row, a blank row, 序号 and 备注, header variants, Excel date cells and dates
written by hand, full-width and stray spaces, a 乡镇 merged over two rows, a sign-off line under the
table; GBK CSV)."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from openpyxl import Workbook

from services.common.ledger_format import HEADERS
from shuangjian.codes import make_uscc

TOWNSHIPS = [{"code": "340722100", "name": "枞阳镇"}, {"code": "340722106", "name": "浮山镇"},
             {"code": "340722201", "name": "金社乡"}]
TITLE = "枞阳县校外培训机构台账（截至2021年11月10日）"
FOOTER = "填表人：张三    审核人：李四    填表日期：2021年11月10日"
# the county's own headers for the same columns, in the county's order, between 序号 and 备注
COUNTY_HEADERS = ["序号", "机构名称*", "统一社会信用代码（18位）", "办学许可证编号", "发证日期", "机构类别", "法人性质",
                  "所属乡镇", "办学地址", "机构状态", "状态日期", "是否在全国平台注册", "备注"]
CANONICAL = dict(zip(COUNTY_HEADERS[1:-1], ["机构名称", "统一社会信用代码", "办学许可证号", "发证日期", "类别", "法人类型",
                                              "乡镇", "地址", "状态", "状态日期", "全国平台注册"]))


def rows(base: int = 0) -> list[dict]:
    """Four records as a clean ledger states them (ISO dates, no stray spaces)."""
    def row(n, **overrides):
        values = {"机构名称": f"枞阳县台账培训学校{base + n}", "统一社会信用代码": make_uscc(base + n),
                  "办学许可证号": f"教民134072270{base + n:05d}号", "发证日期": "2021-09-15", "类别": "学科类",
                  "法人类型": "营利性", "乡镇": "枞阳镇", "地址": f"枞阳镇渡江路{n}号", "状态": "正常营业", "状态日期": "",
                  "全国平台注册": "是"}
        values.update(overrides)
        return values
    return [row(1), row(2, 发证日期="2019-05-01"),
            row(3, 乡镇="浮山镇", 类别="非学科类", 法人类型="非营利性", 发证日期="2020-03-02", 状态="停业整顿",
                状态日期="2021-10-31", 全国平台注册="否"),
            row(4, 乡镇="金社乡", 发证日期="2018-12-01", 地址="金社乡 Sunny 大厦 2 楼")]


def clean_csv(records: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(list(HEADERS))
    writer.writerows([[r[h] for h in HEADERS] for r in records])
    return out.getvalue().encode("utf-8")


def clean_xlsx(records: list[dict]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(HEADERS))
    for r in records:
        sheet.append([r[h] for h in HEADERS])
    return _save(workbook)


def _save(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _handwritten(iso: str, form: int) -> str:
    y, m, d = (int(p) for p in iso.split("-"))
    return [f"{y}年{m}月{d}日", f"{y}/{m}/{d}", f"{y}.{m}.{d}", f" {y}-{m:02d}-{d:02d}　"][form % 4]


def _county_cells(n: int, r: dict, excel_dates: bool) -> list:
    values = dict(r)
    values["机构名称"] = f"　{r['机构名称'][:3]} {r['机构名称'][3:]} "  # full-width and stray spaces
    values["统一社会信用代码"] = f" {r['统一社会信用代码']}　"
    values["乡镇"] = f"{r['乡镇']}　"
    values["地址"] = r["地址"].replace(" ", "  ")
    values["类别"] = f" {r['类别']}"
    if excel_dates and n % 2:
        values["发证日期"] = datetime.fromisoformat(r["发证日期"])  # an Excel date cell
    else:
        values["发证日期"] = _handwritten(r["发证日期"], n)
    if r["状态日期"]:
        values["状态日期"] = _handwritten(r["状态日期"], n + 1)
    if excel_dates:
        values["全国平台注册"] = r["全国平台注册"] == "是"  # a TRUE/FALSE cell
    return [n] + [values[CANONICAL[h]] for h in COUNTY_HEADERS[1:-1]] + [f"备注{n}" if n % 2 else ""]


def county_xlsx(records: list[dict]) -> bytes:
    """Title merged over the columns, a blank row, the header on row 3; rows 1 and 2 share a merged 乡镇."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([TITLE])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COUNTY_HEADERS))
    sheet.append([])
    sheet.append(COUNTY_HEADERS)
    for n, r in enumerate(records, start=1):
        sheet.append(_county_cells(n, r, excel_dates=True))
    township = COUNTY_HEADERS.index("所属乡镇") + 1
    if len(records) > 1 and records[0]["乡镇"] == records[1]["乡镇"]:
        sheet.cell(5, township).value = None  # what Excel keeps under a merged cell
        sheet.merge_cells(start_row=4, start_column=township, end_row=5, end_column=township)
    sheet.append([FOOTER])  # merged under the table, as the title is above it
    sheet.merge_cells(start_row=sheet.max_row, start_column=1, end_row=sheet.max_row, end_column=len(COUNTY_HEADERS))
    return _save(workbook)


def county_csv_gbk(records: list[dict]) -> bytes:
    """What Excel on a Chinese Windows saves as CSV: GBK, the title line, a blank line, then the table."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([TITLE] + [""] * (len(COUNTY_HEADERS) - 1))
    writer.writerow([""] * len(COUNTY_HEADERS))
    writer.writerow(COUNTY_HEADERS)
    for n, r in enumerate(records, start=1):
        writer.writerow(_county_cells(n, r, excel_dates=False))
    writer.writerow(["", "填表人：张三", "", "", "", "", "", "", "审核人：李四"] + [""] * (len(COUNTY_HEADERS) - 9))
    return out.getvalue().encode("gbk")
