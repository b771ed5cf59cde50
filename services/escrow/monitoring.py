"""Early-warning use cases: load an institution's facts, match the bank's transactions to
contracts and refunds, evaluate the alert rules (alerts.py), store and publish what changed.

Evaluation runs after every change the desk makes, on the feed's `bank_transactions_booked`
event and in the daily scan (`scan_alerts`). Facts are loaded in bulk, a few queries for any
number of institutions, so a province-wide scan stays short.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Callable, Iterable

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import county_of, is_within, scope_prefix, validate_code
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.idempotency import apply_once
from services.common.identity import Actor, DepartmentKind
from services.common.logging import get_logger
from services.common.policy import authorize, check_bound
from services.common.workdays import SHANGHAI, today_shanghai

from . import alerts
from .account_rules import DEFAULT_RULES, EscrowRules
from .models import (
    AccountBalance,
    Alert,
    BankTransaction,
    Contract,
    EnrolmentEligibility,
    EscrowAccount,
    EscrowSettings,
    Lesson,
    ProcessedEvent,
    Refund,
    audit_trail,
)

Dispatch = Callable[[str, dict], None]
SOURCE = "escrow"
CHUNK = 500
log = get_logger(component="escrow.monitoring")


def who(actor: Actor) -> str:
    return f"{actor.department_label}/{actor.display_name}"


def event(event_type: str, data: dict, division_code: str, actor: Actor | None = None) -> tuple[str, dict]:
    return event_type, make_event(SOURCE, event_type, data, division_code, actor.public_dict() if actor else None)


def publish(dispatch: Dispatch, events: Iterable[tuple[str, dict]]) -> None:
    for event_type, envelope in events:
        dispatch(event_type, envelope)


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


# -- settings ------------------------------------------------------------------------------------

RULE_FIELDS = tuple(DEFAULT_RULES.as_dict())


def rules_for_row(row: EscrowSettings | None) -> EscrowRules:
    return EscrowRules(**{k: getattr(row, k) for k in RULE_FIELDS}) if row else DEFAULT_RULES


def rules_for(session: Session, division_code: str, cache: dict | None = None) -> EscrowRules:
    county = county_of(division_code)
    if cache is not None and county in cache:
        return cache[county]
    rules = rules_for_row(session.get(EscrowSettings, county) if county else None)
    if cache is not None:
        cache[county] = rules
    return rules


# -- matching the bank's transactions --------------------------------------------------------------


def match_bank(session: Session, dispatch: Dispatch, institution_ids: list[int]) -> list[tuple[str, dict]]:
    """Mark contracts whose receipts the bank booked (sum of receipts for the contract number into
    the institution's accounts ≥ the amount), and granted refunds the bank paid back (refund
    transactions for the contract number, taken in request order). Commits with its events (outbox); returns them."""
    out = []
    changed = False
    for ids in _chunks(institution_ids):
        unmatched = session.scalars(select(Contract).where(
            Contract.institution_id.in_(ids), Contract.receipt_matched_at.is_(None))).all()
        if unmatched:
            sums = _bank_sums(session, "receipt", [c.contract_no for c in unmatched])
            for c in unmatched:
                total, last = sums.get((c.institution_id, c.contract_no), (0, None))
                if total >= c.amount_fen:
                    c.receipt_matched_at = last
                    changed = True
        owed = session.scalars(select(Refund).where(
            Refund.institution_id.in_(ids), Refund.status.in_(("accepted", "deemed_accepted")))
            .order_by(Refund.id)).all()
        if owed:
            contracts = {c.id: c for c in session.scalars(
                select(Contract).where(Contract.id.in_({r.contract_id for r in owed})))}
            sums = _bank_sums(session, "refund", [c.contract_no for c in contracts.values()])
            paid = dict(session.execute(
                select(Refund.contract_id, func.sum(Refund.amount_fen))
                .where(Refund.contract_id.in_(list(contracts)), Refund.status == "paid")
                .group_by(Refund.contract_id)).all())
            available = {cid: sums.get((c.institution_id, c.contract_no), (0, None))[0] - int(paid.get(cid) or 0)
                         for cid, c in contracts.items()}
            for refund in owed:
                if refund.amount_fen <= available[refund.contract_id]:
                    available[refund.contract_id] -= refund.amount_fen
                    refund.status = "paid"
                    changed = True
                    c = contracts[refund.contract_id]
                    out.append(event("refund_paid", {
                        "refund_id": refund.id, "contract_id": c.id, "contract_no": c.contract_no,
                        "institution_id": c.institution_id, "township_code": c.division_code,
                        "amount_fen": refund.amount_fen, "channel": refund.channel, "how": "bank",
                    }, c.division_code))
    if changed:
        publish(dispatch, out)
        session.commit()
    return out


def _bank_sums(session: Session, kind: str, contract_nos: list[str]) -> dict:
    """(institution id, contract no) → (sum of amounts, latest occurred_at) of one kind."""
    out = {}
    for nos in _chunks(sorted(set(contract_nos))):
        rows = session.execute(
            select(BankTransaction.institution_id, BankTransaction.contract_no,
                   func.sum(BankTransaction.amount_fen), func.max(BankTransaction.occurred_at))
            .where(BankTransaction.kind == kind, BankTransaction.contract_no.in_(nos))
            .group_by(BankTransaction.institution_id, BankTransaction.contract_no)).all()
        for institution_id, contract_no, total, last in rows:
            out[(institution_id, contract_no)] = (int(total or 0), _aware(last))
    return out


def _aware(value) -> datetime | None:
    """Aggregates (max) of UTC timestamps, aware whatever the database returned."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


