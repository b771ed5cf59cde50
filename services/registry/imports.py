"""Ledger (台账) import use cases: stage rows in chunks, then commit all of them or none.

Protocol (the CLI and the education UI use the same gateway routes):
1. `create_import(actor, {file_name, headers, header_row})` checks the header row (columns it does
   not use are listed as `ignored_columns`) and opens a batch;
2. `add_import_rows(actor, batch_id, rows)` stages rows in chunks (a repeated chunk replaces
   itself, so a retried upload is harmless);
3. `commit_import(actor, batch_id, townships)` validates every row and either stores
   everything in one transaction or nothing, returning every error (row, column, reason).
Idempotent by 统一社会信用代码: an identical row changes nothing and emits nothing. A whole file, and
the preview of a batch before its commit, are import_files.py.
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.clock import iso_utc
from services.common.divisions import is_within, scope_prefix
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.ledger_format import read_header_row
from services.common.policy import authorize
from services.common.workdays import today_shanghai

from . import domain, ledger
from .handlers import (
    SOURCE,
    Dispatch,
    _who,
    institution_update,
    institution_values,
    registered_event_data,
    status_change,
)
from .models import ImportBatch, ImportRow, Institution, StatusChange, audit_trail

MAX_ROWS_PER_CALL = 5000
MAX_ERRORS_RETURNED = 5000
STALE_AFTER = timedelta(days=1)
IN_CHUNK = 1000
# sent in bundles (services/common/events.py): every consumer of these flattens them — reporting,
# escrow and inspection take them with the batch consumer, the workflows bridge unbundles too
BUNDLED_TYPES = frozenset({"institution_registered"})
_BATCH_ID = re.compile(r"^[0-9a-f]{32}$")


def rejection(batch_id: str | None, file_name: str, errors: list[ledger.RowError], rows: int = 0,
              header_row: int | None = None) -> dict:
    """The answer of an import that stored nothing: every error (row, column, reason)."""
    bad_rows = len({e.row for e in errors if e.row != header_row})
    if bad_rows:
        message = f"台账有 {bad_rows} 行共 {len(errors)} 处错误，未导入任何记录"
    else:
        message = f"台账表头有 {len(errors)} 处错误，未导入任何记录"
    return {
        "id": batch_id, "file_name": file_name, "state": "rejected", "rows": rows,
        "created": 0, "unchanged": 0, "updated": 0,
        "errors": [e.as_dict() for e in errors[:MAX_ERRORS_RETURNED]],
        "error_total": len(errors), "bad_rows": bad_rows, "message": message,
    }


def _batch_view(batch: ImportBatch) -> dict:
    return {"id": batch.id, "file_name": batch.file_name, "state": batch.state, "row_count": batch.row_count,
            "headers": batch.headers, "created_at": iso_utc(batch.created_at), "created_by": batch.created_by,
            "finished_at": iso_utc(batch.finished_at), "result": batch.result}


def create_import(session: Session, actor: Actor, data: object) -> dict:
    authorize(actor, "registry.import_ledger")
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    file_name = data.get("file_name") or "台账"
    if not isinstance(file_name, str) or len(file_name) > 200:
        raise ValidationFailed("文件名应为不超过200个字符的文本", field="file_name")
    headers = data.get("headers")
    if not isinstance(headers, list) or not all(h is None or isinstance(h, str) for h in headers):
        raise ValidationFailed("表头应为文本列表", field="headers")
    header_row = data.get("header_row", 1)  # title rows above the header keep the file's row numbers
    if isinstance(header_row, bool) or not isinstance(header_row, int) or not 1 <= header_row <= 1000:
        raise ValidationFailed("表头行号应为正整数", field="header_row")
    header = read_header_row(headers, header_row)
    if header.errors:
        return rejection(None, file_name, header.errors, header_row=header_row) | {"ignored_columns": header.ignored}
    now = datetime.now(timezone.utc)
    # abandoned uploads (never committed) are cleared after a day
    stale = select(ImportBatch.id).where(ImportBatch.state == "open", ImportBatch.created_at < now - STALE_AFTER)
    stale_ids = list(session.scalars(stale))
    if stale_ids:
        session.execute(delete(ImportRow).where(ImportRow.batch_id.in_(stale_ids)))
        session.execute(delete(ImportBatch).where(ImportBatch.id.in_(stale_ids)))
    batch = ImportBatch(
        id=uuid.uuid4().hex, division_code=actor.division_code, file_name=file_name,
        headers=[ledger.normalize_header(h) for h in headers], state="open", row_count=0,
        created_at=now, created_by=_who(actor), created_by_user_id=actor.user_id,
    )
    session.add(batch)
    session.commit()
    return _batch_view(batch) | {"ignored_columns": header.ignored}


def load_batch(session: Session, actor: Actor, batch_id: object, lock: bool = False) -> ImportBatch:
    authorize(actor, "registry.import_ledger")
    if not isinstance(batch_id, str) or not _BATCH_ID.match(batch_id):
        raise ValidationFailed("导入批次编号无效", field="batch_id")
    batch = session.get(ImportBatch, batch_id, with_for_update=True if lock else None)
    if batch is None:
        raise NotFound(f"导入批次 {batch_id} 不存在或已过期", field="batch_id")
    if batch.created_by_user_id != actor.user_id or batch.division_code != actor.division_code:
        raise Forbidden("只能操作自己创建的导入批次", field="batch_id")
    return batch


def get_import(session: Session, actor: Actor, batch_id: str) -> dict:
    return _batch_view(load_batch(session, actor, batch_id))


def add_import_rows(session: Session, actor: Actor, batch_id: str, rows: object) -> dict:
    batch = load_batch(session, actor, batch_id, lock=True)
    if batch.state != "open":
        raise Conflict("该导入批次已提交，不能再追加数据", field="batch_id")
    if not isinstance(rows, list) or not rows:
        raise ValidationFailed("rows 应为非空列表", field="rows")
    if len(rows) > MAX_ROWS_PER_CALL:
        raise ValidationFailed(f"每次最多上传 {MAX_ROWS_PER_CALL} 行", field="rows")
    staged: dict[int, dict] = {}
    for item in rows:
        if not isinstance(item, dict):
            raise ValidationFailed("每行应为 {row, cells}", field="rows")
        number, cells = item.get("row"), item.get("cells")
        if isinstance(number, bool) or not isinstance(number, int) or not 2 <= number <= 10**7:
            raise ValidationFailed("行号应为不小于2的整数（表头至少在第1行）", field="rows.row")
        if not isinstance(cells, dict) or len(cells) > 100:
            raise ValidationFailed(f"第{number}行的 cells 应为 {{表头: 值}} 对象", field="rows.cells", row=number)
        for key, value in cells.items():
            if not isinstance(key, str) or len(key) > 50 or not (
                    value is None or isinstance(value, (str, int, float)) and not isinstance(value, bool)):
                raise ValidationFailed(f"第{number}行的单元格应为文本", field="rows.cells", row=number)
            if isinstance(value, str) and len(value) > 1000:
                raise ValidationFailed("单元格内容过长（超过1000个字符）", field=key, row=number)
        staged[number] = cells
    numbers = list(staged)
    replaced = 0
    for start in range(0, len(numbers), IN_CHUNK):  # a repeated chunk replaces itself
        replaced += session.execute(delete(ImportRow).where(
            ImportRow.batch_id == batch.id, ImportRow.row_no.in_(numbers[start:start + IN_CHUNK]))).rowcount
    session.execute(insert(ImportRow), [{"batch_id": batch.id, "row_no": n, "cells": c} for n, c in staged.items()])
    batch.row_count += len(staged) - replaced
    if batch.row_count > ledger.MAX_ROWS:
        session.rollback()
        raise ValidationFailed(f"一次最多导入 {ledger.MAX_ROWS} 行", field="rows")
    session.commit()
    return {"id": batch.id, "received": len(staged), "row_count": batch.row_count}


def township_directory(townships: object) -> ledger.TownshipDirectory:
    if not isinstance(townships, list) or not all(
            isinstance(t, dict) and isinstance(t.get("code"), str) and isinstance(t.get("name"), str)
            for t in townships):
        raise ValidationFailed("乡镇目录应为 [{code, name}] 列表", field="townships")
    return ledger.TownshipDirectory(townships)


_SNAPSHOT_COLUMNS = (Institution.id, Institution.uscc, Institution.name, Institution.licence_no,
                     Institution.licence_issued_on, Institution.category, Institution.legal_form,
                     Institution.division_code, Institution.address, Institution.status, Institution.registered_on,
                     Institution.platform_basic_info)


def _stored(session: Session, usccs: list[str]) -> dict[str, tuple[int, ledger.Stored]]:
    """What is stored under these 统一社会信用代码 (rows locked until the commit), as snapshots."""
    found: dict[str, tuple] = {}
    for start in range(0, len(usccs), IN_CHUNK):
        chunk = usccs[start:start + IN_CHUNK]
        query = select(*_SNAPSHOT_COLUMNS).where(Institution.uscc.in_(chunk)).with_for_update()
        for row in session.execute(query):
            found[row.uscc] = row
    since: dict[int, object] = {}
    ids = [r.id for r in found.values()]
    for start in range(0, len(ids), IN_CHUNK):
        since.update(session.execute(
            select(StatusChange.institution_id, func.max(StatusChange.effective_on))
            .where(StatusChange.institution_id.in_(ids[start:start + IN_CHUNK]))
            .group_by(StatusChange.institution_id)
        ).all())
    return {
        uscc: (r.id, ledger.Stored(
            name=r.name, licence_no=r.licence_no, licence_issued_on=r.licence_issued_on, category=r.category,
            legal_form=r.legal_form, division_code=r.division_code, address=r.address,
            status=domain.Status(r.status), status_since=since.get(r.id) or r.registered_on,
            platform_basic_info=r.platform_basic_info,
        ))
        for uscc, r in found.items()
    }


@dataclass
class Checked:
    """A batch's rows validated against what is stored: the plans, or every error."""

    data_rows: int
    plans: list[tuple[ledger.LedgerRecord, ledger.RowPlan]]
    stored: dict[str, tuple[int, ledger.Stored]]
    errors: list[ledger.RowError]
    staged: list[tuple[int, dict]]


