"""Reading a ledger file (.csv or .xlsx) into rows keyed by header. Bytes in, rows out.

Used by the CLI (`shuangjian registry import FILE`) and by the gateway's file-upload route, so
both read a file the same way. CSV may be UTF-8 (with or without BOM) or GBK/GB18030, which
is what Excel in China saves; xlsx is read with openpyxl in read-only mode (first sheet).
Row numbers are the spreadsheet's: the header is row 1.
"""
from __future__ import annotations

from services.common.textfiles import decode_office_text

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time

from .ledger import normalize_header

MAX_FILE_BYTES = 16 << 20


class LedgerFileError(Exception):
    """The file itself cannot be read (format, encoding, empty). Chinese message."""


@dataclass
class LedgerTable:
    headers: list[str]  # normalised, in file order
    rows: list[tuple[int, dict[str, str]]]  # (row number, {header: text}); blank rows left out


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
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count)
    return [list(record) for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _xlsx_grid(content: bytes) -> list[list[object]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError):
        raise LedgerFileError("不是有效的 .xlsx 文件") from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong sheet size; read what is there
        return [list(row) for row in sheet.iter_rows(min_row=1, values_only=True)]
    finally:
        workbook.close()


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


def _table(grid: list[list[object]]) -> LedgerTable:
    if not grid or all(cell_to_text(c) == "" for c in grid[0]):
        raise LedgerFileError("文件为空，或第1行不是表头")
    headers = [normalize_header(h) for h in grid[0]]
    while headers and headers[-1] == "" and all(
        len(r) < len(headers) or cell_to_text(r[len(headers) - 1]) == "" for r in grid[1:]
    ):
        headers.pop()  # trailing columns with neither a header nor data
    rows = []
    for number, raw in enumerate(grid[1:], start=2):
        texts = [cell_to_text(c) for c in raw]
        if not any(texts):
            continue
        cells = {}
        for index, text in enumerate(texts):
            if index < len(headers) and headers[index]:
                cells[headers[index]] = text
            elif text:
                cells[f"第{index + 1}列"] = text  # data under no header: reported as an unknown column
        rows.append((number, cells))
    return LedgerTable(headers, rows)