# -- facts ---------------------------------------------------------------------------------------


def load_facts(session: Session, institutions: list[EnrolmentEligibility]) -> dict[int, tuple]:
    """institution id → (InstitutionFacts, last lesson day in Shanghai or None)."""
    by_id = {i.institution_id: i for i in institutions}
    contracts = defaultdict(list)
    lesson_sums, refund_sums, accounts, balances, last_lesson = {}, defaultdict(dict), defaultdict(list), {}, {}
    for ids in _chunks(list(by_id)):
        for c in session.scalars(select(Contract).where(Contract.institution_id.in_(ids)).order_by(Contract.id)):
            contracts[c.institution_id].append(c)
        confirmed = case((Lesson.confirmation.in_(("confirmed", "deemed")), Lesson.fee_fen), else_=0)
        for cid, delivered, conf in session.execute(
                select(Lesson.contract_id, func.sum(Lesson.fee_fen), func.sum(confirmed))
                .where(Lesson.institution_id.in_(ids)).group_by(Lesson.contract_id)):
            lesson_sums[cid] = (int(delivered or 0), int(conf or 0))
        for iid, last in session.execute(
                select(Lesson.institution_id, func.max(Lesson.delivered_at))
                .where(Lesson.institution_id.in_(ids)).group_by(Lesson.institution_id)):
            last_lesson[iid] = _aware(last)
        for cid, status, total in session.execute(
                select(Refund.contract_id, Refund.status, func.sum(Refund.amount_fen))
                .where(Refund.institution_id.in_(ids)).group_by(Refund.contract_id, Refund.status)):
            refund_sums[cid][status] = int(total or 0)
        for a in session.scalars(select(EscrowAccount).where(EscrowAccount.institution_id.in_(ids))):
            accounts[a.institution_id].append(a)
    account_nos = [a.account_no for rows in accounts.values() for a in rows]
    for nos in _chunks(account_nos):
        for b in session.scalars(select(AccountBalance).where(AccountBalance.account_no.in_(nos))):
            balances[b.account_no] = b
    out = {}
    for iid, inst in by_id.items():
        contract_facts = []
        for c in contracts.get(iid, ()):
            delivered, conf = lesson_sums.get(c.id, (0, 0))
            refunds = refund_sums.get(c.id, {})
            contract_facts.append(alerts.ContractFacts(
                contract_id=c.id, contract_no=c.contract_no, amount_fen=c.amount_fen, signed_at=c.signed_at,
                starts_on=c.starts_on, ends_on=c.ends_on, status=c.status,
                receipt_matched=c.receipt_matched_at is not None, delivered_fen=delivered, confirmed_fen=conf,
                refunds_paid_fen=refunds.get("paid", 0),
                refunds_owed_fen=refunds.get("accepted", 0) + refunds.get("deemed_accepted", 0),
                channel=c.channel,
            ))
        account_facts = []
        for a in accounts.get(iid, ()):
            b = balances.get(a.account_no)
            account_facts.append(alerts.AccountFacts(
                account_id=a.id, account_no=a.account_no, mode=a.mode, status=a.status, opened_on=a.opened_on,
                guarantee_minimum_fen=a.guarantee_minimum_fen, balance_fen=b.balance_fen if b else None,
                receipts_fen=b.receipts_fen if b else 0, releases_fen=b.releases_fen if b else 0,
                refunds_fen=b.refunds_fen if b else 0,
            ))
        last = last_lesson.get(iid)
        facts = alerts.InstitutionFacts(iid, inst.name, inst.division_code, tuple(contract_facts),
                                        tuple(account_facts), last)
        out[iid] = (facts, last.astimezone(SHANGHAI).date() if last else None)
    return out


