"""举报受理 desk pages."""
from __future__ import annotations


from services.common.errors import DomainError, ValidationFailed
from services.common.identity import DEPARTMENT_NAMES
from services.common.policy import can

from .web import error_page, page, redirect
from .common import (K)
from ..api import status_for


class ComplaintPages:
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
            return self._complaint_page(request, complaint_id, error=exc.message, status=status_for(exc))
        return redirect(f"/ui/complaints/{complaint_id}", "已办理")

    @page("POST", "/ui/escrow/alerts/<int:alert_id>/closure")
    def page_close_alert(self, request, alert_id):
        self._page_post(request)
        try:
            self.escrow.close_alert(self._signed(request), alert_id, {"note": request.form.get("note", "")})
        except DomainError as exc:
            return error_page(status_for(exc), exc.message)
        return redirect("/ui/escrow", f"预警 #{alert_id} 已关闭")
