"""营转非 / 注销 case pages: one case, its decision form, opening a case."""
from __future__ import annotations


from services.common.errors import DomainError, Forbidden
from services.common.identity import DEPARTMENT_NAMES, Role
from services.common.policy import can
from services.common.processes import PROCESS_NAMES

from .web import page, redirect
from .common import (K, case_id_of)
from ..api import status_for


class CasePages:
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
            return self._case_page(request, workflow_id, error=exc.message, status=status_for(exc), form=form)
        # back to the inbox: the case's next step usually belongs to another department
        return redirect("/ui/", f"已提交决定（办件 {workflow_id}）")

    @page("POST", "/ui/institutions/<int:institution_id>/conversion")
    def page_open_conversion(self, request, institution_id):
        self._page_post(request)
        try:
            case = self.registry.apply_for_conversion(self._signed(request), institution_id)
        except DomainError as exc:
            return self._institution_page(request, institution_id, error=exc.message, status=status_for(exc))
        return redirect(f"/ui/institutions/{institution_id}", f"已受理营转非申请（办件 {case['workflow_id']}）")

    @page("POST", "/ui/institutions/<int:institution_id>/deregistration")
    def page_open_deregistration(self, request, institution_id):
        self._page_post(request)
        try:
            case = self.registry.apply_for_deregistration(self._signed(request), institution_id,
                                                          {"reason": request.form.get("reason", "")})
        except DomainError as exc:
            return self._institution_page(request, institution_id, error=exc.message, status=status_for(exc))
        return redirect(f"/ui/institutions/{institution_id}", f"已启动注销（办件 {case['workflow_id']}）")
