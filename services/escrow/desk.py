"""The escrow desk's use cases (教体局): county settings, supervised accounts and their history,
fee items, contracts (the charge), lessons (一课一消), refunds, and the deadline actions the
platform takes when a timer fires. Load → rules → save → publish after the commit → re-evaluate
the institution's alerts.

A refused command stores nothing. The one exception is on purpose: a charge over the caps is
refused *and* raises a `charge_over_cap` alert (the attempt is the signal regulators watch).
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import contract_codes
from services.common.clock import iso_utc, utc_now
from services.common.divisions import county_of, scope_prefix, validate_code
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.identity import Actor, DepartmentKind
from services.common.policy import authorize
from services.common.workdays import SHANGHAI, today_shanghai, workday_deadline, workday_deadline_detail

from . import alerts, monitoring, parent_rules, rules
from .models import (
    AccountBalance,
    Contract,
    EnrolmentEligibility,
    EscrowAccount,
    EscrowAccountChange,
    EscrowSettings,
    FeeItem,
    Lesson,
    Refund,
)
from .models import audit_trail
from .monitoring import Dispatch, event, publish, who

DESK = "escrow.desk"
READ = "escrow.read"
DEADLINES = "escrow.apply_deadlines"
# the steps of 一课一消 an institution account or a parent takes on its own records (issue 14)
FEES, SIGN, DELIVER = "escrow.fee_items", "escrow.sign_contract", "escrow.deliver_lesson"
CONFIRM, ASK_REFUND, ANSWER_REFUND = "escrow.confirm_lesson", "escrow.request_refund", "escrow.answer_refund"
CODE_READERS = frozenset({DepartmentKind.education, DepartmentKind.institution, DepartmentKind.parent})


def _int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed("编号应为整数", field=field)
    return value


def _institution(session: Session, actor: Actor, institution_id: int, action: str) -> EnrolmentEligibility:
    return monitoring.institutions_in(session, actor, _int(institution_id, "institution_id"), action)


def _get(session: Session, model, key: object, field: str, label: str):
    row = session.get(model, _int(key, field))
    if row is None:
        raise NotFound(f"没有编号为 {key} 的{label}", field=field)
    return row


def _commit(session: Session, dispatch: Dispatch, events: list) -> None:
    """The change and its events (outbox rows) in one commit."""
    publish(dispatch, events)
    session.commit()


def _after_change(session: Session, dispatch: Dispatch, institution_id: int) -> None:
    """Once the change is committed: re-evaluate the institution's alerts (their own commits)."""
    inst = session.get(EnrolmentEligibility, institution_id)
    if inst is not None:
        monitoring.evaluate_quietly(session, dispatch, [inst])


# -- county settings -------------------------------------------------------------------------------


def _county(code: object) -> str:
    county = county_of(validate_code(code, field="county_code"))
    if county is None:
        raise ValidationFailed("请指定县级行政区划（6位）或其下乡镇", field="county_code")
    return county


