"""The escrow desk (教体局): county settings, and supervised accounts with their history."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import county_of, scope_prefix, validate_code
from services.common.errors import Conflict, ValidationFailed
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import today_shanghai

from . import account_rules, monitoring
from .desk_common import DESK, READ, after_change, commit, get, institution, int_
from .models import AccountBalance, EnrolmentEligibility, EscrowAccount, EscrowAccountChange, EscrowSettings
from .models import audit_trail
from .monitoring import Dispatch, event, who


# -- county settings -------------------------------------------------------------------------------


def _county(code: object) -> str:
    county = county_of(validate_code(code, field="county_code"))
    if county is None:
        raise ValidationFailed("请指定县级行政区划（6位）或其下乡镇", field="county_code")
    return county


def settings_view(county: str, row: EscrowSettings | None) -> dict:
    values = monitoring.rules_for_row(row)
    return {"county_code": county, **values.as_dict(),
            "names": account_rules.SETTING_NAMES,
            "updated_at": iso_utc(row.updated_at) if row else None, "updated_by": row.updated_by if row else None}


def get_settings(session: Session, actor: Actor, county_code: object = None) -> dict:
    county = _county(county_code or actor.division_code)
    authorize(actor, READ, county)
    return settings_view(county, session.get(EscrowSettings, county))


def set_settings(session: Session, dispatch: Dispatch, actor: Actor, county_code: object, data: object) -> dict:
    county = _county(county_code or actor.division_code)
    authorize(actor, "escrow.manage_settings", county)
    row = session.get(EscrowSettings, county)
    before = settings_view(county, row) if row is not None else None
    updated = account_rules.parse_settings_update(monitoring.rules_for_row(row), data)
    if row is None:
        row = EscrowSettings(county_code=county)
        session.add(row)
    for key, value in updated.as_dict().items():
        setattr(row, key, value)
    row.updated_at, row.updated_by = utc_now(), who(actor)
    audit_trail.append(session, actor, "escrow.set_settings", "escrow_settings", county, before,
                       settings_view(county, row), county)
    view = settings_view(county, row)
    commit(session, dispatch, [event("escrow_settings_changed", {k: v for k, v in view.items() if k != "names"},
                                     county, actor)])
    return view


# -- supervised accounts ------------------------------------------------------------------------------


def account_view(row: EscrowAccount, balance: AccountBalance | None = None) -> dict:
    return {
        "id": row.id, "institution_id": row.institution_id, "township_code": row.division_code,
        "mode": row.mode, "mode_name": account_rules.MODES[row.mode], "bank_name": row.bank_name,
        "bank_code": row.bank_code, "account_no": row.account_no,
        "custody_agreement_no": row.custody_agreement_no, "guarantee_minimum_fen": row.guarantee_minimum_fen,
        "status": row.status, "status_name": "正常" if row.status == "open" else "已销户",
        "opened_on": row.opened_on.isoformat(), "closed_on": row.closed_on.isoformat() if row.closed_on else None,
        "version": row.version, "updated_at": iso_utc(row.updated_at), "updated_by": row.updated_by,
        "balance": None if balance is None else {
            "balance_fen": balance.balance_fen, "receipts_fen": balance.receipts_fen,
            "releases_fen": balance.releases_fen, "refunds_fen": balance.refunds_fen,
            "tx_count": balance.tx_count, "last_tx_at": iso_utc(balance.last_tx_at)},
    }


def _account_event(kind: str, row: EscrowAccount, actor: Actor, **extra) -> tuple[str, dict]:
    data = {"account_id": row.id, "institution_id": row.institution_id, "township_code": row.division_code,
            "mode": row.mode, "bank_name": row.bank_name, "bank_code": row.bank_code,
            "account_no": row.account_no, "guarantee_minimum_fen": row.guarantee_minimum_fen,
            "opened_on": row.opened_on.isoformat(), "closed_on": row.closed_on.isoformat() if row.closed_on else None,
            "version": row.version, **extra}
    return event(f"escrow_account_{kind}", data, row.division_code, actor)


def open_accounts(session: Session, institution_id: int) -> list[EscrowAccount]:
    return list(session.scalars(select(EscrowAccount).where(
        EscrowAccount.institution_id == institution_id, EscrowAccount.status == "open")))


def open_account(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    now = utc_now()
    draft = account_rules.parse_account_opening(data, today_shanghai(now))
    inst = institution(session, actor, draft.institution_id, DESK)
    account_rules.check_may_open(inst.status, draft.mode, {a.mode for a in open_accounts(session, inst.institution_id)})
    if session.scalar(select(EscrowAccount.id).where(EscrowAccount.account_no == draft.account_no)) is not None:
        raise Conflict(f"监管账号 {draft.account_no} 已登记", field="account_no")
    row = EscrowAccount(
        institution_id=inst.institution_id, division_code=inst.division_code, mode=draft.mode,
        bank_name=draft.bank_name, bank_code=draft.bank_code, account_no=draft.account_no,
        custody_agreement_no=draft.custody_agreement_no, guarantee_minimum_fen=draft.guarantee_minimum_fen,
        status="open", opened_on=draft.opened_on, version=1, updated_at=now, updated_by=who(actor),
    )
    session.add(row)
    try:
        session.flush()
        session.add(EscrowAccountChange(account_id=row.id, change="opened", detail=_history_detail(row),
                                        at=now, by=who(actor)))
        audit_trail.append(session, actor, "escrow.open_account", "escrow_account", row.id, None, account_view(row),
                           row.division_code, now)
        commit(session, dispatch, [_account_event("opened", row, actor)])
    except IntegrityError:
        session.rollback()
        raise Conflict(f"监管账号 {draft.account_no} 已登记", field="account_no") from None
    after_change(session, dispatch, row.institution_id)
    return account_view(row)


def _history_detail(row: EscrowAccount) -> dict:
    return {k: getattr(row, k) for k in ("mode", "bank_name", "bank_code", "account_no", "custody_agreement_no",
                                         "guarantee_minimum_fen")} | {"opened_on": row.opened_on.isoformat()}


def _account(session: Session, actor: Actor, account_id: object, action: str) -> EscrowAccount:
    row = get(session, EscrowAccount, account_id, "account_id", "监管账户")
    authorize(actor, action, row.division_code, institution_id=row.institution_id)
    return row


def change_account(session: Session, dispatch: Dispatch, actor: Actor, account_id: int, data: object) -> dict:
    row = _account(session, actor, account_id, DESK)
    if row.status != "open":
        raise Conflict("该账户已关闭，不能变更", field="account_id")
    if isinstance(data, dict) and data.get("version") is not None and data.get("version") != row.version:
        raise Conflict(f"账户已被他人修改（当前版本 {row.version}），请刷新后重试", field="version")
    current = {k: getattr(row, k) for k in account_rules.CHANGEABLE}
    changes, reason = account_rules.parse_account_change(data, current)
    if not changes:
        return account_view(row)
    if "mode" in changes:
        others = {a.mode for a in open_accounts(session, row.institution_id) if a.id != row.id}
        account_rules.check_may_open("operating", changes["mode"][1], others)
    now = utc_now()
    before = account_view(row)
    for key, (_, after) in changes.items():
        setattr(row, key, after)
    row.version += 1
    row.updated_at, row.updated_by = now, who(actor)
    detail = {"changes": {k: list(v) for k, v in changes.items()}, "reason": reason}
    session.add(EscrowAccountChange(account_id=row.id, change="changed", detail=detail, at=now, by=who(actor)))
    audit_trail.append(session, actor, "escrow.change_account", "escrow_account", row.id, before,
                       account_view(row) | {"reason": reason}, row.division_code, now)
    commit(session, dispatch, [_account_event("changed", row, actor, **detail)])
    after_change(session, dispatch, row.institution_id)
    return account_view(row)


def close_account(session: Session, dispatch: Dispatch, actor: Actor, account_id: int, data: object) -> dict:
    row = _account(session, actor, account_id, DESK)
    if row.status != "open":
        raise Conflict("该账户已关闭", field="account_id")
    now = utc_now()
    closed_on, reason = account_rules.parse_account_closing(data, today_shanghai(now), row.opened_on)
    inst = session.get(EnrolmentEligibility, row.institution_id)
    liability = monitoring.position_of(session, inst)["unearned_fen"] if inst else 0
    others = [a for a in open_accounts(session, row.institution_id) if a.id != row.id]
    account_rules.check_may_close(row.status, liability, len(others))
    before = account_view(row)
    row.status, row.closed_on = "closed", closed_on
    row.version += 1
    row.updated_at, row.updated_by = now, who(actor)
    session.add(EscrowAccountChange(account_id=row.id, change="closed",
                                    detail={"closed_on": closed_on.isoformat(), "reason": reason},
                                    at=now, by=who(actor)))
    audit_trail.append(session, actor, "escrow.close_account", "escrow_account", row.id, before,
                       account_view(row) | {"reason": reason}, row.division_code, now)
    commit(session, dispatch, [_account_event("closed", row, actor, reason=reason)])
    after_change(session, dispatch, row.institution_id)
    return account_view(row)


def get_account(session: Session, actor: Actor, account_id: int) -> dict:
    row = _account(session, actor, account_id, READ)
    history = session.scalars(select(EscrowAccountChange).where(EscrowAccountChange.account_id == row.id)
                              .order_by(EscrowAccountChange.id)).all()
    view = account_view(row, session.get(AccountBalance, row.account_no))
    view["history"] = [{"change": h.change, "change_name": {"opened": "开户", "changed": "变更", "closed": "销户"}[h.change],
                        "detail": h.detail, "at": iso_utc(h.at), "by": h.by} for h in history]
    return view


def list_accounts(session: Session, actor: Actor, institution_id: object = None, status: object = None) -> dict:
    institution_id = monitoring.authorize_list(actor, READ, institution_id)
    query = select(EscrowAccount).where(EscrowAccount.division_code.startswith(scope_prefix(actor.division_code)))
    if institution_id not in (None, ""):
        query = query.where(EscrowAccount.institution_id == int_(institution_id, "institution_id"))
    if status not in (None, ""):
        if status not in ("open", "closed"):
            raise ValidationFailed("状态应为 open 或 closed", field="status")
        query = query.where(EscrowAccount.status == status)
    rows = session.scalars(query.order_by(EscrowAccount.id)).all()
    balances = {b.account_no: b for b in session.scalars(
        select(AccountBalance).where(AccountBalance.account_no.in_([r.account_no for r in rows])))} if rows else {}
    return {"items": [account_view(r, balances.get(r.account_no)) for r in rows]}
