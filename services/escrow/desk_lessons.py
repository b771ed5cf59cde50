"""The escrow desk on a signed contract: lessons (一课一消), refunds, the deadline actions the
platform takes when a timer fires, and the contract's full view with its lessons and refunds."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import contract_codes
from services.common.clock import iso_utc, utc_now
from services.common.divisions import scope_prefix
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.identity import Actor, DepartmentKind
from services.common.policy import authorize
from services.common.workdays import SHANGHAI, workday_deadline, workday_deadline_detail

from . import account_rules, charge_rules, monitoring, parent_rules
from .desk_charges import contract_view, ref
from .desk_common import (ANSWER_REFUND, ASK_REFUND, CONFIRM, DEADLINES, DELIVER, DESK, READ, after_change, commit,
                          get, int_)
from .models import Contract, EnrolmentEligibility, FeeItem, Lesson, Refund
from .models import audit_trail
from .monitoring import Dispatch, event

CODE_READERS = frozenset({DepartmentKind.education, DepartmentKind.institution, DepartmentKind.parent})


# -- the contract with its lessons and refunds ----------------------------------------------------------


def _contract(session: Session, actor: Actor, contract_id: object, action: str) -> Contract:
    row = get(session, Contract, contract_id, "contract_id", "合同")
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
    held = sum(r.amount_fen for r in refunds if r.status in charge_rules.REFUND_COUNTS)
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
        "refundable_fen": charge_rules.refundable(row.amount_fen, delivered, held),
        "lessons": [lesson_view(x, county_rules) for x in lessons],
        "refunds": [refund_view(r, county_rules) for r in refunds],
    }


# -- lessons: 一课一消 ------------------------------------------------------------------------------------


def lesson_view(row: Lesson, county_rules: account_rules.EscrowRules | None = None) -> dict:
    view = {"contract_id": row.contract_id, "lesson_no": row.lesson_no, "hours": row.hours, "fee_fen": row.fee_fen,
            "delivered_at": iso_utc(row.delivered_at), "confirmation": row.confirmation,
            "confirmation_name": charge_rules.CONFIRMATION_NAMES.get(row.confirmation, row.confirmation),
            "confirmed_at": iso_utc(row.confirmed_at), "dispute_reason": row.dispute_reason,
            "disputed_at": iso_utc(row.disputed_at)}
    if county_rules is not None and row.confirmation == "pending":
        due = workday_deadline_detail(row.delivered_at, county_rules.deemed_confirmation_workdays)
        view["confirm_by"], view["confirm_by_provisional"] = due.at.isoformat(), due.provisional
    return view


def deliver_lesson(session: Session, dispatch: Dispatch, actor: Actor, contract_id: int, data: object) -> dict:
    row = _contract(session, actor, contract_id, DELIVER)
    now = utc_now()
    draft = charge_rules.parse_lesson(data, now)
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
    held = sum(r.amount_fen for r in refunds if r.status in charge_rules.REFUND_COUNTS)
    fee = charge_rules.lesson_fee(row.amount_fen, row.class_hours, draft.hours)
    charge_rules.check_lesson(row.status, row.class_hours, delivered_hours, draft.hours, fee,
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
        data_ = {**ref(row), "lesson_no": lesson.lesson_no, "hours": lesson.hours, "fee_fen": lesson.fee_fen,
                 "delivered_at": iso_utc(lesson.delivered_at),
                 "confirm_within_workdays": county_rules.deemed_confirmation_workdays}
        commit(session, dispatch, [event("lesson_delivered", data_, row.division_code, actor)])
    except IntegrityError:
        session.rollback()
        raise Conflict(f"第{draft.lesson_no}次课已登记", field="lesson_no") from None
    after_change(session, dispatch, row.institution_id)
    return lesson_view(lesson, county_rules)


def _confirm(session: Session, dispatch: Dispatch, actor: Actor, contract_id: object, lesson_no: object,
             how: str, action: str) -> dict:
    row = _contract(session, actor, contract_id, action)
    no = int_(lesson_no, "lesson_no")
    lesson = session.scalar(select(Lesson).where(Lesson.contract_id == row.id, Lesson.lesson_no == no))
    if lesson is None:
        raise NotFound(f"合同{row.contract_no}没有第{no}次课", field="lesson_no")
    if not parent_rules.check_confirmable(lesson.confirmation, deemed=how == "deemed"):
        return lesson_view(lesson)  # confirmed already (by the parent or deemed), or disputed: nothing changes
    before = lesson_view(lesson)
    lesson.confirmation, lesson.confirmed_at = how, utc_now()
    audit_trail.append(session, actor, "escrow.confirm_lesson", "contract", row.id, before, lesson_view(lesson),
                       row.division_code)
    data_ = {**ref(row), "lesson_no": lesson.lesson_no, "how": "parent" if how == "confirmed" else "deemed"}
    commit(session, dispatch, [event("lesson_confirmed", data_, row.division_code, actor)])
    after_change(session, dispatch, row.institution_id)
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


def refund_view(row: Refund, county_rules: account_rules.EscrowRules | None = None) -> dict:
    view = {"id": row.id, "contract_id": row.contract_id, "institution_id": row.institution_id,
            "amount_fen": row.amount_fen, "reason": row.reason, "channel": row.channel,
            "channel_name": charge_rules.CHANNELS.get(row.channel, row.channel),
            "requested_at": iso_utc(row.requested_at),
            "status": row.status, "status_name": charge_rules.REFUND_STATUS_NAMES.get(row.status, row.status),
            "answered_at": iso_utc(row.answered_at), "answer": row.answer}
    if county_rules is not None and row.status == "requested":
        due = workday_deadline_detail(row.requested_at, county_rules.refund_answer_workdays)
        view["answer_by"], view["answer_by_provisional"] = due.at.isoformat(), due.provisional
    return view


def request_refund(session: Session, dispatch: Dispatch, actor: Actor, contract_id: int, data: object) -> dict:
    row = _contract(session, actor, contract_id, ASK_REFUND)
    amount, reason = charge_rules.parse_refund_request(data, row.channel)
    refunds = _refunds(session, row.id)
    delivered = sum(x.fee_fen for x in _lessons(session, row.id))
    held = sum(r.amount_fen for r in refunds if r.status in charge_rules.REFUND_COUNTS)
    charge_rules.check_refund(amount, row.amount_fen, delivered, held, any(r.status == "requested" for r in refunds))
    county_rules = monitoring.rules_for(session, row.division_code)
    refund = Refund(contract_id=row.id, institution_id=row.institution_id, amount_fen=amount, reason=reason,
                    channel=row.channel, requested_at=utc_now(), status="requested")
    session.add(refund)
    session.flush()
    audit_trail.append(session, actor, "escrow.request_refund", "refund", refund.id, None, refund_view(refund),
                       row.division_code, refund.requested_at)
    data_ = {"refund_id": refund.id, **ref(row), "amount_fen": amount, "channel": refund.channel,
             "requested_at": iso_utc(refund.requested_at),
             "answer_within_workdays": county_rules.refund_answer_workdays}
    commit(session, dispatch, [event("refund_requested", data_, row.division_code, actor)])
    after_change(session, dispatch, row.institution_id)
    return refund_view(refund, county_rules)


def _refund(session: Session, actor: Actor, refund_id: object, action: str) -> tuple[Refund, Contract]:
    refund = get(session, Refund, refund_id, "refund_id", "退费申请")
    contract = session.get(Contract, refund.contract_id)
    authorize(actor, action, contract.division_code, institution_id=contract.institution_id,
              contract_code=contract.access_code)
    return refund, contract


def _settle(session: Session, refund: Refund, contract: Contract, status: str, answer: str | None) -> None:
    refund.status, refund.answered_at, refund.answer = status, utc_now(), answer
    if status in charge_rules.REFUND_GRANTED:
        delivered = sum(x.fee_fen for x in _lessons(session, contract.id))
        held = sum(r.amount_fen for r in _refunds(session, contract.id) if r.status in charge_rules.REFUND_COUNTS)
        if contract.status == "active" and contract.amount_fen - delivered - held <= 0:
            contract.status = "refunded"


def _answered(session, dispatch, actor, refund: Refund, contract: Contract) -> None:
    """Commit the answer with its event, then re-evaluate."""
    data_ = {"refund_id": refund.id, **ref(contract), "status": refund.status}
    commit(session, dispatch, [event("refund_answered", data_, contract.division_code, actor)])
    after_change(session, dispatch, contract.institution_id)


def answer_refund(session: Session, dispatch: Dispatch, actor: Actor, refund_id: int, data: object) -> dict:
    """The institution's answer (its own account, or recorded at the desk), within the answer period."""
    refund, contract = _refund(session, actor, refund_id, ANSWER_REFUND)
    decision, answer = charge_rules.parse_refund_answer(data)
    county_rules = monitoring.rules_for(session, contract.division_code)
    deadline = workday_deadline(refund.requested_at, county_rules.refund_answer_workdays)
    charge_rules.check_refund_answerable(refund.status, deadline, utc_now())
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
        raise Conflict(f"退费申请{charge_rules.REFUND_STATUS_NAMES[refund.status]}，不能登记已退回", field="refund_id")
    before = refund_view(refund)
    refund.status = "paid"
    audit_trail.append(session, actor, "escrow.record_refund_paid", "refund", refund.id, before,
                       refund_view(refund), contract.division_code)
    data_ = {"refund_id": refund.id, **ref(contract), "amount_fen": refund.amount_fen,
             "channel": refund.channel, "how": "desk"}
    commit(session, dispatch, [event("refund_paid", data_, contract.division_code, actor)])
    after_change(session, dispatch, contract.institution_id)
    return refund_view(refund)


def list_refunds(session: Session, actor: Actor, institution_id: object = None, status: object = None) -> dict:
    institution_id = monitoring.authorize_list(actor, READ, institution_id)
    query = (select(Refund, Contract).join(Contract, Contract.id == Refund.contract_id)
             .where(Contract.division_code.startswith(scope_prefix(actor.division_code))))
    if institution_id not in (None, ""):
        query = query.where(Refund.institution_id == int_(institution_id, "institution_id"))
    if status not in (None, ""):
        if status not in charge_rules.REFUND_STATUS_NAMES:
            raise ValidationFailed(f"状态应为 {'、'.join(charge_rules.REFUND_STATUS_NAMES)}", field="status")
        query = query.where(Refund.status == status)
    out = []
    cache: dict = {}
    for refund, contract in session.execute(query.order_by(Refund.id.desc()).limit(500)):
        out.append({**refund_view(refund, monitoring.rules_for(session, contract.division_code, cache)),
                    "contract_no": contract.contract_no, "township_code": contract.division_code})
    return {"items": out}
