"""家长端 pages (issue 14): no registration — the contract code printed on the contract (or its QR
code) opens that one contract; the parent confirms or disputes each lesson and asks for a refund.

The code is checked by the escrow service on every call (a parent actor carrying the code); every
request naming a code is rate-limited per client (routes/portal.py `_parent_signed`)."""
from __future__ import annotations

from services.common.contract_codes import format_code, normalize_code
from services.common.errors import DomainError, ValidationFailed

from . import web
from .institution_portal import form_fen, form_field
from .web import page, redirect
from ..api import status_for

PUBLIC_CONTRACT = "/public/contract"


class ParentPages:
    def _parent_page(self, request, code, status=200, error=None, error_field=None, form=None, ok=None):
        """The contract of `code`, or the code-entry page with the reason when it opens nothing."""
        try:
            signed, contract = self._parent_contract(request, code)
        except DomainError as exc:
            return self._public_render(request, "parent_code.html", status=status_for(exc), title="家长查询培训合同",
                                       error=exc.message, code=code)
        return self._public_render(request, "parent_contract.html", status=status, title="我的培训合同",
                                   contract=contract, code=normalize_code(code), shown_code=format_code(
                                       normalize_code(code)), error=error, error_field=error_field,
                                   form=form or {}, ok=ok or request.args.get("ok"))

    @page("GET", PUBLIC_CONTRACT)
    def page_parent_code(self, request):
        code = (request.args.get("code") or "").strip()
        if code:
            try:
                return redirect(f"{PUBLIC_CONTRACT}/{normalize_code(code)}")
            except ValidationFailed as exc:
                return self._public_render(request, "parent_code.html", status=400, title="家长查询培训合同",
                                           error=exc.message, code=code)
        return self._public_render(request, "parent_code.html", title="家长查询培训合同", code="")

    @page("GET", PUBLIC_CONTRACT + "/<string:code>")
    def page_parent_contract(self, request, code):
        return self._parent_page(request, code)

    def _parent_post(self, request, code, call, done: str):
        """A parent's form: CSRF (double-submit cookie), the code checked again, the step, back to the page."""
        if not web.check_pre_csrf(request):
            return self._parent_page(request, code, status=403, error="页面已过期或缺少安全令牌，请刷新后重新提交")
        try:
            signed, contract = self._parent_contract(request, code)
            call(signed, contract)
        except DomainError as exc:
            return self._parent_page(request, code, status=status_for(exc), error=exc.message,
                                     error_field=form_field(exc, {"amount_fen": "amount_yuan"}), form=request.form)
        return redirect(f"{PUBLIC_CONTRACT}/{normalize_code(code)}", done)

    @page("POST", PUBLIC_CONTRACT + "/<string:code>/lessons/<int:lesson_no>/confirm")
    def page_parent_confirm(self, request, code, lesson_no):
        return self._parent_post(request, code,
                                 lambda signed, c: self.escrow.confirm_lesson(signed, c["id"], lesson_no),
                                 f"已确认第{lesson_no}次课，该课时费将按规定划拨给机构")

    @page("POST", PUBLIC_CONTRACT + "/<string:code>/lessons/<int:lesson_no>/dispute")
    def page_parent_dispute(self, request, code, lesson_no):
        reason = request.form.get("reason", "")
        return self._parent_post(
            request, code, lambda signed, c: self.escrow.dispute_lesson(signed, c["id"], lesson_no, {"reason": reason}),
            f"已对第{lesson_no}次课提出异议，该课时费暂不划拨，教体局将协调处理")

    @page("POST", PUBLIC_CONTRACT + "/<string:code>/refund")
    def page_parent_refund(self, request, code):
        form = request.form

        def ask(signed, contract):
            amount = form_fen(form, "amount_yuan", "退费金额")
            return self.escrow.request_refund(signed, contract["id"], {"amount_fen": amount,
                                                                       "reason": form.get("reason", "")})

        return self._parent_post(request, code, ask, "退费申请已提交，机构须在规定期限内答复，逾期视为同意")