def position_of(session: Session, institution: EnrolmentEligibility) -> dict:
    facts, _ = load_facts(session, [institution])[institution.institution_id]
    return alerts.position(facts)


# -- alerts --------------------------------------------------------------------------------------


def alert_view(row: Alert) -> dict:
    return {
        "id": row.id, "institution_id": row.institution_id, "township_code": row.division_code,
        "kind": row.kind, "kind_name": alerts.KIND_NAMES.get(row.kind, row.kind),
        "subject": alerts.subject_of(row.kind, row.dedup_key) or None, "evidence": row.evidence,
        "status": row.status, "status_name": alerts.ALERT_STATUS_NAMES.get(row.status, row.status),
        "raised_at": iso_utc(row.raised_at), "closed_at": iso_utc(row.closed_at),
    }


def _raised_event(row: Alert, name: str) -> tuple[str, dict]:
    return event("escrow_alert_raised", {
        "alert_id": row.id, "institution_id": row.institution_id, "institution_name": name,
        "township_code": row.division_code, "kind": row.kind, "kind_name": alerts.KIND_NAMES[row.kind],
        "evidence": row.evidence, "raised_at": iso_utc(row.raised_at),
    }, row.division_code)


def _closed_event(row: Alert, how: str, by: str, note: str | None, actor: Actor | None = None):
    return event("escrow_alert_closed", {
        "alert_id": row.id, "institution_id": row.institution_id, "township_code": row.division_code,
        "kind": row.kind, "kind_name": alerts.KIND_NAMES.get(row.kind, row.kind),
        "closed_at": iso_utc(row.closed_at), "how": how, "closed_by": by, "note": note,
    }, row.division_code, actor)


def raise_alert(session: Session, dispatch: Dispatch, institution: EnrolmentEligibility, finding: alerts.Finding,
                now: datetime) -> list[tuple[str, dict]]:
    """Store one alert and its event in their own commit; a duplicate key (raised already) stores nothing."""
    row = Alert(
        institution_id=institution.institution_id, division_code=institution.division_code, kind=finding.kind,
        dedup_key=alerts.dedup_key(institution.institution_id, finding.kind, finding.subject,
                                   today_shanghai(now)),
        evidence={"institution_name": institution.name, **finding.evidence}, raised_at=now, status="open",
    )
    session.add(row)
    try:
        session.flush()
        events = [_raised_event(row, institution.name)]
        publish(dispatch, events)
        session.commit()
    except IntegrityError:
        session.rollback()
        return []
    return events


def _close(row: Alert, now: datetime, how: str, by: str, note: str | None) -> None:
    row.status, row.closed_at = "closed", now
    row.evidence = {**(row.evidence or {}), "closing": {"how": how, "by": by, "at": iso_utc(now), "note": note}}


def evaluate(session: Session, dispatch: Dispatch, institutions: list[EnrolmentEligibility],
             now: datetime | None = None) -> list[tuple[str, dict]]:
    """Match bank transactions, run every rule, raise new alerts and close cleared ones. Each commit
    carries its events (outbox); returns them all."""
    now = now or utc_now()
    today = today_shanghai(now)
    ids = [i.institution_id for i in institutions]
    out = match_bank(session, dispatch, ids)
    facts = load_facts(session, institutions)
    open_rows = defaultdict(list)
    for chunk in _chunks(ids):
        for row in session.scalars(select(Alert).where(Alert.institution_id.in_(chunk), Alert.status == "open")):
            open_rows[row.institution_id].append(row)
    cache: dict = {}
    for inst in institutions:
        inst_facts, last_day = facts[inst.institution_id]
        rules = rules_for(session, inst.division_code, cache)
        findings = alerts.evaluate(inst_facts, now, today, last_day, rules)
        current = open_rows.get(inst.institution_id, [])
        new, cleared = alerts.plan(
            findings, [alerts.OpenAlert(r.id, r.kind, alerts.subject_of(r.kind, r.dedup_key)) for r in current])
        closing = [r for r in current if r.id in cleared]
        for row in closing:
            _close(row, now, "resolved", "系统", "复核时预警条件已消除")
        if closing:
            closed = [_closed_event(r, "resolved", "系统", "复核时预警条件已消除") for r in closing]
            publish(dispatch, closed)
            session.commit()
            out += closed
        for finding in new:
            out += raise_alert(session, dispatch, inst, finding, now)
    return out


