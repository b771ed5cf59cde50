"""检查执法 pages: records with the checklist, orders, re-inspections."""
from __future__ import annotations


from services.common.errors import DomainError

from .web import page, redirect
from .common import (_checklist, _form_int)


class InspectionPages:
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
