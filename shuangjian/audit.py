"""`shuangjian audit verify`: every service checks its hash-chained audit trail (issue 7 part 4)."""
from __future__ import annotations

import sys

from .client import ApiError, Client

SERVICE_NAMES = {"registry": "登记库", "escrow": "资金监管", "inspection": "检查执法", "reporting": "报表",
                 "gateway": "网关（用户与区划）"}


def _line(item: dict) -> str:
    name = f"{item['service']}（{SERVICE_NAMES.get(item['service'], item['service'])}）"
    if item.get("unavailable"):
        return f"{name:<24} 未能校验：{item.get('reason')}"
    entries = f"{item['entries']} 条"
    if item["ok"]:
        return f"{name:<24} {entries:<10} 完好"
    return f"{name:<24} {entries:<10} 第{item['first_bad_seq']}条被篡改或删除：{item.get('reason')}"


def verify(client: Client) -> int:
    """One line per service; exit 0 when every chain is intact, 1 when any is broken or unchecked."""
    try:
        answer = client.get("/api/audit/verify")
    except ApiError as exc:
        if exc.status not in (409, 503) or "items" not in exc.payload:
            raise
        answer = exc.payload
    for item in answer["items"]:
        print(_line(item))
    ok = all(item["ok"] for item in answer["items"])
    print("审计链完好" if ok else "审计链校验未通过", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1
