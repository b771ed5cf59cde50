"""Reading a ledger file (.csv or .xlsx) into rows keyed by ledger header. Bytes in, rows out.

Used by the CLI (`shuangjian registry import FILE`) and by the registry for uploaded files, so
both read a file the same way. CSV may be UTF-8 (with or without BOM) or GBK/GB18030, which is
what Excel in China saves; xlsx is read with openpyxl in read-only mode (first sheet), a merged
cell's value filled down its column (a 乡镇 merged over several rows names each of them).
The header row is found among the first rows (title and blank rows above it are skipped and
reported); columns the import does not use are listed, not read. Row numbers are the
spreadsheet's.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

from .ledger_format import (EXAMPLE_MARK, INDEX_HEADER, MAX_HEADER_SCAN, MIN_HEADER_MATCHES,
                            canonical_header, header_matches, is_footer, normalize_header, read_header_row)
from .textfiles import decode_office_text

MAX_FILE_BYTES = 16 << 20


class LedgerFileError(Exception):
    """The file itself cannot be read (format, encoding, empty). Chinese message."""


@dataclass
class LedgerTable:
    headers: list[str]  # the header row as written (normalised), in file order
    rows: list[tuple[int, dict[str, str]]]  # (row number, {ledger header: text}); blank rows left out
    header_row: int = 1
    ignored: list[str] = field(default_factory=list)  # columns not used (序号, 备注, 第13列…)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row number, why): title rows, the example

    def notes(self) -> dict:
        """What the reader left out, for the import's answer."""
        return {"header_row": self.header_row, "ignored_columns": self.ignored,
                "skipped_rows": [{"row": n, "reason": why} for n, why in self.skipped]}


def read_ledger(file_name: str, content: bytes) -> LedgerTable:
    if len(content) > MAX_FILE_BYTES:
        raise LedgerFileError(f"文件超过 {MAX_FILE_BYTES >> 20} MB")
    lower = file_name.lower()
    if lower.endswith(".csv"):
        grid = _csv_grid(content)
    elif lower.endswith(".xlsx") or lower.endswith(".xlsm"):
        grid = _xlsx_grid(content)
    elif lower.endswith(".xls"):
        raise LedgerFileError("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV")
    else:
        raise LedgerFileError("只支持 .csv 和 .xlsx 文件")
    return _table(grid)


def read_ledger_path(path) -> LedgerTable:
    from pathlib import Path

    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise LedgerFileError(f"无法读取文件 {path}：{exc.strerror or exc}") from None
    return read_ledger(path.name, content)


def _decode(content: bytes) -> str:
    try:
        return decode_office_text(content)
    except UnicodeDecodeError:
        raise LedgerFileError("无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV") from None


def _csv_grid(content: bytes) -> list[list[object]]:
    text = _decode(content)
    lines = text.split("\n", MAX_HEADER_SCAN)[:MAX_HEADER_SCAN]
    header = max(lines, key=header_matches_line) if lines else ""  # a title line has no delimiters
    delimiter = max((",", "\t", ";"), key=header.count)
    try:
        return [list(record) for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:  # e.g. NUL bytes: not a text file
        raise LedgerFileError(f"CSV 文件格式有误：{exc}") from None


def header_matches_line(line: str) -> int:
    return max(header_matches(re.split(sep, line)) for sep in (",", "\t", ";"))


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+\d+):([A-Z]+\d+)"')


def _xlsx_grid(content: bytes) -> list[list[object]]:
    from zipfile import BadZipFile, ZipFile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError):
        raise LedgerFileError("不是有效的 .xlsx 文件") from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong sheet size; read what is there
        grid = [list(row) for row in sheet.iter_rows(min_row=1, values_only=True)]
        xml = ZipFile(io.BytesIO(content)).read(sheet._worksheet_path)  # read-only sheets do not list merges
    finally:
        workbook.close()
    _fill_merged(grid, _MERGE.findall(xml[xml.rfind(b"<mergeCells") if b"<mergeCells" in xml else len(xml):]))
    return grid


def _fill_merged(grid: list[list[object]], ranges: list[tuple[bytes, bytes]]) -> None:
    """A merged range's value down its first column: a title or a header spanning columns stays one cell."""
    from openpyxl.utils.cell import coordinate_from_string, column_index_from_string

    for first, last in ranges:
        column, top = coordinate_from_string(first.decode())
        _, bottom = coordinate_from_string(last.decode())
        index = column_index_from_string(column) - 1
        if top > len(grid) or index >= len(grid[top - 1]):
            continue
        value = grid[top - 1][index]
        for number in range(top + 1, min(bottom, len(grid)) + 1):
            row = grid[number - 1]
            row.extend([None] * (index + 1 - len(row)))
            row[index] = value


def cell_to_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _find_header(texts: list[list[str]]) -> int | None:
    """The first row naming enough ledger headers; else the first non-blank one (its errors say why)."""
    scan = texts[:MAX_HEADER_SCAN]
    for index, row in enumerate(scan):
        if header_matches(row) >= MIN_HEADER_MATCHES:
            return index
    return next((index for index, row in enumerate(scan) if any(row)), None)


def _table(grid: list[list[object]]) -> LedgerTable:
    texts = [[cell_to_text(c) for c in raw] for raw in grid]
    at = _find_header(texts)
    if at is None:
        raise LedgerFileError(f"文件为空，或前{MAX_HEADER_SCAN}行中没有表头")
    header = read_header_row(texts[at], at + 1)
    skipped = [(n, f"表头之上的标题行“{''.join(r)[:40]}”" if any(r) else "表头之上的空行")
               for n, r in enumerate(texts[:at], start=1)]
    written = [normalize_header(h) for h in texts[at]]
    while written and not written[-1]:
        written.pop()
    ignored = list(header.ignored)
    index_column = next((i for i, h in enumerate(written) if h == INDEX_HEADER), None)
    rows = []
    for number, row in enumerate(texts[at + 1:], start=at + 2):
        if not any(row):
            continue
        if index_column is not None and index_column < len(row) and row[index_column] == EXAMPLE_MARK:
            skipped.append((number, "填写示例（序号为“示例”）"))
            continue
        cells = {h: (row[i] if i < len(row) else "") for i, h in header.columns.items()}
        if not any(cells.values()):
            other = [t for i, t in enumerate(row) if t and not (i == index_column and t.isdigit())]
            if other:  # a pre-numbered empty row (only a 序号 number) is a blank row
                skipped.append((number, _not_read(other)))
            continue
        filled = [t for t in cells.values() if t]
        if len(filled) <= 2 and is_footer(filled[0]):  # 填表人：… 审核人：… under the table
            skipped.append((number, _not_read(filled)))
            continue
        if canonical_header(cells.get("机构名称")) and header_matches(row) >= MIN_HEADER_MATCHES:
            skipped.append((number, "重复的表头行"))  # a printed ledger repeats its header on each page
            continue
        for i, text in enumerate(row):
            if text and i not in header.columns and (i >= len(written) or not written[i]):
                name = f"第{i + 1}列（无表头）"  # data under no header: listed, not read
                if name not in ignored:
                    ignored.append(name)
        rows.append((number, cells))
    return LedgerTable(written, rows, at + 1, ignored, skipped)


def _not_read(texts: list[str]) -> str:
    """Why a row that is not a record was skipped: a sign-off line, or data only in unused columns."""
    text = " ".join(texts)[:40]
    return f"表尾“{text}”" if is_footer(texts[0]) else f"没有台账内容（只有未使用的列：{text}）"
