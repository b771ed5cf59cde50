"""`shuangjian report half-monthly|weekly|submit|list`: the reports of the running platform."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from .client import Client, dumps

WAIT_SECONDS = 120.0
POLL_SECONDS = 0.5

ROUTES = {"half-monthly": "/api/reports/half-monthly", "weekly": "/api/reports/weekly"}
KINDS = {"half-monthly": "half_monthly", "weekly": "weekly"}


def fetch_report(client: Client, which: str, as_of: str | None, division: str | None, file_format: str,
                 output: str | None) -> int:
    params = {k: v for k, v in {"as_of": as_of, "division": division}.items() if v}
    if file_format == "json":
        report = client.get(ROUTES[which], **params)
        if output:
            Path(output).write_text(dumps(report) + "\n", encoding="utf-8")
        else:
            print(dumps(report))
        return 0
    content, name = client.download(ROUTES[which], format=file_format, **params)
    path = Path(output or name or f"report.{file_format}")
    path.write_bytes(content)
    print(f"已导出：{path}（{len(content)} 字节）")
    return 0


def wait_for_read_model(client: Client, seconds: float, poll: float = POLL_SECONDS) -> bool:
    """Wait until the reports hold every change committed before now (`--wait`): take the sources'
    marks now, then poll until everything up to them is applied. Progress goes to stderr."""
    marks = client.get("/api/reports/freshness")["marks"]
    token = ",".join(f"{source}:{mark}" for source, mark in sorted(marks.items()))
    deadline = time.monotonic() + max(seconds, 0)
    shown = None
    while True:
        lag = client.get("/api/reports/freshness", **({"marks": token} if token else {}))
        if lag["caught_up"]:
            if shown is not None:
                print("报表数据已更新。", file=sys.stderr)
            return True
        if time.monotonic() >= deadline:
            print(f"等待超时（{seconds:g} 秒）：{lag['summary']}；以下报表可能未含最新变更。", file=sys.stderr)
            return False
        if lag["pending_events"] != shown:
            shown = lag["pending_events"]
            print(f"{lag['summary']}，等待中…", file=sys.stderr)
        time.sleep(poll)


def submit(client: Client, which: str, as_of: str, division: str | None, note: str | None) -> int:
    result = client.post("/api/reports/submissions",
                         {"kind": KINDS[which], "as_of": as_of, "division": division, "note": note})
    print(f"已报送：{result['kind_name']} {result['period_start']}～{result['period_end']} 第{result['version']}版，"
          f"校验码 {result['content_hash']}")
    return 0


def list_cycles(client: Client, division: str | None) -> int:
    params = {"division": division} if division else {}
    for item in client.get("/api/reports/cycles", **params)["items"]:
        print(f"{item['id']:>4} {item['kind_name']} {item['division_code']} {item['period_start']}～"
              f"{item['period_end']} 截止 {item['due_at']} {item['status_name']}"
              + (f" 第{item['latest_version']}版" if item["latest_version"] else ""))
    return 0
