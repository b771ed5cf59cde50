"""Multi-department approval processes as data (营转非, 注销): steps, who decides, SLAs.

The step list varies by province (湖南 adds a civil-affairs name pre-check first and a
liquidation before deregistration), so it is data chosen per county, never code. The registry
picks a variant when a case opens and hands the steps to the workflow; the workflow engine only
walks them. Decision steps are decided by the named department's leaders; check steps are
verified automatically by the platform (e.g. no unearned prepaid money left).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .errors import ValidationFailed


@dataclass(frozen=True)
class StepSpec:
    key: str
    title: str  # Chinese, shown in inboxes and histories
    department: str  # DepartmentKind value; "system" for automatic checks
    kind: str = "decision"  # "decision" | "check"
    sla_workdays: int = 5
    remind_before_workdays: int = 1  # reminder this many working days before the deadline
    resumes_enrolment: bool = False  # enrolment and fees may resume once this step is approved
    check: str | None = None  # for kind "check": which automatic check

    def as_dict(self) -> dict:
        return asdict(self)


CONVERSION = "conversion"  # 营转非 / 转登记
DEREGISTRATION = "deregistration"  # 注销

PROCESS_NAMES = {CONVERSION: "营转非", DEREGISTRATION: "注销"}

# 教育部办公厅、民政部办公厅、市场监管总局办公厅 2021-10-12: 教育 → 民政 → 市场监管 (7 working days)
NATIONAL_CONVERSION = (
    StepSpec("education_permit", "核发非营利性办学许可证并收回原证", "education", sla_workdays=5),
    StepSpec("civil_affairs_registration", "登记为民办非企业单位", "civil_affairs", sla_workdays=10,
             resumes_enrolment=True),
    StepSpec("market_regulation_change", "变更经营范围或注销公司营业执照", "market_regulation", sla_workdays=7),
)

HUNAN_CONVERSION = (
    StepSpec("civil_affairs_name_check", "民非名称预先核准", "civil_affairs", sla_workdays=5),
    NATIONAL_CONVERSION[0],
    NATIONAL_CONVERSION[1],
    StepSpec("company_liquidation", "原公司清算备案", "market_regulation", sla_workdays=20),
    NATIONAL_CONVERSION[2],
)

NATIONAL_DEREGISTRATION = (
    StepSpec("education_revoke", "收回（吊销）办学许可证", "education", sla_workdays=5),
    StepSpec("escrow_clearance", "核实预收费资金已清退（无未消课预收费）", "system", kind="check",
             sla_workdays=15, check="prepaid_clear"),
    StepSpec("market_regulation_deregister", "注销营业执照", "market_regulation", sla_workdays=7),
)

VARIANTS: dict[str, dict[str, tuple[StepSpec, ...]]] = {
    CONVERSION: {"national": NATIONAL_CONVERSION, "hunan": HUNAN_CONVERSION},
    DEREGISTRATION: {"national": NATIONAL_DEREGISTRATION},
}


def steps_for(process: str, variant: str = "national") -> tuple[StepSpec, ...]:
    try:
        variants = VARIANTS[process]
    except KeyError:
        raise ValidationFailed(f"未知流程：{process}", field="process") from None
    try:
        return variants[variant]
    except KeyError:
        raise ValidationFailed(
            f"{PROCESS_NAMES[process]}流程没有“{variant}”方案，可选：{'、'.join(variants)}", field="variant"
        ) from None


def steps_from_dicts(items: list[dict]) -> tuple[StepSpec, ...]:
    return tuple(StepSpec(**item) for item in items)
