"""`make chaos`: a platform of its own, steady load, every fault in turn, then the reconciliation table.

    python -m tests.chaos [--only registry,worker,...] [--skip rabbitmq] [--between SECONDS]

Exit 1 when any message was lost or duplicated. The run's var dir (logs) is kept when it fails.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import uuid

from services.common.config import project_root
from shuangjian.infra import ensure_postgres
from shuangjian.localrun import ensure_rabbitmq
from tests.chaos.harness import FULL_FAULTS, clean, platform_env_defaults, run, say, table
from tests.e2e.support import run_platform


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos")
    parser.add_argument("--only", default="", help="comma-separated faults (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated faults to leave out")
    parser.add_argument("--between", type=float, default=10, help="seconds of load after each fault")
    parser.add_argument("--sqlite", action="store_true",
                        help="SQLite files in the run's var dir instead of PostgreSQL databases")
    parser.add_argument("-q", action="store_true", help=argparse.SUPPRESS)  # tests/run.py passes -q
    args = parser.parse_args(argv)
    faults = [f for f in (args.only.split(",") if args.only else FULL_FAULTS) if f and f not in args.skip.split(",")]
    unknown = set(faults) - set(FULL_FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}; known: {', '.join(FULL_FAULTS)}")

    platform_env_defaults()
    ensure_rabbitmq()
    if args.sqlite:
        os.environ.pop("SHUANGJIAN_DB_URL_TEMPLATE", None)
    elif not os.environ.get("SHUANGJIAN_DB_URL_TEMPLATE") and ensure_postgres():
        os.environ["SHUANGJIAN_DB_URL_TEMPLATE"] = "postgresql://placeholder/{service}"  # run_platform makes its own
    var = project_root() / "var" / f"chaos-{time.strftime('%m%d%H%M%S')}{uuid.uuid4().hex[:4]}"
    var.mkdir(parents=True)
    started = time.monotonic()
    say(f"starting a platform (var dir {var})")
    platform_gen = run_platform(var)
    platform = next(platform_gen)
    ok = False
    try:
        injected, rows, ledger = run(platform, faults=faults, between=args.between)
        print(table(injected, rows, ledger), flush=True)
        failed = [name for name, note in injected if note.startswith("FAILED")]
        ok = clean(rows) and not failed
    finally:
        try:
            platform_gen.close()
        except AssertionError as exc:
            say(f"platform shutdown: {exc}")
            ok = False
    say(f"{'PASS' if ok else 'FAIL'}: {'nothing lost or duplicated' if ok else 'see the table'} "
        f"({time.monotonic() - started:.0f}s)")
    if ok:
        shutil.rmtree(var, ignore_errors=True)
    else:
        say(f"logs kept in {var / 'log'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