def evaluate_quietly(session: Session, dispatch: Dispatch, institutions: list[EnrolmentEligibility]) -> None:
    """After a desk change has been committed and announced: a failure here is logged, never undoes
    the change (the daily scan evaluates again)."""
    try:
        evaluate(session, dispatch, institutions)
    except Exception as exc:  # noqa: BLE001 - the change itself stands
        session.rollback()
        log.error("alert_evaluation_failed", error=repr(exc),
                  institutions=[i.institution_id for i in institutions])


# -- the feed's event and the daily scan -----------------------------------------------------------


def _booked_institutions(session: Session, event_: dict) -> list[int]:
    data = event_["data"]
    ids = {int(item["institution_id"]) for item in data.get("institutions") or []}
    nos = [str(n) for n in data.get("contract_nos") or []]
    for chunk in _chunks(nos):
        ids |= set(session.scalars(select(Contract.institution_id).where(Contract.contract_no.in_(chunk))))
    return sorted(ids)


def on_bank_transactions_booked(session: Session, dispatch: Dispatch, event_: object) -> dict:
    """The feed booked a batch: match its receipts and refunds, re-evaluate the institutions in it."""
    found: list[int] = []
    applied = apply_once(session, ProcessedEvent, event_,
                         lambda s, e: found.extend(_booked_institutions(s, e)))
    if not applied:
        return {"applied": False, "institutions": 0}
    institutions = _known(session, found)
    evaluate(session, dispatch, institutions)
    return {"applied": True, "institutions": len(institutions)}


def _known(session: Session, ids: list[int]) -> list[EnrolmentEligibility]:
    out = []
    for chunk in _chunks(ids):
        out += session.scalars(select(EnrolmentEligibility).where(EnrolmentEligibility.institution_id.in_(chunk)))
    return out


def scan_alerts(session: Session, dispatch: Dispatch, actor: Actor, division_code: object) -> dict:
    """Every supervised institution within the division (the daily schedule calls this)."""
    code = validate_code(division_code, field="county_code")
    authorize(actor, "escrow.scan_alerts", code)
    prefix = scope_prefix(code)
    ids = set(session.scalars(select(EscrowAccount.institution_id).where(EscrowAccount.division_code.startswith(prefix))))
    ids |= set(session.scalars(select(Contract.institution_id).where(Contract.division_code.startswith(prefix))))
    institutions = _known(session, sorted(ids))
    events = evaluate(session, dispatch, institutions)
    raised = [e["data"] for t, e in events if t == "escrow_alert_raised"]
    closed = [e["data"] for t, e in events if t == "escrow_alert_closed"]
    return {
        "division_code": code, "institutions_checked": len(institutions), "scanned_at": iso_utc(utc_now()),
        "raised": [{"alert_id": d["alert_id"], "institution_id": d["institution_id"], "kind": d["kind"]} for d in raised],
        "closed": [{"alert_id": d["alert_id"], "institution_id": d["institution_id"], "kind": d["kind"]} for d in closed],
    }


# -- reading and closing alerts ---------------------------------------------------------------------

ALERT_FILTERS = ("institution_id", "kind", "status", "township_code")


def list_alerts(session: Session, actor: Actor, limit: int, offset: int, filters: object = None) -> dict:
    if filters is not None and not isinstance(filters, dict):
        raise ValidationFailed("筛选条件应为 JSON 对象", field="filters")
    filters = dict(filters or {})
    own = authorize_list(actor, "escrow.read", filters.get("institution_id"))
    if own not in (None, ""):
        filters["institution_id"] = own
    query = select(Alert).where(Alert.division_code.startswith(scope_prefix(actor.division_code)))
    applied = {}
    for key, value in (filters or {}).items():
        if value in (None, ""):
            continue
        if key == "institution_id":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ValidationFailed("机构编号应为整数", field=key) from None
            query = query.where(Alert.institution_id == value)
        elif key == "kind":
            if value not in alerts.KIND_NAMES:
                raise ValidationFailed(f"未知预警类型，可选：{'、'.join(alerts.KIND_NAMES)}", field=key)
            query = query.where(Alert.kind == value)
        elif key == "status":
            if value not in alerts.ALERT_STATUS_NAMES:
                raise ValidationFailed("状态应为 open 或 closed", field=key)
            query = query.where(Alert.status == value)
        elif key == "township_code":
            code = validate_code(value, field=key)
            if not is_within(code, actor.division_code):
                raise Forbidden("只能查询本辖区的预警", field=key)
            query = query.where(Alert.division_code.startswith(scope_prefix(code)))
        else:
            raise ValidationFailed(f"不支持的筛选条件“{key}”，可用：{'、'.join(ALERT_FILTERS)}", field=str(key)[:50])
        applied[key] = value
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Alert.id.desc()).limit(limit).offset(offset)).all()
    return {"items": [alert_view(r) for r in rows], "total": total, "limit": limit, "offset": offset,
            "filters": applied}


