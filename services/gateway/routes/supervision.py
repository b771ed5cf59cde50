"""督导 routes: zones, visits, homework, 一校一案 and after-school figures.

A mixin of GatewayService (services/gateway/service.py), which holds the RPC proxies and auth."""
from __future__ import annotations



from services.common.errors import ValidationFailed

from ..api import api, page_items, read_json
from .common import int_arg


class SupervisionRoutes:
    # -- school supervision (督导: zones, visits, homework, 一校一案; issue 5 part 6) ----------------

    @api("GET", "/api/supervision/schools")
    def supervision_schools(self, request):
        return page_items(request, self.inspection.list_supervised_schools(self._signed(request), request.args.get("zone") or None))

    @api("GET", "/api/supervision/zones")
    def supervision_zones(self, request):
        return page_items(request, self.inspection.list_supervision_zones(self._signed(request)))

    @api("PUT", "/api/supervision/zones")
    def set_supervision_zone(self, request):
        return self.inspection.set_supervision_zone(self._signed(request), read_json(request))

    @api("POST", "/api/supervision/visits")
    def record_school_visit(self, request):
        return 201, self.inspection.record_school_visit(self._signed(request), read_json(request))

    @api("GET", "/api/supervision/visits")
    def list_school_visits(self, request):
        school = request.args.get("school")
        return page_items(request, self.inspection.list_school_visits(self._signed(request), request.args.get("month") or None,
                                                  int_arg(request, "school", 0) if school else None))

    @api("GET", "/api/supervision/coverage")
    def supervision_coverage(self, request):
        month = request.args.get("month")
        if not month:
            raise ValidationFailed("请指定月份 YYYY-MM", field="month")
        return self.inspection.supervision_coverage(self._signed(request), month,
                                                    request.args.get("division") or None)

    @api("POST", "/api/supervision/homework")
    def publish_homework(self, request):
        return 201, self.inspection.publish_homework(self._signed(request), read_json(request))

    @api("GET", "/api/supervision/schools/<int:school_id>/homework")
    def list_homework(self, request, school_id):
        return self.inspection.list_homework(self._signed(request), school_id, request.args.get("from") or None,
                                             request.args.get("to") or None)

    @api("POST", "/api/supervision/homework-checks")
    def check_homework(self, request):
        return self.inspection.check_homework(self._signed(request), read_json(request))

    @api("POST", "/api/supervision/after-school-plans")
    def file_after_school_plan(self, request):
        return 201, self.inspection.file_after_school_plan(self._signed(request), read_json(request))

    @api("PUT", "/api/supervision/after-school-figures")
    def record_after_school_figures(self, request):
        return self.inspection.record_after_school_figures(self._signed(request), read_json(request))

    @api("GET", "/api/supervision/after-school")
    def after_school_report(self, request):
        year = request.args.get("school_year")
        return self.inspection.after_school_report(self._signed(request),
                                                   int_arg(request, "school_year", 0) if year else None,
                                                   request.args.get("as_of") or None)

    @api("GET", "/api/supervision/settings")
    def get_supervision_settings(self, request):
        return self.inspection.get_supervision_settings(self._signed(request), request.args.get("county") or None)

    @api("PUT", "/api/supervision/settings")
    def set_supervision_settings(self, request):
        return self.inspection.set_supervision_settings(self._signed(request), request.args.get("county") or None,
                                                        read_json(request))

    @api("GET", "/api/reports/escrow-summary")
    def escrow_summary(self, request):
        args = request.args
        return self.reporting.get_escrow_summary(
            self._signed(request), args.get("division") or None, args.get("as_of") or None
        )
