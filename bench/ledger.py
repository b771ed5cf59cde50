"""Ledger import → half-monthly report, in one eventlet-patched process: `python -m bench.ledger`.

What an official sees after `shuangjian registry import` of a 10,000-row ledger: how many seconds
after the import finished the county's half-monthly report counts the new institutions. The
registry, reporting, escrow and inspection services run as `nameko run` processes, one per
service as `make up` starts them, every one that reads `institution_registered` applying the
import's events; once on SQLite files, once on PostgreSQL databases of their own (skipped when
PostgreSQL does not answer).

Measured per database: the import (`create_import`, rows in chunks of 1,000, `commit_import`, all
through RPC as the gateway calls them: seconds until the commit answered) and then the seconds
from that answer until `reporting.get_report(half_monthly)` for the county reports every new
institution (the report's fact table counted with raw SQL every POLL seconds; once complete,
the report itself is asked through RPC and must agree). The import is the lag's baseline.

Reads SHUANGJIAN_AMQP_URI / SHUANGJIAN_VAR_DIR (bench.run sets them; each database's run gets a
vhost of its own on that broker); the services' output goes to
bench-ledger-*/logs-<database>/<service>.log under the var dir.
"""
from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from sqlalchemy import text  # noqa: E402

from services.common.config import amqp_uri, load_secrets, project_root, var_dir  # noqa: E402
from services.common.db import make_engine  # noqa: E402
from services.common.identity import Actor, ActorSigner, DepartmentKind  # noqa: E402
from shuangjian.codes import make_uscc  # noqa: E402
from shuangjian.demo import TOWNSHIPS  # noqa: E402
from shuangjian.infra import ensure_postgres, fresh_vhost, postgres_databases  # noqa: E402

from .feed import start, stop  # noqa: E402
from .report import wait_for_service  # noqa: E402
from .result import Figure, Results, parse_parts, progress  # noqa: E402

COUNTY = "340722"
SERVICES = ("registry", "reporting", "escrow", "inspection")
CHUNK = 1000
POLL = 0.1
TIMEOUT = 300.0
PARTS = ("ledger",)
SIZES = {"rows": (10_000, 2_000)}  # (full, --quick)

ACTOR = Actor(user_id=12, username="bench_leader", display_name="压测股长", department_id=3,
              department_kind=DepartmentKind.education, department_name="枞阳县教体局", division_code=COUNTY,
              roles=("clerk", "leader"))


def ledger_rows(n: int, serial0: int) -> list[dict]:
    rows = []
    for i in range(n):
        township = TOWNSHIPS[i % len(TOWNSHIPS)][1]
        rows.append({"row": i + 2, "cells": {
            "机构名称": f"枞阳县{township}压测培训学校{serial0 + i}", "统一社会信用代码": make_uscc(serial0 + i),
            "办学许可证号": f"教民134072{serial0 + i:09d}号", "发证日期": "2020-03-01",
            "类别": "学科类" if i % 3 else "非学科类", "法人类型": "营利性", "乡镇": township,
            "地址": f"{township}人民路{i + 1}号", "状态": "正常营业", "状态日期": "", "全国平台注册": "是"}})
    return rows


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM institution_facts")).scalar_one()


