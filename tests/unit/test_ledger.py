"""The ledger (台账): headers, rows (errors name row and column), files, and what a re-import changes."""
import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from services.registry import ledger
from services.registry.domain import Status
from services.common.ledger_file import LedgerFileError, read_ledger
from shuangjian.codes import make_uscc

TODAY = date(2021, 11, 10)
TOWNS = ledger.TownshipDirectory([
    {"code": "340722100", "name": "枞阳镇"}, {"code": "340722106", "name": "浮山镇"},
    {"code": "340722201", "name": "金社乡"},
])
HEADERS = list(ledger.HEADERS)


def cells(serial=1, **overrides):
    row = {
        "机构名称": f"枞阳县培训学校{serial}", "统一社会信用代码": make_uscc(serial), "办学许可证号": f"教民{serial:05d}号",
        "发证日期": "2019-05-01", "类别": "学科类", "法人类型": "营利性", "乡镇": "枞阳镇", "地址": "渡江路1号",
        "状态": "正常营业", "状态日期": "", "全国平台注册": "是",
    }
    row.update(overrides)
    return row


# -- headers ---------------------------------------------------------------------------------------


def test_headers_in_any_order_pass():
    assert ledger.check_headers(list(reversed(HEADERS))) == []
    assert ledger.check_headers([h if h != "全国平台注册" else "全国平台注册（是/否）" for h in HEADERS]) == []


def test_a_missing_header_is_named_with_the_columns_not_recognised():
    headers = [h for h in HEADERS if h != "发证日期"] + ["负责人"]
    errors = ledger.check_headers(headers)
    assert [(e.row, e.column, e.reason) for e in errors] == [
        (1, "发证日期", "缺少必需的表头“发证日期”（未识别的列：负责人）")]


def test_a_header_given_twice_is_refused_and_blank_headers_are_not_errors():
    errors = ledger.check_headers(HEADERS + ["所属乡镇", ""], row=3)
    assert [(e.row, e.reason) for e in errors] == [(3, "表头“所属乡镇”与“乡镇”重复（都是“乡镇”列）")]


# -- rows ------------------------------------------------------------------------------------------


def test_a_good_row_becomes_a_record_with_its_history():
    record, errors = ledger.parse_row(2, cells(状态="停业整顿", 状态日期="2021/10/31", 乡镇="340722106"), TOWNS, TODAY)
    assert errors == []
    assert record.draft.division_code == "340722106" and record.platform_registered is True
    assert [(h.status, h.effective_on) for h in record.history] == [
        (Status.operating, date(2019, 5, 1)), (Status.suspended_for_rectification, date(2021, 10, 31))]


def test_every_bad_cell_of_a_row_is_reported_with_row_and_column():
    bad = cells(统一社会信用代码="91340722MA2XXXXXX0", 类别="体育类", 发证日期="2019-02-30", 全国平台注册="也许")
    record, errors = ledger.parse_row(7, bad, TOWNS, TODAY)
    assert record is None
    assert [(e.row, e.column) for e in errors] == [
        (7, "统一社会信用代码"), (7, "发证日期"), (7, "类别"), (7, "全国平台注册")]
    assert "校验位" in errors[0].reason and "不是有效日期" in errors[1].reason
    assert str(errors[0]).startswith("第7行  统一社会信用代码  ")


@pytest.mark.parametrize("value", ["2021-06-18", "2021/6/18", "2021.6.18", "2021年6月18日", "20210618",
                                   "2021-06-18 00:00:00"])
def test_dates_as_officials_type_them(value):
    assert ledger.parse_date_cell(value) == date(2021, 6, 18)


@pytest.mark.parametrize("overrides,column,fragment", [
    ({"乡镇": "青山镇"}, "乡镇", "未知的乡镇"),
    ({"乡镇": "340722999"}, "乡镇", "不在您辖区"),
    ({"状态": "停业整顿"}, "状态日期", "须填写状态日期"),
    ({"状态": "停业整顿", "状态日期": "2019-04-30"}, "状态日期", "不能早于发证日期"),
    ({"发证日期": "2022-01-01"}, "发证日期", "不能晚于今天"),
    ({"机构名称": ""}, "机构名称", "不能为空"),
    ({"状态": ""}, "状态", "不能为空"),
    ({"法人类型": "国有"}, "法人类型", "可选"),
])
def test_each_rule_names_its_column(overrides, column, fragment):
    _, errors = ledger.parse_row(3, cells(**overrides), TOWNS, TODAY)
    assert [(e.row, e.column) for e in errors] == [(3, column)]
    assert fragment in errors[0].reason


def test_an_ambiguous_township_name_asks_for_the_code():
    towns = ledger.TownshipDirectory([{"code": "340722100", "name": "城关镇"}, {"code": "340723100", "name": "城关镇"}])
    _, errors = ledger.parse_row(2, cells(乡镇="城关镇"), towns, TODAY)
    assert "请填写9位代码" in errors[0].reason


