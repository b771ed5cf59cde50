"""Server-rendered pages of the gateway: one mixin GatewayService inherits (nameko collects the
entrypoints of base classes too: `inspect.getmembers` on the service class).

Pages render from the same RPC calls as the JSON API, with the same signed actor, so every rule is
still the owning service's. `/ui/…` needs a login (the `sj_session` cookie); `/public/…` does not.
Forms that change state carry the CSRF token (sessions.csrf_token_for; before login a
double-submit cookie); the JSON API checks the same token in `X-CSRF-Token` for cookie sessions.
"""
from __future__ import annotations

import base64
import json
from datetime import date, timedelta

from services.common.config import deployment
from services.common.errors import DomainError, Forbidden, NotAuthenticated, ValidationFailed
from services.common.identity import DEPARTMENT_NAMES, DepartmentKind, Role, system_actor
from services.common.policy import can
from services.common.processes import PROCESS_NAMES

from .. import identity, ratelimit
from ..api import api, read_body
from ..sessions import COOKIE_NAME, CsrfRefused, csrf_token_for
from . import web
from .web import error_page, page, redirect, render

K = DepartmentKind
CHECKLIST = None  # filled lazily from services.inspection.campaign_rules (labels of the 12 items)

PUBLIC_FIELDS = ("name", "licence_no", "township_code", "category_name", "status_name")
PUBLIC_STATUSES = {
    "operating": "白名单（正常营业）",
    "paused": "暂停营业",
    "suspended_for_rectification": "停业整顿",
    "deregistering": "注销中",
    "deregistered": "已注销",
}


class TooManyAttempts(DomainError):
    code = "rate_limited"
    http_status = 429


def _checklist() -> dict:
    global CHECKLIST
    if CHECKLIST is None:
        from services.common.checklist import CHECKLIST as items

        CHECKLIST = dict(items)
    return CHECKLIST


def attempt(call, *args):
    """A page section's data, or None when the user may not see it (the page shows the rest)."""
    try:
        return call(*args)
    except DomainError:
        return None


def case_id_of(workflow_id: str) -> int | None:
    """The registry's case id: the last part of a case's workflow id (`conversion-<institution>-<case>`)."""
    tail = str(workflow_id).rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _form_int(form, name: str, label: str) -> int:
    try:
        return int(form.get(name, ""))
    except ValueError:
        raise ValidationFailed(f"{label}应为整数", field=name) from None


