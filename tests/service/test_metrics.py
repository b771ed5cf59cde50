"""/metrics of started services: an RPC, the event it publishes and the handler that consumes it are
counted with the right labels; the domain gauge and the queue depths answer on scrape."""
from __future__ import annotations

import time
import urllib.request

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from services.common import metrics
from services.common.errors import ValidationFailed
from services.escrow.service import EscrowService
from services.registry.service import RegistryService
from shuangjian.codes import make_uscc

HANDLER = "evt-registry-institution_registered--escrow.on_institution_registered"


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def wait_until(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def platform(start_services):
    return start_services(RegistryService, EscrowService)


def scrape() -> dict:
    """{metric family name: family} from this process's metrics port (HTTP, as Prometheus does)."""
    port = metrics.serve() or metrics.serve(0)  # the configured port, else any free one
    assert port, "the metrics server did not start"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        return {f.name: f for f in text_string_to_metric_families(response.read().decode())}


def samples(families: dict, family: str, sample: str | None = None) -> list:
    return [s for s in families[family].samples if s.name == (sample or family)]


def test_rpc_events_out_and_in_are_counted(platform, token, config):
    ok = ("registry", "register_institution", "ok")
    rejected = ("registry", "register_institution", "rejected")
    consumed = ("escrow", "institution_registered")
    before = {
        "ok": value("rpc_requests_total", service=ok[0], method=ok[1], outcome=ok[2]),
        "rejected": value("rpc_requests_total", service=rejected[0], method=rejected[1], outcome=rejected[2]),
        "published": value("messages_published_total", service="registry", event_type="institution_registered"),
        "consumed": value("messages_consumed_total", service=consumed[0], event_type=consumed[1]),
    }
    education = token("education")
    # over the bus, as the gateway calls it
    with ServiceRpcProxy("registry", config) as registry:
        created = registry.register_institution(education, {
            "name": "枞阳县指标培训学校", "uscc": make_uscc(901), "licence_no": "教民0901号",
            "licence_issued_on": "2021-06-01", "category": "学科类", "legal_form": "营利性",
            "township_code": "340722100", "address": "枞阳镇渡江路1号"})
        with pytest.raises(ValidationFailed):  # a refusal, over the bus too
            registry.register_institution(education, {"name": ""})
    assert created["id"]

    # nameko sends the reply before the dependencies' worker_result hooks run: wait for the count
    assert wait_until(lambda: value("rpc_requests_total", service=ok[0], method=ok[1], outcome=ok[2])
                      == before["ok"] + 1)
    assert wait_until(lambda: value("rpc_requests_total", service=rejected[0], method=rejected[1],
                                    outcome=rejected[2]) == before["rejected"] + 1)
    # counted when the outbox relay has published it (services/common/outbox.py)
    assert wait_until(lambda: value("messages_published_total", service="registry",
                                    event_type="institution_registered") >= before["published"] + 1)
    # escrow's handler gets the event off the bus
    assert wait_until(lambda: value("messages_consumed_total", service=consumed[0],
                                    event_type=consumed[1]) >= before["consumed"] + 1)

    families = scrape()
    assert any(s.labels == {"service": "registry", "method": "register_institution", "outcome": "ok"}
               for s in samples(families, "rpc_requests", "rpc_requests_total"))
    assert any(s.labels.get("service") == "registry" and s.labels.get("method") == "register_institution"
               for s in samples(families, "rpc_request_seconds", "rpc_request_seconds_count"))
    assert any(s.labels == {"service": "escrow", "event_type": "institution_registered"} and s.value >= 1
               for s in samples(families, "messages_consumed", "messages_consumed_total"))
    assert any(s.labels == {"service": "registry", "event_type": "institution_registered"} and s.value >= 1
               for s in samples(families, "messages_published", "messages_published_total"))
    # computed on scrape: escrow's open alerts (none yet) and its own queues' depths
    assert samples(families, "escrow_alerts_open")[0].value == 0
    queues = {s.labels["queue"]: s.value for s in samples(families, "amqp_queue_messages_ready")
              if s.labels["service"] == "escrow"}
    assert HANDLER in queues and "rpc-escrow" in queues
    consumers = {s.labels["queue"]: s.value for s in samples(families, "amqp_queue_consumers")}
    assert consumers["rpc-registry"] >= 1
