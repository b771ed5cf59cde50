"""Ledger imports under faults: a county ledger imported over the API while processes die.

An import's `institution_registered` events travel as bundles of up to 500 (services/common/events.py),
so this is what puts bundles through the broker restarts and consumer kills. Every import is
retried until its commit answers: a repeated commit answers what the first one did, so an import
is either committed once or, if the API never answered, ambiguous (then its rows may or may not
exist, and each may exist at most once).
"""
from __future__ import annotations

import time

import requests

from shuangjian.client import ApiError
from shuangjian.codes import make_uscc

ROWS_PER_IMPORT = 600  # two bundles: 500 and 100
RETRY_SECONDS = 180


def ledger_rows(first_serial: int, count: int, township: str) -> list[dict]:
    """Rows as the county's ledger has them ({表头: 值}), each a new licensed institution."""
    return [{
        "机构名称": f"枞阳县混沌导入培训学校{serial}", "统一社会信用代码": make_uscc(serial),
        "办学许可证号": f"教民导入{serial}号", "发证日期": "2021-03-01", "类别": "非学科类", "法人类型": "营利性",
        "乡镇": township, "地址": f"{township}导入路{serial % 1000}号", "状态": "正常营业", "状态日期": "",
        "全国平台注册": "是",
    } for serial in range(first_serial, first_serial + count)]


def _until_answered(call, errors: list, stop_after: float):
    """`call()` until it answers; None if it never did. ApiErrors below 500 are final."""
    while time.monotonic() < stop_after:
        try:
            return call()
        except ApiError as exc:
            errors.append(f"HTTP {exc.status}")
            if exc.status < 500:
                raise
        except requests.RequestException as exc:
            errors.append(type(exc).__name__)
        time.sleep(1)
    return None


def import_ledger_rows(client, name: str, rows: list[dict], errors: list) -> str:
    """"committed", "ambiguous" (the commit never answered) or "refused" (nothing stored)."""
    stop_after = time.monotonic() + RETRY_SECONDS
    try:
        batch = _until_answered(lambda: client.post("/api/registry/imports", {
            "file_name": name, "headers": list(rows[0]), "header_row": 1}), errors, stop_after)
        if batch is None:
            return "refused"
        staged = [{"row": n + 2, "cells": cells} for n, cells in enumerate(rows)]
        # staging the same rows again replaces them: a retry after a lost answer is harmless
        if _until_answered(lambda: client.post(f"/api/registry/imports/{batch['id']}/rows", {"rows": staged}),
                           errors, stop_after) is None:
            return "refused"
        result = _until_answered(lambda: client.post(f"/api/registry/imports/{batch['id']}/commit", {}),
                                 errors, stop_after)
    except ApiError:
        return "refused"
    if result is None:
        return "ambiguous"
    return "committed" if result.get("created") == len(rows) else "refused"
