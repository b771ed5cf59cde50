"""Gateway: the HTTP edge. Authenticates, signs the actor, forwards commands by RPC.

Every rule is enforced again by the service that owns the data; the gateway's own checks are
only for the identity store it holds.
"""
from __future__ import annotations

from pathlib import Path

from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy

from services.common.config import amqp_uri, deployment, load_secrets
from services.common.context import Context
from services.common.db import Database
from services.common.errors import NotAuthenticated, ValidationFailed
from services.common.identity import ActorSigner
from services.common.service_kit import paging

from . import health, identity
from .api import api, json_response, read_json
from .sessions import COOKIE_NAME, SessionTokens, token_from_request


def _bootstrap_identity(sessionmaker) -> None:
    secrets = load_secrets()
    with sessionmaker() as session:
        identity.bootstrap(session, deployment(), secrets.admin_username, secrets.admin_password)


class Auth(DependencyProvider):
    """`self.auth.actor_token(request)` → signed actor of the logged-in user (or 401)."""

    def setup(self):
        secrets = load_secrets()
        self.tokens = SessionTokens(secrets.session_signing_key)
        self.signer = ActorSigner(secrets.actor_signing_key)

    def get_dependency(self, worker_ctx):
        return self


class GatewayService:
    name = "gateway"

    db = Database(Path(__file__).parent / "migrations", on_ready=_bootstrap_identity)
    ctx = Context()
    auth = Auth()

    registry = RpcProxy("registry")
    escrow = RpcProxy("escrow")
    inspection = RpcProxy("inspection")
    reporting = RpcProxy("reporting")
    workflows = RpcProxy("workflows")

    # -- helpers ---------------------------------------------------------------------------------

    def _actor(self, request):
        token = token_from_request(request)
        if not token:
            raise NotAuthenticated("请先登录")
        user, dept = identity.load_user(self.db, self.auth.tokens.read(token))
        return identity.actor_for(user, dept)

    def _signed(self, request) -> str:
        return self.auth.signer.sign(self._actor(request))

    # -- health and login --------------------------------------------------------------------------

    @api("GET", "/health")
    def health(self, request):
        proxies = {
            "registry": self.registry,
            "escrow": self.escrow,
            "inspection": self.inspection,
            "reporting": self.reporting,
        }
        report = health.check_all(amqp_uri(), proxies, self.workflows)
        return (200 if report["status"] == "ok" else 503), report

    @api("POST", "/api/login")
    def login(self, request):
        try:
            user, dept = identity.authenticate(self.db, read_json(request))
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
        return {"items": identity.list_divisions(self.db, self._actor(request))}

    @api("POST", "/api/divisions")
    def create_division(self, request):
        return 201, identity.create_division(self.db, self._actor(request), read_json(request))

    @api("GET", "/api/departments")
    def list_departments(self, request):
        return {"items": identity.list_departments(self.db, self._actor(request))}

    @api("POST", "/api/departments")
    def create_department(self, request):
        return 201, identity.create_department(self.db, self._actor(request), read_json(request))

    @api("GET", "/api/users")
    def list_users(self, request):
        return {"items": identity.list_users(self.db, self._actor(request))}

    @api("POST", "/api/users")
    def create_user(self, request):
        created = identity.create_user(self.db, self._actor(request), read_json(request))
        self.ctx.log.info("user_created", username=created["username"])
        return 201, created

    # -- registry ----------------------------------------------------------------------------------

    @api("POST", "/api/institutions")
    def register_institution(self, request):
        return 201, self.registry.register_institution(self._signed(request), read_json(request))

    @api("GET", "/api/institutions")
    def list_institutions(self, request):
        limit, offset = paging(_int_arg(request, "limit", 100), _int_arg(request, "offset", 0))
        return self.registry.list_institutions(self._signed(request), limit, offset)

    @api("GET", "/api/institutions/<int:institution_id>")
    def get_institution(self, request, institution_id):
        return self.registry.get_institution(self._signed(request), institution_id)

    @api("GET", "/api/institutions/<int:institution_id>/verification")
    def get_verification(self, request, institution_id):
        return self.workflows.get_licence_verification(self._signed(request), institution_id)

    @api("POST", "/api/institutions/<int:institution_id>/verification/decision")
    def decide_verification(self, request, institution_id):
        decision = read_json(request)
        actor = self._signed(request)
        return self.workflows.decide_licence_verification(actor, institution_id, decision)

    # -- other services ----------------------------------------------------------------------------

    @api("GET", "/api/escrow/institutions/<int:institution_id>/eligibility")
    def enrolment_eligibility(self, request, institution_id):
        return self.escrow.get_enrolment_eligibility(self._signed(request), institution_id)

    @api("GET", "/api/inspection/targets")
    def inspection_targets(self, request):
        return self.inspection.list_inspection_targets(self._signed(request))

    @api("GET", "/api/reports/institution-counts")
    def institution_counts(self, request):
        args = request.args
        return self.reporting.get_institution_counts(
            self._signed(request), args.get("division") or None, args.get("as_of") or None
        )


def _int_arg(request, name: str, default: int):
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed("应为整数", field=name) from None

