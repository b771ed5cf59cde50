"""Where `registry.register_institution` RPC spends its time: `python -m bench.rpc_profile [--quick]`.

Runs `python -m bench.run rpc` under py-spy (sampling every process of the run, 200 Hz; py-spy is
a profiling tool, not a dependency: `pip install py-spy`) and sums the samples of the RPC part by
what the stack was doing and by the library on top of it. The summary in docs/decisions.md
("Registry RPC profile", issue 12) comes from this. Sampling slows the run: read the shares, not
the rates it prints.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

# (label, substrings of a stack; the first label whose substring is in the stack wins)
PHASES = (
    ("RPC clients (ClusterRpcProxy: request, wait for the reply)", ("registry_rpc.<locals>", "run.<locals>.client")),
    ("outbox relay (lock rows, publish + confirm, mark, commit)", ("RelayLoop",)),
    ("use case: audit chain (head row FOR UPDATE, entry, flushes)", ("AuditTrail.append",)),
    ("use case: commit", ("register_institution (services/registry/handlers.py", "Session.commit")),
    ("use case: the rest (uniqueness SELECT with pool checkout + pre-ping, inserts, event)",
     ("register_institution (services/registry/handlers.py",)),
    ("nameko around the use case (decode, actor, log, reply, ack)", ("_run_worker",)),
    ("consuming from the broker", ("drain_events", "QueueConsumer")),
    ("event loop (eventlet hub)", ("BaseHub.run",)),
)


def phase_of(stack: str) -> str:
    for label, needles in PHASES:
        if label == "use case: commit":
            if all(n in stack for n in needles):
                return label
        elif any(n in stack for n in needles):
            return label
    return "other (start-up, imports)"


def library_of(frame: str) -> str:
    match = re.search(r"\(([^:()]+):\d+\)$", frame)
    path = match.group(1) if match else frame
    top = path.split("/")[0]
    return "platform code" if top in ("services", "bench", "shuangjian", "workflows") else top


def summarize(raw: Path) -> str:
    phases: Counter = Counter()
    libraries: Counter = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "bench.bus rpc" not in stack or "sql_round" in stack or not count.isdigit():
            continue  # the parent runner and the raw SQL baseline
        phases[phase_of(stack)] += int(count)
        libraries[library_of(stack.split(";")[-1])] += int(count)
    total = sum(phases.values()) or 1
    lines = [f"{total} samples of the bench.bus rpc process (raw SQL rounds left out)", "", "by what it was doing:"]
    lines += [f"  {100 * n / total:5.1f} %  {label}" for label, n in phases.most_common()]
    lines += ["", "by the library on top of the stack (self time):"]
    lines += [f"  {100 * n / total:5.1f} %  {label}" for label, n in libraries.most_common(10)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rpc_profile", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--raw", help="summarize this py-spy raw file instead of running")
    args = parser.parse_args(argv)
    if args.raw:
        print(summarize(Path(args.raw)))
        return 0
    spy = shutil.which("py-spy") or str(Path(sys.prefix) / "bin" / "py-spy")
    if not Path(spy).exists():
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "rpc.raw"
        cmd = [spy, "record", "--subprocesses", "--rate", "200", "--format", "raw", "-o", str(raw), "--",
               sys.executable, "-m", "bench.run", "rpc", *(["--quick"] if args.quick else [])]
        done = subprocess.run(cmd)
        if done.returncode != 0 or not raw.exists():
            return done.returncode or 1
        print(summarize(raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
