"""报表 and 数据看板 pages."""
from __future__ import annotations


from services.common.errors import DomainError
from services.common.policy import can

from .web import page, redirect
from ..api import status_for


class ReportPages:
    # -- reports and dashboard ------------------------------------------------------------------------

    @page("GET", "/ui/reports")
    def page_reports(self, request, error=None, status=200):
        kind = request.args.get("kind") if request.args.get("kind") in ("half_monthly", "weekly") else "half_monthly"
        as_of = request.args.get("as_of") or None
        signed = self._signed(request)
        read_model = None
        try:
            report = self.reporting.get_report(signed, kind, None, as_of)
            read_model = self._with_lag(signed, {})["read_model"]  # how far behind the figures are (issue 12)
        except DomainError as exc:
            report, error, status = None, exc.message, status_for(exc)
        cycles = self.reporting.list_reports(signed, None, None)
        actor, _, _ = self._page_actor(request)
        return self._render(request, "reports.html", status=status, title="报表", report=report, kind=kind,
                            as_of=as_of or "", cycles=cycles, error=error, read_model=read_model,
                            may_submit=can(actor, "reporting.submit"))

    @page("POST", "/ui/reports/submissions")
    def page_report_submit(self, request):
        actor = self._page_post(request)
        form = request.form
        try:
            self.reporting.submit_report(self._signed(request), form.get("kind"), actor.division_code,
                                         form.get("as_of") or None, form.get("note") or None)
        except DomainError as exc:
            return self.page_reports(request, error=exc.message, status=status_for(exc))
        return redirect("/ui/reports", "报表已报送")

    @page("GET", "/ui/dashboard")
    def page_dashboard(self, request):
        actor, _, _ = self._page_actor(request)
        return self._render(request, "dashboard.html", title="数据看板", townships=self._townships(actor))
