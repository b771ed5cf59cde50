"""资金监管 desk pages (教体局): accounts by institution name with their balance, opening an account,
fee items, charges on the model contract (the caps refused at the field), contracts, positions,
refunds answered at the desk, alerts. Every rule stays the escrow service's; the pages only turn
yuan into fen and place its refusals next to the field they name."""
from __future__ import annotations

from services.common.policy import can

from .common import _form_int
from .desk_forms import DeskActions, institution_names, refusal, yuan_to_fen
from .web import _yuan, page
from ..api import status_for

ACCOUNT_FIELDS = ("institution_id", "mode", "bank_name", "bank_code", "account_no", "custody_agreement_no",
                  "guarantee_minimum_fen")
FEE_FIELDS = ("name", "price_per_hour_fen")
CHARGE_FIELDS = ("contract_no", "fee_item_id", "student_name", "class_hours", "starts_on", "ends_on", "amount_fen",
                 "channel")

# what an escrow alert's evidence says, in the officials' words (the rest of it stays in the API)
EVIDENCE_LABELS = {
    "contract_no": "合同编号", "class_hours": "课时", "max_class_hours": "课时上限", "starts_on": "开始日期",
    "ends_on": "结束日期", "max_months": "最长月数", "amount_fen": "金额", "charge_cap_fen": "单次收费上限",
    "excess_fen": "超出金额", "unearned_fen": "未消课预收费", "delivered_fen": "已上课金额",
    "confirmed_fen": "已确认金额", "releases_fen": "已划拨", "days_without_receipt": "未入账天数",
    "grace_days": "宽限天数", "idle_days": "停课天数", "idle_since": "停课起始", "last_delivered_on": "最后上课日期",
    "stop_days": "预警天数", "signed_at": "签约时间", "summary": "摘要", "reason": "原因",
}
CHANNELS = (("wechat", "微信支付"), ("alipay", "支付宝"), ("bank_transfer", "银行转账"), ("bank_card", "银行卡刷卡"),
            ("unionpay", "云闪付"))


def _account_body(form) -> dict:
    body = {"institution_id": _form_int(form, "institution_id", "机构"), "mode": form.get("mode") or None,
            "bank_name": form.get("bank_name", ""), "bank_code": form.get("bank_code", ""),
            "account_no": form.get("account_no", ""), "custody_agreement_no": form.get("custody_agreement_no") or None}
    if body["mode"] == "guarantee":
        body["guarantee_minimum_fen"] = yuan_to_fen(form.get("guarantee_minimum"), "guarantee_minimum_fen", "保证金最低额")
    return body


def _charge_body(institution_id: int, form) -> dict:
    return {"institution_id": institution_id, "contract_no": form.get("contract_no", "").strip(),
            "fee_item_id": _form_int(form, "fee_item_id", "收费项目"), "student_name": form.get("student_name", ""),
            "class_hours": _form_int(form, "class_hours", "课时数"), "starts_on": form.get("starts_on", ""),
            "ends_on": form.get("ends_on", ""), "amount_fen": yuan_to_fen(form.get("amount"), "amount_fen", "收费金额"),
            "channel": form.get("channel", "")}


def _named(items, names):
    for item in items:
        item.setdefault("institution_name", names.get(item.get("institution_id")) or "（辖区外机构）")
    return items


