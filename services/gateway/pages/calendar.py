"""工作日历 page (issue 13): any year's holidays and make-up days with their source, the loaded
schedules, and the upload of a year's State Council notice (admins of education, and 运维)."""
from __future__ import annotations

from datetime import datetime

from services.common.calendar_file import read_schedule_text
from services.common.errors import DomainError, ValidationFailed
from services.common.policy import can
from services.common.textfiles import decode_office_text
from services.common.workcalendar import SHANGHAI

from .web import page, redirect
from ..api import status_for

MAX_SCHEDULE_BYTES = 256 * 1024


class CalendarPages:
    def _calendar_page(self, request, year: int | None = None, error=None, status=200):
        actor, _, _ = self._page_actor(request)
        signed = self._signed(request)
        this_year = datetime.now(SHANGHAI).year
        if year is None:
            try:
                year = int(request.args.get("year") or this_year)
            except ValueError:
                year = this_year
        year = min(max(year, 2000), 2099)
        return self._render(request, "calendar.html", status=status, title="工作日历", year=year,
                            shown=self.registry.get_calendar(signed, year),
                            schedules=self.registry.list_calendar_years(signed)["items"],
                            status_next=self.registry.get_calendar_status(signed),
                            may_load=can(actor, "calendar.load_schedule"), error=error)

    @page("GET", "/ui/calendar")
    def page_calendar(self, request):
        return self._calendar_page(request)

    @page("POST", "/ui/calendar")
    def page_calendar_post(self, request):
        self._page_post(request)
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise ValidationFailed("请选择放假安排文件（.csv 或 .json）", field="file")
            content = upload.read(MAX_SCHEDULE_BYTES + 1)
            if len(content) > MAX_SCHEDULE_BYTES:
                raise ValidationFailed("文件过大：放假安排每年不过几十行", field="file")
            try:
                text = decode_office_text(content)
            except UnicodeDecodeError:
                raise ValidationFailed("文件编码应为 UTF-8 或 GBK", field="file") from None
            rows = read_schedule_text(text, upload.filename)
            answer = self.registry.load_calendar_schedule(self._signed(request), {"days": rows})
        except DomainError as exc:
            return self._calendar_page(request, error=exc.message, status=status_for(exc))
        first = answer["loaded"][0]
        years = "、".join(f"{y['year']}年" for y in answer["loaded"])
        return redirect(f"/ui/calendar?year={first['year']}", f"已导入{years}放假安排，进行中的期限已按新安排重算")
