"""Helpers of the end-to-end tests: start a platform the way `make up` does, log in, call the CLI."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from services.common.config import SERVICE_NAMES, project_root
from shuangjian.client import Client, login_local_admin
from shuangjian.demo import DEMO_PASSWORD
from shuangjian.infra import create_vhost, delete_vhost, ensure_postgres, postgres_databases


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_range(count: int) -> int:
    """The first of `count` consecutive free ports (each process's /metrics: localrun.metrics_ports)."""
    for _ in range(50):
        base = free_port()
        try:
            socks = []
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("0.0.0.0", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports")


def cli(env, *args, timeout=240):
    return subprocess.run([sys.executable, "-m", "shuangjian.cli", *args], cwd=project_root(), env=env,
                          capture_output=True, text=True, timeout=timeout)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def run_platform(var: Path):
    """Generator: a whole platform with its own vhost, ports, var dir and — when the run uses
    PostgreSQL — its own databases; stopped with `dev down`, which must leave no process behind."""
    vhost = f"sj_e2e_{uuid.uuid4().hex[:8]}"
    create_vhost(vhost)
    env = dict(os.environ)
    env.update(
        SHUANGJIAN_VAR_DIR=str(var),
        SHUANGJIAN_AMQP_URI=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        SHUANGJIAN_GATEWAY_URL=f"http://127.0.0.1:{free_port()}",
        SHUANGJIAN_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        SHUANGJIAN_TEMPORAL_UI_PORT=str(free_port()),
        SHUANGJIAN_METRICS_PORT=str(free_port_range(7)),  # one /metrics port per process (localrun)
        # the gateway's session clock runs this many seconds ahead when the file says so (absent: 0),
        # so a test lets 30 idle minutes pass without waiting (services/common/clock.py)
        SHUANGJIAN_CLOCK_OFFSET_FILE=str(var / "clock-offset"),
    )
    env.pop("SHUANGJIAN_SECRETS_FILE", None)
    databases = None
    if env.get("SHUANGJIAN_DB_URL_TEMPLATE") and ensure_postgres():
        databases = postgres_databases(ensure_postgres(), uuid.uuid4().hex[:10], SERVICE_NAMES)
        env["SHUANGJIAN_DB_URL_TEMPLATE"] = databases.template
    else:
        env.pop("SHUANGJIAN_DB_URL_TEMPLATE", None)  # SQLite files in this platform's var dir
    up = cli(env, "dev", "up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield {"env": env, "var": var, "url": env["SHUANGJIAN_GATEWAY_URL"], "up": up.stdout}
    finally:
        pids = [int(p.read_text()) for p in (var / "run").glob("*.pid")]
        down = cli(env, "dev", "down")
        delete_vhost(vhost)
        if databases:
            databases.drop()
        assert down.returncode == 0, down.stderr
        survivors = [pid for pid in pids if running(pid)]
        assert survivors == [], f"make down left processes running: {survivors}"


def admin_client(platform) -> Client:
    """The built-in admin as the CLI on the platform's machine logs in (the generated password is
    replaced at first login and the new one written back to the platform's secrets file)."""
    client = Client(platform["url"])
    login_local_admin(client, platform["var"] / "secrets.json")
    return client


def as_user(platform, username) -> Client:
    client = Client(platform["url"])
    client.login(username, DEMO_PASSWORD)
    return client


def verification_state(client: Client, institution_id: int) -> dict | None:
    """The licence verification of an institution, None until its workflow has started."""
    from shuangjian.client import ApiError

    try:
        return client.get(f"/api/institutions/{institution_id}/verification")
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