def test_a_file_with_one_bad_row_and_a_duplicate_reports_both_and_skips_blank_rows():
    rows = [(2, cells(1)), (3, cells(2, 统一社会信用代码="BAD")), (4, {h: "" for h in HEADERS}), (5, cells(3)),
            (6, cells(1, 机构名称="另一家"))]
    records, errors = ledger.parse_rows(rows, TOWNS, TODAY)
    assert [r.row for r in records] == [2, 5]
    assert [(e.row, e.column) for e in errors] == [(3, "统一社会信用代码"), (6, "统一社会信用代码")]
    assert errors[1].reason == "与第2行的统一社会信用代码重复"


# -- what a row changes ----------------------------------------------------------------------------


def stored(record, **overrides):
    d = record.draft
    values = dict(name=d.name, licence_no=d.licence_no, licence_issued_on=d.licence_issued_on,
                  category=d.category.value, legal_form=d.legal_form.value, division_code=d.division_code,
                  address=d.address, status=record.status, status_since=record.history[-1].effective_on,
                  platform_basic_info=record.platform_registered)
    values.update(overrides)
    return ledger.Stored(**values)


def record_of(**overrides):
    record, errors = ledger.parse_row(2, cells(**overrides), TOWNS, TODAY)
    assert errors == []
    return record


def test_an_identical_row_changes_nothing_and_a_new_one_is_created():
    record = record_of(状态="停业整顿", 状态日期="2021-10-31")
    assert ledger.plan_row(record, stored(record), TODAY) == (ledger.RowPlan("unchanged"), [])
    assert ledger.plan_row(record, None, TODAY)[0].kind == "create"


def test_changed_fields_and_an_allowed_status_change_update_the_record():
    record = record_of(地址="新地址", 状态="停业整顿", 状态日期="2021-10-31")
    plan, errors = ledger.plan_row(record, stored(record, address="旧地址", status=Status.operating,
                                                  status_since=date(2019, 5, 1)), TODAY)
    assert errors == [] and plan.kind == "update" and plan.changes == {"address": "新地址"}
    assert plan.status_change.status is Status.suspended_for_rectification
    assert plan.status_change.effective_on == date(2021, 10, 31)


def test_a_disallowed_status_change_is_a_row_error():
    record = record_of()
    _, errors = ledger.plan_row(record, stored(record, status=Status.deregistered, status_since=date(2021, 3, 1)),
                                TODAY)
    assert [(e.row, e.column) for e in errors] == [(2, "状态")]
    assert "不能从“已注销”变为“正常营业”" in errors[0].reason


def test_a_different_date_for_the_same_status_is_a_row_error():
    record = record_of(状态="暂停营业", 状态日期="2021-10-01")
    _, errors = ledger.plan_row(record, stored(record, status_since=date(2021, 9, 1)), TODAY)
    assert errors[0].column == "状态日期" and "不一致" in errors[0].reason


# -- files -----------------------------------------------------------------------------------------


def csv_bytes(rows, encoding="utf-8", bom=False):
    text = "\r\n".join(",".join(r) for r in rows) + "\r\n"
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


@pytest.mark.parametrize("encoding,bom", [("utf-8", False), ("utf-8", True), ("gbk", False)])
def test_csv_in_utf8_with_or_without_bom_and_in_gbk(encoding, bom):
    row = cells(1)
    table = read_ledger("台账.csv", csv_bytes([HEADERS, [row[h] for h in HEADERS], [""] * len(HEADERS)],
                                             encoding, bom))
    assert table.headers == HEADERS
    assert table.rows == [(2, row)]


def test_xlsx_with_date_cells_numbers_and_trailing_empty_columns():
    wb = Workbook()
    ws = wb.active
    ws.append([*reversed(HEADERS), None])
    row = cells(2)
    values = {**row, "发证日期": datetime(2019, 5, 1), "全国平台注册": True}
    ws.append([values[h] for h in reversed(HEADERS)] + [None])
    ws.append([])
    ws.append([values[h] for h in reversed(HEADERS)])
    buffer = io.BytesIO()
    wb.save(buffer)
    table = read_ledger("ledger.xlsx", buffer.getvalue())
    assert table.headers == list(reversed(HEADERS))
    assert [n for n, _ in table.rows] == [2, 4]
    assert table.rows[0][1] == row


def test_data_under_no_header_is_listed_not_read():
    table = read_ledger("a.csv", csv_bytes([HEADERS, [cells()[h] for h in HEADERS] + ["多余"]]))
    assert table.ignored == [f"第{len(HEADERS) + 1}列（无表头）"]
    record, errors = ledger.parse_row(*table.rows[0], TOWNS, TODAY)
    assert errors == [] and record.draft.name == "枞阳县培训学校1"


@pytest.mark.parametrize("name,content,fragment", [
    ("a.xls", b"x", ".xlsx"), ("a.txt", b"x", "只支持"), ("a.xlsx", b"not a zip", "有效的 .xlsx"),
    ("a.csv", b"", "为空"), ("a.csv", b"\xff\x00\xfe" * 3 + b"\x81", "编码"),
])
def test_unreadable_files_say_why(name, content, fragment):
    with pytest.raises(LedgerFileError) as info:
        read_ledger(name, content)
    assert fragment in str(info.value)
