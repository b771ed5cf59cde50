"""A ledger file uploaded whole (the 台账导入 page, `POST /api/registry/imports/file`): read it here,
stage its rows as a batch (imports.py), then either commit at once or show a preview first.

The preview validates exactly as the commit does, without storing: every row's cells as the file
has them, what would happen to it (新增/更新/未变), and each error on its row and column. A file
with errors is finished as rejected there and then; a clean one stays an open batch until the
official commits it (imports.commit_import validates again, so a record changed in between is seen).
"""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from services.common.errors import ValidationFailed
from services.common.identity import Actor
from services.common.ledger_file import LedgerFileError, LedgerTable, read_ledger
from services.common.ledger_format import HEADERS, canonical_header, check_headers
from services.common.workdays import today_shanghai

from . import imports, ledger
from .handlers import Dispatch

_CHANGED_COLUMN = ledger.COLUMN_OF | {"division_code": "乡镇", "platform_basic_info": "全国平台注册"}
PREVIEW_ROWS = 200  # the first rows are shown, and every row with an error
MAX_PREVIEW_ROWS = 1000


def read_uploaded_ledger(file_name: object, content_b64: object) -> LedgerTable:
    """Parse an uploaded ledger file (base64) off the event loop; a bad file is a ValidationFailed."""
    from eventlet import tpool

    if not isinstance(file_name, str) or not isinstance(content_b64, str):
        raise ValidationFailed("请上传 .csv 或 .xlsx 文件", field="file")
    try:
        content = base64.b64decode(content_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("文件内容编码无效", field="file") from None
    try:
        table = tpool.execute(read_ledger, file_name, content)  # CPU-bound: not on the service's green threads
    except LedgerFileError as exc:
        raise ValidationFailed(str(exc), field="file") from None
    if not table.rows and not check_headers(table.headers, table.header_row):  # a bad header row says more
        raise ValidationFailed("文件中没有数据行", field="file")
    return table


def stage_file(session: Session, actor: Actor, file_name: str, table: LedgerTable) -> dict:
    """A batch holding the file's rows (or the header row's rejection)."""
    batch = imports.create_import(session, actor, {"file_name": file_name, "headers": table.headers,
                                                   "header_row": table.header_row})
    if batch["state"] == "open":
        for start in range(0, len(table.rows), imports.MAX_ROWS_PER_CALL):
            imports.add_import_rows(session, actor, batch["id"], [
                {"row": number, "cells": cells} for number, cells in table.rows[start:start + imports.MAX_ROWS_PER_CALL]])
    return batch


def preview_import(session: Session, actor: Actor, batch_id: str, townships: object) -> dict:
    """What committing the batch would do, row by row, without storing anything."""
    batch = imports.load_batch(session, actor, batch_id, lock=True)
    if batch.state != "open":
        return batch.result
    now = datetime.now(timezone.utc)
    checked = imports.check_batch(session, actor, batch, imports.township_directory(townships),
                                  today_shanghai(now))
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    plan_of: dict[int, ledger.RowPlan] = {}
    for record, plan in checked.plans:
        counts[{"create": "created", "update": "updated"}.get(plan.kind, "unchanged")] += 1
        plan_of[record.row] = plan
    if checked.errors:
        result = imports.rejection(batch.id, batch.file_name, checked.errors, checked.data_rows)
        preview = _preview_rows(checked, plan_of)
        imports.finish(session, batch, "rejected", result, now)  # all or nothing: this batch cannot be committed
        return result | {"preview": preview}
    session.rollback()  # nothing stored; the rows locked for the check are released
    return {
        "id": batch.id, "file_name": batch.file_name, "state": "ready", "rows": checked.data_rows, **counts,
        "errors": [], "error_total": 0, "bad_rows": 0,
        "message": f"可以导入：新增 {counts['created']}，更新 {counts['updated']}，未变 {counts['unchanged']}",
        "preview": _preview_rows(checked, plan_of),
    }


def _preview_rows(checked: imports.Checked, plan_of: dict[int, ledger.RowPlan]) -> dict:
    errors_of: dict[int, dict[str, str]] = {}
    for e in checked.errors:
        cell = errors_of.setdefault(e.row, {})
        cell[e.column] = f"{cell[e.column]}；{e.reason}" if e.column in cell else e.reason
    numbers = [n for n, cells in checked.staged if not ledger.is_blank(cells)]
    shown = sorted(set(numbers[:PREVIEW_ROWS]) | set(errors_of))[:MAX_PREVIEW_ROWS]
    cells_of = dict(checked.staged)
    rows = []
    for number in shown:
        plan = plan_of.get(number)
        changed = []
        if plan is not None and plan.kind == "update":
            changed = [_CHANGED_COLUMN[f] for f in plan.changes]
            changed += ["状态", "状态日期"] if plan.status_change is not None else []
        cells = {}
        for written, value in (cells_of.get(number) or {}).items():
            header = canonical_header(written)
            if header is not None:
                cells[header] = "" if value is None else str(value)
        rows.append({"row": number, "cells": cells, "plan": plan.kind if plan else None,
                     "changed": changed, "errors": errors_of.get(number, {})})
    return {"columns": list(HEADERS), "rows": rows, "shown": len(rows), "total": len(numbers)}


def _with_file(session: Session, actor: Actor, file_name: object, content_b64: object, then) -> dict:
    """Read and stage the file, then `then(batch_id)`; the answer lists what the reader left out."""
    table = read_uploaded_ledger(file_name, content_b64)
    batch = stage_file(session, actor, file_name, table)
    answer = then(batch["id"]) if batch["state"] == "open" else batch
    return answer | table.notes()


def import_file(session: Session, dispatch: Dispatch, actor: Actor, file_name: object, content_b64: object,
                townships: object) -> dict:
    """The whole import in one call: all rows stored, or none and every error."""
    return _with_file(session, actor, file_name, content_b64,
                      lambda batch_id: imports.commit_import(session, dispatch, actor, batch_id, townships))


def preview_file(session: Session, actor: Actor, file_name: object, content_b64: object, townships: object) -> dict:
    """Read and stage the file, then preview it: the page shows this before the official commits."""
    return _with_file(session, actor, file_name, content_b64,
                      lambda batch_id: preview_import(session, actor, batch_id, townships))
