"""机构端 pages (issue 14): an institution's own account — its supervised account, position and
alerts; fee items and courses; contracts with their parent codes, lessons, and refunds to answer.

Every call goes with the account's signed actor, which the escrow and registry services refuse for
any other institution; the pages only choose what to ask for. A refusal is shown next to its field."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from services.common.errors import DomainError, Forbidden, ValidationFailed
from services.common.identity import DepartmentKind

from .. import institution_accounts
from . import web
from .common import attempt
from .qr import qr_svg
from .web import page, redirect
from ..api import status_for

PORTAL = "/ui/portal"
# the 机构端's own navigation and home title (kept here: the official desks' lists are in web.py)
web.NAV[DepartmentKind.institution] = [("本机构首页", PORTAL), ("收费与课程", PORTAL + "/fees"),
                                      ("合同与课消", PORTAL + "/contracts")]
web.HOME_TITLES[DepartmentKind.institution] = "机构工作台"


# how a parent may pay a charge (escrow rules.CHANNELS: cash and 培训贷 are refused there)
CHANNELS = {"wechat": "微信支付", "alipay": "支付宝", "bank_transfer": "银行转账", "bank_card": "银行卡刷卡",
            "unionpay": "云闪付"}
MAX_YUAN = Decimal(10_000_000)  # 1000万元: anything above is a typing error
WEEKDAYS = {1: "周一", 2: "周二", 3: "周三", 4: "周四", 5: "周五", 6: "周六", 7: "周日"}


def form_fen(form, name: str, label: str) -> int:
    """Yuan as typed (e.g. 80 or 80.50) → integer fen, exactly; anything else refused by field."""
    text = (form.get(name) or "").strip().replace(",", "").removesuffix("元")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(f"{label}应为金额（元），如 80 或 80.50", field=name) from None
    if not value.is_finite() or value < 0:
        raise ValidationFailed(f"{label}应为不小于0、最多两位小数的金额（元）", field=name)
    if value > MAX_YUAN:
        raise ValidationFailed(f"{label}过大", field=name)
    if value != value.quantize(Decimal("0.01")):  # bounded above, so quantize is exact
        raise ValidationFailed(f"{label}应为不小于0、最多两位小数的金额（元）", field=name)
    return int(value * 100)


def form_int(form, name: str, label: str) -> int:
    try:
        return int((form.get(name) or "").strip())
    except ValueError:
        raise ValidationFailed(f"{label}应为整数", field=name) from None


def _institution_only(actor):
    if actor.department_kind is not DepartmentKind.institution:
        raise Forbidden("机构端仅供校外培训机构的账户使用；工作人员请使用资金监管页面")
    return actor


def form_field(exc: DomainError, renames: dict) -> str | None:
    """The form's name for the field a service refused (its own names are the API's)."""
    field = renames.get(exc.field, exc.field)
    return "schedule" if field and field.startswith("schedule") else field


class InstitutionPortalPages:
    # -- the bureau opens an institution's account (on the institution's page) -----------------------------

    def _portal_accounts(self, actor, institution):
        return institution_accounts.list_accounts(self.db, actor, institution)

    @page("POST", "/ui/institutions/<int:institution_id>/portal-accounts")
    def page_portal_account_post(self, request, institution_id):
        actor = self._page_post(request)
        form = request.form
        try:
            institution = self.registry.get_institution(self._signed(request), institution_id)
            made = institution_accounts.create_account(self.db, actor, institution, {
                "username": form.get("username", ""), "display_name": form.get("display_name") or None,
                "password": form.get("password", "")})
        except DomainError as exc:
            return self._institution_page(request, institution_id, error=exc.message, status=status_for(exc))
        self.ctx.log.info("institution_account_created", username=made["username"], institution_id=institution_id)
        return redirect(f"/ui/institutions/{institution_id}",
                        f"已开通机构端账户 {made['username']}")

    def _portal_actor(self, request):
        return _institution_only(self._page_actor(request)[0])

    def _portal_post(self, request):
        """The institution account behind a state-changing form (its CSRF token checked)."""
        return _institution_only(self._page_post(request))

    def _portal(self, request, template, title, status=200, error=None, error_field=None, form=None, **context):
        self._portal_actor(request)
        return self._render(request, template, status=status, title=title, error=error, error_field=error_field,
                            form=form or {}, **context)

    # -- home: the account, the position, alerts, refunds to answer -------------------------------------

    @page("GET", PORTAL)
    def page_portal(self, request, status=200, error=None, error_field=None):
        actor = self._portal_actor(request)
        signed = self._signed(request)
        iid = actor.institution_id
        return self._portal(
            request, "portal_home.html", actor.department_label, status=status, error=error, error_field=error_field,
            position=attempt(self.escrow.get_position, signed, iid),
            accounts=self.escrow.list_accounts(signed, iid, None)["items"],
            alerts=self.escrow.list_alerts(signed, 50, 0, {"institution_id": iid, "status": "open"})["items"],
            refunds=self.escrow.list_refunds(signed, iid, "requested")["items"])

    @page("POST", PORTAL + "/refunds/<int:refund_id>/answer")
    def page_portal_answer_refund(self, request, refund_id):
        self._portal_post(request)
        form = request.form
        back = form.get("back") if (form.get("back") or "").startswith(PORTAL) else PORTAL
        body = {"decision": form.get("decision", ""), "answer": form.get("answer") or None}
        try:
            done = self.escrow.answer_refund(self._signed(request), refund_id, body)
        except DomainError as exc:
            return self._portal_refusal(request, back, exc)
        return redirect(back, f"已答复退费申请：{done['status_name']}")

    def _portal_refusal(self, request, back, exc):
        """A refused form on the page it came from, the service's reason next to the field."""
        if back.startswith(PORTAL + "/contracts/"):
            tail = back.rsplit("/", 1)[-1]
            if tail.isdigit():
                return self.page_portal_contract(request, int(tail), status=status_for(exc), error=exc.message,
                                                 error_field=exc.field)
        return self.page_portal(request, status=status_for(exc), error=exc.message, error_field=exc.field)

    # -- fee items and courses ----------------------------------------------------------------------------

    @page("GET", PORTAL + "/fees")
    def page_portal_fees(self, request, status=200, error=None, error_field=None, form=None):
        actor = self._portal_actor(request)
        signed = self._signed(request)
        return self._portal(request, "portal_fees.html", "收费项目与课程", status=status, error=error,
                            error_field=error_field, form=form,
                            fee_items=self.escrow.list_fee_items(signed, actor.institution_id)["items"],
                            courses=attempt(self.registry.list_courses, signed, actor.institution_id),
                            weekdays=WEEKDAYS)

    @page("POST", PORTAL + "/fees")
    def page_portal_fee_post(self, request):
        actor = self._portal_post(request)
        form = request.form
        try:
            body = {"institution_id": actor.institution_id, "name": form.get("name", ""),
                    "price_per_hour_fen": form_fen(form, "price_yuan", "每课时价格"),
                    "publish": form.get("publish") == "1"}
            made = self.escrow.create_fee_item(self._signed(request), body)
        except DomainError as exc:
            return self.page_portal_fees(request, status_for(exc), exc.message,
                                         form_field(exc, {"price_per_hour_fen": "price_yuan"}), form)
        return redirect(PORTAL + "/fees", f"收费项目“{made['name']}”{made['state_name']}")

    @page("POST", PORTAL + "/fees/<int:fee_item_id>/<string:step>")
    def page_portal_fee_step(self, request, fee_item_id, step):
        self._portal_post(request)
        calls = {"publish": self.escrow.publish_fee_item, "withdraw": self.escrow.withdraw_fee_item}
        if step not in calls:
            return web.error_page(404, "没有这个操作")
        try:
            done = calls[step](self._signed(request), fee_item_id)
        except DomainError as exc:
            return self.page_portal_fees(request, status_for(exc), exc.message, exc.field)
        return redirect(PORTAL + "/fees", f"收费项目“{done['name']}”：{done['state_name']}")

    @page("POST", PORTAL + "/courses")
    def page_portal_course_post(self, request):
        actor = self._portal_post(request)
        form = request.form
        try:
            body = {"name": form.get("name", ""), "subject": form.get("subject", ""),
                    "price_fen": form_fen(form, "course_price_yuan", "课程总价"),
                    "class_hours": form_int(form, "class_hours", "总课时"), "mode": form.get("mode", ""),
                    "schedule": [{"weekday": form_int(form, "weekday", "上课日"), "start": form.get("start", ""),
                                  "end": form.get("end", "")}]}
            made = self.registry.publish_course(self._signed(request), actor.institution_id, body)
        except DomainError as exc:
            return self.page_portal_fees(request, status_for(exc), exc.message,
                                         form_field(exc, {"price_fen": "course_price_yuan"}), form)
        return redirect(PORTAL + "/fees", f"课程“{made['name']}”已发布")

    @page("POST", PORTAL + "/courses/<int:course_id>/withdraw")
    def page_portal_course_withdraw(self, request, course_id):
        self._portal_post(request)
        try:
            done = self.registry.withdraw_course(self._signed(request), course_id)
        except DomainError as exc:
            return self.page_portal_fees(request, status_for(exc), exc.message, exc.field)
        return redirect(PORTAL + "/fees", f"课程“{done['name']}”已下架")

    # -- contracts: the parent code, lessons, refunds -----------------------------------------------------

    @page("GET", PORTAL + "/contracts")
    def page_portal_contracts(self, request, status=200, error=None, error_field=None, form=None):
        actor = self._portal_actor(request)
        signed = self._signed(request)
        number = (request.args.get("contract_no") or "").strip()
        if number and error is None:
            try:
                found = self.escrow.find_contract(signed, number)
                return redirect(f"{PORTAL}/contracts/{found['id']}")
            except DomainError as exc:
                status, error, error_field = status_for(exc), exc.message, "contract_search"
        contracts = self.escrow.list_contracts(signed, 100, 0, actor.institution_id, None)
        fee_items = [i for i in self.escrow.list_fee_items(signed, actor.institution_id)["items"]
                     if i["state"] == "published"]
        today = datetime.now(web.SHANGHAI).date()
        return self._portal(request, "portal_contracts.html", "合同与课消", status=status, error=error,
                            error_field=error_field, form=form, contracts=contracts["items"],
                            total=contracts["total"], number=number, fee_items=fee_items, channels=CHANNELS,
                            today=today.isoformat())

    @page("POST", PORTAL + "/contracts")
    def page_portal_sign(self, request):
        """The charge on the model contract: refused with its reason next to the field (60 class hours,
        3 months, the county cap, hours × the published price), nothing stored."""
        actor = self._portal_post(request)
        form = request.form
        try:
            body = {"institution_id": actor.institution_id, "contract_no": form.get("contract_no", ""),
                    "fee_item_id": form_int(form, "fee_item_id", "收费项目"),
                    "student_name": form.get("student_name", ""), "class_hours": form_int(form, "class_hours", "课时数"),
                    "starts_on": form.get("starts_on", ""), "ends_on": form.get("ends_on", ""),
                    "amount_fen": form_fen(form, "amount_yuan", "收费金额"), "channel": form.get("channel", "")}
            made = self.escrow.sign_contract(self._signed(request), body)
        except DomainError as exc:
            return self.page_portal_contracts(request, status_for(exc), exc.message,
                                              form_field(exc, {"amount_fen": "amount_yuan"}), form)
        return redirect(f"{PORTAL}/contracts/{made['id']}", f"已签订合同 {made['contract_no']}，请打印合同码交给家长")

    @page("GET", PORTAL + "/contracts/<int:contract_id>")
    def page_portal_contract(self, request, contract_id, status=200, error=None, error_field=None):
        self._portal_actor(request)
        try:
            contract = self.escrow.get_contract(self._signed(request), contract_id)
        except Forbidden as exc:  # another institution's contract: the refusal where the user searched
            return self.page_portal_contracts(request, status=status_for(exc), error=exc.message,
                                              error_field="contract_search")
        code = contract.get("access_code") or ""
        link = f"{request.host_url.rstrip('/')}/public/contract/{code}" if code else ""
        next_no = max([x["lesson_no"] for x in contract["lessons"]], default=0) + 1
        return self._portal(request, "portal_contract.html", f"合同 {contract['contract_no']}", status=status,
                            error=error, error_field=error_field, contract=contract, next_no=next_no,
                            parent_link=link, qr=qr_svg(link) if link else "",
                            today=datetime.now(web.SHANGHAI).strftime("%Y-%m-%dT%H:%M"))

    # -- the parent code slip: printed and handed to the parent (the bureau's desk links here too) ---------

    @page("GET", "/ui/contracts/<int:contract_id>/parent-code")
    def page_parent_code_slip(self, request, contract_id):
        contract = self.escrow.get_contract(self._signed(request), contract_id)
        if not contract.get("access_code"):
            raise Forbidden("家长合同码仅向教体局和签约机构提供")
        link = f"{request.host_url.rstrip('/')}/public/contract/{contract['access_code']}"
        return self._render(request, "contract_code_slip.html", title="家长合同码", contract=contract,
                            parent_link=link, qr=qr_svg(link, scale=6))

    @page("POST", "/ui/contracts/<int:contract_id>/parent-code")
    def page_parent_code_reissue(self, request, contract_id):
        """A new code when the old one leaked or was lost: the old one opens nothing from now on."""
        self._page_post(request)
        self.escrow.reissue_contract_code(self._signed(request), contract_id)
        return redirect(f"/ui/contracts/{contract_id}/parent-code", "已重新生成合同码，原合同码即时作废，请重新打印交给家长")

    @page("POST", PORTAL + "/contracts/<int:contract_id>/lessons")
    def page_portal_lesson_post(self, request, contract_id):
        self._portal_post(request)
        form = request.form
        try:
            body = {"lesson_no": form_int(form, "lesson_no", "课次"), "hours": form_int(form, "hours", "课时数")}
            when = (form.get("delivered_at") or "").strip()
            if when:
                try:
                    body["delivered_at"] = datetime.fromisoformat(when).replace(tzinfo=web.SHANGHAI).isoformat()
                except ValueError:
                    raise ValidationFailed("上课时间格式有误", field="delivered_at") from None
            lesson = self.escrow.deliver_lesson(self._signed(request), contract_id, body)
        except DomainError as exc:
            return self.page_portal_contract(request, contract_id, status=status_for(exc), error=exc.message,
                                             error_field=exc.field)
        return redirect(f"{PORTAL}/contracts/{contract_id}",
                       f"已登记第{lesson['lesson_no']}次课（{lesson['hours']}课时），等待家长确认")
