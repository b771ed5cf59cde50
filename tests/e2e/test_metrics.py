"""/metrics on every process of a running platform, and the gateway's probes (docs/operations.md).

The platform's processes each serve Prometheus metrics on their own port (`make up` gives them
consecutive ports from SHUANGJIAN_METRICS_PORT: shuangjian/localrun.metrics_ports); the gateway
also on its HTTP port. A registration drives an RPC, events out and in, and a workflow start."""
from __future__ import annotations

import os
import time
from unittest import mock

import requests
from prometheus_client.parser import text_string_to_metric_families

from shuangjian import localrun
from shuangjian.client import Client, wait_until
from shuangjian.codes import make_uscc
from shuangjian.demo import load_demo_county
from tests.e2e.support import admin_client, as_user


def ports(platform) -> dict[str, int]:
    with mock.patch.dict(os.environ, {"SHUANGJIAN_METRICS_PORT": platform["env"]["SHUANGJIAN_METRICS_PORT"]}):
        return localrun.metrics_ports()


def scrape(url: str) -> dict[str, list]:
    """{sample name: [(labels, value)]}."""
    response = requests.get(url, timeout=15)
    assert response.status_code == 200, url
    assert response.headers["Content-Type"].startswith("text/plain"), url
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(response.text):
        # declared, possibly without samples yet
        out.setdefault(family.name + ("_total" if family.type == "counter" else ""), [])
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def has(metrics: dict, name: str, **labels) -> bool:
    return any(all(got.get(k) == v for k, v in labels.items()) and value > 0
               for got, value in metrics.get(name, []))


def test_probes(platform):
    live = requests.get(platform["url"] + "/health/live", timeout=10)
    assert live.status_code == 200 and live.json()["status"] == "ok"
    ready = requests.get(platform["url"] + "/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["components"] == {"broker": "ok", "database": "ok"}
    # the probes are JSON routes of the API document; /metrics is not
    paths = Client(platform["url"]).get("/openapi.json")["paths"]
    assert "/health/ready" in paths and "/health/live" in paths and "/metrics" not in paths


def test_every_process_answers_metrics(platform):
    admin = admin_client(platform)
    load_demo_county(admin)
    education = as_user(platform, "jiaoti_leader")
    created = education.post("/api/institutions", {
        "name": "枞阳县指标培训学校", "uscc": make_uscc(int(time.time() * 13) % 10**9), "licence_no": "教民M001号",
        "category": "学科类", "legal_form": "营利性", "township_code": "340722105", "address": "义津镇3号",
    })
    education.get(f"/api/institutions/{created['id']}")
    by_process = ports(platform)
    urls = {name: f"http://127.0.0.1:{port}/metrics" for name, port in by_process.items()}

    # the gateway: on its HTTP port and on its metrics port, requests by route (rule), method, status
    for url in (platform["url"] + "/metrics", urls["gateway"]):
        gateway = scrape(url)
        assert has(gateway, "http_requests_total", route="/api/institutions", method="POST", status="201"), url
        assert has(gateway, "http_requests_total", route="/api/institutions/<int:institution_id>", method="GET",
                   status="200"), url
        assert has(gateway, "http_request_seconds_count", route="/api/institutions"), url

    # registry: the RPC, and the event it published (through its outbox relay)
    registry = wait_until(lambda: scrape(urls["registry"]),
                          lambda m: has(m, "messages_published_total", service="registry",
                                        event_type="institution_registered"), seconds=30)
    assert has(registry, "rpc_requests_total", service="registry", method="register_institution", outcome="ok")
    assert has(registry, "rpc_request_seconds_count", service="registry", method="register_institution")
    assert any(labels["service"] == "registry" for labels, _ in registry["amqp_queue_messages_ready"])

    # consumers of that event: escrow, reporting (and inspection), the workflows bridge
    for name in ("escrow", "reporting", "inspection"):
        found = wait_until(lambda: scrape(urls[name]),
                           lambda m: has(m, "messages_consumed_total", service=name,
                                         event_type="institution_registered"), seconds=30)
        assert has(found, "messages_consumed_total", service=name, event_type="institution_registered"), name
    escrow = scrape(urls["escrow"])
    assert [value for _, value in escrow["escrow_alerts_open"]] and escrow["escrow_alerts_open"][0][1] >= 0
    reporting = scrape(urls["reporting"])
    assert reporting["report_cycles_overdue"] and reporting["report_cycles_overdue"][0][1] >= 0

    worker = wait_until(lambda: scrape(urls["worker"]),
                        lambda m: has(m, "temporal_workflows_started_total", workflow="LicenceVerification"),
                        seconds=30)
    assert has(worker, "temporal_workflows_started_total", workflow="LicenceVerification")
    assert has(worker, "messages_consumed_total", service="workflows", event_type="institution_registered")
    assert "temporal_workflows_completed_total" in worker and "temporal_workflows_failed_total" in worker
    assert any(labels["service"] == "workflows" for labels, _ in worker["amqp_queue_consumers"])

    # the bank feed: its consumer family and its own queues
    feed = scrape(urls[localrun.FEED])
    assert "messages_consumed_total" in feed and "messages_published_total" in feed
    assert any(labels == {"service": "escrow_feed", "queue": "escrow.bank_feed"}
               for labels, _ in feed["amqp_queue_messages_ready"])
