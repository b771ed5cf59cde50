"""`make test`: every suite, against real RabbitMQ, PostgreSQL (when reachable) and Temporal.

Each run gets its own RabbitMQ vhost, its own PostgreSQL databases (one per service) and its
own var/ directory, all removed afterwards, so runs never see each other's messages or rows.
Suites run as separate processes because eventlet-patched nameko and asyncio Temporal must
never share one.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

from services.common.config import SERVICE_NAMES, project_root

from shuangjian.infra import create_vhost, delete_vhost, ensure_postgres, postgres_databases
from shuangjian.localrun import ensure_rabbitmq

ROOT = project_root()
PY = sys.executable

SUITES = [
    ("单元测试 unit", [PY, "-m", "pytest", "-p", "no:pytest_nameko", "tests/unit"]),
    ("服务测试 service (RabbitMQ + DB)", [PY, "-m", "tests.service_pytest", "tests/service"]),
    # the bank feed runs plain threads (no eventlet): its own unpatched process
    ("银行流水 feed (RabbitMQ + DB, threads)", [PY, "-m", "pytest", "-p", "no:pytest_nameko", "tests/feed"]),
    ("流程测试 workflow (Temporal)", [PY, "-m", "pytest", "-p", "no:pytest_nameko", "tests/workflows"]),
    ("端到端 e2e (real processes)", [PY, "-m", "pytest", "-p", "no:pytest_nameko", "tests/e2e"]),
    # a platform of its own under load; one consumer and the worker SIGKILLed (tests/chaos)
    ("故障注入 faults (short: kill + restart under load)",
     [PY, "-m", "pytest", "-p", "no:pytest_nameko", "tests/chaos"]),
]
# run only when named (`python -m tests.run chaos`, `make chaos`): every fault, several minutes
OPTIONAL_SUITES = [
    ("故障注入 chaos (full: every process, RabbitMQ, Temporal)", [PY, "-m", "tests.chaos"]),
]


def main(argv: list[str]) -> int:
    only = set(argv)
    run_id = time.strftime("%m%d%H%M%S") + uuid.uuid4().hex[:4]
    var = ROOT / "var" / f"test-{run_id}"
    var.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        SHUANGJIAN_VAR_DIR=str(var),
        SHUANGJIAN_TEST_RUN_ID=run_id,
        PYTHONWARNINGS="ignore::DeprecationWarning",
        PYTHONDONTWRITEBYTECODE="1",
        # in-process services and workers serve /metrics on a free port, never a running platform's
        # (the e2e platform sets its own ports: tests/e2e/support.py)
        SHUANGJIAN_METRICS_PORT="0",
    )
    ensure_rabbitmq()
    vhost = f"sj_test_{run_id}"
    create_vhost(vhost)
    env["SHUANGJIAN_AMQP_URI"] = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    pg_admin = ensure_postgres()
    databases = None
    if pg_admin:
        databases = postgres_databases(pg_admin, run_id, SERVICE_NAMES)
        env["SHUANGJIAN_DB_URL_TEMPLATE"] = databases.template
        print(f"数据库：PostgreSQL（本次运行专用库 sj_{run_id}_*）", flush=True)
    else:
        print("数据库：PostgreSQL 不可用，改用 SQLite（var/ 下）", flush=True)
    results = []
    started = time.monotonic()
    try:
        for title, argv_ in SUITES + [s for s in OPTIONAL_SUITES if any(key in s[0] for key in only)]:
            if only and not any(key in title for key in only):
                continue
            print(f"\n===== {title} =====", flush=True)
            t0 = time.monotonic()
            code = subprocess.call(argv_ + ["-q"], cwd=ROOT, env=env)
            results.append((title, code, time.monotonic() - t0))
    finally:
        delete_vhost(vhost)
        if databases:
            databases.drop()
        shutil.rmtree(var, ignore_errors=True)
    print("\n===== 结果 =====")
    for title, code, seconds in results:
        print(f"  {'通过' if code == 0 else '失败'}  {title}  {seconds:.0f}s")
    print(f"  总用时 {time.monotonic() - started:.0f}s")
    return 0 if results and all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
