"""检查执法 pages: campaigns (拉网式 sweeps of chosen townships, 双随机 draws) with their joint team,
records with the checklist at phone width, photo evidence, orders, re-inspections."""
from __future__ import annotations

from datetime import date, timedelta

from services.common.errors import DomainError, ValidationFailed
from services.common.policy import can

from .common import K, _checklist, _form_int
from .desk_forms import DeskActions, institution_names, refusal
from .web import page, redirect
from ..api import status_for

# who may sit on a joint team (联合执法组); the inspection service checks the same list
TEAM_KINDS = (("education", "教体局"), ("public_security", "公安局"), ("urban_management", "城管执法局"),
              ("market_regulation", "市场监管局"), ("township", "乡镇人民政府"))
TEAM_ROWS = 4
CAMPAIGN_FIELDS = ("name", "kind", "mode", "townships", "start_date", "end_date", "team", "rates", "seed")
GRADES = ("A", "B", "C", "D")


def _campaign_body(form) -> dict:
    team = [{"department_kind": form.get(f"team_kind_{i}"), "name": (form.get(f"team_name_{i}") or "").strip()}
            for i in range(TEAM_ROWS) if (form.get(f"team_name_{i}") or "").strip()]
    body = {"name": (form.get("name") or "").strip(), "kind": form.get("kind") or "sweep",
            "mode": form.get("mode") or "open", "townships": form.getlist("townships"),
            "start_date": form.get("start_date", ""), "end_date": form.get("end_date", ""), "team": team}
    if body["kind"] == "random":
        rates = {}
        for grade in GRADES:
            raw = (form.get(f"rate_{grade}") or "").strip()
            if raw:
                try:
                    rates[grade] = int(raw)
                except ValueError:
                    raise ValidationFailed("抽查比例应为 0 到 100 的整数（百分比）", field="rates") from None
        body["rates"] = rates
    return body


def _team_members(form) -> list[dict]:
    """The joint team members ticked on the checklist (`<department kind>|<name>`)."""
    members = []
    for value in form.getlist("team"):
        kind, _, name = value.partition("|")
        members.append({"department_kind": kind, "name": name})
    return members


