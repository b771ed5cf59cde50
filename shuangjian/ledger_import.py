"""`shuangjian registry import FILE`: a county's ledger (台账) into the running platform.

Reads the .csv/.xlsx here, checks the header row, uploads the rows in chunks with a progress
bar, then asks the platform to commit: all rows are stored, or none and every bad row is
listed (row, column, reason). Exit codes: 0 imported (or nothing to change), 1 the file has
errors and nothing was stored, 2 the platform refused or could not be reached (cli.main).
"""
from __future__ import annotations

import sys
from pathlib import Path

from services.common.ledger_file import LedgerFileError, LedgerTable, read_ledger_path
from services.common.ledger_format import check_headers
from services.common.row_error import RowError

from .client import ApiError, Client

CHUNK_ROWS = 1000
COMMIT_TIMEOUT = 600  # seconds: validating and storing 100,000 rows takes a while


def _print_errors(summary: str, errors: list[dict], total: int, err) -> None:
    print(summary, file=err)
    for e in errors:
        print(f"  {RowError(e['row'], e.get('column') or '', e['reason'])}", file=err)
    if total > len(errors):
        print(f"  ……另有 {total - len(errors)} 处错误未列出", file=err)


def _print_notes(name: str, table: LedgerTable, err) -> None:
    """What the reader left out: title rows, the template's example, columns such as 序号 and 备注."""
    if table.header_row > 1 or table.skipped:
        print(f"{name}：表头在第{table.header_row}行", file=err)
    for number, why in table.skipped:
        print(f"  跳过第{number}行：{why}", file=err)
    if table.ignored:
        print(f"  不导入的列：{'、'.join(table.ignored)}", file=err)


def template(client: Client, output: str | None, out=None) -> int:
    """`shuangjian registry template [-o FILE]`: the ledger template with the county's townships."""
    content, name = client.download("/api/registry/template")
    path = Path(output or name or "台账模板.xlsx")
    path.write_bytes(content)
    print(f"已保存台账模板：{path}", file=out or sys.stdout)
    return 0


def import_ledger(client: Client, path: str, chunk_rows: int = CHUNK_ROWS, progress: bool = True,
                  out=None, err=None) -> int:
    from tqdm import tqdm

    out = out or sys.stdout
    err = err or sys.stderr
    name = Path(path).name
    try:
        table = read_ledger_path(path)
    except LedgerFileError as exc:
        print(f"错误：{exc}", file=err)
        return 1
    _print_notes(name, table, err)
    header_errors = check_headers(table.headers, table.header_row)
    if header_errors:
        _print_errors(f"{name}：表头有 {len(header_errors)} 处错误，未导入任何记录：",
                      [e.as_dict() for e in header_errors], len(header_errors), err)
        return 1
    if not table.rows:
        print(f"错误：{name} 中没有数据行", file=err)
        return 1

    batch = client.post("/api/registry/imports", {"file_name": name, "headers": table.headers,
                                                  "header_row": table.header_row})
    rows = [{"row": number, "cells": cells} for number, cells in table.rows]
    with tqdm(total=len(rows), unit="行", desc="上传台账", disable=None if progress else True,
              file=err, dynamic_ncols=True) as bar:
        for start in range(0, len(rows), chunk_rows):
            part = rows[start:start + chunk_rows]
            client.post(f"/api/registry/imports/{batch['id']}/rows", {"rows": part})
            bar.update(len(part))
    print(f"已上传 {len(rows)} 行，正在校验并保存……", file=err, flush=True)
    try:
        result = client.request("POST", f"/api/registry/imports/{batch['id']}/commit", {},
                                timeout=COMMIT_TIMEOUT)
    except ApiError as exc:
        if exc.status == 422 and "errors" in exc.payload:
            result = exc.payload
            _print_errors(f"{name}：{result['message']}：", result["errors"], result["error_total"], err)
            return 1
        raise
    print(f"{name}：{result['message']}（共 {result['rows']} 行）", file=out)
    lag = result.get("read_model")
    if lag and not lag.get("caught_up"):  # the reports catch up asynchronously (issue 12)
        print(f"报表{lag['summary']}；`shuangjian report half-monthly --wait` 可等其计入后再出表", file=out)
    return 0