def check_batch(session: Session, actor: Actor, batch: ImportBatch, directory: ledger.TownshipDirectory,
                today) -> Checked:
    """Every staged row parsed and compared with the registry (stored rows locked until the transaction ends)."""
    staged = [(n, c) for n, c in session.execute(
        select(ImportRow.row_no, ImportRow.cells).where(ImportRow.batch_id == batch.id).order_by(ImportRow.row_no)
    ).all()]
    records, errors = ledger.parse_rows(staged, directory, today)
    for record in records:
        if not is_within(record.draft.division_code, actor.division_code):
            errors.append(ledger.RowError(record.row, "乡镇", "该乡镇不在您所属行政区划范围内"))
    stored = _stored(session, [r.draft.uscc for r in records])
    plans: list[tuple[ledger.LedgerRecord, ledger.RowPlan]] = []
    scope = scope_prefix(actor.division_code)
    for record in records:
        _, snapshot = stored.get(record.draft.uscc, (None, None))
        if snapshot is not None and not snapshot.division_code.startswith(scope):
            errors.append(ledger.RowError(record.row, "统一社会信用代码", "该统一社会信用代码已由其他辖区登记"))
            continue
        plan, row_errors = ledger.plan_row(record, snapshot, today)
        errors.extend(row_errors)
        if plan is not None:
            plans.append((record, plan))
    errors.sort(key=lambda e: (e.row, list(ledger.HEADERS).index(e.column) if e.column in ledger.HEADERS else 99))
    data_rows = sum(1 for _, cells in staged if not ledger.is_blank(cells))
    return Checked(data_rows, plans, stored, errors, staged)


