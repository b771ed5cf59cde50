"""Registry routes: institutions, records, the ledger import, cases, inbox and county settings.

A mixin of GatewayService (services/gateway/service.py), which holds the RPC proxies and auth."""
from __future__ import annotations

import base64
from urllib.parse import quote

from werkzeug.wrappers import Response

from services.common.errors import ValidationFailed
from services.common.policy import can
from services.common.service_kit import paging

from .. import identity
from ..api import api, page_items, read_body, read_json
from .common import MAX_ATTACHMENT_BYTES, MAX_IMPORT_BYTES, file_answer, import_answer, int_arg


class RegistryRoutes:
    # -- registry ----------------------------------------------------------------------------------

    @api("POST", "/api/institutions")
    def register_institution(self, request):
        actor, body = self._actor(request), read_json(request)
        self._known_township(actor, body.get("township_code"))
        return 201, self.registry.register_institution(self.auth.signer.sign(actor), body)

    def _known_township(self, actor, code) -> None:
        """A well-formed township code in the actor's division must name a township the county added
        (`division add`), as the ledger import requires; the registry checks the rest (format, scope)."""
        if isinstance(code, str) and len(code) == 9 and code.isdigit() and code.startswith(actor.division_code):
            if code not in {t["code"] for t in identity.township_directory(self.db, actor)}:
                raise ValidationFailed(f"乡镇代码 {code} 不是本县已登记的乡镇", field="township_code")

    @api("GET", "/api/institutions")
    def list_institutions(self, request):
        limit, offset = paging(int_arg(request, "limit", 100), int_arg(request, "offset", 0))
        args = request.args
        filters = {"township_code": args.get("township"), "category": args.get("category"),
                   "status": args.get("status"), "q": args.get("q")}
        filters = {k: v for k, v in filters.items() if v}
        return self.registry.list_institutions(self._signed(request), limit, offset, filters)

    @api("GET", "/api/institutions/<int:institution_id>")
    def get_institution(self, request, institution_id):
        return self.registry.get_institution(self._signed(request), institution_id)

    @api("GET", "/api/institutions/<int:institution_id>/verification")
    def get_verification(self, request, institution_id):
        return self.workflows.get_licence_verification(self._signed(request), institution_id)

    @api("POST", "/api/institutions/<int:institution_id>/verification/decision")
    def decide_verification(self, request, institution_id):
        decision = read_json(request)
        actor = self._signed(request)
        return self.workflows.decide_licence_verification(actor, institution_id, decision)

    # -- registry records: status, platform flags, staff, courses, schools (issue 3) -------------

    @api("GET", "/api/institutions/<int:institution_id>/history")
    def institution_history(self, request, institution_id):
        return self.registry.get_institution_history(self._signed(request), institution_id)

    @api("GET", "/api/institutions/<int:institution_id>/status")
    def institution_status_on(self, request, institution_id):
        """?on=YYYY-MM-DD: the status in force that day (today when absent)."""
        from services.common.workdays import today_shanghai

        day = request.args.get("on") or today_shanghai().isoformat()
        return self.registry.get_institution_status_on(self._signed(request), institution_id, day)

    @api("POST", "/api/institutions/<int:institution_id>/status")
    def change_institution_status(self, request, institution_id):
        return self.registry.change_institution_status(self._signed(request), institution_id, read_json(request))

    @api("PUT", "/api/institutions/<int:institution_id>/platform-registration")
    def update_platform_registration(self, request, institution_id):
        return self.registry.update_platform_registration(self._signed(request), institution_id,
                                                          read_json(request))

    @api("GET", "/api/institutions/<int:institution_id>/staff")
    def list_staff(self, request, institution_id):
        include_left = request.args.get("include_left") in ("1", "true", "yes")
        return page_items(request, self.registry.list_staff(self._signed(request), institution_id, include_left))

    @api("POST", "/api/institutions/<int:institution_id>/staff")
    def add_staff_member(self, request, institution_id):
        return 201, self.registry.add_staff_member(self._signed(request), institution_id, read_json(request))

    @api("POST", "/api/staff/<int:staff_id>/leaving")
    def record_staff_leaving(self, request, staff_id):
        return self.registry.record_staff_leaving(self._signed(request), staff_id, read_json(request))

    @api("GET", "/api/institutions/<int:institution_id>/courses")
    def list_courses(self, request, institution_id):
        return page_items(request, self.registry.list_courses(self._signed(request), institution_id))

    @api("POST", "/api/institutions/<int:institution_id>/courses")
    def publish_course(self, request, institution_id):
        return 201, self.registry.publish_course(self._signed(request), institution_id, read_json(request))

    @api("POST", "/api/courses/<int:course_id>/withdrawal")
    def withdraw_course(self, request, course_id):
        return self.registry.withdraw_course(self._signed(request), course_id)

    @api("GET", "/api/schools")
    def list_schools(self, request):
        limit, offset = paging(int_arg(request, "limit", 100), int_arg(request, "offset", 0))
        filters = {k: request.args.get(a) for k, a in (("township_code", "township"), ("zone", "zone"))
                   if request.args.get(a)}
        return self.registry.list_schools(self._signed(request), limit, offset, filters)

    @api("POST", "/api/schools")
    def register_school(self, request):
        return 201, self.registry.register_school(self._signed(request), read_json(request))

    @api("GET", "/api/schools/<int:school_id>")
    def get_school(self, request, school_id):
        return self.registry.get_school(self._signed(request), school_id)

    # -- ledger (台账) import: create → rows (chunks) → commit, or one file upload ------------------

    @api("POST", "/api/registry/imports")
    def create_import(self, request):
        result = self.registry.create_import(self._signed(request), read_json(request))
        return import_answer(result, created=True)

    @api("GET", "/api/registry/imports/<string:batch_id>")
    def get_import(self, request, batch_id):
        return self.registry.get_import(self._signed(request), batch_id)

    @api("POST", "/api/registry/imports/<string:batch_id>/rows")
    def add_import_rows(self, request, batch_id):
        body = read_json(request, max_bytes=MAX_IMPORT_BYTES)
        rows = body.get("rows") if isinstance(body, dict) else None
        return self.registry.add_import_rows(self._signed(request), batch_id, rows)

    @api("POST", "/api/registry/imports/<string:batch_id>/commit")
    def commit_import(self, request, batch_id):
        actor = self._actor(request)
        townships = identity.township_directory(self.db, actor)
        result = self.registry.commit_import(self.auth.signer.sign(actor), batch_id, townships)
        self.ctx.log.info("ledger_import", batch_id=batch_id, state=result["state"], created=result["created"],
                          updated=result["updated"], unchanged=result["unchanged"], errors=result["error_total"])
        return import_answer(self._lag_after_import(actor, result))

    @api("POST", "/api/registry/imports/file")
    def import_ledger_file(self, request):
        """The whole import in one request: the body is the .csv/.xlsx file, `?name=` its file name.
        The registry parses it (the ledger's format is the registry's business)."""
        content = read_body(request, max_bytes=MAX_IMPORT_BYTES)
        actor = self._actor(request)
        result = self.registry.import_ledger_file(
            self.auth.signer.sign(actor), request.args.get("name") or "",
            base64.b64encode(content).decode("ascii"), identity.township_directory(self.db, actor),
        )
        return import_answer(self._lag_after_import(actor, result))

    def _lag_after_import(self, actor, result: dict) -> dict:
        """A committed import says how far the reports are behind it (issue 12)."""
        if result.get("state") == "rejected" or not can(actor, "reporting.read"):
            return result
        return self._with_lag(self.auth.signer.sign(actor), result)

    # issue 15: the template, and a preview of what a commit would do (row by row, errors in place)

    @api("GET", "/api/registry/template")
    def ledger_template(self, request):
        """台账模板 (.xlsx): headers, drop-down lists (the county's townships), an example row."""
        actor = self._actor(request)
        return file_answer(self.registry.get_ledger_template(self.auth.signer.sign(actor),
                                                             identity.township_directory(self.db, actor)))

    @api("POST", "/api/registry/imports/preview")
    def preview_ledger_file(self, request):
        """The file as the body (`?name=`): read and staged, nothing stored; commit with …/<id>/commit."""
        content = read_body(request, max_bytes=MAX_IMPORT_BYTES)
        actor = self._actor(request)
        return import_answer(self.registry.preview_ledger_file(
            self.auth.signer.sign(actor), request.args.get("name") or "",
            base64.b64encode(content).decode("ascii"), identity.township_directory(self.db, actor)))

    @api("POST", "/api/registry/imports/<string:batch_id>/preview")
    def preview_import(self, request, batch_id):
        actor = self._actor(request)
        return import_answer(self.registry.preview_import(self.auth.signer.sign(actor), batch_id,
                                                          identity.township_directory(self.db, actor)))

    # -- other services ----------------------------------------------------------------------------

    @api("GET", "/api/escrow/institutions/<int:institution_id>/eligibility")
    def enrolment_eligibility(self, request, institution_id):
        return self.escrow.get_enrolment_eligibility(self._signed(request), institution_id)

    @api("GET", "/api/inspection/targets")
    def inspection_targets(self, request):
        return page_items(request, self.inspection.list_inspection_targets(self._signed(request)))

    @api("GET", "/api/reports/institution-counts")
    def institution_counts(self, request):
        args = request.args
        return self.reporting.get_institution_counts(
            self._signed(request), args.get("division") or None, args.get("as_of") or None
        )

    # -- 营转非 / 注销 cases, inbox and county settings ---------------------------------------------

    @api("GET", "/api/inbox")
    def inbox(self, request):
        return page_items(request, self.registry.list_inbox(self._signed(request)))

    @api("POST", "/api/institutions/<int:institution_id>/conversion")
    def apply_for_conversion(self, request, institution_id):
        return 201, self.registry.apply_for_conversion(self._signed(request), institution_id)

    @api("POST", "/api/institutions/<int:institution_id>/deregistration")
    def apply_for_deregistration(self, request, institution_id):
        return 201, self.registry.apply_for_deregistration(self._signed(request), institution_id, read_json(request))

    @api("GET", "/api/institutions/<int:institution_id>/cases/<string:process>")
    def get_case(self, request, institution_id, process):
        return self.registry.get_case(self._signed(request), process, institution_id)

    @api("GET", "/api/cases/<string:workflow_id>")
    def get_case_state(self, request, workflow_id):
        return self.workflows.get_case_state(self._signed(request), workflow_id)

    @api("POST", "/api/cases/<string:workflow_id>/decision")
    def decide_case(self, request, workflow_id):
        return self.workflows.decide_case(self._signed(request), workflow_id, read_json(request))

    # case attachments (issue 7): `case_id` is the registry's id — the case's `case_id`, also the last
    # part of its workflow id (`conversion-<institution>-<case>`)

    @api("POST", "/api/cases/<int:case_id>/attachments")
    def add_case_attachment(self, request, case_id):
        """The file itself as the body (PDF/JPEG/PNG, ≤ 10 MB; ?filename=&step=); the registry checks it."""
        content = read_body(request, max_bytes=MAX_ATTACHMENT_BYTES + 1)
        return 201, self.registry.add_case_attachment(
            self._signed(request), case_id,
            {"content_b64": base64.b64encode(content).decode("ascii"), "filename": request.args.get("filename"),
             "step_key": request.args.get("step") or None})

    @api("GET", "/api/cases/<int:case_id>/attachments")
    def list_case_attachments(self, request, case_id):
        return self.registry.list_case_attachments(self._signed(request), case_id)

    @api("GET", "/api/cases/attachments/<int:attachment_id>")
    def download_case_attachment(self, request, attachment_id):
        """The attached file (Content-Disposition: attachment), checked against its SHA-256."""
        answer = self.registry.get_case_attachment(self._signed(request), attachment_id)
        return Response(base64.b64decode(answer["content_b64"]), mimetype=answer["content_type"],
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(answer['filename'])}",
                                 "X-Content-SHA256": answer["sha256"], "X-Content-Type-Options": "nosniff"})

    @api("GET", "/api/settings/county")
    def get_county_settings(self, request):
        return self.registry.get_county_settings(self._signed(request), request.args.get("county") or None)

    @api("PUT", "/api/settings/county")
    def set_county_settings(self, request):
        return self.registry.set_county_settings(
            self._signed(request), request.args.get("county") or None, read_json(request)
        )

    @api("GET", "/api/escrow/institutions/<int:institution_id>/charge-check")
    def check_new_charge(self, request, institution_id):
        return self.escrow.check_new_charge(self._signed(request), institution_id)
