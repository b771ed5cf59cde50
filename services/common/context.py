"""Per-call context for nameko workers: the correlation id and a bound logger.

The correlation id arrives in an HTTP header (X-Correlation-ID), an RPC header or an event
header (`nameko.correlation_id`); when absent one is made. It is kept in the worker's
context data, which nameko copies onto every RPC call and event the worker sends — so the id
travels from the HTTP request through the services and into the workflows process.
"""
from __future__ import annotations

import uuid

from nameko.extensions import DependencyProvider

from .logging import configure_logging, get_logger

CORRELATION_KEY = "correlation_id"
CORRELATION_HEADER = "X-Correlation-ID"


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def _from_http_request(worker_ctx) -> str | None:
    for arg in worker_ctx.args or ():
        headers = getattr(arg, "headers", None)
        if headers is not None and hasattr(headers, "get"):
            value = headers.get(CORRELATION_HEADER)
            if value and len(value) <= 64 and value.isprintable():
                return value
    return None


class CallContext:
    def __init__(self, correlation_id: str, log):
        self.correlation_id = correlation_id
        self.log = log


class Context(DependencyProvider):
    """`self.ctx.log.info(...)`, `self.ctx.correlation_id` inside any entrypoint."""

    def setup(self):
        configure_logging(self.container.service_name)

    def get_dependency(self, worker_ctx):
        # nameko injects dependencies before the entrypoint runs and before any RPC or event
        # leaves the worker, so setting the id here is early enough for it to travel on.
        # (`context_data` is a copy; `data` is what nameko encodes into outgoing headers.)
        data = worker_ctx.data
        if not data.get(CORRELATION_KEY):
            data[CORRELATION_KEY] = _from_http_request(worker_ctx) or new_correlation_id()
        cid = data[CORRELATION_KEY]
        log = get_logger(
            service=self.container.service_name,
            entrypoint=worker_ctx.entrypoint.method_name,
            correlation_id=cid,
        )
        return CallContext(cid, log)
