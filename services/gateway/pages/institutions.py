"""机构名录, one institution, and the 台账导入 page."""
from __future__ import annotations

import base64

from services.common.errors import DomainError
from services.common.policy import can
from services.common.processes import PROCESS_NAMES

from .. import identity
from .web import page
from .common import (PUBLIC_STATUSES, attempt)
from ..api import status_for


class InstitutionPages:
    # -- institutions: directory and one institution --------------------------------------------------

    @page("GET", "/ui/institutions")
    def page_institutions(self, request):
        actor, _, _ = self._page_actor(request)
        args = request.args
        filters = {"township_code": args.get("township"), "category": args.get("category"),
                   "status": args.get("status"), "q": args.get("q")}
        filters = {k: v for k, v in filters.items() if v}
        try:
            offset = max(0, int(args.get("offset", 0)))
        except ValueError:
            offset = 0
        result = self.registry.list_institutions(self._signed(request), 50, offset, filters)
        return self._render(request, "institutions.html", title="机构名录", result=result,
                            townships=self._townships(actor), args=args, offset=offset,
                            statuses=PUBLIC_STATUSES)

    def _institution_page(self, request, institution_id, error=None, status=200):
        actor, _, _ = self._page_actor(request)
        signed = self._signed(request)
        inst = self.registry.get_institution(signed, institution_id)

        cases = {p: attempt(self.registry.get_case, signed, p, institution_id) for p in PROCESS_NAMES}
        complaints = attempt(self.inspection.list_complaints, signed, {}, 200, 0)
        if complaints:
            complaints = [c for c in complaints.get("items", []) if c.get("institution_id") == institution_id]
        return self._render(
            request, "institution.html", status=status, title=inst["name"], inst=inst, error=error,
            history=attempt(self.registry.get_institution_history, signed, institution_id),
            staff=attempt(self.registry.list_staff, signed, institution_id, False),
            courses=attempt(self.registry.list_courses, signed, institution_id),
            position=attempt(self.escrow.get_position, signed, institution_id),
            records=attempt(self.inspection.list_inspection_records, signed, None, institution_id, 50, 0),
            complaints=complaints, cases=cases, process_names=PROCESS_NAMES,
            townships=self._townships(actor),
            may_open=can(actor, "registry.apply_conversion"),
            portal_accounts=attempt(self._portal_accounts, actor, inst),  # 机构端 accounts (issue 14)
        )

    @page("GET", "/ui/institutions/<int:institution_id>")
    def page_institution(self, request, institution_id):
        return self._institution_page(request, institution_id)

    # -- ledger import: upload → preview (rows, errors in place) → commit -------------------------------

    @page("GET", "/ui/imports")
    def page_imports(self, request):
        return self._render(request, "imports.html", title="台账导入", result=None)

    @page("POST", "/ui/imports")
    def page_imports_post(self, request):
        """The file is read and checked, nothing stored: the preview shows every row before the commit."""
        actor = self._page_post(request)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return self._render(request, "imports.html", status=400, title="台账导入", result=None,
                                error="请选择台账文件（.xlsx 或 .csv）")
        content = base64.b64encode(upload.read()).decode("ascii")
        return self._import_page(request, lambda signed, townships: self.registry.preview_ledger_file(
            signed, upload.filename, content, townships), actor)

    @page("POST", "/ui/imports/<string:batch_id>/commit")
    def page_imports_commit(self, request, batch_id):
        actor = self._page_post(request)
        return self._import_page(request, lambda signed, townships: self.registry.commit_import(
            signed, batch_id, townships), actor)

    def _import_page(self, request, call, actor):
        """The page with the registry's answer (422 when rejected), or its refusal as the error."""
        result, error, status = None, None, 200
        try:
            result = call(self._signed(request), identity.township_directory(self.db, actor))
            status = 422 if result.get("state") == "rejected" else 200
        except DomainError as exc:
            error, status = exc.message, status_for(exc)
        return self._render(request, "imports.html", status=status, title="台账导入", result=result, error=error)
