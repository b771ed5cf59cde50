"""The escrow desk (教体局): fee items (published before charging) and contracts — the charge.

A refused command stores nothing. The one exception is on purpose: a charge over the caps is
refused *and* raises a `charge_over_cap` alert (the attempt is the signal regulators watch).
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import contract_codes
from services.common.clock import iso_utc, utc_now
from services.common.divisions import scope_prefix
from services.common.errors import Conflict, ValidationFailed
from services.common.identity import Actor

from . import alerts, charge_rules, monitoring
from .desk_accounts import open_accounts
from .desk_common import FEES, READ, SIGN, after_change, commit, get, institution, int_
from .models import Contract, EnrolmentEligibility, FeeItem
from .models import audit_trail
from .monitoring import Dispatch, event


# -- fee items ---------------------------------------------------------------------------------------


def fee_item_view(row: FeeItem) -> dict:
    state = charge_rules.fee_item_state(row.published_at is not None, row.withdrawn_at is not None)
    return {"id": row.id, "institution_id": row.institution_id, "name": row.name,
            "price_per_hour_fen": row.price_per_hour_fen, "state": state,
            "state_name": charge_rules.FEE_ITEM_STATE_NAMES[state],
            "published_at": iso_utc(row.published_at), "withdrawn_at": iso_utc(row.withdrawn_at)}


def _fee_event(kind: str, row: FeeItem, inst: EnrolmentEligibility, actor: Actor) -> tuple[str, dict]:
    return event(f"fee_item_{kind}", {**fee_item_view(row), "township_code": inst.division_code},
                 inst.division_code, actor)


def create_fee_item(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    institution_id, name, price, publish_now = charge_rules.parse_fee_item(data)
    inst = institution(session, actor, institution_id, FEES)
    now = utc_now()
    row = FeeItem(institution_id=inst.institution_id, name=name, price_per_hour_fen=price,
                  published_at=now if publish_now else None, withdrawn_at=None)
    session.add(row)
    session.flush()
    audit_trail.append(session, actor, "escrow.create_fee_item", "fee_item", row.id, None, fee_item_view(row),
                       inst.division_code, now)
    commit(session, dispatch, [_fee_event("published", row, inst, actor)] if publish_now else [])
    return fee_item_view(row)


def _fee_item(session: Session, actor: Actor, fee_item_id: object) -> tuple[FeeItem, EnrolmentEligibility]:
    row = get(session, FeeItem, fee_item_id, "fee_item_id", "收费项目")
    return row, institution(session, actor, row.institution_id, FEES)


def publish_fee_item(session: Session, dispatch: Dispatch, actor: Actor, fee_item_id: int) -> dict:
    row, inst = _fee_item(session, actor, fee_item_id)
    if row.withdrawn_at is not None:
        raise Conflict("收费项目已撤下，请重新创建", field="fee_item_id")
    if row.published_at is None:
        before = fee_item_view(row)
        row.published_at = utc_now()
        audit_trail.append(session, actor, "escrow.publish_fee_item", "fee_item", row.id, before,
                           fee_item_view(row), inst.division_code)
        commit(session, dispatch, [_fee_event("published", row, inst, actor)])
    return fee_item_view(row)


def withdraw_fee_item(session: Session, dispatch: Dispatch, actor: Actor, fee_item_id: int) -> dict:
    row, inst = _fee_item(session, actor, fee_item_id)
    if row.withdrawn_at is None:
        before = fee_item_view(row)
        row.withdrawn_at = utc_now()
        audit_trail.append(session, actor, "escrow.withdraw_fee_item", "fee_item", row.id, before,
                           fee_item_view(row), inst.division_code)
        commit(session, dispatch, [_fee_event("withdrawn", row, inst, actor)])
    return fee_item_view(row)


def list_fee_items(session: Session, actor: Actor, institution_id: int) -> dict:
    inst = institution(session, actor, institution_id, READ)
    rows = session.scalars(select(FeeItem).where(FeeItem.institution_id == inst.institution_id)
                           .order_by(FeeItem.id)).all()
    return {"institution_id": inst.institution_id, "items": [fee_item_view(r) for r in rows]}


# -- contracts: the charge ------------------------------------------------------------------------------


def contract_view(row: Contract) -> dict:
    return {
        "id": row.id, "contract_no": row.contract_no, "institution_id": row.institution_id,
        "township_code": row.division_code, "template_version": row.template_version,
        "template_name": charge_rules.MODEL_CONTRACT_VERSIONS.get(row.template_version, row.template_version),
        "fee_item_id": row.fee_item_id, "student_name": row.student_name, "class_hours": row.class_hours,
        "starts_on": row.starts_on.isoformat(), "ends_on": row.ends_on.isoformat(), "amount_fen": row.amount_fen,
        "channel": row.channel, "channel_name": charge_rules.CHANNELS.get(row.channel, row.channel),
        "signed_at": iso_utc(row.signed_at), "status": row.status,
        "status_name": charge_rules.CONTRACT_STATUS_NAMES.get(row.status, row.status),
        "receipt_matched_at": iso_utc(row.receipt_matched_at),
    }


def ref(row: Contract) -> dict:
    return {"contract_id": row.id, "contract_no": row.contract_no, "institution_id": row.institution_id,
            "township_code": row.division_code}


def sign_contract(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    """Record an enrolment on the model contract and its prepaid charge — or refuse it, storing nothing."""
    draft = charge_rules.parse_charge(data)
    inst = institution(session, actor, draft.institution_id, SIGN)
    if session.scalar(select(Contract.id).where(Contract.contract_no == draft.contract_no)) is not None:
        raise Conflict(f"合同编号 {draft.contract_no} 已登记", field="contract_no")
    fee = session.get(FeeItem, draft.fee_item_id)
    facts = None if fee is None else charge_rules.FeeItemFacts(fee.institution_id, fee.name, fee.price_per_hour_fen,
                                                               fee.published_at is not None,
                                                               fee.withdrawn_at is not None)
    charge_rules.check_charge_state(inst.name, inst.may_enrol, inst.reason,
                                    len(open_accounts(session, inst.institution_id)), inst.institution_id, facts)
    county_rules = monitoring.rules_for(session, inst.division_code)
    violations = charge_rules.cap_violations(draft, county_rules)
    if violations:
        finding = alerts.charge_over_cap(draft.contract_no, violations, draft.class_hours, draft.starts_on,
                                         draft.ends_on, draft.amount_fen, county_rules)
        monitoring.raise_alert(session, dispatch, inst, finding, utc_now())  # its own commit, with its event
        charge_rules.refuse_over_caps(violations)
    charge_rules.check_amount(draft, facts)
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
        data_ = {**ref(row), "amount_fen": row.amount_fen, "class_hours": row.class_hours,
                 "starts_on": row.starts_on.isoformat(), "ends_on": row.ends_on.isoformat(), "channel": row.channel,
                 "fee_item_id": row.fee_item_id, "template_version": row.template_version,
                 "signed_at": iso_utc(row.signed_at)}
        commit(session, dispatch, [event("contract_signed", data_, row.division_code, actor)])
    except IntegrityError:
        session.rollback()
        raise Conflict(f"合同编号 {draft.contract_no} 已登记", field="contract_no") from None
    after_change(session, dispatch, row.institution_id)
    return contract_view(row)


def list_contracts(session: Session, actor: Actor, limit: int, offset: int, institution_id: object = None,
                   status: object = None) -> dict:
    institution_id = monitoring.authorize_list(actor, READ, institution_id)
    query = select(Contract).where(Contract.division_code.startswith(scope_prefix(actor.division_code)))
    if institution_id not in (None, ""):
        query = query.where(Contract.institution_id == int_(institution_id, "institution_id"))
    if status not in (None, ""):
        if status not in charge_rules.CONTRACT_STATUS_NAMES:
            raise ValidationFailed(f"状态应为 {'、'.join(charge_rules.CONTRACT_STATUS_NAMES)}", field="status")
        query = query.where(Contract.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Contract.id.desc()).limit(limit).offset(offset)).all()
    return {"items": [contract_view(r) for r in rows], "total": total, "limit": limit, "offset": offset}
