"""Campaign and inspection rules on plain data: the 双随机 draw, coverage, the checklist and outcomes.

Nothing here touches the database or the bus, so every rule is unit-tested directly."""
from __future__ import annotations

import math
import random
from datetime import date

from services.common.errors import ValidationFailed
from services.common.checklist import CHECKLIST  # item key → name, shared with the pages

from .domain import RISK_GRADES

MODES = {"open": "明察", "covert": "暗访"}
CAMPAIGN_KINDS = {"sweep": "拉网式全覆盖", "random": "双随机抽查"}
TEAM_DEPARTMENTS = {"public_security": "公安局", "education": "教体局", "urban_management": "城管执法局",
                    "market_regulation": "市场监管局", "township": "乡镇人民政府"}
DEFAULT_RATES = {"A": 5, "B": 10, "C": 20, "D": 40}  # percent of each risk grade drawn
MAX_SEED = 2**53  # JSON-safe for any client

ITEM_RESULTS = ("pass", "fail", "na")

OUTCOMES = {"pass": "通过", "rectify": "责令整改", "suspend": "停业整顿", "refer": "移送（无证无照）"}
ORDER_KINDS = ("rectify", "suspend", "refer")
REFER_TO = ("public_security", "market_regulation")
DEFAULT_DEADLINE_WORKDAYS = 10
MAX_DEADLINE_WORKDAYS = 60
ORDER_STATUS_NAMES = {"open": "整改中", "closed": "已销号", "escalated": "已升级"}
ESCALATION_PROPOSAL = "吊销办学许可证"

MAX_EVIDENCE_BYTES = 5 * 1024 * 1024
EVIDENCE_TYPES = {  # magic bytes → content type
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"%PDF-": "application/pdf",
}


# -- the 双随机 draw ---------------------------------------------------------------------------------


def validate_rates(value: object) -> dict[str, int]:
    """Percent per risk grade (integers 0–100); missing grades take the default."""
    if value is None:
        return dict(DEFAULT_RATES)
    if not isinstance(value, dict):
        raise ValidationFailed("抽查比例应为对象，如 {\"A\":5,\"B\":10,\"C\":20,\"D\":40}", field="rates")
    unknown = set(value) - set(RISK_GRADES)
    if unknown:
        raise ValidationFailed(f"未知风险等级：{'、'.join(sorted(map(str, unknown)))}", field="rates")
    rates = dict(DEFAULT_RATES)
    for grade, pct in value.items():
        if not isinstance(pct, int) or isinstance(pct, bool) or not 0 <= pct <= 100:
            raise ValidationFailed("抽查比例应为 0 到 100 的整数（百分比）", field=f"rates.{grade}")
        rates[grade] = pct
    return rates


