"""The local runner behind `make up` / `make down`: infrastructure check, processes, health.

Every process it starts leaves a pid file under var/run/; `down` stops exactly those.
Ports and paths come from the environment, so tests can run a second platform beside a
developer's own (see tests/e2e).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import requests

from services.common.config import amqp_uri, ensure_secrets, gateway_url, project_root, temporal_address, var_dir

SERVICES = ("registry", "escrow", "inspection", "reporting", "gateway")


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def run_dir() -> Path:
    path = var_dir() / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    path = var_dir() / "log"
    path.mkdir(parents=True, exist_ok=True)
    return path


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate, seconds: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def say(message: str) -> None:
    print(message, flush=True)


# -- infrastructure ------------------------------------------------------------------------------


def _is_local(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


def ensure_rabbitmq() -> None:
    url = urlparse(amqp_uri())
    host, port = url.hostname or "127.0.0.1", url.port or 5672
    if port_open(host, port):
        return
    if not _is_local(host):
        raise SystemExit(f"RabbitMQ {host}:{port} 无法连接（外部 broker，请检查 SHUANGJIAN_AMQP_URI）")
    if shutil.which("rabbitmq-server") is None:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            say("安装 RabbitMQ（Debian 软件包 rabbitmq-server）……")
            subprocess.run(["apt-get", "install", "-y", "-q", "rabbitmq-server"], check=True,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        else:
            raise SystemExit(
                "未找到 RabbitMQ：请以 root 执行 `apt-get install rabbitmq-server`，"
                "或设置 SHUANGJIAN_AMQP_URI 指向已有的 broker"
            )
    say("启动 RabbitMQ……")
    subprocess.run(["rabbitmq-server", "-detached"], check=False)
    if not wait_for(lambda: port_open(host, port), 90, 1):
        raise SystemExit("RabbitMQ 启动超时（90 秒），请查看 /var/log/rabbitmq/")


def ensure_vhost() -> None:
    """Create the AMQP URI's vhost on a local broker if it is not the default one."""
    vhost = urlparse(amqp_uri()).path.lstrip("/")
    if not vhost or not shutil.which("rabbitmqctl"):
        return
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                   capture_output=True)


def temporal_host_port() -> tuple[str, int]:
    host, _, port = temporal_address().rpartition(":")
    return host or "127.0.0.1", int(port)


def temporal_ui_port() -> int:
    return int(os.environ.get("SHUANGJIAN_TEMPORAL_UI_PORT", temporal_host_port()[1] + 1000))


def ensure_temporal() -> None:
    host, port = temporal_host_port()
    if port_open(host, port):
        return
    if not _is_local(host):
        raise SystemExit(f"Temporal {host}:{port} 无法连接（外部服务，请检查 SHUANGJIAN_TEMPORAL_ADDRESS）")
    say(f"启动 Temporal 开发服务器（{host}:{port}，数据在 var/temporal.db）……")
    start_process(
        "temporal",
        [
            _bin("temporal"), "server", "start-dev",
            "--ip", host, "--port", str(port), "--ui-port", str(temporal_ui_port()),
            "--db-filename", str(var_dir() / "temporal.db"),
            "--log-level", "warn",
        ],
    )
    if not wait_for(lambda: port_open(host, port), 60):
        raise SystemExit(f"Temporal 启动超时，请查看 {log_dir() / 'temporal.log'}")


# -- processes -----------------------------------------------------------------------------------


def pid_file(name: str) -> Path:
    return run_dir() / f"{name}.pid"


