"""Gateway: the HTTP edge. Authenticates, signs the actor, forwards commands by RPC.

Every rule is enforced again by the service that owns the data; the gateway's own checks are
only for the identity store it holds.
"""
from __future__ import annotations

import base64
import uuid
from urllib.parse import quote

from pathlib import Path

from nameko.extensions import DependencyProvider
from services.common.rpc_timeouts import TimedRpcProxy as RpcProxy  # issue 8: every call has a deadline (504)
from werkzeug.wrappers import Response

from services.common.config import amqp_uri, deployment, load_secrets
from services.common.context import Context
from services.common.db import Database
from services.common.errors import NotAuthenticated, ValidationFailed
from services.common.bank_feed_wire import MAX_BATCH_ROWS, publish_batches, statement_chunk
from services.common.identity import ActorSigner
from services.common.policy import authorize
from services.common.service_kit import paging

from . import health, identity
from .api import api, json_response, read_json
from .api import read_body  # issue 3: bulk bodies (ledger import)
from .api import HttpServer, page_items, query_int  # issue 7: the API contract
from .api import text_route  # issue 8: /metrics (not in /openapi.json)
from services.common.metrics import ServiceMetrics, exposition
from .sessions import COOKIE_NAME, SessionTokens, token_from_request
from . import pages  # the pages mixin (not imported by name: nameko run would take it for a service)


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


