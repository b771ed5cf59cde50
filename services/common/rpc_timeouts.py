"""RPC with a deadline for nameko services (the gateway): `TimedRpcProxy("registry")`.

nameko 2.14's `RpcProxy` waits for a reply forever (`RpcReply.result()` has no timeout; only the
standalone `ClusterRpcProxy(timeout=…)` has one). A service that is down keeps its queue, so a
call to it would hang the gateway's worker and the browser. `TimedRpcProxy` waits at most
`RPC_TIMEOUT` seconds (config, default 30; slower calls such as imports and exports have their
own, `SLOW_CALLS`) and then raises `RpcTimedOut` — the gateway answers 504 with
`{"error": {"code": "service_timeout", "message": "后台服务（登记）未在 30 秒内答复，请稍后再试"}}`.
A late reply is dropped by the reply listener (its correlation id is no longer awaited).
"""
from __future__ import annotations

import eventlet
from nameko.rpc import MethodProxy, RpcProxy, ServiceProxy

from .errors import Unavailable

DEFAULT_TIMEOUT = 30.0
# calls that legitimately take long (seconds): a 10,000-row ledger import, exports, scans
SLOW_CALLS = {
    "import_ledger_file": 300.0, "commit_import": 300.0, "add_import_rows": 120.0,
    "import_complaints_csv": 120.0, "export_report": 120.0, "scan_alerts": 120.0,
    "import_statement": 300.0, "get_chart_data": 60.0,
    "preview_ledger_file": 300.0, "preview_import": 300.0,  # issue 15: the ledger preview
}
SERVICE_NAMES = {"registry": "登记", "escrow": "资金监管", "inspection": "检查执法", "reporting": "报表",
                 "workflows": "流程", "escrow_feed": "银行流水"}


class RpcTimedOut(Unavailable):
    code = "service_timeout"


class _TimedMethodProxy(MethodProxy):
    def __init__(self, *args, timeout: float, **options):
        super().__init__(*args, **options)
        self.timeout = timeout

    def __call__(self, *args, **kwargs):
        reply = self._call(*args, **kwargs)
        timer = eventlet.Timeout(self.timeout)
        try:
            return reply.result()
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            name = SERVICE_NAMES.get(self.service_name, self.service_name)
            raise RpcTimedOut(f"后台服务（{name}）未在 {self.timeout:g} 秒内答复，请稍后再试") from None
        finally:
            timer.cancel()


class _TimedServiceProxy(ServiceProxy):
    def __init__(self, *args, timeout: float, slow: dict, **options):
        super().__init__(*args, **options)
        self.timeout = timeout
        self.slow = slow

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _TimedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener,
                                 timeout=self.slow.get(name, self.timeout), **self.options)


class TimedRpcProxy(RpcProxy):
    """nameko's RpcProxy with a per-call deadline (config `RPC_TIMEOUT`, seconds)."""

    def __init__(self, target_service, timeout: float | None = None, slow: dict | None = None, **options):
        super().__init__(target_service, **options)
        self.timeout = timeout
        self.slow = dict(SLOW_CALLS if slow is None else slow)

    def get_dependency(self, worker_ctx):
        timeout = self.timeout or float(self.container.config.get("RPC_TIMEOUT", DEFAULT_TIMEOUT))
        return _TimedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, timeout=timeout,
                                  slow=self.slow, **self.options)
