"""Prometheus metrics of every process (the names are the contract in docs/operations.md).

* `serve()` starts the process's metrics HTTP server once, on SHUANGJIAN_METRICS_PORT (9100): a
  green thread with eventlet.wsgi in the nameko services (monkey-patched), prometheus_client's own
  thread server in the bank feed and the workflows process (plain threads, asyncio).
* `ServiceMetrics`, a nameko DependencyProvider on every service (ServiceBase and the gateway),
  counts each RPC (`rpc_requests_total`, `rpc_request_seconds`) and each event handled
  (`messages_consumed_total`), wraps any nameko EventDispatcher of the service so that every event
  sent is counted (`messages_published_total`; events written to the transactional outbox are
  counted by its relay once the broker confirmed them: `count_relayed`, services/common/outbox.py),
  and answers on scrape the depth of the service's own
  queues (`amqp_queue_messages_ready`) and the domain gauges its class declares in
  `metric_gauges` (`escrow_alerts_open`, `report_cycles_overdue`), read from its database.
* The gateway counts its HTTP answers in its WSGI app (`observe_http`, services/gateway/api.py).

Everything is in prometheus_client's default registry: one per process.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable, Iterable

from prometheus_client import REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily

from .logging import get_logger

try:  # the `_created` series of every counter are noise on the dashboard
    from prometheus_client import disable_created_metrics

    disable_created_metrics()
except ImportError:  # pragma: no cover - older prometheus_client
    pass

DEFAULT_PORT = 9100
PORT_ENV = "SHUANGJIAN_METRICS_PORT"
QUEUE_CACHE_SECONDS = 5.0  # a scrape within this time of the last one reuses its queue depths

log = get_logger(component="metrics")

RPC_REQUESTS = Counter("rpc_requests", "RPC calls answered, by service, method and outcome (ok, rejected, error)",
                       ["service", "method", "outcome"])
RPC_SECONDS = Histogram("rpc_request_seconds", "Time to answer an RPC call", ["service", "method"])
MESSAGES_CONSUMED = Counter("messages_consumed", "Messages (events, bank feed batches) handled",
                            ["service", "event_type"])
MESSAGES_FAILED = Counter("messages_failed", "Messages whose handler raised", ["service", "event_type"])
MESSAGES_PUBLISHED = Counter("messages_published", "Events sent to the bus", ["service", "event_type"])
MESSAGES_DEAD_LETTERED = Counter("messages_dead_lettered", "Messages (or rows) sent to a dead-letter queue",
                                 ["service", "reason"])
HTTP_REQUESTS = Counter("http_requests", "HTTP answers of the gateway, by route (rule), method and status",
                        ["route", "method", "status"])
HTTP_SECONDS = Histogram("http_request_seconds", "Time to answer an HTTP request, by route (rule)", ["route"])
WORKFLOWS_STARTED = Counter("temporal_workflows_started", "Workflow runs started", ["workflow"])
WORKFLOWS_COMPLETED = Counter("temporal_workflows_completed", "Workflow runs completed", ["workflow"])
WORKFLOWS_FAILED = Counter("temporal_workflows_failed", "Workflow runs failed", ["workflow"])


def metrics_port() -> int:
    """SHUANGJIAN_METRICS_PORT (9100); `make up` gives each process its own (shuangjian/localrun.py)."""
    raw = os.environ.get(PORT_ENV, "").strip()
    return int(raw) if raw else DEFAULT_PORT


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus text format, with its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# -- the HTTP server, once per process -------------------------------------------------------------

_server_lock = threading.Lock()
_server: dict = {}


def _eventlet_patched() -> bool:
    import sys

    if "eventlet" not in sys.modules:
        return False
    from eventlet import patcher

    return patcher.is_monkey_patched("socket")


def _metrics_wsgi(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path not in ("/metrics", "/"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /metrics\n"]
    body, content_type = exposition()
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def serve(port: int | None = None, addr: str = "0.0.0.0") -> int | None:
    """Start this process's metrics server (idempotent); the port it listens on, or None when the
    port is taken (logged: the process keeps running, only its metrics are not served)."""
    with _server_lock:
        if "port" in _server:
            return _server["port"]
        port = metrics_port() if port is None else port
        try:
            if _eventlet_patched():
                import eventlet
                import eventlet.wsgi

                sock = eventlet.listen((addr, port))
                bound = sock.getsockname()[1]
                eventlet.spawn(eventlet.wsgi.server, sock, _metrics_wsgi, log_output=False)
            else:
                from wsgiref.simple_server import WSGIRequestHandler, make_server
                from prometheus_client.exposition import ThreadingWSGIServer

                class _Quiet(WSGIRequestHandler):
                    def log_message(self, *args):
                        pass

                httpd = make_server(addr, port, _metrics_wsgi, ThreadingWSGIServer, handler_class=_Quiet)
                bound = httpd.server_port
                threading.Thread(target=httpd.serve_forever, name="metrics-http", daemon=True).start()
        except OSError as exc:
            log.warning("metrics_port_unavailable", port=port, error=str(exc))
            _server["port"] = None
            return None
        _server["port"] = bound
        log.info("metrics_serving", port=bound, path="/metrics")
        return bound


# -- values computed on scrape (queue depths, domain gauges) -----------------------------------------

GaugeSource = Callable[[], Iterable[tuple[str, str, dict, float]]]  # (name, help, labels, value)


class ScrapeCollector:
    """One per process: gauges whose values are read when Prometheus scrapes (sources added and
    removed by ServiceMetrics as containers start and stop)."""

    def __init__(self):
        self.sources: dict[int, GaugeSource] = {}

    def add(self, source: GaugeSource) -> int:
        key = id(source)
        self.sources[key] = source
        return key

    def remove(self, key: int) -> None:
        self.sources.pop(key, None)

    def describe(self):
        return []  # values come from sources at collect time; no fixed names to reserve

    def collect(self):
        families: dict[str, GaugeMetricFamily] = {}
        label_names: dict[str, tuple] = {}
        for source in list(self.sources.values()):
            try:
                samples = list(source())
            except Exception as exc:  # a scrape never fails because one source did
                log.warning("metrics_source_failed", error=type(exc).__name__, detail=str(exc)[:200])
                continue
            for name, doc, labels, value in samples:
                names = tuple(sorted(labels))
                if name not in families:
                    families[name] = GaugeMetricFamily(name, doc, labels=list(names))
                    label_names[name] = names
                if label_names[name] != names:
                    continue
                families[name].add_metric([str(labels[n]) for n in names], float(value))
        return list(families.values())


SCRAPED = ScrapeCollector()
REGISTRY.register(SCRAPED)


def queue_depths(amqp_uri: str, service: str, queue_names) -> GaugeSource:
    """Ready messages and consumers of `queue_names` (a list, or a callable giving it at scrape time;
    passive declares, so a queue not declared yet is skipped; cached QUEUE_CACHE_SECONDS)."""
    cache: dict = {"at": 0.0, "samples": []}

    def read():
        now = time.monotonic()
        if now - cache["at"] < QUEUE_CACHE_SECONDS:
            return cache["samples"]
        from kombu import Connection

        samples = []
        names = queue_names() if callable(queue_names) else queue_names
        if not names:
            return []
        with Connection(amqp_uri, connect_timeout=2) as conn:
            channel = conn.channel()
            for name in names:
                try:
                    _, ready, consumers = channel.queue_declare(queue=name, passive=True)
                except Exception:  # not declared (yet): the broker closed the channel
                    channel = conn.channel()
                    continue
                labels = {"service": service, "queue": name}
                samples.append(("amqp_queue_messages_ready", "Ready messages in the service's own queues "
                                "(passive declare on scrape)", labels, ready))
                samples.append(("amqp_queue_consumers", "Consumers of the service's own queues", labels, consumers))
        cache.update(at=time.monotonic(), samples=samples)
        return samples

    return read


def database_gauges(sessionmaker, gauges: dict[str, tuple[str, Callable]]) -> GaugeSource:
    """Domain gauges: {name: (help, fn(session) -> number)} read from the service's database."""

    def read():
        samples = []
        with sessionmaker() as session:
            for name, (doc, fn) in gauges.items():
                samples.append((name, doc, {}, fn(session)))
        return samples

    return read


