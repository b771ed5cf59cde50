"""structlog JSON logs. Every line carries the service, what ran and the correlation id.

Lines from the standard library (nameko's own, Temporal's `workflow.logger`, kombu) go through
the same JSON renderer, so a process writes one format only.
"""
from __future__ import annotations

import logging
import os
import sys
from collections import deque

import structlog

_configured = False


RECENT_ERRORS: deque = deque(maxlen=50)  # this process's latest error lines, for the 运维 page
ERROR_LEVELS = {"error", "critical", "exception"}
KEPT_FIELDS = ("timestamp", "level", "event", "service", "entrypoint", "correlation_id", "error", "logger")


def remember_errors(_logger, _method, event_dict: dict) -> dict:
    """A structlog processor: keep a copy of each error line (a few fields) in RECENT_ERRORS."""
    if str(event_dict.get("level", "")).lower() in ERROR_LEVELS:
        RECENT_ERRORS.append({k: str(event_dict[k])[:500] for k in KEPT_FIELDS if k in event_dict})
    return event_dict


def recent_errors(limit: int = 20) -> list[dict]:
    """Newest first."""
    return list(reversed(RECENT_ERRORS))[:limit]


def configure_logging(service: str, level: str | None = None) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    level_name = (level or os.environ.get("SHUANGJIAN_LOG_LEVEL", "INFO")).upper()
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    last = [remember_errors]  # after the logger name is added: stdlib lines carry it
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder(), *last],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(ensure_ascii=False, default=str),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level_name)
    structlog.configure(
        processors=[
            *shared,
            *last,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False, default=str),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level_name)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(**bound):
    return structlog.get_logger().bind(**bound)
