"""`shuangjian audit verify`: every service checks its hash-chained audit trail (issue 7 part 4),
each compared with the latest anchor written outside the databases (issue 16); `audit anchor`."""
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
    anchor = item.get("anchor")
    held = f"（与锚点第{anchor['seq']}条一致）" if anchor and anchor.get("ok") else ""
    if item["ok"]:
        return f"{name:<24} {entries:<10} 完好{held}"
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
    anchor = answer.get("anchor") or {}
    if anchor.get("problem"):
        print(f"锚点文件异常：{anchor['problem']}", file=sys.stderr)
    elif anchor.get("at"):
        print(f"对照的锚点：{_local(anchor['at'])}（北京时间）")
    else:
        print("尚无锚点（网关每10分钟写一次；也可执行 shuangjian audit anchor）")
    ok = all(item["ok"] for item in answer["items"]) and not anchor.get("problem")
    print("审计链完好" if ok else "审计链校验未通过", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def anchor(client: Client) -> int:
    """Anchor every chain's head now; prints the anchored seq per service."""
    made = client.post("/api/audit/anchor")
    for service, head in made["heads"].items():
        print(f"{service}（{SERVICE_NAMES.get(service, service)}）锚定至第{head['seq']}条")
    print(f"已写入锚点：{_local(made['at'])}（北京时间）")
    if made.get("mismatched"):
        print("以下审计链与上次锚点不符，沿用上次锚点：" + "、".join(made["mismatched"]) + "；请执行 shuangjian audit verify",
              file=sys.stderr)
        return 1
    return 0


def _local(iso: str) -> str:
    from datetime import datetime

    from services.common.workdays import SHANGHAI

    return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