def validate_seed(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_SEED:
        raise ValidationFailed("随机种子应为小于 2^53 的非负整数", field="seed")
    return value


def draw(roster: list[tuple[int, str]], rates: dict[str, int], seed: int) -> list[int]:
    """双随机: sample each risk grade at its rate, rounding up (a non-empty grade with a rate above 0
    gives ≥1). `roster` is [(institution_id, grade)]; it is sorted by id here so the result depends
    only on the roster's content, the rates and the seed. One random.Random(seed) draws grade A,
    then B, C, D. Returns the drawn ids, sorted."""
    rng = random.Random(seed)
    ordered = sorted((int(iid), str(g)) for iid, g in roster)
    drawn: list[int] = []
    for grade in RISK_GRADES:
        ids = [iid for iid, g in ordered if g == grade]
        pct = rates.get(grade, 0)
        k = min(len(ids), -(-len(ids) * pct // 100))  # integer ceiling: no float surprises
        drawn.extend(rng.sample(ids, k))
    return sorted(drawn)


# -- coverage -------------------------------------------------------------------------------------


def coverage_percent(visited: int, in_scope: int) -> float | None:
    """Percent visited, rounded *down* to 0.1 so 100.0 means every institution was visited."""
    if in_scope == 0:
        return None
    return math.floor(visited * 1000 / in_scope) / 10


def township_coverage(scope: dict[int, str], visited_ids: set[int]) -> list[dict]:
    """scope: {institution_id: township_code} → per township in_scope, visited, coverage, complete."""
    by_township: dict[str, list[int]] = {}
    for iid, code in scope.items():
        by_township.setdefault(code, []).append(iid)
    out = []
    for code in sorted(by_township):
        ids = by_township[code]
        seen = sum(1 for iid in ids if iid in visited_ids)
        out.append({"township_code": code, "in_scope": len(ids), "visited": seen,
                    "coverage": coverage_percent(seen, len(ids)), "complete": seen == len(ids),
                    "not_visited": sorted(iid for iid in ids if iid not in visited_ids)})
    return out


# -- campaign fields ------------------------------------------------------------------------------


def validate_mode(value: object, field: str = "mode") -> str:
    if value not in MODES:
        raise ValidationFailed("检查方式应为 open（明察）或 covert（暗访）", field=field)
    return value


def parse_date(value: object, field: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", field=field) from None


def validate_window(start: object, end: object) -> tuple[date, date]:
    s, e = parse_date(start, "start_date"), parse_date(end, "end_date")
    if e < s:
        raise ValidationFailed("结束日期不能早于开始日期", field="end_date")
    if (e - s).days > 366:
        raise ValidationFailed("检查期限不能超过一年", field="end_date")
    return s, e


def validate_team(value: object, field: str = "team") -> list[dict]:
    """[{department_kind, name}], at least one member, departments of a joint team only."""
    if not isinstance(value, list) or not value:
        raise ValidationFailed("至少需要一名成员", field=field)
    out = []
    for i, member in enumerate(value):
        if not isinstance(member, dict):
            raise ValidationFailed("成员应为 {department_kind, name}", field=f"{field}[{i}]")
        kind = member.get("department_kind")
        if kind not in TEAM_DEPARTMENTS:
            allowed = "、".join(f"{k}（{n}）" for k, n in TEAM_DEPARTMENTS.items())
            raise ValidationFailed(f"部门类型应为：{allowed}", field=f"{field}[{i}].department_kind")
        name = str(member.get("name") or "").strip()
        if not name or len(name) > 40:
            raise ValidationFailed("成员姓名必填，不超过40字", field=f"{field}[{i}].name")
        out.append({"department_kind": kind, "name": name})
    return out


# -- checklist and outcome ------------------------------------------------------------------------


def validate_checklist(value: object) -> dict[str, dict]:
    """Every item answered pass/fail/na, with optional notes (a failed item needs a note)."""
    if not isinstance(value, dict):
        raise ValidationFailed("检查清单应为对象：项目 → {result, notes}", field="checklist")
    unknown = set(value) - set(CHECKLIST)
    if unknown:
        raise ValidationFailed(f"未知检查项目：{'、'.join(sorted(map(str, unknown)))}", field="checklist")
    out = {}
    for key in CHECKLIST:
        if key not in value:
            raise ValidationFailed(f"缺少检查项目：{CHECKLIST[key]}", field=f"checklist.{key}")
        item = value[key]
        if isinstance(item, str):
            item = {"result": item}
        if not isinstance(item, dict) or item.get("result") not in ITEM_RESULTS:
            raise ValidationFailed("检查结果应为 pass、fail 或 na", field=f"checklist.{key}")
        notes = str(item.get("notes") or "").strip()
        if len(notes) > 500:
            raise ValidationFailed("备注不超过500字", field=f"checklist.{key}.notes")
        if item["result"] == "fail" and not notes:
            raise ValidationFailed("不合格项目须填写情况说明", field=f"checklist.{key}.notes")
        out[key] = {"result": item["result"], "notes": notes or None}
    return out


def failed_items(checklist: dict[str, dict]) -> list[str]:
    return [key for key in CHECKLIST if checklist.get(key, {}).get("result") == "fail"]


def validate_outcome(value: object, checklist: dict[str, dict]) -> dict:
    """{kind, deadline_workdays, referred_to}: pass only with nothing failed; any other outcome
    needs a failed item. 责令整改 defaults to 10 working days; 停业整顿 must state its deadline;
    a referral (无证无照) names 公安 or 市场监管 and defaults to 10 working days."""
    if not isinstance(value, dict):
        raise ValidationFailed("处理结果应为对象 {kind, deadline_workdays}", field="outcome")
    kind = value.get("kind")
    if kind not in OUTCOMES:
        raise ValidationFailed("处理结果应为 pass、rectify、suspend 或 refer", field="outcome.kind")
    failed = failed_items(checklist)
    if kind == "pass":
        if failed:
            raise ValidationFailed("存在不合格项目，不能认定为通过", field="outcome.kind")
        return {"kind": "pass", "deadline_workdays": None, "referred_to": None}
    if not failed:
        raise ValidationFailed("未发现不合格项目，不能作出整改、停业或移送决定", field="outcome.kind")
    days = value.get("deadline_workdays")
    if days is None:
        if kind == "suspend":
            raise ValidationFailed("停业整顿须明确整改期限（工作日）", field="outcome.deadline_workdays")
        days = DEFAULT_DEADLINE_WORKDAYS
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DEADLINE_WORKDAYS:
        raise ValidationFailed(f"整改期限应为 1 到 {MAX_DEADLINE_WORKDAYS} 个工作日",
                               field="outcome.deadline_workdays")
    referred_to = None
    if kind == "refer":
        referred_to = value.get("referred_to")
        if referred_to not in REFER_TO:
            raise ValidationFailed("移送部门应为 public_security（公安局）或 market_regulation（市场监管局）",
                                   field="outcome.referred_to")
    return {"kind": kind, "deadline_workdays": days, "referred_to": referred_to}


# -- risk grades after an inspection -----------------------------------------------------------------


def next_risk_grade(current: str, outcome: str) -> str:
    """The grade 双随机 samples at after an inspection: a pass earns one grade of trust (floor A), a
    责令整改 loses one (ceiling D), a 停业整顿 or a referral (无证无照) goes straight to D."""
    if current not in RISK_GRADES:
        raise ValueError(f"unknown risk grade {current!r}")
    index = RISK_GRADES.index(current)
    if outcome == "pass":
        return RISK_GRADES[max(index - 1, 0)]
    if outcome == "rectify":
        return RISK_GRADES[min(index + 1, len(RISK_GRADES) - 1)]
    if outcome in ("suspend", "refer"):
        return RISK_GRADES[-1]
    raise ValueError(f"unknown outcome {outcome!r}")


def sniff_evidence(content: bytes) -> str | None:
    for magic, content_type in EVIDENCE_TYPES.items():
        if content.startswith(magic):
            return content_type
    return None
