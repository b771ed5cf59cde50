"""Gateway: the HTTP edge. Authenticates, signs the actor, forwards commands by RPC.

Every rule is enforced again by the service that owns the data; the gateway's own checks are
only for the identity store it holds.
"""
from __future__ import annotations

import os
from pathlib import Path

from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.common.config import deployment, load_secrets
from services.common.context import Context
from services.common.db import Database
from services.common.errors import NotAuthenticated
from services.common.identity import ActorSigner
from services.common.metrics import ServiceMetrics
from services.common.rpc_timeouts import TimedRpcProxy as RpcProxy  # every call has a deadline (504)

from . import identity
from .api import HttpServer  # werkzeug's 404/405 in the one error shape
from services.common.clock import clock_from_env

from .audit_anchor import AnchorLog, anchor_file, anchor_key
from .sessions import SessionStore, token_from_request
from .routes import system
from .routes import calendar as calendar_routes
from .routes import complaints as complaint_routes, escrow as escrow_routes, inspection as inspection_routes
from .routes import registry as registry_routes, reports as report_routes, supervision as supervision_routes
from .routes import portal as portal_routes  # issue 14: 机构端 accounts and 家长端 by contract code
from .routes import freshness as freshness_routes
from . import pages  # the pages mixin (not imported by name: nameko run would take it for a service)


def _anchor_seconds() -> int:
    try:
        return max(1, int(os.environ.get("SHUANGJIAN_AUDIT_ANCHOR_MINUTES", "10"))) * 60
    except ValueError:
        return 600


ANCHOR_SECONDS = _anchor_seconds()


def _bootstrap_identity(sessionmaker) -> None:
    secrets = load_secrets()
    with sessionmaker() as session:
        identity.bootstrap(session, deployment(), secrets.admin_username, secrets.admin_password)


class Auth(DependencyProvider):
    """The server-side sessions (sessions.py) and the actor signer."""

    def setup(self):
        secrets = load_secrets()
        self.sessions = SessionStore(clock=clock_from_env())
        self.signer = ActorSigner(secrets.actor_signing_key)
        self.anchors = AnchorLog(anchor_file(), anchor_key(secrets.actor_signing_key))

    def get_dependency(self, worker_ctx):
        return self


class GatewayService(
    pages.PagesMixin,  # the pages (services/gateway/pages): /ui/…, /public/…
    system.SystemRoutes,
    registry_routes.RegistryRoutes,
    escrow_routes.EscrowRoutes,
    inspection_routes.InspectionRoutes,
    complaint_routes.ComplaintRoutes,
    supervision_routes.SupervisionRoutes,
    report_routes.ReportRoutes,
    portal_routes.PortalRoutes,
    calendar_routes.CalendarRoutes,
    freshness_routes.FreshnessRoutes,
):
    """Wiring only: dependencies and RPC proxies here, the routes in services/gateway/routes/."""

    name = "gateway"

    db = Database(Path(__file__).parent / "migrations", on_ready=_bootstrap_identity)
    ctx = Context()
    auth = Auth()
    http_server = HttpServer()  # werkzeug's 404/405 in the one error shape (api.py)
    metrics = ServiceMetrics()  # /metrics on SHUANGJIAN_METRICS_PORT (and here on the HTTP port)

    registry = RpcProxy("registry")
    escrow = RpcProxy("escrow")
    inspection = RpcProxy("inspection")
    reporting = RpcProxy("reporting")
    workflows = RpcProxy("workflows")
    escrow_feed = RpcProxy("escrow_feed")  # the bank feed process (services/escrow/feed.py)

    @timer(interval=ANCHOR_SECONDS)
    def anchor_audit(self):
        """Every chain's head to the anchor file outside the databases (audit_anchor.py)."""
        from . import audit_routes

        try:
            anchor = audit_routes.anchor_now(self.db, self._platform_token(), self._audit_proxies(), self.auth.anchors)
            self.ctx.log.info("audit_anchored", heads={k: v["seq"] for k, v in anchor["heads"].items()})
            if anchor["mismatched"]:  # a chain shortened or rewritten since the last anchor
                self.ctx.log.error("audit_anchor_mismatch", services=anchor["mismatched"])
        except Exception as exc:  # the next tick tries again; a failure must be seen, not crash the timer
            self.ctx.log.error("audit_anchor_failed", error=repr(exc))

    # -- helpers ---------------------------------------------------------------------------------

    def _session_user(self, request):
        """(token, session row, user, department) of the request's live session, else 401."""
        token = token_from_request(request)
        if not token:
            raise NotAuthenticated("请先登录")
        row = self.auth.sessions.read(self.db, token)
        user, dept = identity.load_user(self.db, row.user_id)
        return token, row, user, dept

    def _actor(self, request):
        _, _, user, dept = self._session_user(request)
        identity.require_password_changed(user)  # the generated admin password: change it first
        return identity.actor_for(user, dept)

    def _signed(self, request) -> str:
        return self.auth.signer.sign(self._actor(request))