class GatewayService(pages.PagesMixin):  # the pages (services/gateway/pages): /ui/…, /public/…
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

    @api("GET", "/openapi.json")
    def openapi_document(self, request):
        """The OpenAPI 3 document of every JSON route, built from this class (no login)."""
        from .openapi import document

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
        from . import audit_routes

        actor = self._actor(request)
        authorize(actor, "audit.verify")
        results = audit_routes.verify_all(self.db, actor, self.auth.signer.sign(actor), self._audit_proxies())
        return audit_routes.verify_status(results), {"items": results, "ok": all(r["ok"] for r in results)}

    @api("GET", "/api/audit")
    def list_audit(self, request):
        """?service=registry&entity=institution&entity_id=7&limit=&offset=: a record's trail, oldest first."""
        from . import audit_routes

        limit, offset = paging(_int_arg(request, "limit", 100), _int_arg(request, "offset", 0))
        args = request.args
        return audit_routes.list_one(self.db, self._actor(request), self.auth.signer, self._audit_proxies(),
                                     args.get("service"), args.get("entity") or None,
                                     args.get("entity_id") or None, limit, offset)

    def _audit_proxies(self) -> dict:
        return {"registry": self.registry, "escrow": self.escrow, "inspection": self.inspection,
                "reporting": self.reporting}

    # -- registry ----------------------------------------------------------------------------------

    @api("POST", "/api/institutions")
    def register_institution(self, request):
        actor, body = self._actor(request), read_json(request)
        self._known_township(actor, body.get("township_code"))
        return 201, self.registry.register_institution(self.auth.signer.sign(actor), body)

    def _known_township(self, actor, code) -> None:
        """A well-formed township code in the actor's division must name a township the county added
        (`division add`), as the ledger import requires; the registry checks the rest (format, scope)."""
        if isinstance(code, str) and len(code) == 9 and code.isdigit() and code.startswith(actor.division_code):
            if code not in {t["code"] for t in identity.township_directory(self.db, actor)}:
                raise ValidationFailed(f"乡镇代码 {code} 不是本县已登记的乡镇", field="township_code")

    @api("GET", "/api/institutions")
    def list_institutions(self, request):
        limit, offset = paging(_int_arg(request, "limit", 100), _int_arg(request, "offset", 0))
        args = request.args
        filters = {"township_code": args.get("township"), "category": args.get("category"),
                   "status": args.get("status"), "q": args.get("q")}
        filters = {k: v for k, v in filters.items() if v}
        return self.registry.list_institutions(self._signed(request), limit, offset, filters)

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

    # -- registry records: status, platform flags, staff, courses, schools (issue 3) -------------

    @api("GET", "/api/institutions/<int:institution_id>/history")
    def institution_history(self, request, institution_id):
        return self.registry.get_institution_history(self._signed(request), institution_id)

    @api("GET", "/api/institutions/<int:institution_id>/status")
    def institution_status_on(self, request, institution_id):
        """?on=YYYY-MM-DD: the status in force that day (today when absent)."""
        from services.common.workdays import today_shanghai

        day = request.args.get("on") or today_shanghai().isoformat()
        return self.registry.get_institution_status_on(self._signed(request), institution_id, day)

    @api("POST", "/api/institutions/<int:institution_id>/status")
    def change_institution_status(self, request, institution_id):
        return self.registry.change_institution_status(self._signed(request), institution_id, read_json(request))

    @api("PUT", "/api/institutions/<int:institution_id>/platform-registration")
    def update_platform_registration(self, request, institution_id):
        return self.registry.update_platform_registration(self._signed(request), institution_id,
                                                          read_json(request))

    @api("GET", "/api/institutions/<int:institution_id>/staff")
    def list_staff(self, request, institution_id):
        include_left = request.args.get("include_left") in ("1", "true", "yes")
        return page_items(request, self.registry.list_staff(self._signed(request), institution_id, include_left))

    @api("POST", "/api/institutions/<int:institution_id>/staff")
    def add_staff_member(self, request, institution_id):
        return 201, self.registry.add_staff_member(self._signed(request), institution_id, read_json(request))

    @api("POST", "/api/staff/<int:staff_id>/leaving")
    def record_staff_leaving(self, request, staff_id):
        return self.registry.record_staff_leaving(self._signed(request), staff_id, read_json(request))

    @api("GET", "/api/institutions/<int:institution_id>/courses")
    def list_courses(self, request, institution_id):
        return page_items(request, self.registry.list_courses(self._signed(request), institution_id))

    @api("POST", "/api/institutions/<int:institution_id>/courses")
    def publish_course(self, request, institution_id):
        return 201, self.registry.publish_course(self._signed(request), institution_id, read_json(request))

    @api("POST", "/api/courses/<int:course_id>/withdrawal")
    def withdraw_course(self, request, course_id):
        return self.registry.withdraw_course(self._signed(request), course_id)

    @api("GET", "/api/schools")
    def list_schools(self, request):
        limit, offset = paging(_int_arg(request, "limit", 100), _int_arg(request, "offset", 0))
        filters = {k: request.args.get(a) for k, a in (("township_code", "township"), ("zone", "zone"))
                   if request.args.get(a)}
        return self.registry.list_schools(self._signed(request), limit, offset, filters)

    @api("POST", "/api/schools")
    def register_school(self, request):
        return 201, self.registry.register_school(self._signed(request), read_json(request))

    @api("GET", "/api/schools/<int:school_id>")
    def get_school(self, request, school_id):
        return self.registry.get_school(self._signed(request), school_id)

    # -- ledger (台账) import: create → rows (chunks) → commit, or one file upload ------------------

    @api("POST", "/api/registry/imports")
    def create_import(self, request):
        result = self.registry.create_import(self._signed(request), read_json(request))
        return _import_answer(result, created=True)

    @api("GET", "/api/registry/imports/<string:batch_id>")
    def get_import(self, request, batch_id):
        return self.registry.get_import(self._signed(request), batch_id)

    @api("POST", "/api/registry/imports/<string:batch_id>/rows")
    def add_import_rows(self, request, batch_id):
        body = read_json(request, max_bytes=MAX_IMPORT_BYTES)
        rows = body.get("rows") if isinstance(body, dict) else None
        return self.registry.add_import_rows(self._signed(request), batch_id, rows)

    @api("POST", "/api/registry/imports/<string:batch_id>/commit")
    def commit_import(self, request, batch_id):
        actor = self._actor(request)
        townships = identity.township_directory(self.db, actor)
        result = self.registry.commit_import(self.auth.signer.sign(actor), batch_id, townships)
        self.ctx.log.info("ledger_import", batch_id=batch_id, state=result["state"], created=result["created"],
                          updated=result["updated"], unchanged=result["unchanged"], errors=result["error_total"])
        return _import_answer(result)

    @api("POST", "/api/registry/imports/file")
    def import_ledger_file(self, request):
        """The whole import in one request: the body is the .csv/.xlsx file, `?name=` its file name.
        The registry parses it (the ledger's format is the registry's business)."""
        content = read_body(request, max_bytes=MAX_IMPORT_BYTES)
        actor = self._actor(request)
        result = self.registry.import_ledger_file(
            self.auth.signer.sign(actor), request.args.get("name") or "",
            base64.b64encode(content).decode("ascii"), identity.township_directory(self.db, actor),
        )
        return _import_answer(result)

    # -- bank statements (对账单) into the bank feed (issue 4): chunks published as feed batches ----

    @api("POST", "/api/escrow/statements")
    def create_statement(self, request):
        """A statement id for an upload; chunk n becomes feed batch `stmt-<id>-<n>` (retries are idempotent)."""
        authorize(self._actor(request), "escrow.import_statement")
        return 201, {"statement_id": uuid.uuid4().hex, "chunk_rows": MAX_BATCH_ROWS}

    @api("POST", "/api/escrow/statements/<string:statement_id>/chunks/<int:chunk>")
    def add_statement_chunk(self, request, statement_id, chunk):
        """Body {bank_code, transactions: [...]} (the feed's wire format, rows numbered). 202: queued;
        the bank feed checks and books it — GET the statement for the outcome."""
        actor = self._actor(request)
        authorize(actor, "escrow.import_statement")
        batch_id, body = statement_chunk(statement_id, chunk, read_json(request, max_bytes=MAX_IMPORT_BYTES),
                                         self.auth.signer.sign(actor))
        publish_batches(amqp_uri(), [body], headers={"nameko.correlation_id": self.ctx.correlation_id})
        return 202, {"batch_id": batch_id, "queued": True}

    @api("GET", "/api/escrow/statements/<string:statement_id>")
    def get_statement(self, request, statement_id):
        return self.escrow_feed.get_statement(self._signed(request), statement_id)

    @api("GET", "/api/escrow/feed/batches/<string:batch_id>")
    def get_feed_batch(self, request, batch_id):
        return self.escrow_feed.get_batch(self._signed(request), batch_id)

    # -- other services ----------------------------------------------------------------------------

    @api("GET", "/api/escrow/institutions/<int:institution_id>/eligibility")
    def enrolment_eligibility(self, request, institution_id):
        return self.escrow.get_enrolment_eligibility(self._signed(request), institution_id)

    @api("GET", "/api/inspection/targets")
    def inspection_targets(self, request):
        return page_items(request, self.inspection.list_inspection_targets(self._signed(request)))

    @api("GET", "/api/reports/institution-counts")
    def institution_counts(self, request):
        args = request.args
        return self.reporting.get_institution_counts(
            self._signed(request), args.get("division") or None, args.get("as_of") or None
        )

    # -- 营转非 / 注销 cases, inbox and county settings ---------------------------------------------

    @api("GET", "/api/inbox")
    def inbox(self, request):
        return page_items(request, self.registry.list_inbox(self._signed(request)))

    @api("POST", "/api/institutions/<int:institution_id>/conversion")
    def apply_for_conversion(self, request, institution_id):
        return 201, self.registry.apply_for_conversion(self._signed(request), institution_id)

    @api("POST", "/api/institutions/<int:institution_id>/deregistration")
    def apply_for_deregistration(self, request, institution_id):
        return 201, self.registry.apply_for_deregistration(self._signed(request), institution_id, read_json(request))

    @api("GET", "/api/institutions/<int:institution_id>/cases/<string:process>")
    def get_case(self, request, institution_id, process):
        return self.registry.get_case(self._signed(request), process, institution_id)

    @api("GET", "/api/cases/<string:workflow_id>")
    def get_case_state(self, request, workflow_id):
        return self.workflows.get_case_state(self._signed(request), workflow_id)

    @api("POST", "/api/cases/<string:workflow_id>/decision")
    def decide_case(self, request, workflow_id):
        return self.workflows.decide_case(self._signed(request), workflow_id, read_json(request))

    # case attachments (issue 7): `case_id` is the registry's id — the case's `case_id`, also the last
    # part of its workflow id (`conversion-<institution>-<case>`)

    @api("POST", "/api/cases/<int:case_id>/attachments")
    def add_case_attachment(self, request, case_id):
        """The file itself as the body (PDF/JPEG/PNG, ≤ 10 MB; ?filename=&step=); the registry checks it."""
        content = read_body(request, max_bytes=MAX_ATTACHMENT_BYTES + 1)
        return 201, self.registry.add_case_attachment(
            self._signed(request), case_id,
            {"content_b64": base64.b64encode(content).decode("ascii"), "filename": request.args.get("filename"),
             "step_key": request.args.get("step") or None})

    @api("GET", "/api/cases/<int:case_id>/attachments")
    def list_case_attachments(self, request, case_id):
        return self.registry.list_case_attachments(self._signed(request), case_id)

    @api("GET", "/api/cases/attachments/<int:attachment_id>")
    def download_case_attachment(self, request, attachment_id):
        """The attached file (Content-Disposition: attachment), checked against its SHA-256."""
        answer = self.registry.get_case_attachment(self._signed(request), attachment_id)
        return Response(base64.b64decode(answer["content_b64"]), mimetype=answer["content_type"],
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(answer['filename'])}",
                                 "X-Content-SHA256": answer["sha256"], "X-Content-Type-Options": "nosniff"})

    @api("GET", "/api/settings/county")
    def get_county_settings(self, request):
        return self.registry.get_county_settings(self._signed(request), request.args.get("county") or None)

    @api("PUT", "/api/settings/county")
    def set_county_settings(self, request):
        return self.registry.set_county_settings(
            self._signed(request), request.args.get("county") or None, read_json(request)
        )

    @api("GET", "/api/escrow/institutions/<int:institution_id>/charge-check")
    def check_new_charge(self, request, institution_id):
        return self.escrow.check_new_charge(self._signed(request), institution_id)

    # -- 预收费资金监管 (issue 4): accounts, fee items, contracts, lessons, refunds, alerts ----------

    @api("GET", "/api/escrow/settings")
    def get_escrow_settings(self, request):
        return self.escrow.get_escrow_settings(self._signed(request), request.args.get("county") or None)

    @api("PUT", "/api/escrow/settings")
    def set_escrow_settings(self, request):
        return self.escrow.set_escrow_settings(self._signed(request), request.args.get("county") or None,
                                               read_json(request))

    @api("GET", "/api/escrow/accounts")
    def list_escrow_accounts(self, request):
        args = request.args
        return page_items(request, self.escrow.list_accounts(self._signed(request), _int_arg(request, "institution", None),
                                         args.get("status") or None))

    @api("POST", "/api/escrow/accounts")
    def open_escrow_account(self, request):
        return 201, self.escrow.open_account(self._signed(request), read_json(request))

    @api("GET", "/api/escrow/accounts/<int:account_id>")
    def get_escrow_account(self, request, account_id):
        """The account with its balance as booked by the bank and its history (开户、变更、销户)."""
        return self.escrow.get_account(self._signed(request), account_id)

    @api("GET", "/api/escrow/accounts/<int:account_id>/history")
    def escrow_account_history(self, request, account_id):
        return {"items": self.escrow.get_account(self._signed(request), account_id)["history"]}

    @api("POST", "/api/escrow/accounts/<int:account_id>/changes")
    def change_escrow_account(self, request, account_id):
        return self.escrow.change_account(self._signed(request), account_id, read_json(request))

    @api("POST", "/api/escrow/accounts/<int:account_id>/closure")
    def close_escrow_account(self, request, account_id):
        return self.escrow.close_account(self._signed(request), account_id, read_json(request))

    @api("GET", "/api/escrow/institutions/<int:institution_id>/fee-items")
    def list_fee_items(self, request, institution_id):
        return page_items(request, self.escrow.list_fee_items(self._signed(request), institution_id))

    @api("POST", "/api/escrow/institutions/<int:institution_id>/fee-items")
    def create_fee_item(self, request, institution_id):
        body = read_json(request)
        if isinstance(body, dict):
            body = {**body, "institution_id": institution_id}
        return 201, self.escrow.create_fee_item(self._signed(request), body)

    @api("POST", "/api/escrow/fee-items/<int:fee_item_id>/publication")
    def publish_fee_item(self, request, fee_item_id):
        return self.escrow.publish_fee_item(self._signed(request), fee_item_id)

    @api("POST", "/api/escrow/fee-items/<int:fee_item_id>/withdrawal")
    def withdraw_fee_item(self, request, fee_item_id):
        return self.escrow.withdraw_fee_item(self._signed(request), fee_item_id)

    @api("GET", "/api/escrow/contracts")
    def list_contracts(self, request):
        limit, offset = paging(_int_arg(request, "limit", 100), _int_arg(request, "offset", 0))
        return self.escrow.list_contracts(self._signed(request), limit, offset,
                                          _int_arg(request, "institution", None), request.args.get("status") or None)

    @api("POST", "/api/escrow/contracts")
    def sign_contract(self, request):
        """The charge: 201 with the contract, or the refusal's reason (400/409) and nothing stored."""
        return 201, self.escrow.sign_contract(self._signed(request), read_json(request))

    @api("GET", "/api/escrow/contracts/<int:contract_id>")
    def get_contract(self, request, contract_id):
        return self.escrow.get_contract(self._signed(request), contract_id)

    @api("POST", "/api/escrow/contracts/<int:contract_id>/lessons")
    def deliver_lesson(self, request, contract_id):
        return 201, self.escrow.deliver_lesson(self._signed(request), contract_id, read_json(request))

    @api("POST", "/api/escrow/contracts/<int:contract_id>/lessons/<int:lesson_no>/confirmation")
    def confirm_lesson(self, request, contract_id, lesson_no):
        return self.escrow.confirm_lesson(self._signed(request), contract_id, lesson_no)

    @api("POST", "/api/escrow/contracts/<int:contract_id>/refunds")
    def request_refund(self, request, contract_id):
        return 201, self.escrow.request_refund(self._signed(request), contract_id, read_json(request))

    @api("GET", "/api/escrow/refunds")
    def list_refunds(self, request):
        return page_items(request, self.escrow.list_refunds(self._signed(request), _int_arg(request, "institution", None),
                                        request.args.get("status") or None))

    @api("POST", "/api/escrow/refunds/<int:refund_id>/answer")
    def answer_refund(self, request, refund_id):
        return self.escrow.answer_refund(self._signed(request), refund_id, read_json(request))

    @api("POST", "/api/escrow/refunds/<int:refund_id>/payment")
    def record_refund_paid(self, request, refund_id):
        return self.escrow.record_refund_paid(self._signed(request), refund_id)

    @api("GET", "/api/escrow/institutions/<int:institution_id>/position")
    def escrow_position(self, request, institution_id):
        """Liability (未消课预收费), supervised balance, guarantee, releasable — integer fen."""
        return self.escrow.get_position(self._signed(request), institution_id)

    @api("GET", "/api/escrow/alerts")
    def list_escrow_alerts(self, request):
        limit, offset = paging(_int_arg(request, "limit", 100), _int_arg(request, "offset", 0))
        args = request.args
        filters = {"institution_id": args.get("institution"), "kind": args.get("kind"),
                   "status": args.get("status"), "township_code": args.get("township")}
        filters = {k: v for k, v in filters.items() if v}
        return self.escrow.list_alerts(self._signed(request), limit, offset, filters)

    @api("GET", "/api/escrow/alerts/<int:alert_id>")
    def get_escrow_alert(self, request, alert_id):
        return self.escrow.get_alert(self._signed(request), alert_id)

    @api("POST", "/api/escrow/alerts/<int:alert_id>/closure")
    def close_escrow_alert(self, request, alert_id):
        return self.escrow.close_alert(self._signed(request), alert_id, read_json(request))

    @api("POST", "/api/escrow/alerts/scan")
    def scan_escrow_alerts(self, request):
        """Run the time-based rules now (the platform runs them daily): ?division= (default: yours)."""
        actor = self._actor(request)
        return self.escrow.scan_alerts(self.auth.signer.sign(actor), request.args.get("division") or actor.division_code)

    @api("GET", "/api/inspection/leads")
    def inspection_leads(self, request):
        return page_items(request, self.inspection.list_leads(self._signed(request), request.args.get("status") or None))

    @api("POST", "/api/inspection/leads/<int:lead_id>/close")
    def close_inspection_lead(self, request, lead_id):
        return self.inspection.close_lead(self._signed(request), lead_id, read_json(request))

    # -- school supervision (督导: zones, visits, homework, 一校一案; issue 5 part 6) ----------------

    @api("GET", "/api/supervision/schools")
    def supervision_schools(self, request):
        return page_items(request, self.inspection.list_supervised_schools(self._signed(request), request.args.get("zone") or None))

    @api("GET", "/api/supervision/zones")
    def supervision_zones(self, request):
        return page_items(request, self.inspection.list_supervision_zones(self._signed(request)))

    @api("PUT", "/api/supervision/zones")
    def set_supervision_zone(self, request):
        return self.inspection.set_supervision_zone(self._signed(request), read_json(request))

    @api("POST", "/api/supervision/visits")
    def record_school_visit(self, request):
        return 201, self.inspection.record_school_visit(self._signed(request), read_json(request))

    @api("GET", "/api/supervision/visits")
    def list_school_visits(self, request):
        school = request.args.get("school")
        return page_items(request, self.inspection.list_school_visits(self._signed(request), request.args.get("month") or None,
                                                  _int_arg(request, "school", 0) if school else None))

    @api("GET", "/api/supervision/coverage")
    def supervision_coverage(self, request):
        month = request.args.get("month")
        if not month:
            raise ValidationFailed("请指定月份 YYYY-MM", field="month")
        return self.inspection.supervision_coverage(self._signed(request), month,
                                                    request.args.get("division") or None)

    @api("POST", "/api/supervision/homework")
    def publish_homework(self, request):
        return 201, self.inspection.publish_homework(self._signed(request), read_json(request))

    @api("GET", "/api/supervision/schools/<int:school_id>/homework")
    def list_homework(self, request, school_id):
        return self.inspection.list_homework(self._signed(request), school_id, request.args.get("from") or None,
                                             request.args.get("to") or None)

    @api("POST", "/api/supervision/homework-checks")
    def check_homework(self, request):
        return self.inspection.check_homework(self._signed(request), read_json(request))

    @api("POST", "/api/supervision/after-school-plans")
    def file_after_school_plan(self, request):
        return 201, self.inspection.file_after_school_plan(self._signed(request), read_json(request))

    @api("PUT", "/api/supervision/after-school-figures")
    def record_after_school_figures(self, request):
        return self.inspection.record_after_school_figures(self._signed(request), read_json(request))

    @api("GET", "/api/supervision/after-school")
    def after_school_report(self, request):
        year = request.args.get("school_year")
        return self.inspection.after_school_report(self._signed(request),
                                                   _int_arg(request, "school_year", 0) if year else None,
                                                   request.args.get("as_of") or None)

    @api("GET", "/api/supervision/settings")
    def get_supervision_settings(self, request):
        return self.inspection.get_supervision_settings(self._signed(request), request.args.get("county") or None)

    @api("PUT", "/api/supervision/settings")
    def set_supervision_settings(self, request):
        return self.inspection.set_supervision_settings(self._signed(request), request.args.get("county") or None,
                                                        read_json(request))

    @api("GET", "/api/reports/escrow-summary")
    def escrow_summary(self, request):
        args = request.args
        return self.reporting.get_escrow_summary(
            self._signed(request), args.get("division") or None, args.get("as_of") or None
        )


    # -- reports (issue 6): 半月报 / 周报 as JSON or files, cycles, frozen submissions, charts ------

    @staticmethod
    def _report_file(answer: dict) -> Response:
        disposition = f"attachment; filename*=UTF-8''{quote(answer['filename'])}"
        return Response(base64.b64decode(answer["content_b64"]), mimetype=answer["content_type"].split(";")[0],
                        headers={"Content-Disposition": disposition})

    def _report(self, request, kind: str):
        args = request.args
        division, as_of, file_format = args.get("division") or None, args.get("as_of") or None, args.get("format")
        if file_format in (None, "", "json"):
            return self.reporting.get_report(self._signed(request), kind, division, as_of)
        name = identity.division_name(self.db, division or self._actor(request).division_code)
        return self._report_file(self.reporting.export_report(
            self._signed(request), kind, division, as_of, file_format, name))

    @api("GET", "/api/reports/half-monthly")
    def half_monthly_report(self, request):
        return self._report(request, "half_monthly")

    @api("GET", "/api/reports/weekly")
    def weekly_report(self, request):
        return self._report(request, "weekly")

    @api("GET", "/api/reports/cycles")
    def list_report_cycles(self, request):
        return page_items(request, self.reporting.list_reports(self._signed(request), request.args.get("division") or None,
                                           request.args.get("kind") or None))

    @api("GET", "/api/reports/cycles/<int:cycle_id>/submissions")
    def list_report_submissions(self, request, cycle_id):
        return page_items(request, self.reporting.list_report_submissions(self._signed(request), cycle_id))

    @api("POST", "/api/reports/submissions")
    def submit_report(self, request):
        body = read_json(request)
        if not isinstance(body, dict):
            raise ValidationFailed("请求体应为 JSON 对象", field="body")
        return 201, self.reporting.submit_report(self._signed(request), body.get("kind"), body.get("division"),
                                                 body.get("as_of"), body.get("note"))

    @api("GET", "/api/reports/submissions/<int:submission_id>")
    def get_report_submission(self, request, submission_id):
        file_format = request.args.get("format")
        if file_format in (None, "", "json"):
            return self.reporting.get_report_submission(self._signed(request), submission_id)
        answer = self.reporting.export_report(self._signed(request), None, None, None, file_format,
                                              None, submission_id)
        return self._report_file(answer)

    @api("GET", "/api/reports/charts")
    def report_charts(self, request):
        args = request.args
        return self.reporting.get_chart_data(self._signed(request), args.get("division") or None,
                                             args.get("from") or None, args.get("to") or None)

    # -- complaints (举报, issue 5 part 5): a public form without login, and the officials' desk ------

    def _public_actor(self) -> str:
        """The public form acts as the platform for the county this gateway serves."""
        from services.common.identity import system_actor

        return self.auth.signer.sign(system_actor(deployment().root_code, name="public_complaints"))

    def _rate_limited(self, request, buckets):
        from . import ratelimit

        wait = buckets.take(request.remote_addr or "unknown")
        if not wait:
            return None
        seconds = ratelimit.retry_after(wait)
        self.ctx.log.warning("public_rate_limited", client=request.remote_addr, retry_after=seconds)
        error = {"code": "rate_limited", "message": f"提交过于频繁，请{seconds}秒后再试", "field": None}
        return json_response({"error": error}, 429, headers={"Retry-After": str(seconds)})

    @api("POST", "/api/public/complaints")
    def submit_public_complaint(self, request):
        """No login. {content, institution_name | institution_id, township_code, contact_phone} → 201
        {receipt_no, status}. Rate-limited per client IP (429 with Retry-After)."""
        from . import ratelimit

        limited = self._rate_limited(request, ratelimit.public_submissions)
        if limited is not None:
            return limited
        return 201, self.inspection.submit_public_complaint(self._public_actor(), read_json(request))

    @api("GET", "/api/public/complaints/<string:receipt_no>")
    def public_complaint_status(self, request, receipt_no):
        """No login: status and the official reply only."""
        from . import ratelimit

        limited = self._rate_limited(request, ratelimit.public_lookups)
        if limited is not None:
            return limited
        return self.inspection.get_public_complaint_status(self._public_actor(), receipt_no)

    @api("GET", "/api/complaints")
    def list_complaints(self, request):
        """?status=&department=&township=&channel=&overdue=true|false&as_of=&limit=&offset="""
        limit, offset = paging(_int_arg(request, "limit", 100), _int_arg(request, "offset", 0))
        args = request.args
        filters = {k: args.get(k) for k in ("status", "department", "township", "channel", "overdue", "as_of")}
        filters = {k: v for k, v in filters.items() if v}
        return self.inspection.list_complaints(self._signed(request), filters, limit, offset)

    @api("GET", "/api/complaints/<int:complaint_id>")
    def get_complaint(self, request, complaint_id):
        return self.inspection.get_complaint(self._signed(request), complaint_id)

    @api("POST", "/api/complaints/<int:complaint_id>/triage")
    def triage_complaint(self, request, complaint_id):
        return self.inspection.triage_complaint(self._signed(request), complaint_id, read_json(request))

    @api("POST", "/api/complaints/<int:complaint_id>/assignment")
    def assign_complaint(self, request, complaint_id):
        return self.inspection.assign_complaint(self._signed(request), complaint_id, read_json(request))

    @api("POST", "/api/complaints/<int:complaint_id>/reply")
    def reply_complaint(self, request, complaint_id):
        return self.inspection.reply_complaint(self._signed(request), complaint_id, read_json(request))

    @api("POST", "/api/complaints/<int:complaint_id>/closure")
    def close_complaint(self, request, complaint_id):
        return self.inspection.close_complaint(self._signed(request), complaint_id, read_json(request))

    @api("POST", "/api/complaints/imports/file")
    def import_complaints_file(self, request):
        """The 互联网+教育督导 export (.csv, UTF-8 or GBK) as the body: all rows or none (422)."""
        content = read_body(request, max_bytes=MAX_IMPORT_BYTES)
        actor = self._actor(request)
        result = self.inspection.import_complaints_csv(
            self.auth.signer.sign(actor), base64.b64encode(content).decode("ascii"),
            identity.township_directory(self.db, actor))
        return _import_answer(result)

    @api("POST", "/api/complaints/overdue-scan")
    def flag_overdue_complaints(self, request):
        """Mark and announce newly overdue complaints now (?as_of= ISO time)."""
        return self.inspection.flag_overdue_complaints(self._signed(request), request.args.get("as_of") or None)

    @api("GET", "/api/complaints/settings")
    def get_complaint_settings(self, request):
        return self.inspection.get_complaint_settings(self._signed(request), request.args.get("county") or None)

    @api("PUT", "/api/complaints/settings")
    def set_complaint_settings(self, request):
        return self.inspection.set_complaint_settings(self._signed(request), read_json(request))

    # -- campaigns, inspection records, orders (issue 5 parts 1–3) ----------------------------------

    @api("POST", "/api/inspection/campaigns")
    def create_inspection_campaign(self, request):
        return 201, self.inspection.create_campaign(self._signed(request), read_json(request))

    @api("GET", "/api/inspection/campaigns")
    def list_inspection_campaigns(self, request):
        return page_items(request, self.inspection.list_campaigns(self._signed(request)))

    @api("GET", "/api/inspection/campaigns/<int:campaign_id>")
    def get_inspection_campaign(self, request, campaign_id):
        return self.inspection.get_campaign(self._signed(request), campaign_id)

    @api("GET", "/api/inspection/campaigns/<int:campaign_id>/coverage")
    def inspection_campaign_coverage(self, request, campaign_id):
        return self.inspection.campaign_coverage(self._signed(request), campaign_id)

    @api("GET", "/api/inspection/campaigns/<int:campaign_id>/draw-check")
    def reproduce_inspection_draw(self, request, campaign_id):
        return self.inspection.reproduce_draw(self._signed(request), campaign_id)

    @api("POST", "/api/inspection/records")
    def record_inspection(self, request):
        return 201, self.inspection.record_inspection(self._signed(request), read_json(request))

    @api("GET", "/api/inspection/records")
    def list_inspection_records(self, request):
        campaign, institution = request.args.get("campaign"), request.args.get("institution")
        return self.inspection.list_inspection_records(
            self._signed(request), _int_arg(request, "campaign", 0) if campaign else None,
            _int_arg(request, "institution", 0) if institution else None,
            _int_arg(request, "limit", 100), _int_arg(request, "offset", 0))

    @api("GET", "/api/inspection/records/<int:record_id>")
    def get_inspection_record(self, request, record_id):
        return self.inspection.get_inspection_record(self._signed(request), record_id)

    @api("POST", "/api/inspection/records/<int:record_id>/evidence")
    def add_inspection_evidence(self, request, record_id):
        """The file itself as the body (JPEG/PNG/PDF, ≤ 5 MB; ?filename=); the service checks it."""
        content = read_body(request, max_bytes=(5 << 20) + 1)
        return 201, self.inspection.add_evidence(
            self._signed(request), record_id,
            {"content_b64": base64.b64encode(content).decode("ascii"), "filename": request.args.get("filename")})

    @api("GET", "/api/inspection/orders")
    def list_inspection_orders(self, request):
        return self.inspection.list_orders(self._signed(request), request.args.get("status") or None,
                                           _int_arg(request, "limit", 100), _int_arg(request, "offset", 0))

    @api("GET", "/api/inspection/orders/<int:order_id>")
    def get_inspection_order(self, request, order_id):
        return self.inspection.get_order(self._signed(request), order_id)

    @api("POST", "/api/inspection/orders/<int:order_id>/reinspection")
    def record_reinspection(self, request, order_id):
        return 201, self.inspection.record_reinspection(self._signed(request), order_id, read_json(request))

MAX_ATTACHMENT_BYTES = 10 << 20  # case attachments; the registry refuses more with a clear error (+1 here)
MAX_IMPORT_BYTES = 16 << 20  # ledger rows and files only; every other route keeps api.MAX_BODY_BYTES
IMPORT_CHUNK_ROWS = 1000


def _import_answer(result: dict, created: bool = False):
    """A rejected import is 422 with the one error shape plus every (row, column, reason)."""
    if result.get("state") == "rejected":
        error = {"code": "import_rejected", "message": result["message"], "field": None}
        return 422, {"error": error, **result}
    return (201 if created else 200), result


def _int_arg(request, name: str, default: int):
    return query_int(request, name, default)  # 0…2³¹−1, else 400 naming the parameter

