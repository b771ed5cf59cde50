"""Calendar routes (issue 13): the holiday schedules the county loads, and any year's working days.

A mixin of GatewayService; the registry owns the loaded schedules and audits each load."""
from __future__ import annotations

from datetime import datetime

from services.common.workcalendar import SHANGHAI

from ..api import api, read_json
from .common import int_arg


class CalendarRoutes:
    @api("GET", "/api/calendar")
    def get_calendar(self, request):
        year = int_arg(request, "year", datetime.now(SHANGHAI).year)
        return self.registry.get_calendar(self._signed(request), year)

    @api("GET", "/api/calendar/schedules")
    def list_calendar_schedules(self, request):
        return self.registry.list_calendar_years(self._signed(request))

    @api("POST", "/api/calendar/schedules")
    def load_calendar_schedule(self, request):
        """Body: {"days": [{"date": "2027-01-01", "kind": "休", "name": "元旦"}, …]}."""
        return 201, self.registry.load_calendar_schedule(self._signed(request), read_json(request))