def _alert(session: Session, actor: Actor, alert_id: object, action: str) -> Alert:
    if isinstance(alert_id, bool) or not isinstance(alert_id, int):
        raise ValidationFailed("预警编号应为整数", field="alert_id")
    row = session.get(Alert, alert_id)
    if row is None:
        raise NotFound(f"没有编号为 {alert_id} 的预警", field="alert_id")
    authorize(actor, action, row.division_code, institution_id=row.institution_id)
    return row


def get_alert(session: Session, actor: Actor, alert_id: int) -> dict:
    return alert_view(_alert(session, actor, alert_id, "escrow.read"))


def close_alert(session: Session, dispatch: Dispatch, actor: Actor, alert_id: int, data: object) -> dict:
    row = _alert(session, actor, alert_id, "escrow.close_alert")
    data = data if isinstance(data, dict) else {}
    note = data.get("note")
    if not isinstance(note, str) or not note.strip():
        raise ValidationFailed("请填写关闭说明（核查结论）", field="note")
    if row.status != "open":
        raise Conflict("该预警已关闭", field="alert_id")
    before = alert_view(row)
    _close(row, utc_now(), "manual", who(actor), note.strip()[:500])
    audit_trail.append(session, actor, "escrow.close_alert", "alert", row.id, before, alert_view(row),
                       row.division_code)
    publish(dispatch, [_closed_event(row, "manual", who(actor), note.strip()[:500], actor)])
    session.commit()
    return alert_view(row)


def institutions_in(session: Session, actor: Actor, institution_id: int, action: str) -> EnrolmentEligibility:
    row = session.get(EnrolmentEligibility, institution_id)
    if row is None:
        raise NotFound(f"资金监管尚无机构 {institution_id} 的记录", field="institution_id")
    authorize(actor, action, row.division_code, institution_id=row.institution_id)
    return row


def own_institution(actor: Actor, institution_id: object) -> object:
    """A list's institution filter: an institution account's own institution (asking for another is
    refused); any other actor's filter as given."""
    if actor.department_kind is not DepartmentKind.institution:
        return institution_id
    if institution_id not in (None, ""):
        try:
            asked = int(institution_id)
        except (TypeError, ValueError):
            raise ValidationFailed("机构编号应为整数", field="institution_id") from None
        check_bound(actor, asked)
    return actor.institution_id


def authorize_list(actor: Actor, action: str, institution_id: object) -> object:
    """authorize() for a list: an institution account only over its own institution (the filter
    returned), a parent never."""
    institution_id = own_institution(actor, institution_id)
    authorize(actor, action, institution_id=institution_id if isinstance(institution_id, int) else None)
    return institution_id


def get_position(session: Session, actor: Actor, institution_id: object) -> dict:
    if isinstance(institution_id, bool) or not isinstance(institution_id, int):
        raise ValidationFailed("机构编号应为整数", field="institution_id")
    inst = institutions_in(session, actor, institution_id, "escrow.read")
    pos = position_of(session, inst)
    open_alerts = session.scalar(select(func.count()).select_from(Alert).where(
        Alert.institution_id == institution_id, Alert.status == "open"))
    return {**pos, "name": inst.name, "township_code": inst.division_code, "may_enrol": inst.may_enrol,
            "alerts_open": open_alerts, "as_of": iso_utc(utc_now())}


def open_alert_count(session: Session) -> int:
    """Open alerts of the whole deployment: the `escrow_alerts_open` gauge (read on scrape)."""
    return session.scalar(select(func.count()).select_from(Alert).where(Alert.status == "open")) or 0