class PagesMixin:
    """Pages (HTML) and the few JSON routes they need; mixed into GatewayService."""

    # -- session, CSRF, login throttling ------------------------------------------------------------

    def _page_actor(self, request):
        token = request.cookies.get(COOKIE_NAME)
        if not token:
            raise NotAuthenticated("请先登录")
        uid, issued = self.auth.tokens.read_with_time(token)
        user, dept = identity.load_user(self.db, uid)
        actor = identity.actor_for(user, dept)
        expires = issued + timedelta(seconds=self.auth.tokens.max_age)
        return actor, csrf_token_for(token), expires

    def _page_post(self, request):
        """The actor of a state-changing form post: the session's CSRF token must come with it."""
        actor, csrf, expires = self._page_actor(request)
        if not web.check_session_csrf(request):
            raise CsrfRefused("请求缺少有效的 CSRF 令牌，请刷新页面后重试")
        return actor

    def _render(self, request, template, status=200, **context):
        actor, csrf, expires = self._page_actor(request)
        return render(template, status=status, actor=actor, csrf=csrf, nav=web.nav_for(actor),
                      session_expires=expires.isoformat(), ok=request.args.get("ok"), path=request.path,
                      **context)

    def _authenticate(self, request, body):
        """identity.authenticate with throttling: after 5 failures for a username from one client
        within 15 minutes, 429 (TooManyAttempts) without checking the password."""
        username = body.get("username") if isinstance(body, dict) else None
        client = request.remote_addr
        wait = ratelimit.login_wait(username, client)
        if wait:
            self.ctx.log.warning("login_throttled", user=username, client=client, retry_after=wait)
            raise TooManyAttempts(ratelimit.login_throttled_message(wait))
        try:
            user, dept = identity.authenticate(self.db, body)
        except NotAuthenticated:
            ratelimit.login_failed(username, client)
            raise
        ratelimit.login_succeeded(username, client)
        return user, dept

    def _townships(self, actor) -> dict:
        return {t["code"]: t["name"] for t in identity.township_directory(self.db, actor)}

    # -- static files and the login -----------------------------------------------------------------

    @page("GET", "/static/<path:filename>")
    def page_static(self, request, filename):
        return web.static_file(filename)

    @page("GET", "/")
    def page_root(self, request):
        return redirect("/ui/")

    @page("GET", "/ui/login")
    def page_login(self, request, error=None, status=200, username=""):
        token, new = web.pre_csrf(request)
        nxt = request.args.get("next") or request.form.get("next") or "/ui/"
        response = render("login.html", status=status, title="登录", pre_csrf=token, error=error,
                          why=request.args.get("why"), next=nxt if nxt.startswith("/ui/") else "/ui/",
                          username=username, actor=None, nav=[])
        return web.set_pre_csrf(response, token) if new else response

    @page("POST", "/ui/login")
    def page_login_post(self, request):
        if not web.check_pre_csrf(request):
            return self.page_login(request, error="页面已过期或缺少安全令牌，请重新提交", status=403)
        form = request.form
        try:
            user, dept = self._authenticate(request, {"username": form.get("username", ""),
                                                      "password": form.get("password", "")})
        except (TooManyAttempts, NotAuthenticated, ValidationFailed) as exc:
            status = exc.http_status
            return self.page_login(request, error=exc.message, status=status, username=form.get("username", ""))
        token = self.auth.tokens.issue(user.id)
        self.ctx.log.info("login", user=user.username, department=dept.kind, via="page")
        nxt = form.get("next") or "/ui/"
        response = redirect(nxt if nxt.startswith("/ui/") else "/ui/")
        response.set_cookie(COOKIE_NAME, token, max_age=self.auth.tokens.max_age, httponly=True,
                            samesite="Strict", path="/")
        return response

    @page("POST", "/ui/logout")
    def page_logout(self, request):
        self._page_post(request)
        response = redirect("/ui/login?" + "why=" + "已退出登录")
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    # -- home: the department's inbox ---------------------------------------------------------------

    @page("GET", "/ui/")
    def page_home(self, request):
        actor, _, _ = self._page_actor(request)
        inbox = self.registry.list_inbox(self._signed(request))["items"]
        extra = {}
        if actor.department_kind in (K.education, K.supervision_office, K.market_regulation):
            try:
                extra["complaints"] = self.inspection.list_complaints(self._signed(request), {}, 10, 0)
            except DomainError:
                pass
        return self._render(request, "home.html", title=web.HOME_TITLES.get(actor.department_kind, "工作台"),
                            inbox=inbox, townships=self._townships(actor), **extra)

    # -- 营转非 / 注销 cases ---------------------------------------------------------------------------

    def _case_for_page(self, request, workflow_id):
        actor, _, _ = self._page_actor(request)
        state = self.workflows.get_case_state(self._signed(request), workflow_id)
        step = state.get("current_step")
        mine = bool(step) and step.get("department") == actor.department_kind.value
        involved = {s.get("department") for s in state.get("steps", [])}
        if not mine and actor.department_kind is not K.education:
            if step:
                owner = DEPARTMENT_NAMES.get(K(step["department"]), step["department"]) \
                    if step["department"] in K._value2member_map_ else step["department"]
                raise Forbidden(f"该办件当前步骤由{owner}办理，{actor.department_label}无权查看或办理")
            if actor.department_kind.value not in involved:
                raise Forbidden("您的部门未参与该办件，无权查看")
        return actor, state, mine

    def _case_page(self, request, workflow_id, error=None, status=200, form=None):
        actor, state, mine = self._case_for_page(request, workflow_id)
        earlier = [s for s in state.get("steps", [])[: state.get("current", 0)] if s.get("kind") == "decision"]
        can_decide = mine and actor.has_role(Role.leader)
        case_id = case_id_of(workflow_id)  # the registry's case: its attachments (issue 7)
        try:
            attachments = self.registry.list_case_attachments(self._signed(request), case_id)["items"] \
                if case_id is not None else []
        except Exception:  # noqa: BLE001 — the registry refusing or not answering: the page shows the case without them
            attachments = None
        involved = {s.get("department") for s in state.get("steps", [])} | {K.education.value}
        can_attach = attachments is not None and case_id is not None and actor.department_kind.value in involved \
            and can(actor, "registry.attach_case_document")
        return self._render(request, "case.html", status=status, title=f"{PROCESS_NAMES.get(state['process'], '')}办件",
                            state=state, mine=mine, can_decide=can_decide, earlier=earlier, error=error,
                            form=form or {}, process_name=PROCESS_NAMES.get(state["process"], state["process"]),
                            case_id=case_id, attachments=attachments, can_attach=can_attach)

    @page("GET", "/ui/cases/<string:workflow_id>")
    def page_case(self, request, workflow_id):
        return self._case_page(request, workflow_id)

    @page("POST", "/ui/cases/<string:workflow_id>/decision")
    def page_case_decision(self, request, workflow_id):
        self._page_post(request)
        self._case_for_page(request, workflow_id)
        form = request.form
        decision = {"action": form.get("action") or None, "reason": form.get("reason") or None,
                    "return_to": form.get("return_to") or None, "note": form.get("note") or None}
        try:
            self.workflows.decide_case(self._signed(request), workflow_id, decision)
        except DomainError as exc:
            return self._case_page(request, workflow_id, error=exc.message, status=exc.http_status, form=form)
        # back to the inbox: the case's next step usually belongs to another department
        return redirect("/ui/", f"已提交决定（办件 {workflow_id}）")

    @page("POST", "/ui/institutions/<int:institution_id>/conversion")
    def page_open_conversion(self, request, institution_id):
        self._page_post(request)
        try:
            case = self.registry.apply_for_conversion(self._signed(request), institution_id)
        except DomainError as exc:
            return self._institution_page(request, institution_id, error=exc.message, status=exc.http_status)
        return redirect(f"/ui/institutions/{institution_id}", f"已受理营转非申请（办件 {case['workflow_id']}）")

    @page("POST", "/ui/institutions/<int:institution_id>/deregistration")
    def page_open_deregistration(self, request, institution_id):
        self._page_post(request)
        try:
            case = self.registry.apply_for_deregistration(self._signed(request), institution_id,
                                                          {"reason": request.form.get("reason", "")})
        except DomainError as exc:
            return self._institution_page(request, institution_id, error=exc.message, status=exc.http_status)
        return redirect(f"/ui/institutions/{institution_id}", f"已启动注销（办件 {case['workflow_id']}）")

    # -- institutions: directory and one institution --------------------------------------------------

    @page("GET", "/ui/institutions")
    def page_institutions(self, request):
        actor, _, _ = self._page_actor(request)
        args = request.args
        filters = {"township_code": args.get("township"), "category": args.get("category"),
                   "status": args.get("status"), "q": args.get("q")}
        filters = {k: v for k, v in filters.items() if v}
        try:
            offset = max(0, int(args.get("offset", 0)))
        except ValueError:
            offset = 0
        result = self.registry.list_institutions(self._signed(request), 50, offset, filters)
        return self._render(request, "institutions.html", title="机构名录", result=result,
                            townships=self._townships(actor), args=args, offset=offset,
                            statuses=PUBLIC_STATUSES)

    def _institution_page(self, request, institution_id, error=None, status=200):
        actor, _, _ = self._page_actor(request)
        signed = self._signed(request)
        inst = self.registry.get_institution(signed, institution_id)

        cases = {p: attempt(self.registry.get_case, signed, p, institution_id) for p in PROCESS_NAMES}
        complaints = attempt(self.inspection.list_complaints, signed, {}, 200, 0)
        if complaints:
            complaints = [c for c in complaints.get("items", []) if c.get("institution_id") == institution_id]
        return self._render(
            request, "institution.html", status=status, title=inst["name"], inst=inst, error=error,
            history=attempt(self.registry.get_institution_history, signed, institution_id),
            staff=attempt(self.registry.list_staff, signed, institution_id, False),
            courses=attempt(self.registry.list_courses, signed, institution_id),
            position=attempt(self.escrow.get_position, signed, institution_id),
            records=attempt(self.inspection.list_inspection_records, signed, None, institution_id, 50, 0),
            complaints=complaints, cases=cases, process_names=PROCESS_NAMES,
            townships=self._townships(actor),
            may_open=can(actor, "registry.apply_conversion"),
        )

    @page("GET", "/ui/institutions/<int:institution_id>")
    def page_institution(self, request, institution_id):
        return self._institution_page(request, institution_id)

    # -- ledger import --------------------------------------------------------------------------------

    @page("GET", "/ui/imports")
    def page_imports(self, request):
        return self._render(request, "imports.html", title="台账导入", result=None)

    @page("POST", "/ui/imports")
    def page_imports_post(self, request):
        actor = self._page_post(request)
        upload = request.files.get("file")
        result, error, status = None, None, 200
        if upload is None or not upload.filename:
            error, status = "请选择台账文件（.xlsx 或 .csv）", 400
        else:
            content = upload.read()
            try:
                result = self.registry.import_ledger_file(
                    self._signed(request), upload.filename, base64.b64encode(content).decode("ascii"),
                    identity.township_directory(self.db, actor))
                status = 422 if result.get("state") == "rejected" else 200
            except DomainError as exc:
                error, status = exc.message, exc.http_status
        return self._render(request, "imports.html", status=status, title="台账导入", result=result, error=error)

    # -- complaints desk ------------------------------------------------------------------------------

    @page("GET", "/ui/complaints")
    def page_complaints(self, request):
        actor, _, _ = self._page_actor(request)
        filters = {k: request.args.get(k) for k in ("status", "overdue") if request.args.get(k)}
        result = self.inspection.list_complaints(self._signed(request), filters, 100, 0)
        return self._render(request, "complaints.html", title="举报受理", result=result,
                            townships=self._townships(actor))

    def _complaint_page(self, request, complaint_id, error=None, status=200):
        actor, _, _ = self._page_actor(request)
        complaint = self.inspection.get_complaint(self._signed(request), complaint_id)
        departments = {k.value: DEPARTMENT_NAMES[k] for k in (K.education, K.market_regulation, K.public_security,
                                                               K.urban_management, K.township)}
        return self._render(request, "complaint.html", status=status, title=f"举报 {complaint['receipt_no']}",
                            c=complaint, error=error, townships=self._townships(actor), departments=departments,
                            may_triage=can(actor, "inspection.complaint_triage"),
                            may_assign=can(actor, "inspection.complaint_assign"),
                            may_handle=can(actor, "inspection.complaint_handle"))

    @page("GET", "/ui/complaints/<int:complaint_id>")
    def page_complaint(self, request, complaint_id):
        return self._complaint_page(request, complaint_id)

    @page("POST", "/ui/complaints/<int:complaint_id>/<string:step>")
    def page_complaint_step(self, request, complaint_id, step):
        self._page_post(request)
        calls = {"triage": self.inspection.triage_complaint, "assignment": self.inspection.assign_complaint,
                 "reply": self.inspection.reply_complaint, "closure": self.inspection.close_complaint}
        if step not in calls:
            raise ValidationFailed("未知操作", field="step")
        body = {k: v for k, v in request.form.items() if k != "csrf_token" and v != ""}
        try:
            calls[step](self._signed(request), complaint_id, body)
        except DomainError as exc:
            return self._complaint_page(request, complaint_id, error=exc.message, status=exc.http_status)
        return redirect(f"/ui/complaints/{complaint_id}", "已办理")

    @page("POST", "/ui/escrow/alerts/<int:alert_id>/closure")
    def page_close_alert(self, request, alert_id):
        self._page_post(request)
        try:
            self.escrow.close_alert(self._signed(request), alert_id, {"note": request.form.get("note", "")})
        except DomainError as exc:
            return error_page(exc.http_status, exc.message)
        return redirect("/ui/escrow", f"预警 #{alert_id} 已关闭")

    # -- reports and dashboard ------------------------------------------------------------------------

    @page("GET", "/ui/reports")
    def page_reports(self, request, error=None, status=200):
        kind = request.args.get("kind") if request.args.get("kind") in ("half_monthly", "weekly") else "half_monthly"
        as_of = request.args.get("as_of") or None
        signed = self._signed(request)
        try:
            report = self.reporting.get_report(signed, kind, None, as_of)
        except DomainError as exc:
            report, error, status = None, exc.message, exc.http_status
        cycles = self.reporting.list_reports(signed, None, None)
        actor, _, _ = self._page_actor(request)
        return self._render(request, "reports.html", status=status, title="报表", report=report, kind=kind,
                            as_of=as_of or "", cycles=cycles, error=error,
                            may_submit=can(actor, "reporting.submit"))

    @page("POST", "/ui/reports/submissions")
    def page_report_submit(self, request):
        actor = self._page_post(request)
        form = request.form
        try:
            self.reporting.submit_report(self._signed(request), form.get("kind"), actor.division_code,
                                         form.get("as_of") or None, form.get("note") or None)
        except DomainError as exc:
            return self.page_reports(request, error=exc.message, status=exc.http_status)
        return redirect("/ui/reports", "报表已报送")

    @page("GET", "/ui/dashboard")
    def page_dashboard(self, request):
        actor, _, _ = self._page_actor(request)
        return self._render(request, "dashboard.html", title="数据看板", townships=self._townships(actor))

    # -- inspection ----------------------------------------------------------------------------------

    @page("GET", "/ui/inspection")
    def page_inspection(self, request):
        signed = self._signed(request)
        campaigns = self.inspection.list_campaigns(signed)
        orders = self.inspection.list_orders(signed, None, 100, 0)
        records = self.inspection.list_inspection_records(signed, None, None, 20, 0)
        return self._render(request, "inspection.html", title="检查执法", campaigns=campaigns, orders=orders,
                            records=records)

    @page("GET", "/ui/inspection/checklist")
    def page_checklist(self, request, error=None, status=200, form=None):
        actor, _, _ = self._page_actor(request)
        institutions = self.registry.list_institutions(self._signed(request), 500, 0, {})
        return self._render(request, "checklist.html", status=status, title="现场检查记录",
                            checklist=_checklist(), institutions=institutions.get("items", []),
                            campaign_id=request.args.get("campaign") or (form or {}).get("campaign_id", ""),
                            error=error, form=form or {})

    @page("POST", "/ui/inspection/records")
    def page_checklist_post(self, request):
        actor = self._page_post(request)
        form = request.form
        try:
            checklist = {key: {"result": form.get(f"item_{key}", "pass"), "notes": form.get(f"notes_{key}") or None}
                         for key in _checklist()}
            outcome = {"kind": form.get("outcome") or "pass"}
            if outcome["kind"] in ("rectify", "suspend"):
                outcome["deadline_workdays"] = _form_int(form, "deadline_workdays", "整改时限")
            body = {"institution_id": _form_int(form, "institution_id", "机构"), "mode": form.get("mode") or "open",
                    "inspectors": [{"department_kind": actor.department_kind.value, "name": actor.display_name}],
                    "checklist": checklist, "outcome": outcome, "notes": form.get("notes") or None}
            if form.get("campaign_id"):
                body["campaign_id"] = _form_int(form, "campaign_id", "检查计划")
            record = self.inspection.record_inspection(self._signed(request), body)
        except DomainError as exc:
            return self.page_checklist(request, error=exc.message, status=exc.http_status, form=form)
        return redirect(f"/ui/inspection/records/{record['id']}", "检查记录已保存，可继续上传现场照片")

    @page("GET", "/ui/inspection/records/<int:record_id>")
    def page_record(self, request, record_id):
        record = self.inspection.get_inspection_record(self._signed(request), record_id)
        return self._render(request, "record.html", title=f"检查记录 #{record_id}", record=record,
                            checklist=_checklist())

    @page("GET", "/ui/inspection/orders/<int:order_id>")
    def page_order(self, request, order_id, error=None, status=200):
        order = self.inspection.get_order(self._signed(request), order_id)
        return self._render(request, "order.html", status=status, title=f"整改通知 #{order_id}", order=order,
                            error=error)

    @page("POST", "/ui/inspection/orders/<int:order_id>/reinspection")
    def page_reinspection(self, request, order_id):
        self._page_post(request)
        form = request.form
        try:
            self.inspection.record_reinspection(self._signed(request), order_id,
                                                {"passed": form.get("passed") == "yes", "notes": form.get("notes") or None})
        except DomainError as exc:
            return self.page_order(request, order_id, error=exc.message, status=exc.http_status)
        return redirect(f"/ui/inspection/orders/{order_id}", "复查结果已记录")

    # -- escrow desk ---------------------------------------------------------------------------------

    @page("GET", "/ui/escrow")
    def page_escrow(self, request):
        signed = self._signed(request)
        accounts = self.escrow.list_accounts(signed, None, None)
        alerts = self.escrow.list_alerts(signed, 100, 0, {k: v for k, v in
                                                          {"status": request.args.get("status")}.items() if v})
        try:
            refunds = self.escrow.list_refunds(signed, None, None)
        except DomainError:
            refunds = None
        return self._render(request, "escrow.html", title="预收费资金监管", accounts=accounts, alerts=alerts,
                            refunds=refunds)

    # -- 督导室 ----------------------------------------------------------------------------------------

    @page("GET", "/ui/supervision")
    def page_supervision(self, request):
        signed = self._signed(request)
        month = request.args.get("month") or date.today().strftime("%Y-%m")

        return self._render(
            request, "supervision.html", title="督导室", month=month,
            schools=attempt(self.inspection.list_supervised_schools, signed, None),
            zones=attempt(self.inspection.list_supervision_zones, signed),
            coverage=attempt(self.inspection.supervision_coverage, signed, month, None),
            visits=attempt(self.inspection.list_school_visits, signed, month, None),
            after_school=attempt(self.inspection.after_school_report, signed, None, None),
        )

    # -- 运维 and users ---------------------------------------------------------------------------------

    @page("GET", "/ui/ops")
    def page_ops(self, request):
        from services.common.config import amqp_uri
        from services.common.logging import recent_errors

        from .. import health

        self._page_actor(request)
        signed = self._signed(request)
        proxies = {"registry": self.registry, "escrow": self.escrow, "inspection": self.inspection,
                   "reporting": self.reporting, "escrow_feed": self.escrow_feed}
        report = health.check_all(amqp_uri(), proxies, self.workflows)
        statuses = [{"service": "gateway", "queues": [], "errors": recent_errors()}]
        for name, proxy in [*proxies.items(), ("workflows", self.workflows)]:
            try:
                statuses.append(proxy.ops_status(signed))
            except DomainError as exc:  # not 运维: the page shows health only
                statuses.append({"service": name, "unavailable": exc.message})
            except Exception as exc:  # a process down or without the call: say so, keep the page
                statuses.append({"service": name, "unavailable": type(exc).__name__})
        return self._render(request, "ops.html", title="运维监控", report=report, statuses=statuses,
                            temporal_ui=_temporal_ui_url(request))

    def _users_page(self, request, error=None, status=200, form=None):
        actor, _, _ = self._page_actor(request)
        users = identity.list_users(self.db, actor)
        departments = identity.list_departments(self.db, actor)
        return self._render(request, "users.html", status=status, title="用户管理", users=users,
                            departments=departments, error=error, form=form or {})

    @page("GET", "/ui/users")
    def page_users(self, request):
        return self._users_page(request)

    @page("POST", "/ui/users")
    def page_users_post(self, request):
        actor = self._page_post(request)
        form = request.form
        try:
            body = {"username": form.get("username", ""), "password": form.get("password", ""),
                    "display_name": form.get("display_name") or None,
                    "department_id": _form_int(form, "department_id", "部门"),
                    "roles": form.getlist("roles") or ["clerk"]}
            created = identity.create_user(self.db, actor, body)
        except DomainError as exc:
            return self._users_page(request, error=exc.message, status=exc.http_status, form=form)
        self.ctx.log.info("user_created", username=created["username"], via="page")
        return redirect("/ui/users", f"已创建用户 {created['username']}")

    # -- public pages (no login) ----------------------------------------------------------------------

    def _public_render(self, request, template, status=200, **context):
        token, new = web.pre_csrf(request)
        response = render(template, status=status, pre_csrf=token, actor=None, nav=[], public=True, **context)
        return web.set_pre_csrf(response, token) if new else response

    def _public_institutions(self) -> dict:
        actor = system_actor(deployment().root_code, name="public_pages")
        signed = self.auth.signer.sign(actor)
        townships = self._townships(actor)
        groups = {}
        for status in PUBLIC_STATUSES:
            items = self.registry.list_institutions(signed, 500, 0, {"status": status}).get("items", [])
            groups[status] = [{"name": i["name"], "licence_no": i["licence_no"],
                               "township": townships.get(i["township_code"], i["township_code"]),
                               "category": i["category_name"], "status": i["status_name"]} for i in items]
        return groups

    @page("GET", "/public/")
    def page_public_index(self, request):
        return self._public_render(request, "public_index.html", title="校外培训监管公共服务")

    @page("GET", "/public/institutions")
    def page_public_institutions(self, request):
        return self._public_render(request, "public_institutions.html", title="校外培训机构公示",
                                   groups=self._public_institutions(), statuses=PUBLIC_STATUSES)

    @api("GET", "/api/public/institutions")
    def public_institutions(self, request):
        """No login: licensed institutions by status, public fields only (name, licence no,
        township, category, status)."""
        groups = self._public_institutions()
        status = request.args.get("status")
        if status:
            if status not in PUBLIC_STATUSES:
                raise ValidationFailed(f"状态可选：{'、'.join(PUBLIC_STATUSES)}", field="status")
            return {"items": groups[status]}
        return {"items": [i for items in groups.values() for i in items]}

    @page("GET", "/public/complaint")
    def page_public_complaint(self, request, error=None, status=200, form=None, receipt=None):
        actor = system_actor(deployment().root_code, name="public_pages")
        return self._public_render(request, "public_complaint.html", status=status, title="举报校外培训违规行为",
                                   townships=self._townships(actor), error=error, form=form or {},
                                   receipt=receipt)

    @page("POST", "/public/complaint")
    def page_public_complaint_post(self, request):
        form = request.form
        if not web.check_pre_csrf(request):
            return self.page_public_complaint(request, error="页面已过期或缺少安全令牌，请刷新后重新提交",
                                              status=403, form=form)
        wait = ratelimit.public_submissions.take(request.remote_addr or "unknown")
        if wait:
            seconds = ratelimit.retry_after(wait)
            return self.page_public_complaint(request, error=f"提交过于频繁，请{seconds}秒后再试", status=429, form=form)
        body = {"content": form.get("content", ""), "institution_name": form.get("institution_name") or None,
                "township_code": form.get("township_code") or None, "contact_phone": form.get("contact_phone") or None}
        try:
            made = self.inspection.submit_public_complaint(self._public_actor(), body)
        except DomainError as exc:
            return self.page_public_complaint(request, error=exc.message, status=exc.http_status, form=form)
        return self.page_public_complaint(request, receipt=made["receipt_no"], status=201)

    @page("GET", "/public/complaint/status")
    def page_public_complaint_status(self, request):
        receipt = (request.args.get("receipt") or "").strip()
        result, error, status = None, None, 200
        if receipt:
            wait = ratelimit.public_lookups.take(request.remote_addr or "unknown")
            if wait:
                error, status = f"查询过于频繁，请{ratelimit.retry_after(wait)}秒后再试", 429
            else:
                try:
                    result = self.inspection.get_public_complaint_status(self._public_actor(), receipt)
                except DomainError as exc:
                    error, status = exc.message, exc.http_status
        return self._public_render(request, "public_status.html", status=status, title="举报办理进度查询",
                                   receipt=receipt, result=result, error=error)


def _temporal_ui_url(request) -> str:
    """The Temporal UI on the gateway's host (the dev server's UI port; SHUANGJIAN_TEMPORAL_UI_URL
    overrides it behind a proxy)."""
    import os

    explicit = os.environ.get("SHUANGJIAN_TEMPORAL_UI_URL")
    if explicit:
        return explicit
    from shuangjian.localrun import temporal_ui_port

    host = (request.host or "127.0.0.1").split(":")[0]
    return f"http://{host}:{temporal_ui_port()}"


__all__ = ["PagesMixin", "read_body", "json"]
