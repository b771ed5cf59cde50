"""Report routes: 半月报 / 周报 as JSON or files, cycles, frozen submissions, charts.

A mixin of GatewayService (services/gateway/service.py), which holds the RPC proxies and auth."""
from __future__ import annotations

import base64
from urllib.parse import quote

from werkzeug.wrappers import Response

from services.common.errors import ValidationFailed

from .. import identity
from ..api import api, page_items, read_json


class ReportRoutes:
    # -- reports (issue 6): 半月报 / 周报 as JSON or files, cycles, frozen submissions, charts ------

    @staticmethod
    def _report_file(answer: dict) -> Response:
        disposition = f"attachment; filename*=UTF-8''{quote(answer['filename'])}"
        return Response(base64.b64decode(answer["content_b64"]), mimetype=answer["content_type"].split(";")[0],
                        headers={"Content-Disposition": disposition})

    def _report(self, request, kind: str):
        args = request.args
        division, as_of, file_format = args.get("division") or None, args.get("as_of") or None, args.get("format")
        if file_format in (None, "", "json"):
            signed = self._signed(request)
            return self._with_lag(signed, self.reporting.get_report(signed, kind, division, as_of))
        name = identity.division_name(self.db, division or self._actor(request).division_code)
        return self._report_file(self.reporting.export_report(
            self._signed(request), kind, division, as_of, file_format, name))

    @api("GET", "/api/reports/half-monthly")
    def half_monthly_report(self, request):
        return self._report(request, "half_monthly")

    @api("GET", "/api/reports/weekly")
    def weekly_report(self, request):
        return self._report(request, "weekly")

    @api("GET", "/api/reports/cycles")
    def list_report_cycles(self, request):
        return page_items(request, self.reporting.list_reports(self._signed(request), request.args.get("division") or None,
                                           request.args.get("kind") or None))

    @api("GET", "/api/reports/cycles/<int:cycle_id>/submissions")
    def list_report_submissions(self, request, cycle_id):
        return page_items(request, self.reporting.list_report_submissions(self._signed(request), cycle_id))

    @api("POST", "/api/reports/submissions")
    def submit_report(self, request):
        body = read_json(request)
        if not isinstance(body, dict):
            raise ValidationFailed("请求体应为 JSON 对象", field="body")
        return 201, self.reporting.submit_report(self._signed(request), body.get("kind"), body.get("division"),
                                                 body.get("as_of"), body.get("note"))

    @api("GET", "/api/reports/submissions/<int:submission_id>")
    def get_report_submission(self, request, submission_id):
        file_format = request.args.get("format")
        if file_format in (None, "", "json"):
            return self.reporting.get_report_submission(self._signed(request), submission_id)
        answer = self.reporting.export_report(self._signed(request), None, None, None, file_format,
                                              None, submission_id)
        return self._report_file(answer)

    @api("GET", "/api/reports/charts")
    def report_charts(self, request):
        args = request.args
        return self.reporting.get_chart_data(self._signed(request), args.get("division") or None,
                                             args.get("from") or None, args.get("to") or None)
