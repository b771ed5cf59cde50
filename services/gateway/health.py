"""Component health for GET /health: broker, Temporal (via the worker), every service."""
from __future__ import annotations

import eventlet
from kombu import Connection

SERVICES = ("registry", "escrow", "inspection", "reporting", "escrow_feed")  # escrow_feed: the bank feed process
TIMEOUT_SECONDS = 3


def check_broker(amqp_uri: str) -> str:
    try:
        with Connection(amqp_uri, connect_timeout=TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1)
        return "ok"
    except Exception as exc:  # any failure is reported, not raised
        return f"不可用：{exc.__class__.__name__}"


def ping(proxy, method: str = "ping"):
    """Call `proxy.<method>()` with a timeout; return its result or raise."""
    with eventlet.Timeout(TIMEOUT_SECONDS):
        return getattr(proxy, method).call_async().result()


def component_status(call) -> str:
    try:
        call()
        return "ok"
    except eventlet.Timeout:
        return "无响应（超时）"
    except Exception as exc:
        return f"不可用：{exc.__class__.__name__}"


def check_all(amqp_uri: str, proxies: dict, workflows) -> dict:
    components = {"broker": check_broker(amqp_uri)}
    pool = eventlet.GreenPool()
    names = list(SERVICES)
    results = pool.imap(lambda name: component_status(lambda: ping(proxies[name])), names)
    components.update(dict(zip(names, results)))
    components["gateway"] = "ok"
    components["worker"] = component_status(lambda: ping(workflows))
    temporal = "无响应（worker 不可用）"
    if components["worker"] == "ok":
        try:
            temporal = ping(workflows, "health").get("temporal", "unknown")
        except BaseException as exc:
            temporal = f"不可用：{exc.__class__.__name__}"
    components["temporal"] = temporal
    status = "ok" if all(v == "ok" for v in components.values()) else "degraded"
    return {"status": status, "components": components}


READY_TIMEOUT_SECONDS = 2


def check_database(session) -> str:
    from sqlalchemy import text

    try:
        with eventlet.Timeout(READY_TIMEOUT_SECONDS):
            session.execute(text("SELECT 1"))
        return "ok"
    except eventlet.Timeout:
        return "无响应（超时）"
    except Exception as exc:
        return f"不可用：{exc.__class__.__name__}"


def check_ready(amqp_uri: str, session) -> dict:
    """GET /health/ready: what this gateway itself needs — the broker and its own database — and
    nothing else (no fan-out to the services: that is GET /health)."""
    try:
        with eventlet.Timeout(READY_TIMEOUT_SECONDS + 1):
            broker = check_broker(amqp_uri)
    except eventlet.Timeout:
        broker = "无响应（超时）"
    components = {"broker": broker, "database": check_database(session)}
    status = "ok" if all(v == "ok" for v in components.values()) else "unavailable"
    return {"status": status, "components": components}
