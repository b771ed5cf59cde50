"""Early warning (预警) of prepaid money on plain data: an institution's position and the rules
that raise alerts, each with the evidence an inspector needs. No nameko, no SQLAlchemy.

Liability (未消课预收费) per contract = paid − value of lessons delivered − refunds paid back.
"Paid" is the contract's amount: a contract is the record of one prepaid charge. The custody
shortfall compares the supervised balance with the liability of contracts whose money the bank
has booked into the account (receipt matched); money that never arrived is the separate
`collected_outside_account` alert, so one fault raises one alert, and a charge waiting for the
bank's next batch raises none.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from .account_rules import EscrowRules
from .charge_rules import Violation
from .money import yuan

KIND_NAMES = {
    "shortfall": "监管资金不足",
    "outflow_exceeds_lessons": "资金流出超过已确认课消",
    "collected_outside_account": "疑似账外收费",
    "delivery_stopped": "停止授课仍持有预收费",
    "charge_over_cap": "超限收费",
}
CONTRACT_KINDS = ("collected_outside_account", "charge_over_cap")  # one alert per contract number
MANUAL_ONLY = ("charge_over_cap",)  # an attempt, not a state: closed by an official, never "resolved"
ALERT_STATUS_NAMES = {"open": "未处理", "closed": "已关闭"}


@dataclass(frozen=True)
class ContractFacts:
    contract_id: int
    contract_no: str
    amount_fen: int
    signed_at: datetime
    starts_on: date
    ends_on: date
    status: str
    receipt_matched: bool
    delivered_fen: int = 0
    confirmed_fen: int = 0  # confirmed by the parent or deemed confirmed: releasable
    refunds_paid_fen: int = 0
    refunds_owed_fen: int = 0  # accepted (or deemed) but not yet paid back
    channel: str = ""

    @property
    def unearned_fen(self) -> int:
        return max(self.amount_fen - self.delivered_fen - self.refunds_paid_fen, 0)


@dataclass(frozen=True)
class AccountFacts:
    account_id: int
    account_no: str
    mode: str
    status: str
    opened_on: date
    guarantee_minimum_fen: int | None = None
    balance_fen: int | None = None  # None: the bank has not reported this account yet
    receipts_fen: int = 0
    releases_fen: int = 0
    refunds_fen: int = 0


@dataclass(frozen=True)
class InstitutionFacts:
    institution_id: int
    name: str
    township_code: str
    contracts: tuple[ContractFacts, ...] = ()
    accounts: tuple[AccountFacts, ...] = ()
    last_delivered_at: datetime | None = None


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str  # the contract number for per-contract kinds, "" for the institution as a whole
    evidence: dict = field(default_factory=dict)


def _sum(values) -> int:
    return sum(values, 0)


def position(facts: InstitutionFacts) -> dict:
    """Liability against the supervised money; every figure integer fen."""
    open_accounts = [a for a in facts.accounts if a.status == "open"]
    modes = {a.mode for a in open_accounts}
    mode = next(iter(modes)) if len(modes) == 1 else None
    reported = [a for a in open_accounts if a.balance_fen is not None]
    contracts = facts.contracts
    unearned = _sum(c.unearned_fen for c in contracts)
    in_account = _sum(c.unearned_fen for c in contracts if c.receipt_matched)
    confirmed = _sum(c.confirmed_fen for c in contracts)
    releases = _sum(a.releases_fen for a in facts.accounts if a.mode == "custody")
    balance = _sum(a.balance_fen for a in reported)
    minimum = _sum(a.guarantee_minimum_fen or 0 for a in open_accounts if a.mode == "guarantee")
    if mode == "guarantee":
        required = max(minimum, unearned)
    elif mode == "custody":
        required = in_account
    else:
        required = 0
    return {
        "institution_id": facts.institution_id,
        "mode": mode,
        "accounts_open": len(open_accounts),
        "balance_reported": bool(reported),
        "contracts": len(contracts),
        "contracts_active": sum(1 for c in contracts if c.status == "active"),
        "paid_fen": _sum(c.amount_fen for c in contracts),
        "delivered_fen": _sum(c.delivered_fen for c in contracts),
        "confirmed_fen": confirmed,
        "refunds_paid_fen": _sum(c.refunds_paid_fen for c in contracts),
        "refunds_owed_fen": _sum(c.refunds_owed_fen for c in contracts),
        "unearned_fen": unearned,
        "unearned_in_account_fen": in_account,
        "unmatched_fen": _sum(c.amount_fen for c in contracts if not c.receipt_matched),
        "balance_fen": balance,
        "guarantee_minimum_fen": minimum,
        "releases_fen": releases,
        "releasable_fen": max(confirmed - releases, 0),
        "required_fen": required,
        "shortfall_fen": max(required - balance, 0) if mode else 0,
    }


def _accounts_evidence(accounts) -> list[dict]:
    return [{"account_no": a.account_no, "mode": a.mode, "status": a.status, "balance_fen": a.balance_fen,
             "guarantee_minimum_fen": a.guarantee_minimum_fen, "releases_fen": a.releases_fen}
            for a in accounts]


def shortfall(facts: InstitutionFacts, pos: dict, today: date, rules: EscrowRules) -> Finding | None:
    """Custody: balance < liability of the money booked into the account. Guarantee: balance below
    the larger of the filed minimum and the whole unearned liability (a guarantee must cover at
    least one charge cycle, and one charge covers at most 3 months — domain.md, 广东)."""
    mode = pos["mode"]
    if mode is None or pos["required_fen"] == 0:
        return None
    open_accounts = [a for a in facts.accounts if a.status == "open"]
    if not pos["balance_reported"]:
        # no bank report yet: a new guarantee account gets the receipt grace before it counts as empty
        first_opened = min(a.opened_on for a in open_accounts)
        if mode == "custody" or (today - first_opened).days < rules.receipt_grace_days:
            return None
    if pos["balance_fen"] >= pos["required_fen"]:
        return None
    evidence = {
        "mode": mode, "mode_name": "银行托管" if mode == "custody" else "风险保证金",
        "balance_fen": pos["balance_fen"], "balance_reported": pos["balance_reported"],
        "required_fen": pos["required_fen"], "shortfall_fen": pos["shortfall_fen"],
        "unearned_fen": pos["unearned_fen"], "unearned_in_account_fen": pos["unearned_in_account_fen"],
        "guarantee_minimum_fen": pos["guarantee_minimum_fen"] if mode == "guarantee" else None,
        "accounts": _accounts_evidence(open_accounts),
        "summary": f"监管余额{yuan(pos['balance_fen'])}元，应不低于{yuan(pos['required_fen'])}元，"
                   f"缺口{yuan(pos['shortfall_fen'])}元",
    }
    return Finding("shortfall", "", evidence)


def outflow_exceeds_lessons(facts: InstitutionFacts, pos: dict) -> Finding | None:
    """The bank released more than the lessons confirmed (by parents or deemed) are worth."""
    if pos["releases_fen"] <= pos["confirmed_fen"]:
        return None
    excess = pos["releases_fen"] - pos["confirmed_fen"]
    custody = [a for a in facts.accounts if a.mode == "custody"]
    return Finding("outflow_exceeds_lessons", "", {
        "releases_fen": pos["releases_fen"], "confirmed_fen": pos["confirmed_fen"], "excess_fen": excess,
        "delivered_fen": pos["delivered_fen"], "accounts": _accounts_evidence(custody),
        "summary": f"已划出{yuan(pos['releases_fen'])}元，已确认课消仅{yuan(pos['confirmed_fen'])}元，"
                   f"超出{yuan(excess)}元",
    })


def collected_outside_account(facts: InstitutionFacts, pos: dict, now: datetime,
                              rules: EscrowRules) -> list[Finding]:
    """A custody institution's contract older than the grace days with no bank receipt booked for
    its contract number: the parent paid, but not into the supervised account."""
    if pos["mode"] != "custody":
        return []
    cutoff = now - timedelta(days=rules.receipt_grace_days)
    out = []
    for c in facts.contracts:
        if c.receipt_matched or c.signed_at > cutoff:
            continue
        days = (now - c.signed_at).days
        out.append(Finding("collected_outside_account", c.contract_no, {
            "contract_id": c.contract_id, "contract_no": c.contract_no, "amount_fen": c.amount_fen,
            "channel": c.channel, "signed_at": c.signed_at.isoformat(), "days_without_receipt": days,
            "grace_days": rules.receipt_grace_days,
            "summary": f"合同{c.contract_no}收费{yuan(c.amount_fen)}元，签订{days}天后监管账户仍无对应入账",
        }))
    return out


def delivery_stopped(facts: InstitutionFacts, today: date, last_delivered_on: date | None,
                     rules: EscrowRules) -> Finding | None:
    """No lesson for `delivery_stop_days` while holding prepaid money for courses already started.

    The clock runs from the later of the last lesson and the earliest start of a contract still
    holding money, so a course that has not begun yet raises nothing.
    """
    holding = [c for c in facts.contracts if c.status == "active" and c.unearned_fen > 0 and c.starts_on <= today]
    if not holding:
        return None
    since = min(c.starts_on for c in holding)
    if last_delivered_on is not None and last_delivered_on > since:
        since = last_delivered_on
    idle = (today - since).days
    if idle < rules.delivery_stop_days:
        return None
    unearned = _sum(c.unearned_fen for c in holding)
    return Finding("delivery_stopped", "", {
        "last_delivered_on": last_delivered_on.isoformat() if last_delivered_on else None,
        "idle_since": since.isoformat(), "idle_days": idle, "stop_days": rules.delivery_stop_days,
        "unearned_fen": unearned, "contracts": [c.contract_no for c in holding],
        "summary": f"已{idle}天未登记课消，仍持有未消课预收费{yuan(unearned)}元（{len(holding)}份合同）",
    })


def evaluate(facts: InstitutionFacts, now: datetime, today: date, last_delivered_on: date | None,
             rules: EscrowRules) -> list[Finding]:
    """Every state and time rule (charge_over_cap is raised by the refused charge itself)."""
    pos = position(facts)
    found = [shortfall(facts, pos, today, rules), outflow_exceeds_lessons(facts, pos),
             delivery_stopped(facts, today, last_delivered_on, rules)]
    return [f for f in found if f is not None] + collected_outside_account(facts, pos, now, rules)


def charge_over_cap(contract_no: str, violations: list[Violation], class_hours: int, starts_on: date,
                    ends_on: date, amount_fen: int, rules: EscrowRules) -> Finding:
    return Finding("charge_over_cap", contract_no, {
        "contract_no": contract_no, "class_hours": class_hours, "max_class_hours": rules.max_class_hours,
        "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(), "max_months": rules.max_months,
        "amount_fen": amount_fen, "charge_cap_fen": rules.charge_cap_fen,
        "violations": [{"field": v.field, "reason": v.reason} for v in violations],
        "refused": True, "summary": "收费被拒绝：" + "；".join(v.reason for v in violations),
    })


# -- dedup: one open alert per (institution, kind, subject) --------------------------------------


def dedup_key(institution_id: int, kind: str, subject: str, day: date) -> str:
    """Per contract: the contract number (raised once, ever). Institution-wide: the day, so after
    an alert is closed the same condition may be raised again from the next day on."""
    return f"{institution_id}:{kind}:{subject or day.isoformat()}"


def subject_of(kind: str, key: str) -> str:
    return key.split(":", 2)[2] if kind in CONTRACT_KINDS else ""


@dataclass(frozen=True)
class OpenAlert:
    alert_id: int
    kind: str
    subject: str


def plan(findings: list[Finding], open_alerts: list[OpenAlert]) -> tuple[list[Finding], list[int]]:
    """→ (findings to raise as new alerts, ids of open alerts whose condition has cleared)."""
    open_keys = {(a.kind, a.subject) for a in open_alerts}
    found_keys = {(f.kind, f.subject) for f in findings}
    new = [f for f in findings if (f.kind, f.subject) not in open_keys]
    cleared = [a.alert_id for a in open_alerts
               if a.kind not in MANUAL_ONLY and (a.kind, a.subject) not in found_keys]
    return new, cleared
