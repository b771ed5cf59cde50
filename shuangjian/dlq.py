"""`shuangjian dlq list|replay` — dead letters, read and replayed directly on the broker.

Run on the platform's machine (or anywhere with `SHUANGJIAN_AMQP_URI` / `--amqp` pointing at the
broker: the broker's credentials are the authorisation, as for any operator tool on it). Queues:
`dlq.registry`, `dlq.escrow`, `dlq.inspection`, `dlq.reporting`, `dlq.workflows` (event consumers)
and `escrow.bank_feed.dlq` (the bank feed). See services/common/deadletter.py.

    shuangjian dlq list [--queue Q] [--json]
    shuangjian dlq replay [--queue Q] (--id EVENT_ID | --all)

`list` browses without consuming (messages go back in order). `replay` republishes each chosen
message to its original exchange and routing key (`x-original-exchange`, `x-original-routing-key`),
waits for the broker's confirm, then removes it from the dead-letter queue. Replay after the cause
is fixed (a service deployed with the fix, a missing record added): consumers are idempotent by
event id, so a replayed event that had been applied meanwhile changes nothing.
"""
from __future__ import annotations

import json
import sys

from services.common.config import amqp_uri
from services.common.deadletter import KNOWN_QUEUES, list_dead_letters, replay_dead_letters


def _queues(queue: str | None) -> list[str]:
    if not queue:
        return list(KNOWN_QUEUES)
    return [queue if queue.startswith("dlq.") or queue.endswith(".dlq") else f"dlq.{queue}"]


def list_command(amqp: str | None, queue: str | None, as_json: bool, out=sys.stdout) -> int:
    items = list_dead_letters(amqp or amqp_uri(), _queues(queue))
    if as_json:
        print(json.dumps(items, ensure_ascii=False, indent=2, default=str), file=out)
        return 0
    if not items:
        print("死信队列为空", file=out)
        return 0
    by_queue: dict[str, list] = {}
    for item in items:
        by_queue.setdefault(item["queue"], []).append(item)
    for name, rows in by_queue.items():
        print(f"== {name}（{len(rows)} 条）", file=out)
        for r in rows:
            print(f"  {r.get('failed_at') or '-'}  {r.get('event_type') or '-'}  {r.get('event_id') or '-'}"
                  f"  {r.get('failed_service') or '-'}  原因：{r.get('reason') or '-'}", file=out)
    return 0


def replay_command(amqp: str | None, queue: str | None, event_id: str | None, replay_all: bool,
                   out=sys.stdout) -> int:
    if not replay_all and not event_id:
        print("请指定 --id 事件编号 或 --all", file=sys.stderr)
        return 2
    queues = _queues(queue)
    done = []
    for name in queues:
        done += replay_dead_letters(amqp or amqp_uri(), name, event_id=event_id, replay_all=replay_all)
    replayed = [d for d in done if d.get("replayed")]
    skipped = [d for d in done if d.get("skipped")]
    for d in replayed:
        print(f"已重放  {d['queue']}  {d.get('event_type') or '-'}  {d.get('event_id') or '-'}"
              f"  → {d.get('original_exchange')} / {d.get('original_routing_key')}", file=out)
    for d in skipped:
        print(f"未重放  {d['queue']}  {d.get('event_id') or '-'}  {d['skipped']}", file=out)
    if not done:
        print("没有符合条件的死信", file=out)
        return 1
    return 0 if replayed else 1
