"""How far the reports are behind (issue 12): the import result, the report and `report --wait`.

A mixin of GatewayService. The gateway composes it because it alone holds proxies to every source:
reporting names the (source, event types) it consumes; each source answers its outbox tail up to a
mark; reporting says which of those events it has applied (services/common/read_model_lag.py)."""
from __future__ import annotations

import time

from services.common.errors import ValidationFailed
from services.common.read_model_lag import describe

from ..api import api

SOURCES_TTL = 60.0  # the events reporting consumes change only with a deploy


class FreshnessRoutes:
    _read_model_sources: tuple[float, dict] = (0.0, {})

    def _sources_of_reports(self, signed: str) -> dict:
        """{sources: {source: [event types]}, tail: ids per type}, from reporting's entrypoints."""
        at, answer = FreshnessRoutes._read_model_sources
        if not answer or time.monotonic() - at > SOURCES_TTL:
            answer = self.reporting.get_read_model_sources(signed)
            FreshnessRoutes._read_model_sources = (time.monotonic(), answer)
        return answer

    def _read_model_lag(self, signed: str, marks: dict | None = None) -> dict:
        """{caught_up, pending_events, unpublished, queued, unapplied_recent, last_applied_at, marks, …}."""
        reader = self._sources_of_reports(signed)
        tails = []
        for source, types in reader["sources"].items():
            proxy = getattr(self, source, None)
            if proxy is not None:
                tails.append(proxy.get_event_tail(signed, types, (marks or {}).get(source), reader["tail"]))
        lag = self.reporting.get_read_model_lag(signed, tails)
        return lag | {"summary": describe(lag)}

    def _with_lag(self, signed: str, answer: dict) -> dict:
        """`answer` plus `read_model`; the lag is advice: a source that cannot say leaves it out."""
        try:
            return answer | {"read_model": self._read_model_lag(signed)}
        except Exception as exc:  # noqa: BLE001 - never fail a report or an import over its lag
            self.ctx.log.warning("read_model_lag_unknown", error=type(exc).__name__)
            return answer | {"read_model": None}

    @api("GET", "/api/reports/freshness")
    def report_freshness(self, request):
        """Without `marks`: the lag now, and the marks to wait for. With `marks=registry:120,escrow:7`:
        whether everything committed up to those marks is in the reports (`shuangjian report --wait`)."""
        return self._read_model_lag(self._signed(request), parse_marks(request.args.get("marks")))


def parse_marks(text: str | None) -> dict[str, int] | None:
    if not text:
        return None
    marks = {}
    for part in text.split(","):
        source, _, number = part.partition(":")
        if not source.strip() or not number.strip().isdigit() or len(number.strip()) > 18:  # fits a bigint
            raise ValidationFailed(f"标记“{part}”格式应为 来源:序号，如 registry:120", field="marks")
        marks[source.strip()] = int(number)
    return marks
