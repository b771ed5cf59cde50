"""`shuangjian report half-monthly|weekly|submit|list`: the reports of the running platform."""
from __future__ import annotations

from pathlib import Path

from .client import Client, dumps

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