def _pending(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one()


def _count_url(url: str) -> int:
    engine = make_engine(url)
    try:
        return _count(engine)
    finally:
        engine.dispose()


def start_services(db_uris: dict[str, str], logs: Path) -> list:
    """`nameko run` per service, as `make up` starts them (metrics on a free port each)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", SHUANGJIAN_METRICS_PORT="0")
    env.update({f"SHUANGJIAN_DB_URL_{service.upper()}": url for service, url in db_uris.items()})
    nameko = str(Path(sys.executable).parent / "nameko")
    config = str(project_root() / "deploy" / "nameko.yaml")
    procs = []
    try:
        for service in SERVICES:
            procs.append(start([nameko, "run", f"services.{service}.service", "--config", config], env,
                               logs / f"{service}.log"))
        for service, proc in zip(SERVICES, procs):
            wait_for_service(proc, service, seconds=180)
    except BaseException:
        for proc in procs:
            stop(proc)
        raise
    return procs


def run_once(label: str, db_uris: dict[str, str], n: int, logs: Path) -> tuple[Figure, Figure]:
    # a vhost of its own: what earlier benchmarks of `make bench` left in the run's queues (400
    # bank_transactions_booked of the feed bench, 2,000 registrations of the RPC bench) would
    # otherwise be applied by these services during the measurement
    with fresh_vhost(f"sj_ledger_{label.lower()}"):
        return _run_once(label, db_uris, n, logs)


def _run_once(label: str, db_uris: dict[str, str], n: int, logs: Path) -> tuple[Figure, Figure]:
    procs = start_services(db_uris, logs)
    config = {"AMQP_URI": amqp_uri()}
    token = ActorSigner(load_secrets().actor_signing_key).sign(ACTOR)
    townships = [{"code": code, "name": name} for code, name in TOWNSHIPS]
    try:
        with ClusterRpcProxy({"AMQP_URI": config["AMQP_URI"]}, timeout=600) as rpc:
            def total() -> int:
                return rpc.reporting.get_report(token, "half_monthly", COUNTY, None)["institutions_total"]

            before = total()
            facts_before = _count_url(db_uris["reporting"])
            rows = ledger_rows(n, 5_000_000 + int(time.time()) % 1_000_000 * 10)
            t0 = time.perf_counter()
            batch = rpc.registry.create_import(token, {"file_name": "bench.csv", "headers": list(rows[0]["cells"])})
            for first in range(0, n, CHUNK):
                rpc.registry.add_import_rows(token, batch["id"], rows[first:first + CHUNK])
            result = rpc.registry.commit_import(token, batch["id"], townships)
            imported = time.perf_counter()
            if result["state"] != "committed" or result["created"] != n:
                raise RuntimeError(f"import not committed: {str(result)[:600]}")
            progress(f"{label}: {n} rows imported in {imported - t0:.2f}s ({result.get('seconds')})")
            # wait on a cheap count of the report's facts (raw SQL), then ask for the report itself:
            # a report asked ten times a second would take the CPU the consumers need
            engine, registry = make_engine(db_uris["reporting"]), make_engine(db_uris["registry"])
            try:
                deadline, relayed = imported + TIMEOUT, None
                while True:
                    if relayed is None and _pending(registry) == 0:
                        relayed = time.perf_counter() - imported  # the outbox relay has published all
                    if _count(engine) >= facts_before + n and total() >= before + n:
                        break
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"{label}: report short of {n} new institutions after {TIMEOUT:.0f}s")
                    eventlet.sleep(POLL)
                lag = time.perf_counter() - imported
            finally:
                engine.dispose()
                registry.dispose()
        progress(f"{label}: the registry's outbox published every event {relayed or 0:.2f}s after the import")
        import_name = f"{n:,}-row ledger import (create, rows, commit; RPC), {label}"
        lag_name = f"{n:,}-row ledger import → half-monthly report total, {label}"
        progress(f"{lag_name}: {lag:.2f}s")
        return (Figure(import_name, imported - t0, "s", n=n, seconds=imported - t0),
                Figure(lag_name, lag, "s", baseline=import_name, n=n, seconds=lag,
                       note="seconds from the import's answer until the report counts every new institution"))
    finally:
        for proc in procs:
            stop(proc)


def _logs(parent: Path, name: str) -> Path:
    path = parent / f"logs-{name}"
    path.mkdir()
    return path


def main(argv: list[str] | None = None) -> None:
    _, size = parse_parts("python -m bench.ledger", PARTS, SIZES, argv)
    results = Results("ledger")
    n = size["rows"]
    names = SERVICES
    sqlite_dir = Path(var_dir()) / f"bench-ledger-{uuid.uuid4().hex[:6]}"
    sqlite_dir.mkdir(parents=True)
    for figure in run_once("SQLite", {s: f"sqlite:///{sqlite_dir / f'{s}.db'}" for s in names}, n,
                           _logs(sqlite_dir, "sqlite")):
        results.add(figure)
    admin = ensure_postgres()
    if admin:
        databases = postgres_databases(admin, f"ledger_{uuid.uuid4().hex[:8]}", names)
        try:
            for figure in run_once("PostgreSQL", {s: databases.template.format(service=s) for s in names}, n,
                                   _logs(sqlite_dir, "postgresql")):
                results.add(figure)
        finally:
            databases.drop()
    else:
        results.notes.append("PostgreSQL not reachable: the ledger figure ran on SQLite only")
    results.emit()


if __name__ == "__main__":
    main()
