"""What each department's home page shows above its inbox: the figures it answers for.

Each figure comes from the service that owns it, read with the user's own signed actor; a figure the
department may not read (or a service not answering) is left out, never shown as zero."""
from __future__ import annotations

from datetime import date

from .common import K, attempt


COMPONENTS = {"broker": "消息队列", "registry": "机构登记", "escrow": "资金监管", "inspection": "检查执法",
              "reporting": "报表", "escrow_feed": "银行流水", "gateway": "网关", "worker": "流程引擎",
              "temporal": "流程服务"}


def _figure(label: str, value, href: str | None = None, alarm: bool = False, note: str | None = None) -> dict:
    return {"label": label, "value": value, "href": href, "alarm": alarm, "note": note}


def _count(answer, key: str = "items") -> int | None:
    if answer is None:
        return None
    return answer.get("total", len(answer.get(key, []))) if isinstance(answer, dict) else None


class HomeFigures:
    def _home_figures(self, actor, signed: str, inbox: list[dict]) -> list[dict]:
        """[{label, value, href, alarm, note}] for this department, in the order it reads them."""
        kind = actor.department_kind
        overdue_steps = sum(1 for item in inbox if item.get("overdue"))
        figures = [_figure("待办步骤", len(inbox)), _figure("超期步骤", overdue_steps, alarm=overdue_steps > 0)]
        if kind is K.education:
            figures = self._education_figures(signed) + figures
        if kind in (K.education, K.market_regulation):
            alerts = attempt(self.escrow.list_alerts, signed, 1, 0, {"status": "open"})
            if alerts is not None:
                figures.append(_figure("未处置资金预警", alerts["total"], "/ui/escrow?status=open", alerts["total"] > 0))
        if kind in (K.education, K.public_security, K.urban_management, K.market_regulation, K.township):
            leads = attempt(self.inspection.list_leads, signed, "open")
            if leads is not None and kind in (K.education, K.market_regulation):
                figures.append(_figure("待核查线索", len(leads["items"]), "/ui/inspection", bool(leads["items"])))
            campaigns = attempt(self.inspection.list_campaigns, signed)
            if campaigns is not None:
                today = date.today().isoformat()
                running = [c for c in campaigns["items"] if c["start_date"] <= today <= c["end_date"]]
                if kind in (K.public_security, K.urban_management, K.market_regulation):  # as joint-team members
                    running = [c for c in running if any(m.get("department_kind") == kind.value for m in c["team"])]
                label = {K.education: "进行中的检查计划", K.township: "本乡镇进行中的检查"}.get(kind, "本部门参加的检查计划")
                figures.append(_figure(label, len(running), "/ui/inspection"))
        complaints = attempt(self.inspection.list_complaints, signed, {"overdue": "true"}, 1, 0)
        if complaints is not None:
            figures.append(_figure("超期举报", complaints["total"], "/ui/complaints?overdue=true", complaints["total"] > 0))
        if kind is K.township:
            institutions = attempt(self.registry.list_institutions, signed, 1, 0, {})
            if institutions is not None:
                figures.append(_figure("本乡镇机构", institutions["total"], "/ui/institutions"))
        if kind is K.ops:
            figures = self._ops_figures(signed) + figures
        if kind is K.supervision_office:
            after_school = attempt(self.inspection.after_school_report, signed, None, None)
            if after_school is not None:
                rate = after_school["participation_rate"]
                figures.append(_figure("课后服务参与率", "—" if rate is None else f"{rate}%", "/ui/supervision",
                                       note=f"一校一案逾期或未报 {after_school['flagged']} 所"))
        if kind in (K.supervision_office, K.education):
            month = date.today().strftime("%Y-%m")
            coverage = attempt(self.inspection.supervision_coverage, signed, month, None)
            if coverage is not None:
                overall = coverage["overall"]
                figures.append(_figure("本月督导覆盖率", f"{overall['rate']}%", "/ui/supervision",
                                       not overall["complete"], f"{overall['visited']}/{overall['schools']} 所学校"))
        return figures

    def _ops_figures(self, signed: str) -> list[dict]:
        from services.common.config import amqp_uri

        from .. import health

        proxies = {"registry": self.registry, "escrow": self.escrow, "inspection": self.inspection,
                   "reporting": self.reporting, "escrow_feed": self.escrow_feed}
        components = health.check_all(amqp_uri(), proxies, self.workflows)["components"]
        down = [name for name, state in components.items() if state != "ok"]
        out = [_figure("运行正常的组件", f"{len(components) - len(down)}/{len(components)}", "/ui/ops", bool(down),
                       "异常：" + "、".join(COMPONENTS.get(n, n) for n in down) if down else None)]
        alerts = attempt(self.escrow.list_alerts, signed, 1, 0, {"status": "open"})
        if alerts is not None:
            out.append(_figure("未处置资金预警", alerts["total"], None, alerts["total"] > 0))
        return out

    def _education_figures(self, signed: str) -> list[dict]:
        out = []
        report = attempt(self.reporting.get_report, signed, "half_monthly", None, None)
        if report is not None:
            out.append(_figure("学科类机构压减率", report["reduction"]["rate_text"], "/ui/reports",
                               note=f"基数 {report['academic_baseline']} 家，仍正常营业 {report['academic_operating']} 家"
                                    f"（基数日 {'、'.join(report['reduction']['baseline_dates'])}）"))
        cycles = attempt(self.reporting.list_reports, signed, None, None)
        if cycles is not None:
            due = [c for c in cycles["items"] if c["status"] in ("drafted", "overdue")]
            late = sum(1 for c in due if c["status"] == "overdue")
            out.append(_figure("待报送报表", len(due), "/ui/reports", late > 0, f"其中逾期 {late} 期" if late else None))
        return out
