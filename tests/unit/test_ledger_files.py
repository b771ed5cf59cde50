"""Ledgers as counties keep them (issue 15): title rows, 序号/备注, header variants, hand-written and
Excel dates, full-width spaces, merged cells, GBK CSV — the same records as the clean file; and the
template, filled and read back with no edits."""
import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from services.common.ledger_file import read_ledger
from services.common.ledger_format import HEADER_VARIANTS, HEADERS, canonical_header, normalize_header
from services.registry import ledger
from services.registry.ledger_template import build_template
from shuangjian.codes import make_uscc
from tests import ledger_samples as samples

TODAY = date(2021, 11, 10)
TOWNS = ledger.TownshipDirectory(samples.TOWNSHIPS)


def records_of(name: str, content: bytes):
    table = read_ledger(name, content)
    records, errors = ledger.parse_rows(table.rows, TOWNS, TODAY)
    assert errors == []
    return table, [(r.draft, r.status, r.status_on, r.platform_registered, r.history) for r in records]


@pytest.mark.parametrize("name,build", [("枞阳县台账.xlsx", samples.county_xlsx),
                                        ("枞阳县台账.csv", samples.county_csv_gbk)])
def test_a_county_ledger_gives_the_same_records_as_the_clean_file(name, build):
    _, clean = records_of("clean.csv", samples.clean_csv(samples.rows()))
    table, county = records_of(name, build(samples.rows()))
    assert county == clean
    assert clean[3][0].address == "金社乡 Sunny 大厦 2 楼" and clean[0][0].name == "枞阳县台账培训学校1"
    assert table.header_row == 3 and [n for n, _ in table.rows] == [4, 5, 6, 7]  # the file's own row numbers
    assert table.skipped[:2] == [(1, f"表头之上的标题行“{samples.TITLE}”"), (2, "表头之上的空行")]
    assert table.skipped[2][0] == 8 and "填表人：张三" in table.skipped[2][1]  # the sign-off line under the table
    assert table.ignored == ["序号", "备注"]


def test_a_county_row_matches_the_record_the_clean_file_stored():
    clean, _ = ledger.parse_rows(read_ledger("a.csv", samples.clean_csv(samples.rows())).rows, TOWNS, TODAY)
    county, _ = ledger.parse_rows(read_ledger("b.xlsx", samples.county_xlsx(samples.rows())).rows, TOWNS, TODAY)
    for before, again in zip(clean, county):
        d = before.draft
        stored = ledger.Stored(name=d.name, licence_no=d.licence_no, licence_issued_on=d.licence_issued_on,
                               category=d.category.value, legal_form=d.legal_form.value, division_code=d.division_code,
                               address=d.address, status=before.status, status_since=before.history[-1].effective_on,
                               platform_basic_info=before.platform_registered)
        assert ledger.plan_row(again, stored, TODAY) == (ledger.RowPlan("unchanged"), [])


def test_a_merged_township_names_every_row_it_spans():
    table = read_ledger("b.xlsx", samples.county_xlsx(samples.rows()))
    assert [cells["乡镇"] for _, cells in table.rows[:2]] == ["枞阳镇", "枞阳镇"]


def test_an_error_in_a_county_ledger_names_the_file_row_and_the_ledger_column():
    records = samples.rows()
    records[1]["发证日期"] = "2021-13-01"
    table = read_ledger("b.csv", samples.county_csv_gbk(records))
    _, errors = ledger.parse_rows(table.rows, TOWNS, TODAY)
    assert [(e.row, e.column) for e in errors] == [(5, "发证日期")] and "不是有效日期" in errors[0].reason


# -- headers: the variant table ------------------------------------------------------------------------


@pytest.mark.parametrize("header", [v for variants in HEADER_VARIANTS.values() for v in variants])
def test_every_variant_names_its_column(header):
    assert canonical_header(header) in HEADERS


@pytest.mark.parametrize("raw,bare", [
    ("统一社会信用代码（18位）", "统一社会信用代码"), ("机构名称*", "机构名称"), ("＊机构名称", "机构名称"),
    (" 乡镇（街道） ", "乡镇"), ("全国平台注册(是/否)", "全国平台注册"), ("状态日期（非正常营业时必填）*", "状态日期"),
    ("机构\n名称", "机构名称"), ("备注", "备注"), ("（空）", "(空)"),
])
def test_headers_are_normalised(raw, bare):
    assert normalize_header(raw) == bare


