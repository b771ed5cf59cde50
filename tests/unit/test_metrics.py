"""The metric helpers (services/common/metrics.py) and the workflow interceptor's counting."""
from __future__ import annotations

import urllib.request

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from services.common import metrics
from services.common.errors import ValidationFailed
from shuangjian import localrun


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_rpc_and_http_counters_carry_their_labels():
    before = value("rpc_requests_total", service="unit", method="ping", outcome="ok")
    metrics.observe_rpc("unit", "ping", "ok", 0.02)
    assert value("rpc_requests_total", service="unit", method="ping", outcome="ok") == before + 1
    assert value("rpc_request_seconds_count", service="unit", method="ping") >= 1
    assert value("rpc_request_seconds_bucket", service="unit", method="ping", le="0.025") >= 1

    metrics.observe_http("/api/things/<int:thing_id>", "GET", 404, 0.5)
    assert value("http_requests_total", route="/api/things/<int:thing_id>", method="GET", status="404") == 1
    assert value("http_request_seconds_count", route="/api/things/<int:thing_id>") == 1


def test_outcome_of_tells_expected_errors_from_crashes():
    assert metrics.outcome_of(None) == "ok"
    refused = (ValidationFailed, ValidationFailed("x"), None)
    assert metrics.outcome_of(refused, ValidationFailed) == "rejected"
    assert metrics.outcome_of((KeyError, KeyError("x"), None), ValidationFailed) == "error"


def test_counting_dispatch_counts_single_and_bulk_events():
    sent = []

    def dispatch(event_type, data):
        sent.append(event_type)

    dispatch.many = lambda events: sent.extend(t for t, _ in events) or len(events)
    counted = metrics.counting_dispatch("unit_pub", dispatch)
    counted("thing_made", {})
    assert counted.many([("thing_made", {}), ("thing_gone", {})]) == 2
    assert sent == ["thing_made", "thing_made", "thing_gone"]
    assert value("messages_published_total", service="unit_pub", event_type="thing_made") == 2
    assert value("messages_published_total", service="unit_pub", event_type="thing_gone") == 1


def test_a_failed_dispatch_is_not_counted():
    def dispatch(event_type, data):
        raise ConnectionError("broker gone")

    with pytest.raises(ConnectionError):
        metrics.counting_dispatch("unit_fail", dispatch)("thing_made", {})
    assert value("messages_published_total", service="unit_fail", event_type="thing_made") == 0


def test_scrape_sources_are_gauges_and_a_failing_source_is_skipped():
    def good():
        return [("unit_things_open", "things", {}, 3), ("unit_queue_ready", "q", {"queue": "a"}, 7)]

    def bad():
        raise RuntimeError("database down")

    keys = [metrics.SCRAPED.add(good), metrics.SCRAPED.add(bad)]
    try:
        assert value("unit_things_open") == 3
        assert value("unit_queue_ready", queue="a") == 7
    finally:
        for key in keys:
            metrics.SCRAPED.remove(key)
    assert REGISTRY.get_sample_value("unit_things_open") is None


def test_database_gauges_read_through_a_session():
    class Session:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    source = metrics.database_gauges(Session, {"unit_overdue": ("overdue", lambda session: 4)})
    assert source() == [("unit_overdue", "overdue", {}, 4)]


def test_metrics_port_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("SHUANGJIAN_METRICS_PORT", raising=False)
    assert metrics.metrics_port() == 9100
    monkeypatch.setenv("SHUANGJIAN_METRICS_PORT", "9200")
    assert metrics.metrics_port() == 9200


def test_localrun_gives_every_process_its_own_port(monkeypatch):
    monkeypatch.setenv("SHUANGJIAN_METRICS_PORT", "19100")
    ports = localrun.metrics_ports()
    assert set(ports) == {*localrun.SERVICES, "worker", localrun.FEED}
    assert sorted(ports.values()) == list(range(19100, 19100 + len(ports)))
    assert localrun.process_env("escrow")["SHUANGJIAN_METRICS_PORT"] == str(ports["escrow"])


def test_the_server_answers_in_prometheus_text_format():
    port = metrics.serve(0) if "port" not in metrics._server else metrics._server["port"]
    assert port, "the metrics server did not start"
    metrics.count_consumed("unit_http", "thing_made")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    consumed = families["messages_consumed"]
    assert any(s.labels == {"service": "unit_http", "event_type": "thing_made"} and s.value >= 1
               for s in consumed.samples)
    assert "messages_consumed_created" not in text  # no _created series


def test_the_workflow_interceptor_records_by_type():
    from workflows.metrics import record

    record("started", "UnitFlow")
    record("completed", "UnitFlow")
    record("failed", "UnitFlow")
    for event in ("started", "completed", "failed"):
        assert value(f"temporal_workflows_{event}_total", workflow="UnitFlow") == 1
