"""检查执法 routes: campaigns, inspection records, evidence, orders and re-inspections.

A mixin of GatewayService (services/gateway/service.py), which holds the RPC proxies and auth."""
from __future__ import annotations

import base64



from ..api import api, page_items, read_body, read_json
from .common import int_arg


class InspectionRoutes:
    # -- campaigns, inspection records, orders (issue 5 parts 1–3) ----------------------------------

    @api("POST", "/api/inspection/campaigns")
    def create_inspection_campaign(self, request):
        return 201, self.inspection.create_campaign(self._signed(request), read_json(request))

    @api("GET", "/api/inspection/campaigns")
    def list_inspection_campaigns(self, request):
        return page_items(request, self.inspection.list_campaigns(self._signed(request)))

    @api("GET", "/api/inspection/campaigns/<int:campaign_id>")
    def get_inspection_campaign(self, request, campaign_id):
        return self.inspection.get_campaign(self._signed(request), campaign_id)

    @api("GET", "/api/inspection/campaigns/<int:campaign_id>/coverage")
    def inspection_campaign_coverage(self, request, campaign_id):
        return self.inspection.campaign_coverage(self._signed(request), campaign_id)

    @api("GET", "/api/inspection/campaigns/<int:campaign_id>/draw-check")
    def reproduce_inspection_draw(self, request, campaign_id):
        return self.inspection.reproduce_draw(self._signed(request), campaign_id)

    @api("POST", "/api/inspection/records")
    def record_inspection(self, request):
        return 201, self.inspection.record_inspection(self._signed(request), read_json(request))

    @api("GET", "/api/inspection/records")
    def list_inspection_records(self, request):
        campaign, institution = request.args.get("campaign"), request.args.get("institution")
        return self.inspection.list_inspection_records(
            self._signed(request), int_arg(request, "campaign", 0) if campaign else None,
            int_arg(request, "institution", 0) if institution else None,
            int_arg(request, "limit", 100), int_arg(request, "offset", 0))

    @api("GET", "/api/inspection/records/<int:record_id>")
    def get_inspection_record(self, request, record_id):
        return self.inspection.get_inspection_record(self._signed(request), record_id)

    @api("POST", "/api/inspection/records/<int:record_id>/evidence")
    def add_inspection_evidence(self, request, record_id):
        """The file itself as the body (JPEG/PNG/PDF, ≤ 5 MB; ?filename=); the service checks it."""
        content = read_body(request, max_bytes=(5 << 20) + 1)
        return 201, self.inspection.add_evidence(
            self._signed(request), record_id,
            {"content_b64": base64.b64encode(content).decode("ascii"), "filename": request.args.get("filename")})

    @api("GET", "/api/inspection/orders")
    def list_inspection_orders(self, request):
        return self.inspection.list_orders(self._signed(request), request.args.get("status") or None,
                                           int_arg(request, "limit", 100), int_arg(request, "offset", 0))

    @api("GET", "/api/inspection/orders/<int:order_id>")
    def get_inspection_order(self, request, order_id):
        return self.inspection.get_order(self._signed(request), order_id)

    @api("POST", "/api/inspection/orders/<int:order_id>/reinspection")
    def record_reinspection(self, request, order_id):
        return 201, self.inspection.record_reinspection(self._signed(request), order_id, read_json(request))
