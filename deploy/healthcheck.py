#!/usr/bin/env python3
"""The image's HEALTHCHECK: which process runs here decides what is asked.

gateway → GET http://127.0.0.1:8000/health (200 only when every component answers: broker,
services, worker, Temporal); any other process → GET http://127.0.0.1:9100/metrics (every process
serves Prometheus metrics there). The process comes from SHUANGJIAN_PROCESS (compose sets it) or
else from PID 1's command line (deploy/entrypoint.sh execs the process, or docker-init runs it).
Exit 0 healthy, 1 not.
"""
from __future__ import annotations

import os
import sys
import urllib.request

NAMEKO = ("registry", "escrow", "inspection", "reporting", "gateway")


def process() -> str:
    name = os.environ.get("SHUANGJIAN_PROCESS", "")
    if name:
        return name
    try:
        argv = open("/proc/1/cmdline", "rb").read().decode(errors="replace").split("\0")
    except OSError:
        return ""
    for arg in argv:
        if arg in NAMEKO or arg in ("worker", "feed"):
            return arg
        if arg.startswith("services.") and arg.endswith(".service"):
            return arg.split(".")[1]
    return ""


def main() -> int:
    if process() == "gateway":
        url = "http://127.0.0.1:8000/health"
    else:
        url = "http://127.0.0.1:9100/metrics"
    try:
        with urllib.request.urlopen(url, timeout=8) as response:
            return 0 if response.status == 200 else 1
    except Exception as exc:  # HTTPError (503 degraded), refused, timeout
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