def read_pid(name: str) -> int | None:
    try:
        return int(pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def _ours(pid: int) -> bool:
    """The pid still belongs to a process we started (same var dir in its environment)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"SHUANGJIAN_VAR_DIR={var_dir()}".encode() in environ


METRICS_BASE_PORT = 9100


def metrics_ports() -> dict[str, int]:
    """Each process's Prometheus port on this machine: SHUANGJIAN_METRICS_PORT (9100) is the first of
    consecutive ports, one per process in this order (in a container every process uses 9100)."""
    raw = os.environ.get("SHUANGJIAN_METRICS_PORT", "").strip()
    base = int(raw) if raw else METRICS_BASE_PORT
    names = (*SERVICES, "worker", FEED)
    return {name: (base + i if base else 0) for i, name in enumerate(names)}


def process_env(name: str | None = None) -> dict:
    env = dict(os.environ)
    env["SHUANGJIAN_VAR_DIR"] = str(var_dir())
    ports = metrics_ports()
    if name in ports:
        env["SHUANGJIAN_METRICS_PORT"] = str(ports[name])
    env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_process(name: str, argv: list[str]) -> int:
    if alive(read_pid(name)) and _ours(read_pid(name)):
        return read_pid(name)
    log = open(log_dir() / f"{name}.log", "ab")
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=project_root(), env=process_env(name), start_new_session=True,
    )
    pid_file(name).write_text(str(proc.pid))
    return proc.pid


def service_argv(service: str) -> list[str]:
    config = project_root() / "deploy" / "nameko.yaml"
    return [_bin("nameko"), "run", f"services.{service}.service", "--config", str(config)]


def worker_argv() -> list[str]:
    return [sys.executable, "-m", "workflows.worker"]


FEED = "escrow_feed"  # the bank feed: its own process (threads + kombu), not nameko, not asyncio


def feed_argv() -> list[str]:
    return [sys.executable, "-m", "services.escrow.feed"]


def gateway_address() -> str:
    url = urlparse(gateway_url())
    return f"{url.hostname}:{url.port or 80}"


def up(wait_seconds: float = 120) -> dict:
    secrets = ensure_secrets()
    os.environ.setdefault("SHUANGJIAN_GATEWAY_ADDRESS", gateway_address())
    ensure_rabbitmq()
    ensure_vhost()
    ensure_temporal()
    for service in SERVICES:
        start_process(service, service_argv(service))
    start_process("worker", worker_argv())
    start_process(FEED, feed_argv())
    say("等待各组件就绪……")
    report = wait_healthy(wait_seconds)
    host, port = temporal_host_port()
    say(f"网关       {gateway_url()}   （健康检查 {gateway_url()}/health）")
    say(f"Temporal   {host}:{port}   界面 http://{host}:{temporal_ui_port()}")
    say("指标       " + "  ".join(f"{n}:{p}" for n, p in metrics_ports().items()) + "（/metrics）")
    say(f"内置管理员 {secrets.admin_username}（密码见 {var_dir() / 'secrets.json'}）")
    say(f"日志       {log_dir()}")
    return report


def health() -> dict | None:
    try:
        return requests.get(gateway_url() + "/health", timeout=10).json()
    except (requests.RequestException, ValueError):
        return None


def wait_healthy(seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    report = None
    while time.monotonic() < deadline:
        report = health()
        if report and report.get("status") == "ok":
            print_health(report)
            return report
        dead = [n for n in (*SERVICES, "worker", FEED) if not alive(read_pid(n))]
        if dead:
            raise SystemExit(f"进程退出：{', '.join(dead)}；请查看 {log_dir()}")
        time.sleep(1)
    if report:
        print_health(report)
    raise SystemExit(f"{seconds:.0f} 秒内未全部就绪；请查看 {log_dir()}")


def print_health(report: dict) -> None:
    for name, status in report.get("components", {}).items():
        say(f"  {name:<11} {status}")


def down(timeout: float = 15) -> list[str]:
    stopped = []
    names = [p.stem for p in run_dir().glob("*.pid")]
    # stop the platform before the Temporal server it talks to
    names.sort(key=lambda n: n == "temporal")
    pids = {}
    for name in names:
        pid = read_pid(name)
        if alive(pid) and _ours(pid):
            os.killpg(pid, signal.SIGTERM)
            pids[name] = pid
        else:
            pid_file(name).unlink(missing_ok=True)
    for name, pid in pids.items():
        if not wait_for(lambda: not alive(pid), timeout, 0.2):
            os.killpg(pid, signal.SIGKILL)
            wait_for(lambda: not alive(pid), 5, 0.2)
        pid_file(name).unlink(missing_ok=True)
        stopped.append(name)
    return stopped


def status() -> dict:
    out = {}
    for path in sorted(run_dir().glob("*.pid")):
        pid = read_pid(path.stem)
        out[path.stem] = {"pid": pid, "running": alive(pid) and _ours(pid)}
    return out
