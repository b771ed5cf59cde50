"""Per-run infrastructure for tests and benchmarks: RabbitMQ vhosts and PostgreSQL databases."""
from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .localrun import port_open, wait_for

PG_ADMIN_URL = os.environ.get("SHUANGJIAN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def rabbitmqctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True)


def create_vhost(vhost: str) -> None:
    if shutil.which("rabbitmqctl") is None:
        raise SystemExit("需要 rabbitmqctl 为本次运行创建独立的 vhost")
    result = rabbitmqctl("add_vhost", vhost)
    if result.returncode != 0:
        raise SystemExit(f"无法创建 vhost {vhost}: {result.stderr.strip()}")
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")


def delete_vhost(vhost: str) -> None:
    rabbitmqctl("delete_vhost", vhost)


def _pg_connect(url: str):
    import psycopg2

    conn = psycopg2.connect(url, connect_timeout=3)
    conn.autocommit = True
    return conn


def ensure_postgres() -> str | None:
    """The admin URL of a reachable PostgreSQL, starting the local cluster if it is installed."""
    try:
        _pg_connect(PG_ADMIN_URL).close()
        return PG_ADMIN_URL
    except Exception:
        pass
    if shutil.which("pg_ctlcluster") and Path("/etc/postgresql").exists():
        for version in sorted(os.listdir("/etc/postgresql")):
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                           capture_output=True)
        if wait_for(lambda: port_open("127.0.0.1", 5432), 30):
            try:
                _pg_connect(PG_ADMIN_URL).close()
                return PG_ADMIN_URL
            except Exception:
                return None
    return None


@dataclass
class RunDatabases:
    admin_url: str
    names: list[str]
    template: str

    def drop(self) -> None:
        conn = _pg_connect(self.admin_url)
        with conn.cursor() as cur:
            for name in self.names:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def postgres_databases(admin_url: str, run_id: str, services) -> RunDatabases:
    conn = _pg_connect(admin_url)
    names = []
    with conn.cursor() as cur:
        for service in services:
            name = f"sj_{run_id}_{service}"
            cur.execute(f'CREATE DATABASE "{name}"')
            names.append(name)
    conn.close()
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://", 1)
    return RunDatabases(admin_url, names, f"{base}/sj_{run_id}_{{service}}")


def session_vhost(prefix: str):
    """Generator for a test session's AMQP URI: the run's vhost under `make test` (tests/run.py
    made it), else a fresh vhost of its own, deleted afterwards."""
    from services.common.config import amqp_uri

    if os.environ.get("SHUANGJIAN_TEST_RUN_ID"):
        yield amqp_uri()
        return
    with fresh_vhost(prefix) as uri:
        yield uri


@contextmanager
def fresh_vhost(prefix: str):
    """A new vhost on the broker of SHUANGJIAN_AMQP_URI, made the process's AMQP URI (so processes
    started inside inherit it) until the block ends; then the URI is restored and the vhost deleted."""
    import uuid

    from services.common.config import amqp_uri

    base = amqp_uri()
    vhost = f"{prefix}_{uuid.uuid4().hex[:8]}"
    create_vhost(vhost)
    os.environ["SHUANGJIAN_AMQP_URI"] = f"{base.rsplit('/', 1)[0]}/{vhost}"
    try:
        yield os.environ["SHUANGJIAN_AMQP_URI"]
    finally:
        os.environ["SHUANGJIAN_AMQP_URI"] = base
        delete_vhost(vhost)
