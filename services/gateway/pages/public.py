"""Public pages (no login): 机构公示, 举报, 进度查询."""
from __future__ import annotations


from services.common.config import deployment
from services.common.errors import DomainError, ValidationFailed
from services.common.identity import system_actor

from .. import ratelimit
from ..api import api, status_for
from . import web
from .web import page, render
from .common import (PUBLIC_STATUSES)


class PublicPages:
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
        wait = ratelimit.public_submissions.take(self.db, request.remote_addr or "unknown")
        if wait:
            seconds = ratelimit.retry_after(wait)
            return self.page_public_complaint(request, error=f"提交过于频繁，请{seconds}秒后再试", status=429, form=form)
        body = {"content": form.get("content", ""), "institution_name": form.get("institution_name") or None,
                "township_code": form.get("township_code") or None, "contact_phone": form.get("contact_phone") or None}
        try:
            made = self.inspection.submit_public_complaint(self._public_actor(), body)
        except DomainError as exc:
            return self.page_public_complaint(request, error=exc.message, status=status_for(exc), form=form)
        return self.page_public_complaint(request, receipt=made["receipt_no"], status=201)

    @page("GET", "/public/complaint/status")
    def page_public_complaint_status(self, request):
        receipt = (request.args.get("receipt") or "").strip()
        result, error, status = None, None, 200
        if receipt:
            wait = ratelimit.public_lookups.take(self.db, request.remote_addr or "unknown")
            if wait:
                error, status = f"查询过于频繁，请{ratelimit.retry_after(wait)}秒后再试", 429
            else:
                try:
                    result = self.inspection.get_public_complaint_status(self._public_actor(), receipt)
                except DomainError as exc:
                    error, status = exc.message, status_for(exc)
        return self._public_render(request, "public_status.html", status=status, title="举报办理进度查询",
                                   receipt=receipt, result=result, error=error)