def commit_import(session: Session, dispatch: Dispatch, actor: Actor, batch_id: str, townships: object) -> dict:
    """Validate every staged row; store all of them in one transaction, or none and say why."""
    batch = load_batch(session, actor, batch_id, lock=True)
    if batch.state != "open":
        return batch.result  # a repeated commit answers what the first one did
    directory = township_directory(townships)
    started = time.monotonic()
    now = datetime.now(timezone.utc)
    today = today_shanghai(now)
    checked = check_batch(session, actor, batch, directory, today)
    plans, stored, data_rows = checked.plans, checked.stored, checked.data_rows
    if checked.errors:
        result = rejection(batch.id, batch.file_name, checked.errors, data_rows)
        return finish(session, batch, "rejected", result, now)

    validated = time.monotonic()
    who = _who(actor)
    new = [(record, institution_values(record.draft, actor, now, record.draft.licence_issued_on,
                                       origin="ledger_import", status=record.status,
                                       platform_basic_info=record.platform_registered))
           for record, plan in plans if plan.kind == "create"]
    # bulk INSERT … RETURNING (SQLAlchemy's insertmanyvalues): 10,000 records in one round trip
    # per thousand rows, without building ORM objects first
    try:
        ids = session.scalars(insert(Institution).returning(Institution.id, sort_by_parameter_order=True),
                              [values for _, values in new]).all() if new else []
    except IntegrityError:
        session.rollback()
        raise Conflict("导入期间有机构被同时登记，请重新导入", field="统一社会信用代码") from None
    history_values = []
    for (record, values), institution_id in zip(new, ids):
        values["id"] = institution_id
        for i, entry in enumerate(record.history):
            reason = "台账导入：自发证日期起正常营业" if i == 0 else f"台账导入：台账记载为{domain.STATUS_NAMES[entry.status]}"
            history_values.append(dict(institution_id=institution_id, status=entry.status.value,
                                       effective_on=entry.effective_on, reason=reason, changed_by=who,
                                       recorded_at=now))
    seqs = session.scalars(insert(StatusChange).returning(StatusChange.id, sort_by_parameter_order=True),
                           history_values).all() if history_values else []
    histories: dict[int, list[SimpleNamespace]] = {}
    for values, seq in zip(history_values, seqs):
        histories.setdefault(values["institution_id"], []).append(SimpleNamespace(id=seq, **values))
    created = [(SimpleNamespace(**values), histories[values["id"]]) for _, values in new]

    events: list[tuple[str, dict]] = []
    by = actor.to_dict()
    for row, history in created:
        events.append(("institution_registered", make_event(
            SOURCE, "institution_registered", registered_event_data(row, history), row.division_code, by, now)))
    updated = 0
    updated_ids = []
    for record, plan in plans:
        if plan.kind != "update":
            continue
        updated += 1
        row = session.get(Institution, stored[record.draft.uscc][0])
        updated_ids.append(row.id)
        if plan.changes:
            event = institution_update(session, actor, row, plan.changes, now)
            events.append((event["type"], event))
        if plan.status_change is not None:
            change = plan.status_change
            event = status_change(session, actor, row, change.status, change.reason, change.effective_on)
            events.append((event["type"], event))
    counts = {"created": len(created), "updated": updated, "unchanged": len(plans) - len(created) - updated}
    result = {
        "id": batch.id, "file_name": batch.file_name, "state": "committed", "rows": data_rows, **counts,
        "errors": [], "error_total": 0, "bad_rows": 0,
        "message": f"导入完成：新增 {counts['created']}，更新 {counts['updated']}，未变 {counts['unchanged']}",
    }
    # the whole import is one audit entry: counts and the ids it created or updated
    audit_trail.append(session, actor, "registry.import_ledger", "import_batch", batch.id, None,
                       {"file_name": batch.file_name, "rows": data_rows, **counts,
                        "created_ids": list(ids), "updated_ids": updated_ids}, actor.division_code, now)
    stored_at = time.monotonic()
    _publish(dispatch, events)  # into the outbox: committed with the records by _finish
    result = finish(session, batch, "committed", result, now)
    # where the time went (the service logs it; an official sees how long the import took)
    result["seconds"] = {"validate": round(validated - started, 2), "store": round(stored_at - validated, 2),
                         "publish": round(time.monotonic() - stored_at, 2)}
    return result


def finish(session: Session, batch: ImportBatch, state: str, result: dict, now: datetime) -> dict:
    batch.state, batch.result, batch.finished_at = state, result, now
    session.execute(delete(ImportRow).where(ImportRow.batch_id == batch.id))
    session.commit()
    return result


def _publish(dispatch: Dispatch, events: list[tuple[str, dict]]) -> None:
    """One event per institution, written to the outbox in one bulk insert when available; the
    new institutions' events in bundles (BUNDLED_TYPES), the updates one message each."""
    many = getattr(dispatch, "many", None)
    if many is not None and len(events) > 1:
        many(events, bundle=BUNDLED_TYPES)
        return
    for event_type, event in events:
        dispatch(event_type, event)
