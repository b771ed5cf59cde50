"""举报 routes: the public form without login and the officials' desk.

A mixin of GatewayService (services/gateway/service.py), which holds the RPC proxies and auth."""
from __future__ import annotations

import base64


from services.common.config import deployment
from services.common.service_kit import paging

from .. import identity
from ..api import api, json_response, read_body, read_json
from .common import MAX_IMPORT_BYTES, import_answer, int_arg


class ComplaintRoutes:
    # -- complaints (举报, issue 5 part 5): a public form without login, and the officials' desk ------

    def _public_actor(self) -> str:
        """The public form acts as the platform for the county this gateway serves."""
        from services.common.identity import system_actor

        return self.auth.signer.sign(system_actor(deployment().root_code, name="public_complaints"))

    def _rate_limited(self, request, buckets):
        from .. import ratelimit

        wait = buckets.take(self.db, request.remote_addr or "unknown")
        if not wait:
            return None
        seconds = ratelimit.retry_after(wait)
        self.ctx.log.warning("public_rate_limited", client=request.remote_addr, retry_after=seconds)
        error = {"code": "rate_limited", "message": f"提交过于频繁，请{seconds}秒后再试", "field": None}
        return json_response({"error": error}, 429, headers={"Retry-After": str(seconds)})

    @api("POST", "/api/public/complaints")
    def submit_public_complaint(self, request):
        """No login. {content, institution_name | institution_id, township_code, contact_phone} → 201
        {receipt_no, status}. Rate-limited per client IP (429 with Retry-After)."""
        from .. import ratelimit

        limited = self._rate_limited(request, ratelimit.public_submissions)
        if limited is not None:
            return limited
        return 201, self.inspection.submit_public_complaint(self._public_actor(), read_json(request))

    @api("GET", "/api/public/complaints/<string:receipt_no>")
    def public_complaint_status(self, request, receipt_no):
        """No login: status and the official reply only."""
        from .. import ratelimit

        limited = self._rate_limited(request, ratelimit.public_lookups)
        if limited is not None:
            return limited
        return self.inspection.get_public_complaint_status(self._public_actor(), receipt_no)

    @api("GET", "/api/complaints")
    def list_complaints(self, request):
        """?status=&department=&township=&channel=&overdue=true|false&as_of=&limit=&offset="""
        limit, offset = paging(int_arg(request, "limit", 100), int_arg(request, "offset", 0))
        args = request.args
        filters = {k: args.get(k) for k in ("status", "department", "township", "channel", "overdue", "as_of")}
        filters = {k: v for k, v in filters.items() if v}
        return self.inspection.list_complaints(self._signed(request), filters, limit, offset)

    @api("GET", "/api/complaints/<int:complaint_id>")
    def get_complaint(self, request, complaint_id):
        return self.inspection.get_complaint(self._signed(request), complaint_id)

    @api("POST", "/api/complaints/<int:complaint_id>/triage")
    def triage_complaint(self, request, complaint_id):
        return self.inspection.triage_complaint(self._signed(request), complaint_id, read_json(request))

    @api("POST", "/api/complaints/<int:complaint_id>/assignment")
    def assign_complaint(self, request, complaint_id):
        return self.inspection.assign_complaint(self._signed(request), complaint_id, read_json(request))

    @api("POST", "/api/complaints/<int:complaint_id>/reply")
    def reply_complaint(self, request, complaint_id):
        return self.inspection.reply_complaint(self._signed(request), complaint_id, read_json(request))

    @api("POST", "/api/complaints/<int:complaint_id>/contact")
    def reveal_complaint_contact(self, request, complaint_id):
        """{reason} → the complainant's phone unmasked, for the handling department's call-back;
        each reveal is written to the audit trail (who, when, why)."""
        return self.inspection.reveal_complaint_contact(self._signed(request), complaint_id, read_json(request))

    @api("POST", "/api/complaints/<int:complaint_id>/closure")
    def close_complaint(self, request, complaint_id):
        return self.inspection.close_complaint(self._signed(request), complaint_id, read_json(request))

    @api("POST", "/api/complaints/imports/file")
    def import_complaints_file(self, request):
        """The 互联网+教育督导 export (.csv, UTF-8 or GBK) as the body: all rows or none (422)."""
        content = read_body(request, max_bytes=MAX_IMPORT_BYTES)
        actor = self._actor(request)
        result = self.inspection.import_complaints_csv(
            self.auth.signer.sign(actor), base64.b64encode(content).decode("ascii"),
            identity.township_directory(self.db, actor))
        return import_answer(result)

    @api("POST", "/api/complaints/overdue-scan")
    def flag_overdue_complaints(self, request):
        """Mark and announce newly overdue complaints now (?as_of= ISO time)."""
        return self.inspection.flag_overdue_complaints(self._signed(request), request.args.get("as_of") or None)

    @api("GET", "/api/complaints/settings")
    def get_complaint_settings(self, request):
        return self.inspection.get_complaint_settings(self._signed(request), request.args.get("county") or None)

    @api("PUT", "/api/complaints/settings")
    def set_complaint_settings(self, request):
        return self.inspection.set_complaint_settings(self._signed(request), read_json(request))