# -- counting helpers (the bank feed and the workflows process use them directly) ----------------


def count_consumed(service: str, event_type: str, failed: bool = False, count: int = 1) -> None:
    MESSAGES_CONSUMED.labels(service, event_type or "unknown").inc(count)
    if failed:
        MESSAGES_FAILED.labels(service, event_type or "unknown").inc(count)


def count_published(service: str, event_type: str, count: int = 1) -> None:
    MESSAGES_PUBLISHED.labels(service, event_type or "unknown").inc(count)


def count_relayed(published: Iterable[tuple[str, str]]) -> None:
    """Events the outbox relay has published (broker-confirmed): [(exchange, event type)], the
    service label from the exchange `<service>.events` (services/common/outbox.py)."""
    for exchange, event_type in published:
        count_published(exchange[:-len(".events")] if exchange.endswith(".events") else exchange, event_type)


def observe_rpc(service: str, method: str, outcome: str, seconds: float) -> None:
    RPC_REQUESTS.labels(service, method, outcome).inc()
    RPC_SECONDS.labels(service, method).observe(seconds)


def observe_http(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_SECONDS.labels(route).observe(seconds)


def counting_dispatch(service: str, dispatch):
    """Wrap a nameko `dispatch(event_type, data)` (and its `.many`) to count what is sent."""

    def counted(event_type, event_data):
        result = dispatch(event_type, event_data)
        count_published(service, event_type)
        return result

    many = getattr(dispatch, "many", None)
    if many is not None:
        def counted_many(events, **options):  # options: the outbox's bundling (outbox.Outbox.many)
            events = list(events)
            result = many(events, **options)
            for event_type, _ in events:
                count_published(service, event_type)
            return result

        counted.many = counted_many
    for name, value in vars(dispatch).items() if hasattr(dispatch, "__dict__") else ():
        if name != "many" and not hasattr(counted, name):
            setattr(counted, name, value)
    return counted


# -- nameko ---------------------------------------------------------------------------------------

try:
    from nameko.extensions import DependencyProvider as _DependencyProvider
except ImportError:  # pragma: no cover - the workflows process never needs it
    _DependencyProvider = object


def outcome_of(exc_info, expected: tuple | type = ()) -> str:
    if exc_info is None:
        return "ok"
    exc = exc_info[1]
    if expected and isinstance(exc, expected):
        return "rejected"  # an expected DomainError: the caller's mistake, answered
    return "error"


class ServiceMetrics(_DependencyProvider):
    """Counts the service's RPCs and events, serves /metrics (see the module docstring)."""

    def setup(self):
        serve()
        self._starts: dict[int, float] = {}
        self._sources: list[int] = []
        service = self.container.service_name
        self._wrap_dispatchers(service)
        # entrypoints make their queues in their own setup, possibly after this one: named at scrape time
        self._queue_reader = queue_depths(self.container.config.get("AMQP_URI", ""), service, self._queue_names)
        self._sources.append(SCRAPED.add(self._queue_reader))
        gauges = getattr(self.container.service_cls, "metric_gauges", None)
        if gauges:
            sessionmaker = self._sessionmaker()
            if sessionmaker is not None:
                self._sources.append(SCRAPED.add(database_gauges(sessionmaker, gauges)))

    def stop(self):
        for key in getattr(self, "_sources", ()):
            SCRAPED.remove(key)
        self._sources = []

    kill = stop  # a killed container's database and queues are not read on scrape either

    def _sessionmaker(self):
        from .db import Database

        for dependency in self.container.dependencies:
            if isinstance(dependency, Database):
                return lambda: dependency.sessionmaker()
        return None

    def _wrap_dispatchers(self, service: str) -> None:
        from nameko.events import EventDispatcher

        for dependency in self.container.dependencies:
            if isinstance(dependency, EventDispatcher) and not getattr(dependency, "_metrics_counted", False):
                original = dependency.get_dependency

                def get_dependency(worker_ctx, _original=original):
                    return counting_dispatch(service, _original(worker_ctx))

                dependency.get_dependency = get_dependency
                dependency._metrics_counted = True

    def _queue_names(self) -> list[str]:
        from nameko.events import EventHandler
        from nameko.rpc import Rpc

        names = set()
        for entrypoint in self.container.entrypoints:
            if isinstance(entrypoint, EventHandler) and getattr(entrypoint, "queue", None) is not None:
                names.add(entrypoint.queue.name)
            elif isinstance(entrypoint, Rpc):
                names.add(f"rpc-{self.container.service_name}")
        if names:
            try:  # the service's dead-letter queue (services/common/deadletter.py)
                from .deadletter import dlq_name

                names.add(dlq_name(self.container.service_name))
            except ImportError:  # pragma: no cover
                pass
        return sorted(names)

    def worker_setup(self, worker_ctx):
        self._starts[id(worker_ctx)] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._starts.pop(id(worker_ctx), None)
        seconds = time.perf_counter() - started if started is not None else 0.0
        from nameko.events import EventHandler
        from nameko.rpc import Rpc

        entrypoint = worker_ctx.entrypoint
        service = self.container.service_name
        if isinstance(entrypoint, Rpc):
            observe_rpc(service, entrypoint.method_name,
                        outcome_of(exc_info, getattr(entrypoint, "expected_exceptions", ())), seconds)
        elif isinstance(entrypoint, EventHandler):
            # a batch handler (batch_consumer.py) is called with a list: count its events
            batch = worker_ctx.args[0] if getattr(entrypoint, "batched", False) and worker_ctx.args else None
            count_consumed(service, entrypoint.event_type, failed=exc_info is not None,
                           count=len(batch) if isinstance(batch, list) else 1)

    def worker_teardown(self, worker_ctx):
        self._starts.pop(id(worker_ctx), None)

    def queues(self) -> list[dict]:
        """The service's own queues for the 运维 page: [{queue, messages, consumers}]."""
        rows: dict[str, dict] = {}
        for name, _, labels, value in self._queue_reader():
            row = rows.setdefault(labels["queue"], {"queue": labels["queue"], "messages": None, "consumers": None})
            row["messages" if name == "amqp_queue_messages_ready" else "consumers"] = int(value)
        return [rows[q] for q in sorted(rows)]

    def get_dependency(self, worker_ctx):
        return self  # `self.metrics.queues()` in a service
