"""督导 pages (督导室 and 教体局): the month's visits and coverage, recording a visit, a class's
homework publication and the limits check, the 一校一案 filing and its after-school figures."""
from __future__ import annotations

from datetime import date

from services.common.errors import DomainError, ValidationFailed
from services.common.policy import can

from .common import _form_int, attempt
from .desk_forms import DeskActions, refusal
from .web import page
from ..api import status_for

VISIT_METHODS = (("campus_patrol", "校园巡查"), ("document_review", "查阅资料"), ("questionnaire", "问卷调查"),
                 ("interview", "走访座谈"))
HOMEWORK_ROWS = 4


def _optional_int(form, name: str, label: str) -> int | None:
    return _form_int(form, name, label) if (form.get(name) or "").strip() else None


def _homework_items(form) -> list[dict]:
    items = []
    for i in range(HOMEWORK_ROWS):
        subject = (form.get(f"subject_{i}") or "").strip()
        if not subject:
            continue
        try:
            minutes = int(form.get(f"minutes_{i}") or "")
        except ValueError:
            raise ValidationFailed(f"第{i + 1}项作业（{subject}）的预计完成时间应为整数分钟", field="items") from None
        items.append({"subject": subject, "minutes": minutes, "written": form.get(f"written_{i}") == "yes"})
    return items


class SupervisionPages(DeskActions):
    # -- 督导室 ----------------------------------------------------------------------------------------

    def _supervision_page(self, request, status=200, form=None, **context):
        actor, _, _ = self._page_actor(request)
        signed = self._signed(request)
        month = request.args.get("month") or date.today().strftime("%Y-%m")
        today = date.today().isoformat()
        index = date.today().year * 12 + date.today().month - 1
        months = [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index, index - 12, -1)]  # the last 12
        if month not in months:
            months.insert(0, month)
        return self._render(
            request, "supervision.html", status=status, title="督导", month=month, months=months, today=today,
            schools=attempt(self.inspection.list_supervised_schools, signed, None),
            zones=attempt(self.inspection.list_supervision_zones, signed),
            townships=self._townships(actor), may_register=can(actor, "registry.register_school"),
            coverage=attempt(self.inspection.supervision_coverage, signed, month, None),
            visits=attempt(self.inspection.list_school_visits, signed, month, None),
            after_school=attempt(self.inspection.after_school_report, signed, None, None),
            may_record=can(actor, "supervision.record"), methods=VISIT_METHODS, homework_rows=range(HOMEWORK_ROWS),
            form=form or {}, errors=context.pop("errors", {}), **context)

    @page("GET", "/ui/supervision")
    def page_supervision(self, request):
        return self._supervision_page(request)

    def _supervision_post(self, request, form_name, fields, build, call, done):
        return self._act(request, lambda signed, form: call(signed, build(form)),
                         lambda exc, form: self._supervision_page(request, status_for(exc), form,
                                                                  **refusal(exc, form_name, fields)),
                         lambda result: ("/ui/supervision", done(result)))

    @page("POST", "/ui/supervision/zones")
    def page_set_zone(self, request):
        return self._supervision_post(
            request, "zone", ("name", "inspector_name"),
            lambda f: {"name": (f.get("name") or "").strip(), "inspector_name": (f.get("inspector_name") or "").strip()},
            self.inspection.set_supervision_zone, lambda z: f"已设置{z['name']}的责任督学：{z['inspector_name']}")

    @page("POST", "/ui/supervision/schools")
    def page_register_school(self, request):
        """A school on the registry's roster; the supervision list picks it up from the registry's event."""
        return self._supervision_post(
            request, "school", ("code", "name", "type", "grades", "township_code", "zone"),
            lambda f: {"code": (f.get("code") or "").strip(), "name": (f.get("name") or "").strip(),
                       "type": f.get("type", ""), "grades": [int(g) for g in f.getlist("grades") if g.isdigit()],
                       "township_code": f.get("township_code", ""), "zone": (f.get("zone") or "").strip()},
            self.registry.register_school, lambda school: f"已登记学校：{school['name']}（督导名单稍后更新）")

    @page("POST", "/ui/supervision/visits")
    def page_record_visit(self, request):
        return self._supervision_post(
            request, "visit", ("school_id", "visited_on", "method", "inspector", "findings"),
            lambda f: {"school_id": _form_int(f, "school_id", "学校"), "visited_on": f.get("visited_on", ""),
                       "method": f.get("method", ""), "inspector": (f.get("inspector") or "").strip() or None,
                       "findings": f.get("findings") or None},
            self.inspection.record_school_visit,
            lambda v: f"已记录督导：{v['school_name']} {v['visited_on']}（{v['method_name']}，督学 {v['inspector']}）")

    @page("POST", "/ui/supervision/homework")
    def page_publish_homework(self, request):
        return self._supervision_post(
            request, "homework", ("school_id", "grade", "class_name", "published_on", "items"),
            lambda f: {"school_id": _form_int(f, "school_id", "学校"), "grade": _form_int(f, "grade", "年级"),
                       "class_name": (f.get("class_name") or "").strip(), "published_on": f.get("published_on", ""),
                       "items": _homework_items(f)},
            self.inspection.publish_homework,
            lambda h: f"已登记作业公示：{h['class_name']} {h['published_on']}，书面作业 {h['written_minutes']} 分钟")

    @page("POST", "/ui/supervision/homework-checks")
    def page_check_homework(self, request):
        """The check's result is shown on the page itself (it changes nothing but announces each class)."""
        self._page_post(request)
        form = request.form
        try:
            body = {"from": form.get("from", ""), "to": form.get("to", "")}
            if (form.get("school_id") or "").strip():
                body["school_id"] = _form_int(form, "school_id", "学校")
            check = self.inspection.check_homework(self._signed(request), body)
        except DomainError as exc:
            return self._supervision_page(request, status_for(exc), form, **refusal(exc, "check", ("from", "to", "school_id")))
        return self._supervision_page(request, form=form, check=check)

    @page("POST", "/ui/supervision/after-school")
    def page_after_school(self, request):
        """The 一校一案 filing with its figures; a school that filed already gets its figures updated."""
        def build(f):
            body = {"school_id": _form_int(f, "school_id", "学校")}
            for name, label in (("participating", "参加人数"), ("enrolled", "在校人数"), ("aware", "知晓人数"),
                                ("surveyed", "调查人数")):
                value = _optional_int(f, name, label)
                if value is not None:
                    body[name] = value
            if f.get("first_filing") == "yes":
                body["filed_on"] = f.get("filed_on", "")
            else:
                body["school_year"] = _form_int(f, "school_year", "学年")
            return body

        def call(signed, body):
            if "filed_on" in body:
                return self.inspection.file_after_school_plan(signed, body)
            return self.inspection.record_after_school_figures(signed, body)

        return self._supervision_post(
            request, "after", ("school_id", "filed_on", "school_year", "participating", "enrolled", "aware", "surveyed"),
            build, call, lambda p: f"已登记课后服务：{p['school_name']} {p['school_year']}学年，{p['status_name']}")