def settings_view(county: str, row: EscrowSettings | None) -> dict:
    values = monitoring.rules_for_row(row)
    return {"county_code": county, **values.as_dict(),
            "names": rules.SETTING_NAMES,
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
    updated = rules.parse_settings_update(monitoring.rules_for_row(row), data)
    if row is None:
        row = EscrowSettings(county_code=county)
        session.add(row)
    for key, value in updated.as_dict().items():
        setattr(row, key, value)
    row.updated_at, row.updated_by = utc_now(), who(actor)
    audit_trail.append(session, actor, "escrow.set_settings", "escrow_settings", county, before,
                       settings_view(county, row), county)
    view = settings_view(county, row)
    _commit(session, dispatch, [event("escrow_settings_changed", {k: v for k, v in view.items() if k != "names"},
                                      county, actor)])
    return view


# -- supervised accounts ------------------------------------------------------------------------------


def account_view(row: EscrowAccount, balance: AccountBalance | None = None) -> dict:
    return {
        "id": row.id, "institution_id": row.institution_id, "township_code": row.division_code,
        "mode": row.mode, "mode_name": rules.MODES[row.mode], "bank_name": row.bank_name,
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


def _open_accounts(session: Session, institution_id: int) -> list[EscrowAccount]:
    return list(session.scalars(select(EscrowAccount).where(
        EscrowAccount.institution_id == institution_id, EscrowAccount.status == "open")))


def open_account(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    now = utc_now()
    draft = rules.parse_account_opening(data, today_shanghai(now))
    inst = _institution(session, actor, draft.institution_id, DESK)
    rules.check_may_open(inst.status, draft.mode, {a.mode for a in _open_accounts(session, inst.institution_id)})
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
        _commit(session, dispatch, [_account_event("opened", row, actor)])
    except IntegrityError:
        session.rollback()
        raise Conflict(f"监管账号 {draft.account_no} 已登记", field="account_no") from None
    _after_change(session, dispatch, row.institution_id)
    return account_view(row)


def _history_detail(row: EscrowAccount) -> dict:
    return {k: getattr(row, k) for k in ("mode", "bank_name", "bank_code", "account_no", "custody_agreement_no",
                                         "guarantee_minimum_fen")} | {"opened_on": row.opened_on.isoformat()}


def _account(session: Session, actor: Actor, account_id: object, action: str) -> EscrowAccount:
    row = _get(session, EscrowAccount, account_id, "account_id", "监管账户")
    authorize(actor, action, row.division_code, institution_id=row.institution_id)
    return row


def change_account(session: Session, dispatch: Dispatch, actor: Actor, account_id: int, data: object) -> dict:
    row = _account(session, actor, account_id, DESK)
    if row.status != "open":
        raise Conflict("该账户已关闭，不能变更", field="account_id")
    if isinstance(data, dict) and data.get("version") is not None and data.get("version") != row.version:
        raise Conflict(f"账户已被他人修改（当前版本 {row.version}），请刷新后重试", field="version")
    current = {k: getattr(row, k) for k in rules.CHANGEABLE}
    changes, reason = rules.parse_account_change(data, current)
    if not changes:
        return account_view(row)
    if "mode" in changes:
        others = {a.mode for a in _open_accounts(session, row.institution_id) if a.id != row.id}
        rules.check_may_open("operating", changes["mode"][1], others)
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
    _commit(session, dispatch, [_account_event("changed", row, actor, **detail)])
    _after_change(session, dispatch, row.institution_id)
    return account_view(row)


def close_account(session: Session, dispatch: Dispatch, actor: Actor, account_id: int, data: object) -> dict:
    row = _account(session, actor, account_id, DESK)
    if row.status != "open":
        raise Conflict("该账户已关闭", field="account_id")
    now = utc_now()
    closed_on, reason = rules.parse_account_closing(data, today_shanghai(now), row.opened_on)
    inst = session.get(EnrolmentEligibility, row.institution_id)
    liability = monitoring.position_of(session, inst)["unearned_fen"] if inst else 0
    others = [a for a in _open_accounts(session, row.institution_id) if a.id != row.id]
    rules.check_may_close(row.status, liability, len(others))
    before = account_view(row)
    row.status, row.closed_on = "closed", closed_on
    row.version += 1
    row.updated_at, row.updated_by = now, who(actor)
    session.add(EscrowAccountChange(account_id=row.id, change="closed",
                                    detail={"closed_on": closed_on.isoformat(), "reason": reason},
                                    at=now, by=who(actor)))
    audit_trail.append(session, actor, "escrow.close_account", "escrow_account", row.id, before,
                       account_view(row) | {"reason": reason}, row.division_code, now)
    _commit(session, dispatch, [_account_event("closed", row, actor, reason=reason)])
    _after_change(session, dispatch, row.institution_id)
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
        query = query.where(EscrowAccount.institution_id == _int(institution_id, "institution_id"))
    if status not in (None, ""):
        if status not in ("open", "closed"):
            raise ValidationFailed("状态应为 open 或 closed", field="status")
        query = query.where(EscrowAccount.status == status)
    rows = session.scalars(query.order_by(EscrowAccount.id)).all()
    balances = {b.account_no: b for b in session.scalars(
        select(AccountBalance).where(AccountBalance.account_no.in_([r.account_no for r in rows])))} if rows else {}
    return {"items": [account_view(r, balances.get(r.account_no)) for r in rows]}


# -- fee items ---------------------------------------------------------------------------------------


def fee_item_view(row: FeeItem) -> dict:
    state = rules.fee_item_state(row.published_at is not None, row.withdrawn_at is not None)
    return {"id": row.id, "institution_id": row.institution_id, "name": row.name,
            "price_per_hour_fen": row.price_per_hour_fen, "state": state,
            "state_name": rules.FEE_ITEM_STATE_NAMES[state],
            "published_at": iso_utc(row.published_at), "withdrawn_at": iso_utc(row.withdrawn_at)}


def _fee_event(kind: str, row: FeeItem, inst: EnrolmentEligibility, actor: Actor) -> tuple[str, dict]:
    return event(f"fee_item_{kind}", {**fee_item_view(row), "township_code": inst.division_code},
                 inst.division_code, actor)


def create_fee_item(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    institution_id, name, price, publish_now = rules.parse_fee_item(data)
    inst = _institution(session, actor, institution_id, FEES)
    now = utc_now()
    row = FeeItem(institution_id=inst.institution_id, name=name, price_per_hour_fen=price,
                  published_at=now if publish_now else None, withdrawn_at=None)
    session.add(row)
    session.flush()
    audit_trail.append(session, actor, "escrow.create_fee_item", "fee_item", row.id, None, fee_item_view(row),
                       inst.division_code, now)
    _commit(session, dispatch, [_fee_event("published", row, inst, actor)] if publish_now else [])
    return fee_item_view(row)


def _fee_item(session: Session, actor: Actor, fee_item_id: object) -> tuple[FeeItem, EnrolmentEligibility]:
    row = _get(session, FeeItem, fee_item_id, "fee_item_id", "收费项目")
    return row, _institution(session, actor, row.institution_id, FEES)


def publish_fee_item(session: Session, dispatch: Dispatch, actor: Actor, fee_item_id: int) -> dict:
    row, inst = _fee_item(session, actor, fee_item_id)
    if row.withdrawn_at is not None:
        raise Conflict("收费项目已撤下，请重新创建", field="fee_item_id")
    if row.published_at is None:
        before = fee_item_view(row)
        row.published_at = utc_now()
        audit_trail.append(session, actor, "escrow.publish_fee_item", "fee_item", row.id, before,
                           fee_item_view(row), inst.division_code)
        _commit(session, dispatch, [_fee_event("published", row, inst, actor)])
    return fee_item_view(row)


def withdraw_fee_item(session: Session, dispatch: Dispatch, actor: Actor, fee_item_id: int) -> dict:
    row, inst = _fee_item(session, actor, fee_item_id)
    if row.withdrawn_at is None:
        before = fee_item_view(row)
        row.withdrawn_at = utc_now()
        audit_trail.append(session, actor, "escrow.withdraw_fee_item", "fee_item", row.id, before,
                           fee_item_view(row), inst.division_code)
        _commit(session, dispatch, [_fee_event("withdrawn", row, inst, actor)])
    return fee_item_view(row)


def list_fee_items(session: Session, actor: Actor, institution_id: int) -> dict:
    inst = _institution(session, actor, institution_id, READ)
    rows = session.scalars(select(FeeItem).where(FeeItem.institution_id == inst.institution_id)
                           .order_by(FeeItem.id)).all()
    return {"institution_id": inst.institution_id, "items": [fee_item_view(r) for r in rows]}


# -- contracts: the charge ------------------------------------------------------------------------------


def contract_view(row: Contract) -> dict:
    return {
        "id": row.id, "contract_no": row.contract_no, "institution_id": row.institution_id,
        "township_code": row.division_code, "template_version": row.template_version,
        "template_name": rules.MODEL_CONTRACT_VERSIONS.get(row.template_version, row.template_version),
        "fee_item_id": row.fee_item_id, "student_name": row.student_name, "class_hours": row.class_hours,
        "starts_on": row.starts_on.isoformat(), "ends_on": row.ends_on.isoformat(), "amount_fen": row.amount_fen,
        "channel": row.channel, "channel_name": rules.CHANNELS.get(row.channel, row.channel),
        "signed_at": iso_utc(row.signed_at), "status": row.status,
        "status_name": rules.CONTRACT_STATUS_NAMES.get(row.status, row.status),
        "receipt_matched_at": iso_utc(row.receipt_matched_at),
    }


def _ref(row: Contract) -> dict:
    return {"contract_id": row.id, "contract_no": row.contract_no, "institution_id": row.institution_id,
            "township_code": row.division_code}


def sign_contract(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    """Record an enrolment on the model contract and its prepaid charge — or refuse it, storing nothing."""
    draft = rules.parse_charge(data)
    inst = _institution(session, actor, draft.institution_id, SIGN)
    if session.scalar(select(Contract.id).where(Contract.contract_no == draft.contract_no)) is not None:
        raise Conflict(f"合同编号 {draft.contract_no} 已登记", field="contract_no")
    fee = session.get(FeeItem, draft.fee_item_id)
    facts = None if fee is None else rules.FeeItemFacts(fee.institution_id, fee.name, fee.price_per_hour_fen,
                                                        fee.published_at is not None, fee.withdrawn_at is not None)
    rules.check_charge_state(inst.name, inst.may_enrol, inst.reason, len(_open_accounts(session, inst.institution_id)),
                             inst.institution_id, facts)
    county_rules = monitoring.rules_for(session, inst.division_code)
    violations = rules.cap_violations(draft, county_rules)
    if violations:
        finding = alerts.charge_over_cap(draft.contract_no, violations, draft.class_hours, draft.starts_on,
                                         draft.ends_on, draft.amount_fen, county_rules)
        monitoring.raise_alert(session, dispatch, inst, finding, utc_now())  # its own commit, with its event
        rules.refuse_over_caps(violations)
    rules.check_amount(draft, facts)
    row = Contract(
        contract_no=draft.contract_no, institution_id=inst.institution_id, division_code=inst.division_code,
        template_version=draft.template_version, fee_item_id=draft.fee_item_id, student_name=draft.student_name,
        class_hours=draft.class_hours, starts_on=draft.starts_on, ends_on=draft.ends_on, amount_fen=draft.amount_fen,
        channel=draft.channel, signed_at=utc_now(), status="active", receipt_matched_at=None,
        access_code=contract_codes.new_code(),  # 80 random bits: a clash is as likely as a guess
    )
    session.add(row)
    try:
        session.flush()
        audit_trail.append(session, actor, "escrow.sign_contract", "contract", row.id, None, contract_view(row),
                           row.division_code, row.signed_at)
        data_ = {**_ref(row), "amount_fen": row.amount_fen, "class_hours": row.class_hours,
                 "starts_on": row.starts_on.isoformat(), "ends_on": row.ends_on.isoformat(), "channel": row.channel,
                 "fee_item_id": row.fee_item_id, "template_version": row.template_version,
                 "signed_at": iso_utc(row.signed_at)}
        _commit(session, dispatch, [event("contract_signed", data_, row.division_code, actor)])
    except IntegrityError:
        session.rollback()
        raise Conflict(f"合同编号 {draft.contract_no} 已登记", field="contract_no") from None
    _after_change(session, dispatch, row.institution_id)
    return contract_view(row)


def _contract(session: Session, actor: Actor, contract_id: object, action: str) -> Contract:
    row = _get(session, Contract, contract_id, "contract_id", "合同")
    authorize(actor, action, row.division_code, institution_id=row.institution_id, contract_code=row.access_code)
    return row


def _lessons(session: Session, contract_id: int) -> list[Lesson]:
    return list(session.scalars(select(Lesson).where(Lesson.contract_id == contract_id).order_by(Lesson.lesson_no)))


def _refunds(session: Session, contract_id: int) -> list[Refund]:
    return list(session.scalars(select(Refund).where(Refund.contract_id == contract_id).order_by(Refund.id)))


def get_contract(session: Session, actor: Actor, contract_id: int) -> dict:
    row = _contract(session, actor, contract_id, READ)
    county_rules = monitoring.rules_for(session, row.division_code)
    lessons, refunds = _lessons(session, row.id), _refunds(session, row.id)
    delivered = sum(x.fee_fen for x in lessons)
    held = sum(r.amount_fen for r in refunds if r.status in rules.REFUND_COUNTS)
    inst, fee = session.get(EnrolmentEligibility, row.institution_id), session.get(FeeItem, row.fee_item_id)
    return {
        **contract_view(row),
        "institution_name": inst.name if inst else None, "fee_item_name": fee.name if fee else None,
        "price_per_hour_fen": row.amount_fen // row.class_hours,
        # the parent code: for those who hand it out or hold it, not every official who may read contracts
        "access_code": contract_codes.format_code(row.access_code)
        if row.access_code and actor.department_kind in CODE_READERS else None,
        "hours_delivered": sum(x.hours for x in lessons), "delivered_fen": delivered,
        "confirmed_fen": sum(x.fee_fen for x in lessons if x.confirmation in ("confirmed", "deemed")),
        "refunded_fen": sum(r.amount_fen for r in refunds if r.status == "paid"),
        "refundable_fen": rules.refundable(row.amount_fen, delivered, held),
        "lessons": [lesson_view(x, county_rules) for x in lessons],
        "refunds": [refund_view(r, county_rules) for r in refunds],
    }


def list_contracts(session: Session, actor: Actor, limit: int, offset: int, institution_id: object = None,
                   status: object = None) -> dict:
    institution_id = monitoring.authorize_list(actor, READ, institution_id)
    query = select(Contract).where(Contract.division_code.startswith(scope_prefix(actor.division_code)))
    if institution_id not in (None, ""):
        query = query.where(Contract.institution_id == _int(institution_id, "institution_id"))
    if status not in (None, ""):
        if status not in rules.CONTRACT_STATUS_NAMES:
            raise ValidationFailed(f"状态应为 {'、'.join(rules.CONTRACT_STATUS_NAMES)}", field="status")
        query = query.where(Contract.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Contract.id.desc()).limit(limit).offset(offset)).all()
    return {"items": [contract_view(r) for r in rows], "total": total, "limit": limit, "offset": offset}


# -- lessons: 一课一消 ------------------------------------------------------------------------------------


def lesson_view(row: Lesson, county_rules: rules.EscrowRules | None = None) -> dict:
    view = {"contract_id": row.contract_id, "lesson_no": row.lesson_no, "hours": row.hours, "fee_fen": row.fee_fen,
            "delivered_at": iso_utc(row.delivered_at), "confirmation": row.confirmation,
            "confirmation_name": rules.CONFIRMATION_NAMES.get(row.confirmation, row.confirmation),
            "confirmed_at": iso_utc(row.confirmed_at), "dispute_reason": row.dispute_reason,
            "disputed_at": iso_utc(row.disputed_at)}
    if county_rules is not None and row.confirmation == "pending":
        due = workday_deadline_detail(row.delivered_at, county_rules.deemed_confirmation_workdays)
        view["confirm_by"], view["confirm_by_provisional"] = due.at.isoformat(), due.provisional
    return view


def deliver_lesson(session: Session, dispatch: Dispatch, actor: Actor, contract_id: int, data: object) -> dict:
    row = _contract(session, actor, contract_id, DELIVER)
    now = utc_now()
    draft = rules.parse_lesson(data, now)
    lessons = _lessons(session, row.id)
    county_rules = monitoring.rules_for(session, row.division_code)
    same = next((x for x in lessons if x.lesson_no == draft.lesson_no), None)
    if same is not None:
        given_at = data.get("delivered_at") not in (None, "")
        if same.hours == draft.hours and (not given_at or same.delivered_at == draft.delivered_at):
            return lesson_view(same, county_rules)  # a repeated request: nothing new
        raise Conflict(f"第{draft.lesson_no}次课已登记", field="lesson_no")
    refunds = _refunds(session, row.id)
    delivered_fen = sum(x.fee_fen for x in lessons)
    delivered_hours = sum(x.hours for x in lessons)
    held = sum(r.amount_fen for r in refunds if r.status in rules.REFUND_COUNTS)
    fee = rules.lesson_fee(row.amount_fen, row.class_hours, draft.hours)
    rules.check_lesson(row.status, row.class_hours, delivered_hours, draft.hours, fee,
                       row.amount_fen - delivered_fen - held, row.starts_on,
                       draft.delivered_at.astimezone(SHANGHAI).date())
    lesson = Lesson(contract_id=row.id, institution_id=row.institution_id, lesson_no=draft.lesson_no,
                    hours=draft.hours, fee_fen=fee, delivered_at=draft.delivered_at, confirmation="pending",
                    confirmed_at=None)
    session.add(lesson)
    contract_before = contract_view(row)
    if delivered_hours + draft.hours == row.class_hours:
        row.status = "completed"
    try:
        session.flush()
        audit_trail.append(session, actor, "escrow.deliver_lesson", "contract", row.id, contract_before,
                           contract_view(row) | {"lesson": lesson_view(lesson)}, row.division_code, now)
        data_ = {**_ref(row), "lesson_no": lesson.lesson_no, "hours": lesson.hours, "fee_fen": lesson.fee_fen,
                 "delivered_at": iso_utc(lesson.delivered_at),
                 "confirm_within_workdays": county_rules.deemed_confirmation_workdays}
        _commit(session, dispatch, [event("lesson_delivered", data_, row.division_code, actor)])
    except IntegrityError:
        session.rollback()
        raise Conflict(f"第{draft.lesson_no}次课已登记", field="lesson_no") from None
    _after_change(session, dispatch, row.institution_id)
    return lesson_view(lesson, county_rules)


def _confirm(session: Session, dispatch: Dispatch, actor: Actor, contract_id: object, lesson_no: object,
             how: str, action: str) -> dict:
    row = _contract(session, actor, contract_id, action)
    no = _int(lesson_no, "lesson_no")
    lesson = session.scalar(select(Lesson).where(Lesson.contract_id == row.id, Lesson.lesson_no == no))
    if lesson is None:
        raise NotFound(f"合同{row.contract_no}没有第{no}次课", field="lesson_no")
    if not parent_rules.check_confirmable(lesson.confirmation, deemed=how == "deemed"):
        return lesson_view(lesson)  # confirmed already (by the parent or deemed), or disputed: nothing changes
    before = lesson_view(lesson)
    lesson.confirmation, lesson.confirmed_at = how, utc_now()
    audit_trail.append(session, actor, "escrow.confirm_lesson", "contract", row.id, before, lesson_view(lesson),
                       row.division_code)
    data_ = {**_ref(row), "lesson_no": lesson.lesson_no, "how": "parent" if how == "confirmed" else "deemed"}
    _commit(session, dispatch, [event("lesson_confirmed", data_, row.division_code, actor)])
    _after_change(session, dispatch, row.institution_id)
    return lesson_view(lesson)


def confirm_lesson(session: Session, dispatch: Dispatch, actor: Actor, contract_id: int, lesson_no: int) -> dict:
    """The parent confirms the lesson (by the contract code, or recorded at the desk); its fee becomes
    releasable. Confirming a disputed lesson withdraws the dispute."""
    return _confirm(session, dispatch, actor, contract_id, lesson_no, "confirmed", CONFIRM)


def deem_lesson_confirmed(session: Session, dispatch: Dispatch, actor: Actor, contract_id: int,
                          lesson_no: int) -> dict:
    """The confirmation period ran out (the timer fired): deemed confirmed if still pending."""
    return _confirm(session, dispatch, actor, contract_id, lesson_no, "deemed", DEADLINES)


# -- refunds ---------------------------------------------------------------------------------------------


def refund_view(row: Refund, county_rules: rules.EscrowRules | None = None) -> dict:
    view = {"id": row.id, "contract_id": row.contract_id, "institution_id": row.institution_id,
            "amount_fen": row.amount_fen, "reason": row.reason, "channel": row.channel,
            "channel_name": rules.CHANNELS.get(row.channel, row.channel), "requested_at": iso_utc(row.requested_at),
            "status": row.status, "status_name": rules.REFUND_STATUS_NAMES.get(row.status, row.status),
            "answered_at": iso_utc(row.answered_at), "answer": row.answer}
    if county_rules is not None and row.status == "requested":
        due = workday_deadline_detail(row.requested_at, county_rules.refund_answer_workdays)
        view["answer_by"], view["answer_by_provisional"] = due.at.isoformat(), due.provisional
    return view


def request_refund(session: Session, dispatch: Dispatch, actor: Actor, contract_id: int, data: object) -> dict:
    row = _contract(session, actor, contract_id, ASK_REFUND)
    amount, reason = rules.parse_refund_request(data, row.channel)
    refunds = _refunds(session, row.id)
    delivered = sum(x.fee_fen for x in _lessons(session, row.id))
    held = sum(r.amount_fen for r in refunds if r.status in rules.REFUND_COUNTS)
    rules.check_refund(amount, row.amount_fen, delivered, held, any(r.status == "requested" for r in refunds))
    county_rules = monitoring.rules_for(session, row.division_code)
    refund = Refund(contract_id=row.id, institution_id=row.institution_id, amount_fen=amount, reason=reason,
                    channel=row.channel, requested_at=utc_now(), status="requested")
    session.add(refund)
    session.flush()
    audit_trail.append(session, actor, "escrow.request_refund", "refund", refund.id, None, refund_view(refund),
                       row.division_code, refund.requested_at)
    data_ = {"refund_id": refund.id, **_ref(row), "amount_fen": amount, "channel": refund.channel,
             "requested_at": iso_utc(refund.requested_at),
             "answer_within_workdays": county_rules.refund_answer_workdays}
    _commit(session, dispatch, [event("refund_requested", data_, row.division_code, actor)])
    _after_change(session, dispatch, row.institution_id)
    return refund_view(refund, county_rules)


def _refund(session: Session, actor: Actor, refund_id: object, action: str) -> tuple[Refund, Contract]:
    refund = _get(session, Refund, refund_id, "refund_id", "退费申请")
    contract = session.get(Contract, refund.contract_id)
    authorize(actor, action, contract.division_code, institution_id=contract.institution_id,
              contract_code=contract.access_code)
    return refund, contract


def _settle(session: Session, refund: Refund, contract: Contract, status: str, answer: str | None) -> None:
    refund.status, refund.answered_at, refund.answer = status, utc_now(), answer
    if status in rules.REFUND_GRANTED:
        delivered = sum(x.fee_fen for x in _lessons(session, contract.id))
        held = sum(r.amount_fen for r in _refunds(session, contract.id) if r.status in rules.REFUND_COUNTS)
        if contract.status == "active" and contract.amount_fen - delivered - held <= 0:
            contract.status = "refunded"


def _answered(session, dispatch, actor, refund: Refund, contract: Contract) -> None:
    """Commit the answer with its event, then re-evaluate."""
    data_ = {"refund_id": refund.id, **_ref(contract), "status": refund.status}
    _commit(session, dispatch, [event("refund_answered", data_, contract.division_code, actor)])
    _after_change(session, dispatch, contract.institution_id)


def answer_refund(session: Session, dispatch: Dispatch, actor: Actor, refund_id: int, data: object) -> dict:
    """The institution's answer (its own account, or recorded at the desk), within the answer period."""
    refund, contract = _refund(session, actor, refund_id, ANSWER_REFUND)
    decision, answer = rules.parse_refund_answer(data)
    county_rules = monitoring.rules_for(session, contract.division_code)
    deadline = workday_deadline(refund.requested_at, county_rules.refund_answer_workdays)
    rules.check_refund_answerable(refund.status, deadline, utc_now())
    before = refund_view(refund) | {"contract_status": contract.status}
    _settle(session, refund, contract, decision, answer)
    audit_trail.append(session, actor, "escrow.answer_refund", "refund", refund.id, before,
                       refund_view(refund) | {"contract_status": contract.status}, contract.division_code)
    _answered(session, dispatch, actor, refund, contract)
    return refund_view(refund)


def deem_refund_accepted(session: Session, dispatch: Dispatch, actor: Actor, refund_id: int) -> dict:
    """The answer period ran out (the timer fired): deemed accepted if still unanswered."""
    refund, contract = _refund(session, actor, refund_id, DEADLINES)
    if refund.status != "requested":
        return refund_view(refund)
    before = refund_view(refund) | {"contract_status": contract.status}
    _settle(session, refund, contract, "deemed_accepted", "机构逾期未答复，视为同意退费")
    audit_trail.append(session, actor, "escrow.deem_refund_accepted", "refund", refund.id, before,
                       refund_view(refund) | {"contract_status": contract.status}, contract.division_code)
    _answered(session, dispatch, actor, refund, contract)
    return refund_view(refund)


def record_refund_paid(session: Session, dispatch: Dispatch, actor: Actor, refund_id: int) -> dict:
    """The money went back by the original channel (the feed marks it itself for custody accounts)."""
    refund, contract = _refund(session, actor, refund_id, DESK)
    if refund.status == "paid":
        return refund_view(refund)
    if refund.status not in ("accepted", "deemed_accepted"):
        raise Conflict(f"退费申请{rules.REFUND_STATUS_NAMES[refund.status]}，不能登记已退回", field="refund_id")
    before = refund_view(refund)
    refund.status = "paid"
    audit_trail.append(session, actor, "escrow.record_refund_paid", "refund", refund.id, before,
                       refund_view(refund), contract.division_code)
    data_ = {"refund_id": refund.id, **_ref(contract), "amount_fen": refund.amount_fen,
             "channel": refund.channel, "how": "desk"}
    _commit(session, dispatch, [event("refund_paid", data_, contract.division_code, actor)])
    _after_change(session, dispatch, contract.institution_id)
    return refund_view(refund)


def list_refunds(session: Session, actor: Actor, institution_id: object = None, status: object = None) -> dict:
    institution_id = monitoring.authorize_list(actor, READ, institution_id)
    query = (select(Refund, Contract).join(Contract, Contract.id == Refund.contract_id)
             .where(Contract.division_code.startswith(scope_prefix(actor.division_code))))
    if institution_id not in (None, ""):
        query = query.where(Refund.institution_id == _int(institution_id, "institution_id"))
    if status not in (None, ""):
        if status not in rules.REFUND_STATUS_NAMES:
            raise ValidationFailed(f"状态应为 {'、'.join(rules.REFUND_STATUS_NAMES)}", field="status")
        query = query.where(Refund.status == status)
    out = []
    cache: dict = {}
    for refund, contract in session.execute(query.order_by(Refund.id.desc()).limit(500)):
        out.append({**refund_view(refund, monitoring.rules_for(session, contract.division_code, cache)),
                    "contract_no": contract.contract_no, "township_code": contract.division_code})
    return {"items": out}
