"""`make bench`: foundation benchmarks, each figure next to a baseline measured in the same run.

    python -m bench.run                  # everything (~2-3 min on 2 cores)
    python -m bench.run --quick          # smaller N (~1 min)
    python -m bench.run events workflow  # a subset: events, rpc, workflow, feed, statement, report, ledger
                                         # (bus = events + rpc, bank = feed + statement)

Writes bench/results.json: every figure as {name, value, unit, baseline_name, baseline_value, ratio}.

Like `make test`, each run gets its own RabbitMQ vhost, its own PostgreSQL databases (when
PostgreSQL answers; SQLite under the run's var dir otherwise) and its own var dir with fresh
secrets, all removed afterwards. Each benchmark module runs as its own process: the bus ones
eventlet-patched (like a nameko service), the Temporal ones on plain asyncio — never both in one
process. A process prints progress on stderr and its figures as the last JSON line on stdout.
Benchmarks are measurements, not timed tests: nothing here passes or fails on a number.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from services.common.config import project_root

from bench.result import parse_results
from shuangjian.infra import create_vhost, delete_vhost, ensure_postgres, postgres_databases
from shuangjian.localrun import ensure_rabbitmq

ROOT = project_root()
PY = sys.executable

# name -> (module, part it runs, process kind)
BENCHMARKS = {
    "events": ("bench.bus", "events", "eventlet"),
    "rpc": ("bench.bus", "rpc", "eventlet"),
    "workflow": ("bench.workflow", "workflow", "asyncio"),
    "feed": ("bench.feed", "feed", "threads"),  # the bank feed: plain threads, like its process
    "statement": ("bench.feed", "statement", "threads"),
    "report": ("bench.report", "report", "eventlet"),  # a generated province; its own database
    "ledger": ("bench.ledger", "ledger", "eventlet"),  # import → report lag, on SQLite and PostgreSQL
}
ALIASES = {"bus": ("events", "rpc"), "temporal": ("workflow",), "bank": ("feed", "statement")}
DATABASES = ("registry", "reporting", "escrow", "gateway")  # the services the benchmarks run
RESULTS_FILE = ROOT / "bench" / "results.json"


def choose(names: list[str]) -> list[str]:
    if not names:
        return list(BENCHMARKS)
    chosen: list[str] = []
    for name in names:
        expanded = ALIASES.get(name, (name,))
        for item in expanded:
            if item not in BENCHMARKS:
                known = ", ".join([*BENCHMARKS, *ALIASES])
                raise SystemExit(f"unknown benchmark {name!r}; choose from {known}")
            if item not in chosen:
                chosen.append(item)
    return chosen


def processes(chosen: list[str]) -> list[tuple[str, list[str]]]:
    """One process per module, with the parts chosen from it, in a stable order."""
    by_module: dict[str, list[str]] = {}
    for name in BENCHMARKS:
        if name in chosen:
            module, part, _ = BENCHMARKS[name]
            by_module.setdefault(module, []).append(part)
    return [(module, parts) for module, parts in by_module.items()]


def fmt(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 100:
        return f"{value:,.0f}"
    if value < 10:  # seconds of the statement import and its COPY baseline
        return f"{value:,.2f}"
    return f"{value:,.1f}"


def print_table(figures: list[dict]) -> None:
    by_name = {f["name"]: f for f in figures}
    headers = ("figure", "value", "unit", "baseline", "baseline value", "ratio")
    rows = []
    for f in figures:
        base = by_name.get(f["baseline"]) if f.get("baseline") else None
        ratio = f"{f['value'] / base['value']:.3f}" if base and base["value"] else ""
        rows.append((
            f["name"], fmt(f["value"]), f["unit"],
            f["baseline"] or "", fmt(base["value"]) if base else "",
            ratio,
        ))
    widths = [max(_width(h), *(_width(r[i]) for r in rows)) for i, h in enumerate(headers)]
    numeric = {1, 4, 5}

    def line(cells):
        out = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - _width(cell))
            out.append(pad + cell if i in numeric else cell + pad)
        return "  ".join(out).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def results_rows(figures: list[dict]) -> list[dict]:
    """Every figure as {name, value, unit, baseline_name, baseline_value, ratio} (ratio = value /
    baseline value; for times in seconds that is how many times longer the figure took)."""
    by_name = {f["name"]: f for f in figures}
    rows = []
    for f in figures:
        base = by_name.get(f["baseline"]) if f.get("baseline") else None
        ratio = round(f["value"] / base["value"], 4) if base and base["value"] else None
        rows.append({"name": f["name"], "value": round(f["value"], 3), "unit": f["unit"],
                     "baseline_name": base["name"] if base else None,
                     "baseline_value": round(base["value"], 3) if base else None, "ratio": ratio})
    return rows


def write_results(figures: list[dict], path) -> None:
    import json

    with open(path, "w", encoding="utf-8") as fh:
        json.dump(results_rows(figures), fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    print(f"\nwritten: {path}")


def _clip(line: str, limit: int = 400) -> str:
    return line if len(line) <= limit else line[:limit] + f" … ({len(line) - limit} more characters)"


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="events, rpc, workflow, feed, statement, report, ledger, bus (= events rpc), "
                                                 "bank (= feed statement); default all")
    parser.add_argument("--quick", action="store_true", help="smaller N: a smoke run, noisier figures")
    parser.add_argument("--keep-logs", action="store_true", help="keep each process's stdout (service logs) in a temp dir")
    args = parser.parse_args(argv)
    chosen = choose(args.names)

    started = time.monotonic()
    run_id = time.strftime("%m%d%H%M%S") + uuid.uuid4().hex[:4]
    var = tempfile.mkdtemp(prefix=f"sj-bench-{run_id}-")
    log_dir = tempfile.mkdtemp(prefix=f"sj-bench-logs-{run_id}-") if args.keep_logs else None
    # this run's var dir and secrets, read by every benchmark process (a key or file set in the
    # caller's environment would belong to another deployment)
    os.environ.update(
        SHUANGJIAN_VAR_DIR=var,
        PYTHONWARNINGS="ignore::DeprecationWarning",
        PYTHONDONTWRITEBYTECODE="1",
    )
    for name in ("SHUANGJIAN_SECRETS_FILE", "SHUANGJIAN_ACTOR_SIGNING_KEY"):
        os.environ.pop(name, None)
    env = dict(os.environ)
    from services.common.config import ensure_secrets

    ensure_secrets()

    vhost = None
    databases = None
    figures: list[dict] = []
    notes: list[str] = []
    failed: list[str] = []
    try:
        needs_bus = any(BENCHMARKS[n][2] != "asyncio" for n in chosen)
        if needs_bus:
            ensure_rabbitmq()
            vhost = f"sj_bench_{run_id}"
            create_vhost(vhost)
            env["SHUANGJIAN_AMQP_URI"] = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
            pg_admin = ensure_postgres()
            if pg_admin:
                databases = postgres_databases(pg_admin, f"bench_{run_id}", DATABASES)
                env["SHUANGJIAN_DB_URL_TEMPLATE"] = databases.template
                db_label = "PostgreSQL (databases for this run only)"
            else:
                env.pop("SHUANGJIAN_DB_URL_TEMPLATE", None)
                db_label = "SQLite under the run's var dir (PostgreSQL not reachable)"
            for service in DATABASES:
                env.pop(f"SHUANGJIAN_DB_URL_{service.upper()}", None)
        print(f"bench {run_id}: {platform.python_implementation()} {platform.python_version()}, "
              f"{os.cpu_count()} CPUs, {'quick' if args.quick else 'full'} run", flush=True)
        if needs_bus:
            print(f"  RabbitMQ vhost {vhost}; database: {db_label}", flush=True)

        for module, parts in processes(chosen):
            print(f"\n== {module} {' '.join(parts)}", flush=True)
            cmd = [PY, "-m", module, *parts] + (["--quick"] if args.quick else [])
            t0 = time.monotonic()
            proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
            seconds = time.monotonic() - t0
            if log_dir:
                path = os.path.join(log_dir, f"{module}.log")
                with open(path, "w") as fh:
                    fh.write(proc.stdout)
                print(f"  stdout: {path}")
            data = parse_results(proc.stdout)
            if proc.returncode != 0 or data is None:
                failed.append(module)
                tail = "\n".join(_clip(line) for line in proc.stdout.splitlines()[-8:])
                print(f"  FAILED ({module}, exit {proc.returncode}, {seconds:.0f}s); last stdout lines:\n{tail}",
                      flush=True)
                continue
            print(f"  done in {seconds:.0f}s", flush=True)
            figures.extend(data["figures"])
            notes.extend(data.get("notes", []))
    finally:
        if vhost:
            delete_vhost(vhost)
        if databases:
            databases.drop()
        shutil.rmtree(var, ignore_errors=True)

    print()
    if figures:
        print_table(figures)
        write_results(figures, RESULTS_FILE)
    explained = [f for f in figures if f.get("note")]
    if explained or notes:
        print()
        for f in explained:
            print(f"  {f['name']}: {f['note']}")
        for note in notes:
            print(f"  {note}")
    print(f"\nratio = figure / baseline (same run, same machine). total {time.monotonic() - started:.0f}s")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