class InspectionPages(DeskActions):
    # -- the desk: campaigns, orders, records ---------------------------------------------------------

    def _inspection_page(self, request, status=200, form=None, **context):
        actor, _, _ = self._page_actor(request)
        signed = self._signed(request)
        campaigns = self.inspection.list_campaigns(signed)["items"]
        mine = actor.department_kind.value
        for c in campaigns:  # 公安/城管/乡镇: the campaigns their people sit on come first, marked
            c["on_team"] = any(m.get("department_kind") == mine for m in c.get("team") or [])
        campaigns.sort(key=lambda c: not c["on_team"])
        today = date.today()
        defaults = {"start_date": today.isoformat(), "end_date": (today + timedelta(days=14)).isoformat(),
                    "team_kind_0": "education", "team_name_0": actor.display_name}
        return self._render(
            request, "inspection.html", status=status, title="检查执法", campaigns=campaigns,
            orders=self.inspection.list_orders(signed, None, 100, 0),
            leads=self.inspection.list_leads(signed, "open")["items"],
            records=self.inspection.list_inspection_records(signed, None, None, 20, 0),
            may_create=can(actor, "inspection.create_campaign"), may_record=can(actor, "inspection.record"),
            townships=self._townships(actor), team_kinds=TEAM_KINDS, team_rows=range(TEAM_ROWS), grades=GRADES,
            form=form or defaults, errors=context.pop("errors", {}), joint_member=actor.department_kind is not K.education,
            **context)

    @page("GET", "/ui/inspection")
    def page_inspection(self, request):
        return self._inspection_page(request)

    @page("POST", "/ui/inspection/campaigns")
    def page_create_campaign(self, request):
        def created(campaign):
            drawn = len(campaign["scope_ids"])
            what = f"已抽取 {drawn} 家" if campaign["kind"] == "random" else f"应查 {drawn} 家"
            return f"/ui/inspection/campaigns/{campaign['id']}", f"检查计划“{campaign['name']}”已创建，{what}"

        return self._act(request, lambda signed, form: self.inspection.create_campaign(signed, _campaign_body(form)),
                         lambda exc, form: self._inspection_page(request, status_for(exc), form,
                                                                 **refusal(exc, "campaign", CAMPAIGN_FIELDS)),
                         created)

    @page("POST", "/ui/inspection/leads/<int:lead_id>/closure")
    def page_close_lead(self, request, lead_id):
        """A lead closed without an inspection: unfounded or referred, with the reason."""
        return self._act(
            request, lambda signed, form: self.inspection.close_lead(
                signed, lead_id, {"resolution": form.get("resolution"), "note": form.get("note", "")}),
            lambda exc, form: self._inspection_page(request, status_for(exc), form,
                                                    **refusal(exc, f"lead{lead_id}", ("resolution", "note"))),
            lambda lead: ("/ui/inspection", f"线索已办结：{lead['institution_name']}，{lead['resolution_name']}"))

    @page("GET", "/ui/inspection/campaigns/<int:campaign_id>")
    def page_campaign(self, request, campaign_id):
        actor, _, _ = self._page_actor(request)
        signed = self._signed(request)
        campaign = self.inspection.get_campaign(signed, campaign_id)
        coverage = self.inspection.campaign_coverage(signed, campaign_id)
        names = institution_names(self.registry, signed)
        not_visited = {iid for t in coverage["townships"] for iid in t["not_visited"]}
        scope = [{"id": iid, "name": names.get(iid, "（辖区外机构）"), "visited": iid not in not_visited}
                 for iid in campaign["scope_ids"]]
        draw = self.inspection.reproduce_draw(signed, campaign_id) if campaign["kind"] == "random" else None
        return self._render(request, "campaign.html", title=f"检查计划 · {campaign['name']}", campaign=campaign,
                            coverage=coverage, scope=scope, draw=draw, townships=self._townships(actor),
                            team_names=dict(TEAM_KINDS), may_record=can(actor, "inspection.record"))

    # -- a record: the checklist at phone width, then photos ------------------------------------------

    @page("GET", "/ui/inspection/checklist")
    def page_checklist(self, request, error=None, status=200, form=None, errors=None):
        actor, _, _ = self._page_actor(request)
        signed = self._signed(request)
        institutions = self.registry.list_institutions(signed, 500, 0, {})
        campaign_id = request.args.get("campaign") or (form or {}).get("campaign_id", "")
        campaign = self.inspection.get_campaign(signed, int(campaign_id)) if str(campaign_id).isdigit() else None
        team = [m for m in (campaign or {}).get("team", [])  # the joint team goes along; the user is always on it
                if (m["department_kind"], m["name"]) != (actor.department_kind.value, actor.display_name)]
        defaults = {"institution_id": request.args.get("institution", ""), "mode": (campaign or {}).get("mode", "open")}
        return self._render(request, "checklist.html", status=status, title="现场检查记录",
                            checklist=_checklist(), institutions=institutions.get("items", []),
                            campaign_id=campaign_id, campaign=campaign, team=team, team_names=dict(TEAM_KINDS),
                            error=error, form=form or defaults, errors=errors or {})

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
                    "inspectors": [{"department_kind": actor.department_kind.value, "name": actor.display_name},
                                   *_team_members(form)],
                    "checklist": checklist, "outcome": outcome, "notes": form.get("notes") or None}
            if form.get("campaign_id"):
                body["campaign_id"] = _form_int(form, "campaign_id", "检查计划")
            record = self.inspection.record_inspection(self._signed(request), body)
        except DomainError as exc:
            items = {f"checklist.{key}.notes": f"item_{key}" for key in _checklist()}
            items.update({f"checklist.{key}": f"item_{key}" for key in _checklist()})
            aliases = {"outcome.kind": "outcome", "outcome.deadline_workdays": "deadline_workdays", **items}
            fields = ("institution_id", "mode", "outcome", "deadline_workdays", "notes", *items.values())
            shown = refusal(exc, "record", fields, aliases)
            return self.page_checklist(request, error=shown.get("error"), status=status_for(exc), form=form,
                                       errors=shown.get("errors"))
        return redirect(f"/ui/inspection/records/{record['id']}", "检查记录已保存，可继续上传现场照片")

    @page("GET", "/ui/inspection/records/<int:record_id>")
    def page_record(self, request, record_id):
        record = self.inspection.get_inspection_record(self._signed(request), record_id)
        return self._render(request, "record.html", title=f"检查记录 · {record['institution_name']}", record=record,
                            checklist=_checklist())

    @page("GET", "/ui/inspection/orders/<int:order_id>")
    def page_order(self, request, order_id, error=None, status=200):
        order = self.inspection.get_order(self._signed(request), order_id)
        return self._render(request, "order.html", status=status, title=f"{order['kind_name']} · {order['institution_name']}",
                            order=order, error=error, checklist=_checklist())

    @page("POST", "/ui/inspection/orders/<int:order_id>/reinspection")
    def page_reinspection(self, request, order_id):
        self._page_post(request)
        form = request.form
        try:
            self.inspection.record_reinspection(self._signed(request), order_id,
                                                {"passed": form.get("passed") == "yes", "notes": form.get("notes") or None})
        except DomainError as exc:
            return self.page_order(request, order_id, error=exc.message, status=status_for(exc))
        return redirect(f"/ui/inspection/orders/{order_id}", "复查结果已记录")
