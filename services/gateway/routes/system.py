"""Health, metrics, the OpenAPI document, login, identity administration and the audit trail.

A mixin of GatewayService (services/gateway/service.py), which holds the RPC proxies and auth."""
from __future__ import annotations


from werkzeug.wrappers import Response

from services.common.config import amqp_uri
from services.common.metrics import exposition
from services.common.policy import authorize
from services.common.service_kit import paging

from .. import health, identity
from ..api import api, json_response, page_items, read_json, text_route
from ..sessions import COOKIE_NAME
from .common import int_arg


class SystemRoutes:
    # -- health and login --------------------------------------------------------------------------

    @api("GET", "/openapi.json")
    def openapi_document(self, request):
        """The OpenAPI 3 document of every JSON route, built from this class (no login)."""
        from ..openapi import document

        return document(type(self))

    @api("GET", "/health")
    def health(self, request):
        proxies = {
            "registry": self.registry,
            "escrow": self.escrow,
            "inspection": self.inspection,
            "reporting": self.reporting,
            "escrow_feed": self.escrow_feed,
        }
        report = health.check_all(amqp_uri(), proxies, self.workflows)
        return (200 if report["status"] == "ok" else 503), report

    @api("GET", "/health/live")
    def health_live(self, request):
        """Liveness: the process answers (always 200; no dependency is asked)."""
        return {"status": "ok"}

    @api("GET", "/health/ready")
    def health_ready(self, request):
        """Readiness: the broker and the gateway's database answer (200, else 503); no fan-out."""
        report = health.check_ready(amqp_uri(), self.db)
        return (200 if report["status"] == "ok" else 503), report

    @text_route("GET", "/metrics")
    def metrics_text(self, request):
        """Prometheus metrics of this process (also on SHUANGJIAN_METRICS_PORT)."""
        body, content_type = exposition()
        return Response(body, status=200, content_type=content_type)

    @api("POST", "/api/login")
    def login(self, request):
        try:
            user, dept = self._authenticate(request, read_json(request))  # throttled (pages/__init__.py)
        except Exception as exc:
            self.ctx.log.warning("login_refused", reason=str(exc))
            raise
        token = self.auth.tokens.issue(user.id)
        self.ctx.log.info("login", user=user.username, department=dept.kind)
        response = json_response({"token": token, "user": identity.user_view(user, dept)})
        response.set_cookie(
            COOKIE_NAME, token, max_age=self.auth.tokens.max_age, httponly=True, samesite="Strict"
        )
        return response

    @api("POST", "/api/logout")
    def logout(self, request):
        response = json_response({"ok": True})
        response.delete_cookie(COOKIE_NAME)
        return response

    @api("GET", "/api/me")
    def me(self, request):
        actor = self._actor(request)
        return actor.to_dict()

    # -- identity administration -------------------------------------------------------------------

    @api("GET", "/api/divisions")
    def list_divisions(self, request):
        return page_items(request, {"items": identity.list_divisions(self.db, self._actor(request))})

    @api("POST", "/api/divisions")
    def create_division(self, request):
        return 201, identity.create_division(self.db, self._actor(request), read_json(request))

    @api("PUT", "/api/divisions/<string:code>")
    def rename_division(self, request, code):
        """Correct a division's name (unique among its parent's children)."""
        return identity.rename_division(self.db, self._actor(request), code, read_json(request))

    @api("GET", "/api/departments")
    def list_departments(self, request):
        return page_items(request, {"items": identity.list_departments(self.db, self._actor(request))})

    @api("POST", "/api/departments")
    def create_department(self, request):
        return 201, identity.create_department(self.db, self._actor(request), read_json(request))

    @api("GET", "/api/users")
    def list_users(self, request):
        return page_items(request, {"items": identity.list_users(self.db, self._actor(request))})

    @api("POST", "/api/users")
    def create_user(self, request):
        created = identity.create_user(self.db, self._actor(request), read_json(request))
        self.ctx.log.info("user_created", username=created["username"])
        return 201, created

    # -- the audit trail (issue 7 part 4): every service's hash chain -------------------------------

    @api("GET", "/api/audit/verify")
    def verify_audit(self, request):
        """Every service checks its own chain: 200 when all are intact, 409 (the same list) when any
        is broken, 503 when a service did not answer."""
        from .. import audit_routes

        actor = self._actor(request)
        authorize(actor, "audit.verify")
        results = audit_routes.verify_all(self.db, actor, self.auth.signer.sign(actor), self._audit_proxies())
        return audit_routes.verify_status(results), {"items": results, "ok": all(r["ok"] for r in results)}

    @api("GET", "/api/audit")
    def list_audit(self, request):
        """?service=registry&entity=institution&entity_id=7&limit=&offset=: a record's trail, oldest first."""
        from .. import audit_routes

        limit, offset = paging(int_arg(request, "limit", 100), int_arg(request, "offset", 0))
        args = request.args
        return audit_routes.list_one(self.db, self._actor(request), self.auth.signer, self._audit_proxies(),
                                     args.get("service"), args.get("entity") or None,
                                     args.get("entity_id") or None, limit, offset)

    def _audit_proxies(self) -> dict:
        return {"registry": self.registry, "escrow": self.escrow, "inspection": self.inspection,
                "reporting": self.reporting}
