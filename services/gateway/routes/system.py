"""Health, metrics, the OpenAPI document, login, identity administration and the audit trail.

A mixin of GatewayService (services/gateway/service.py), which holds the RPC proxies and auth."""
from __future__ import annotations


from werkzeug.wrappers import Response

from services.common.config import amqp_uri
from services.common.errors import DomainError
from services.common.metrics import exposition
from services.common.policy import authorize
from services.common.service_kit import paging

from .. import health, identity
from ..api import api, json_response, page_items, read_json, text_route
from ..sessions import COOKIE_NAME, clear_session_cookie, set_session_cookie
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
        """{username, password} → {token, user}: a new server-side session (also set as the
        HttpOnly cookie). `user.must_change_password`: only POST /api/password is open until then."""
        try:
            user, dept = self._authenticate(request, read_json(request))  # throttled (pages/session.py)
        except Exception as exc:
            self.ctx.log.warning("login_refused", reason=str(exc))
            raise
        token = self._start_session(request, user, dept, via="api")
        response = json_response({"token": token, "user": identity.user_view(user, dept)})
        set_session_cookie(response, token, self.auth.sessions.max_age)
        return response

    @api("POST", "/api/logout")
    def logout(self, request):
        """Ends the session of the request's token (Bearer or cookie) on the server."""
        from ..sessions import token_from_request

        token = token_from_request(request)
        self._end_session(token, "logout")
        response = json_response({"ok": True})
        clear_session_cookie(response)
        return response

    @api("POST", "/api/password")
    def change_password(self, request):
        """{current_password, new_password} → {token, user}: every session of the user ends (this
        one too) and a new one begins for this client."""
        _, _, user, dept = self._session_user(request)
        identity.change_password(self.db, user, dept, read_json(request),
                                 lambda uid: self.auth.sessions.revoke_user(self.db, uid, "password_changed"))
        self.ctx.log.info("password_changed", user=user.username)
        token = self.auth.sessions.issue(self.db, user.id, request.remote_addr)
        response = json_response({"token": token, "user": identity.user_view(user, dept)})
        if request.cookies.get(COOKIE_NAME):
            set_session_cookie(response, token, self.auth.sessions.max_age)
        return response

    @api("GET", "/api/me")
    def me(self, request):
        _, _, user, dept = self._session_user(request)
        return identity.actor_for(user, dept).to_dict() | {"must_change_password": bool(user.must_change_password)}

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

    @api("POST", "/api/users/<int:user_id>/disable")
    def disable_user(self, request, user_id):
        """An admin stops a user: the account cannot log in and every session of it ends at once."""
        return self._set_user_active(request, user_id, False)

    @api("POST", "/api/users/<int:user_id>/enable")
    def enable_user(self, request, user_id):
        return self._set_user_active(request, user_id, True)

    def _set_user_active(self, request, user_id: int, active: bool):
        actor = self._actor(request)
        view = identity.set_user_active(self.db, actor, user_id, active,
                                        lambda uid: self.auth.sessions.revoke_user(self.db, uid, "user_disabled"))
        self.ctx.log.info("user_enabled" if active else "user_disabled", username=view["username"], by=actor.username)
        return view

    # -- sessions (shared by the JSON login and the page login) --------------------------------------

    def _start_session(self, request, user, dept, via: str) -> str:
        """A new session for a user who just proved the password; a session the client already
        held (a cookie) ends, so a token planted before login is worthless after it."""
        old = request.cookies.get(COOKIE_NAME)
        if old:
            self.auth.sessions.revoke(self.db, old, "replaced_at_login")
        token = self.auth.sessions.issue(self.db, user.id, request.remote_addr)
        identity.audit_session_event(self.db, user, dept, "session.login",
                                     {"via": via, "client": request.remote_addr})
        self.ctx.log.info("login", user=user.username, department=dept.kind, via=via)
        return token

    def _end_session(self, token, reason: str) -> None:
        if not token:
            return
        try:
            row = self.auth.sessions.read(self.db, token)
            user, dept = identity.load_user(self.db, row.user_id)
        except DomainError:  # already ended: logging out again changes nothing
            return
        self.auth.sessions.revoke(self.db, token, reason)
        identity.audit_session_event(self.db, user, dept, "session.logout", {"reason": reason})

    # -- the audit trail (issue 7 part 4): every service's hash chain -------------------------------

    @api("GET", "/api/audit/verify")
    def verify_audit(self, request):
        """Every service checks its own chain: 200 when all are intact, 409 (the same list) when any
        is broken, 503 when a service did not answer."""
        from .. import audit_routes

        actor = self._actor(request)
        authorize(actor, "audit.verify")
        results, anchor = audit_routes.verify_all(self.db, actor, self.auth.signer.sign(actor), self._audit_proxies(),
                                                  self.auth.anchors)
        ok = all(r["ok"] for r in results) and not anchor["problem"]
        return audit_routes.verify_status(results, anchor), {"items": results, "ok": ok, "anchor": anchor}

    @api("POST", "/api/audit/anchor")
    def anchor_audit_now(self, request):
        """Write every chain's head to the anchor file now (the gateway also does it on a schedule,
        every SHUANGJIAN_AUDIT_ANCHOR_MINUTES, default 10)."""
        from .. import audit_routes

        actor = self._actor(request)
        authorize(actor, "audit.verify")
        return 201, audit_routes.anchor_now(self.db, self._platform_token(), self._audit_proxies(), self.auth.anchors)

    def _platform_token(self) -> str:
        from services.common.config import deployment
        from services.common.identity import system_actor

        return self.auth.signer.sign(system_actor(deployment().root_code, name="audit_anchor"))

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