class EscrowPages(DeskActions):
    # -- the desk: accounts, alerts, refunds, recent contracts ---------------------------------------

    def _escrow_page(self, request, status=200, form=None, **context):
        actor, _, _ = self._page_actor(request)
        signed = self._signed(request)
        names = institution_names(self.registry, signed)
        accounts = _named(self.escrow.list_accounts(signed, None, None)["items"], names)
        status_filter = request.args.get("status")  # ?status=open from the home page's figure
        alerts = self.escrow.list_alerts(signed, 100, 0, {"status": status_filter} if status_filter else {})
        _named(alerts["items"], names)
        refunds = _named(self.escrow.list_refunds(signed, None, None)["items"], names)
        contracts = self.escrow.list_contracts(signed, 50, 0, None, None)
        _named(contracts["items"], names)
        return self._render(
            request, "escrow.html", status=status, title="预收费资金监管", accounts=accounts, alerts=alerts,
            refunds=refunds, contracts=contracts, institutions=sorted(names.items(), key=lambda x: x[1]),
            evidence_labels=EVIDENCE_LABELS,
            may_act=can(actor, "escrow.desk"), form=form or {}, errors=context.pop("errors", {}), **context)

    @page("GET", "/ui/escrow")
    def page_escrow(self, request):
        return self._escrow_page(request)

    @page("POST", "/ui/escrow/accounts")
    def page_open_account(self, request):
        return self._act(
            request, lambda signed, form: self.escrow.open_account(signed, _account_body(form)),
            lambda exc, form: self._escrow_page(request, status_for(exc), form,
                                                **refusal(exc, "account", ACCOUNT_FIELDS)),
            lambda account: (f"/ui/escrow/institutions/{account['institution_id']}",
                             f"已开设监管账户 {account['account_no']}（{account['mode_name']}）"))

    @page("POST", "/ui/escrow/refunds/<int:refund_id>/answer")
    def page_answer_refund(self, request, refund_id):
        back = request.form.get("back", "")
        return self._act(
            request, lambda signed, form: self.escrow.answer_refund(
                signed, refund_id, {"decision": form.get("decision"), "answer": form.get("answer") or None}),
            lambda exc, form: self._escrow_page(request, status_for(exc), form,
                                                **refusal(exc, f"refund{refund_id}", ("decision", "answer"))),
            lambda refund: (back if back.startswith("/ui/escrow") else "/ui/escrow",
                            f"退费申请已答复：{refund['status_name']}"))

    @page("POST", "/ui/escrow/refunds/<int:refund_id>/payment")
    def page_refund_paid(self, request, refund_id):
        """The money went back by the original channel (a guarantee account's refund: the bank feed
        marks custody refunds itself)."""
        back = request.form.get("back", "")
        return self._act(
            request, lambda signed, form: self.escrow.record_refund_paid(signed, refund_id),
            lambda exc, form: self._escrow_page(request, status_for(exc), form, error=exc.message),
            lambda refund: (back if back.startswith("/ui/escrow") else "/ui/escrow",
                            f"已登记退费原路退回：{_yuan(refund['amount_fen'])}"))

    # -- one institution: position, fee items, charges ------------------------------------------------

    def _escrow_institution_page(self, request, institution_id, status=200, form=None, **context):
        actor, _, _ = self._page_actor(request)
        signed = self._signed(request)
        institution = self.registry.get_institution(signed, institution_id)
        fee_items = self.escrow.list_fee_items(signed, institution_id)["items"]
        contracts = self.escrow.list_contracts(signed, 100, 0, institution_id, None)["items"]
        return self._render(
            request, "escrow_institution.html", status=status, title=f"资金监管 · {institution['name']}",
            institution=institution, fee_items=fee_items, contracts=contracts,
            accounts=self.escrow.list_accounts(signed, institution_id, None)["items"],
            position=self.escrow.get_position(signed, institution_id),
            refunds=self.escrow.list_refunds(signed, institution_id, None)["items"],
            settings=self.escrow.get_escrow_settings(signed, None), channels=CHANNELS,
            may_act=can(actor, "escrow.desk"), form=form or {}, errors=context.pop("errors", {}), **context)

    @page("GET", "/ui/escrow/institutions/<int:institution_id>")
    def page_escrow_institution(self, request, institution_id):
        return self._escrow_institution_page(request, institution_id)

    @page("POST", "/ui/escrow/institutions/<int:institution_id>/fee-items")
    def page_create_fee_item(self, request, institution_id):
        return self._act(
            request, lambda signed, form: self.escrow.create_fee_item(signed, {
                "institution_id": institution_id, "name": form.get("name", ""),
                "price_per_hour_fen": yuan_to_fen(form.get("price_per_hour"), "price_per_hour_fen", "每课时收费"),
                "publish": form.get("publish") == "yes"}),
            lambda exc, form: self._escrow_institution_page(request, institution_id, status_for(exc), form,
                                                            **refusal(exc, "fee", FEE_FIELDS)),
            lambda item: (f"/ui/escrow/institutions/{institution_id}", f"收费项目“{item['name']}”{item['state_name']}"))

    @page("POST", "/ui/escrow/fee-items/<int:fee_item_id>/<any(publication, withdrawal):step>")
    def page_fee_item_step(self, request, fee_item_id, step):
        call = self.escrow.publish_fee_item if step == "publication" else self.escrow.withdraw_fee_item
        return self._act(
            request, lambda signed, form: call(signed, fee_item_id),
            lambda exc, form: self._escrow_institution_page(
                request, _form_int(form, "institution_id", "机构"), status_for(exc), error=exc.message),
            lambda item: (f"/ui/escrow/institutions/{item['institution_id']}",
                          f"收费项目“{item['name']}”{item['state_name']}"))

    @page("POST", "/ui/escrow/institutions/<int:institution_id>/contracts")
    def page_sign_contract(self, request, institution_id):
        return self._act(
            request, lambda signed, form: self.escrow.sign_contract(signed, _charge_body(institution_id, form)),
            lambda exc, form: self._escrow_institution_page(request, institution_id, status_for(exc), form,
                                                            **refusal(exc, "charge", CHARGE_FIELDS)),
            lambda contract: (f"/ui/escrow/contracts/{contract['id']}", f"已签约收费：合同 {contract['contract_no']}"))

    @page("POST", "/ui/escrow/accounts/<int:account_id>/<any(changes, closure):step>")
    def page_account_step(self, request, account_id, step):
        """变更 (bank, agreement, with the reason) or 销户 (refused while prepaid money is unearned)."""
        institution_id = _form_int(request.form, "institution_id", "机构")

        def call(signed, form):
            if step == "closure":
                body = {"reason": form.get("reason", "")}
                if form.get("closed_on"):
                    body["closed_on"] = form["closed_on"]
                return self.escrow.close_account(signed, account_id, body)
            changes = {k: form.get(k) for k in ("bank_name", "custody_agreement_no") if form.get(k)}
            return self.escrow.change_account(signed, account_id, {**changes, "reason": form.get("reason", "")})

        return self._act(
            request, call,
            lambda exc, form: self._escrow_institution_page(
                request, institution_id, status_for(exc), form,
                **refusal(exc, f"{'close' if step == 'closure' else 'change'}{account_id}",
                          ("bank_name", "custody_agreement_no", "reason", "closed_on"))),
            lambda account: (f"/ui/escrow/institutions/{institution_id}",
                             f"监管账户 {account['account_no']} 已{'销户' if step == 'closure' else '变更'}"))

    @page("POST", "/ui/escrow/alerts/scan")
    def page_scan_alerts(self, request):
        """Run the daily time-based rules now (no receipt, lessons stopped, balance short)."""
        actor, _, _ = self._page_actor(request)
        return self._act(
            request, lambda signed, form: self.escrow.scan_alerts(signed, actor.division_code),
            lambda exc, form: self._escrow_page(request, status_for(exc), form, error=exc.message),
            lambda result: ("/ui/escrow", f"已扫描 {result['institutions_checked']} 家机构：新增预警 "
                                          f"{len(result['raised'])} 条，解除 {len(result['closed'])} 条"))

    @page("GET", "/ui/escrow/contracts/<int:contract_id>")
    def page_escrow_contract(self, request, contract_id):
        signed = self._signed(request)
        actor, _, _ = self._page_actor(request)
        contract = self.escrow.get_contract(signed, contract_id)
        institution = self.registry.get_institution(signed, contract["institution_id"])
        for refund in contract["refunds"]:
            refund.update(contract_no=contract["contract_no"], institution_name=institution["name"])
        return self._render(request, "escrow_contract.html", title=f"合同 {contract['contract_no']}",
                            contract=contract, institution=institution, may_act=can(actor, "escrow.desk"),
                            errors={}, form={})