def test_columns_the_import_does_not_use_are_listed_and_data_under_them_is_not_read():
    content = samples.clean_csv(samples.rows())
    text = content.decode().splitlines()
    text = [text[0] + ",联系电话,负责人"] + [line + ",13800000000,张三" for line in text[1:]]
    table = read_ledger("a.csv", "\n".join(text).encode())
    assert table.ignored == ["联系电话", "负责人"] and "联系电话" not in table.rows[0][1]


def test_a_title_row_without_a_header_below_it_says_which_headers_are_missing():
    table = read_ledger("a.csv", "枞阳县台账\n机构名,信用代码号\n".encode())
    assert table.header_row == 1  # no row names three headers: the first non-blank one is taken
    errors = ledger.check_headers(table.headers, table.header_row)
    assert errors[0].reason == "缺少必需的表头“机构名称”（未识别的列：枞阳县台账）"


# -- cells: dates and spaces ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2021-09-15", "2021/9/15", "2021.9.15", "2021年9月15日", "20210915",
                                   "2021/9/15 0:00", "2021-09-15 00:00:00", "44454", "２０２１年９月１５日"])
def test_dates_as_written_in_county_ledgers(value):
    assert ledger.parse_date_cell(ledger.compact(value)) == date(2021, 9, 15)


def test_spaces_between_chinese_characters_go_and_other_runs_become_one():
    assert ledger.tidy("　阳光 培训　学校 ") == "阳光培训学校"
    assert ledger.tidy("ABC  English\u00a0School（枞阳）") == "ABC English School（枞阳）"
    assert ledger.compact(" 9134 0722\u3000MA2N ") == "91340722MA2N"


@pytest.mark.parametrize("text,footer", [("填表人：张三", True), ("注：本表截至11月10日", True), ("审核人:李四", True),
                                         ("合计：26家", True), ("注册地址", False), ("合计", False)])
def test_sign_off_lines_under_the_table_are_told_from_records(text, footer):
    from services.common.ledger_format import is_footer

    assert is_footer(text) is footer


def test_a_township_name_with_a_stray_space_still_resolves():
    assert TOWNS.resolve(ledger.compact("浮山 镇　")) == "340722106"


# -- the template: filled with openpyxl and read back with no edits ----------------------------------------


def test_the_template_round_trips():
    content = build_template(samples.TOWNSHIPS)
    workbook = load_workbook(io.BytesIO(content))
    sheet = workbook.worksheets[0]
    lists = {str(v.sqref).split(":")[0][0]: v.formula1 for v in sheet.data_validations.dataValidation}
    headers = [c.value for c in sheet[2]]
    column = {canonical_header(h): chr(ord("A") + i) for i, h in enumerate(headers) if canonical_header(h)}
    assert lists[column["类别"]] == '"学科类,非学科类"' and lists[column["全国平台注册"]] == '"是,否"'
    assert lists[column["状态"]] == '"正常营业,暂停营业,停业整顿,注销中,已注销"'
    assert lists[column["法人类型"]] == '"营利性,非营利性"' and lists[column["乡镇"]] == "'乡镇'!$A$2:$A$4"
    assert [r[0] for r in workbook["乡镇"].iter_rows(min_row=2, values_only=True)] == ["枞阳镇", "浮山镇", "金社乡"]

    filled = samples.rows(500)
    for n, r in enumerate(filled, start=1):  # an official fills rows 4… below the example
        values = {**r, "发证日期": datetime.fromisoformat(r["发证日期"])}
        sheet.append([n] + [values[canonical_header(h)] for h in headers[1:-1]] + [None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    table, records = records_of("台账模板.xlsx", buffer.getvalue())
    _, clean = records_of("clean.csv", samples.clean_csv(filled))
    assert records == clean
    assert table.header_row == 2 and table.ignored == ["序号", "备注"]
    assert [n for n, _ in table.skipped] == [1, 3]  # the title and the example (序号 示例)
    assert [n for n, _ in table.rows] == [4, 5, 6, 7]


def test_the_example_row_is_a_valid_record_once_marked_as_data():
    content = build_template(samples.TOWNSHIPS)
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    headers = [c.value for c in sheet[2]]
    cells = {canonical_header(h): v for h, v in zip(headers, [c.value for c in sheet[3]]) if canonical_header(h)}
    record, errors = ledger.parse_row(3, {h: read_cell(v) for h, v in cells.items()}, TOWNS, TODAY)
    assert errors == [] and record.draft.division_code == "340722100"
    assert make_uscc(1) != record.draft.uscc


def read_cell(value):
    from services.common.ledger_file import cell_to_text

    return cell_to_text(value)
