"""设置: the county's settings on one page, each kept by the service it belongs to — 营转非 deadline
and variant, school vacations and the 压减率 baseline date (registry), complaint SLAs (inspection),
the prepaid-fee caps and periods (escrow), the 一校一案 deadline (督导). Each form posts alone, and a
refusal is shown at the field it names."""
from __future__ import annotations

from services.common.errors import ValidationFailed
from services.common.policy import can
from services.common.processes import CONVERSION, VARIANTS, steps_for

from .common import attempt
from .desk_forms import DeskActions, refusal, yuan_to_fen
from .web import page
from ..api import status_for

VARIANT_NAMES = {"national": "全国通行方案（教育、民政、市场监管依次办理）", "hunan": "湖南方案（先行名称预核准）"}
SLA_DEPARTMENTS = (("education", "教体局"), ("market_regulation", "市场监管局"), ("public_security", "公安局"),
                   ("urban_management", "城管执法局"), ("township", "乡镇人民政府"))
ESCROW_NUMBERS = (("max_class_hours", "单次收费最多课时"), ("max_months", "单次收费最长月数"),
                  ("deemed_confirmation_workdays", "课消视为确认（工作日）"),
                  ("refund_answer_workdays", "退费视为同意（工作日）"), ("receipt_grace_days", "合同无银行入账宽限（天）"),
                  ("delivery_stop_days", "停止授课预警（天）"))
VACATION_ROWS_EXTRA = 2


def _int_field(form, name: str, label: str) -> int:
    try:
        return int((form.get(name) or "").strip())
    except ValueError:
        raise ValidationFailed(f"{label}应为整数", field=name) from None


def _vacation_rows(form) -> list[dict]:
    rows, i = [], 0
    while f"vac_name_{i}" in form:
        name, start, end = (form.get(f"vac_{part}_{i}", "").strip() for part in ("name", "start", "end"))
        if name or start or end:
            rows.append({"name": name, "start": start, "end": end, "row": i})
        i += 1
    return rows


class SettingsPages(DeskActions):
    def _settings_page(self, request, status=200, form=None, **context):
        actor, _, _ = self._page_actor(request)
        signed = self._signed(request)
        county = self.registry.get_county_settings(signed, None)
        vacations = county["school_vacations"]
        return self._render(
            request, "settings.html", status=status, title="县级设置", county=county,
            vacation_rows=vacations + [{}] * VACATION_ROWS_EXTRA,
            complaints=attempt(self.inspection.get_complaint_settings, signed, None),
            escrow=attempt(self.escrow.get_escrow_settings, signed, None),
            supervision=attempt(self.inspection.get_supervision_settings, signed, None),
            variants=[(v, VARIANT_NAMES.get(v, v), [s.title for s in steps_for(CONVERSION, v)]) for v in VARIANTS[CONVERSION]],
            sla_departments=SLA_DEPARTMENTS, escrow_numbers=ESCROW_NUMBERS,
            may={"county": can(actor, "registry.manage_county_settings"),
                 "complaints": can(actor, "inspection.manage_complaint_settings"),
                 "escrow": can(actor, "escrow.manage_settings"),
                 "supervision": can(actor, "supervision.manage_settings")},
            form=form or {}, errors=context.pop("errors", {}), **context)

    @page("GET", "/ui/settings")
    def page_settings(self, request):
        return self._settings_page(request)

    def _settings_post(self, request, form_name, fields, call, done, aliases=None):
        def saved(_):  # back to the page with the saved section in view, its message on top
            return "/ui/settings", done

        response = self._act(request, call, lambda exc, form: self._settings_page(
            request, status_for(exc), form, **refusal(exc, form_name, fields, aliases)), saved)
        if response.status_code == 303:
            response.headers["Location"] += f"#{form_name}"
        return response

    @page("POST", "/ui/settings/county")
    def page_settings_county(self, request):
        return self._settings_post(
            request, "county", ("conversion_deadline", "conversion_variant", "reduction_baseline_date"),
            lambda signed, f: self.registry.set_county_settings(signed, None, {
                "conversion_deadline": f.get("conversion_deadline", ""), "conversion_variant": f.get("conversion_variant", ""),
                "reduction_baseline_date": f.get("reduction_baseline_date", "")}),
            "已保存营转非截止日期、流程方案和压减率基数日期")

    @page("POST", "/ui/settings/vacations")
    def page_settings_vacations(self, request):
        rows = _vacation_rows(request.form)
        aliases = {}
        for index, row in enumerate(rows):  # the service numbers the rows it was given; the form its own
            for part in ("name", "start", "end"):
                aliases[f"school_vacations[{index}].{part}"] = f"vac_{part}_{row['row']}"
            aliases[f"school_vacations[{index}]"] = f"vac_name_{row['row']}"
        fields = set(aliases.values()) | {"school_vacations"}
        return self._settings_post(
            request, "vacations", fields,
            lambda signed, f: self.registry.set_county_settings(signed, None, {"school_vacations": [
                {k: r[k] for k in ("name", "start", "end")} for r in rows]}),
            "已保存寒暑假（学科类培训不得占用）", aliases)

    @page("POST", "/ui/settings/complaints")
    def page_settings_complaints(self, request):
        fields = tuple(f"sla_days.{kind}" for kind, _ in SLA_DEPARTMENTS)
        return self._settings_post(
            request, "complaints", fields,
            lambda signed, f: self.inspection.set_complaint_settings(signed, {"sla_days": {
                kind: _int_field(f, f"sla_days.{kind}", f"{name}办理时限") for kind, name in SLA_DEPARTMENTS}}),
            "已保存举报办理时限（此后受理或交办的举报适用）")

    @page("POST", "/ui/settings/escrow")
    def page_settings_escrow(self, request):
        fields = ("charge_cap_fen", *(name for name, _ in ESCROW_NUMBERS))
        return self._settings_post(
            request, "escrow", fields,
            lambda signed, f: self.escrow.set_escrow_settings(signed, None, {
                "charge_cap_fen": yuan_to_fen(f.get("charge_cap"), "charge_cap_fen", "单次收费上限"),
                **{name: _int_field(f, name, label) for name, label in ESCROW_NUMBERS}}),
            "已保存预收费监管设置")

    @page("POST", "/ui/settings/supervision")
    def page_settings_supervision(self, request):
        return self._settings_post(
            request, "supervision", ("plan_deadline",),
            lambda signed, f: self.inspection.set_supervision_settings(signed, None, {
                "plan_deadline": (f.get("plan_deadline") or "").strip()}),
            "已保存一校一案报备截止日期")
