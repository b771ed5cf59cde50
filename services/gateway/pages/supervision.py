"""督导 pages."""
from __future__ import annotations

from datetime import date


from .web import page
from .common import (attempt)


class SupervisionPages:
    # -- 督导室 ----------------------------------------------------------------------------------------

    @page("GET", "/ui/supervision")
    def page_supervision(self, request):
        signed = self._signed(request)
        month = request.args.get("month") or date.today().strftime("%Y-%m")

        return self._render(
            request, "supervision.html", title="督导室", month=month,
            schools=attempt(self.inspection.list_supervised_schools, signed, None),
            zones=attempt(self.inspection.list_supervision_zones, signed),
            coverage=attempt(self.inspection.supervision_coverage, signed, month, None),
            visits=attempt(self.inspection.list_school_visits, signed, month, None),
            after_school=attempt(self.inspection.after_school_report, signed, None, None),
        )
