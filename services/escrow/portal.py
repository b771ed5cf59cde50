"""机构端 and 家长端 of 一课一消 (issue 14): the use cases only the bound actors need.

The parent holds a contract code and no account: the gateway signs a parent actor carrying the code
as presented, and every call here (and every desk call a parent may make) checks it against the
contract (policy.authorize). What a parent sees is the parent view: their own contract's terms,
lessons and refunds — no ids of other records, nobody else's data.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import contract_codes
from services.common.clock import utc_now
from services.common.errors import Forbidden, NotFound, ValidationFailed
from services.common.identity import Actor, DepartmentKind

from . import parent_rules
from .desk_charges import ref
from .desk_common import CONFIRM, after_change, commit
from .desk_lessons import _contract, get_contract, lesson_view
from .models import Contract, Lesson, audit_trail
from .monitoring import Dispatch, event

PARENT_CONTRACT_FIELDS = (
    "id", "contract_no", "institution_name", "fee_item_name", "student_name", "class_hours", "hours_delivered",
    "starts_on", "ends_on", "amount_fen", "price_per_hour_fen", "delivered_fen", "confirmed_fen", "refunded_fen",
    "refundable_fen", "channel_name", "status", "status_name", "template_name", "signed_at", "access_code",
)
PARENT_LESSON_FIELDS = ("lesson_no", "hours", "fee_fen", "delivered_at", "confirmation", "confirmation_name",
                        "confirm_by", "confirmed_at", "dispute_reason")
PARENT_REFUND_FIELDS = ("amount_fen", "reason", "channel_name", "requested_at", "status", "status_name", "answer_by",
                        "answered_at", "answer")


def parent_view(contract: dict) -> dict:
    view = {k: contract.get(k) for k in PARENT_CONTRACT_FIELDS}
    view["lessons"] = [{k: x.get(k) for k in PARENT_LESSON_FIELDS} for x in contract["lessons"]]
    view["refunds"] = [{k: r.get(k) for k in PARENT_REFUND_FIELDS} for r in contract["refunds"]]
    return view


def open_by_code(session: Session, actor: Actor) -> dict:
    """The parent's own contract, found by the code the parent presented (家长端)."""
    if actor.department_kind is not DepartmentKind.parent:
        raise Forbidden("仅供家长凭合同码查看", field="contract_code")
    code = contract_codes.normalize_code(actor.contract_code)
    row = session.scalar(select(Contract).where(Contract.access_code == code))
    if row is None:
        raise NotFound("合同码无效：没有找到对应的合同，请核对合同上印制的合同码", field="code")
    return parent_view(get_contract(session, actor, row.id))


def dispute_lesson(session: Session, dispatch: Dispatch, actor: Actor, contract_id: int, lesson_no: int,
                   data: object) -> dict:
    """The parent says the lesson was not given as recorded: its fee is not released and the deadline
    no longer deems it confirmed; the bureau mediates (the dispute is on the contract for both sides)."""
    row = _contract(session, actor, contract_id, CONFIRM)
    reason = parent_rules.parse_dispute(data)
    if isinstance(lesson_no, bool) or not isinstance(lesson_no, int):
        raise ValidationFailed("课次编号应为整数", field="lesson_no")
    lesson = session.scalar(select(Lesson).where(Lesson.contract_id == row.id, Lesson.lesson_no == lesson_no))
    if lesson is None:
        raise NotFound(f"合同{row.contract_no}没有第{lesson_no}次课", field="lesson_no")
    if lesson.confirmation == "disputed":
        return lesson_view(lesson)  # a repeated request
    parent_rules.check_disputable(lesson.confirmation, lesson_no)
    before = lesson_view(lesson)
    lesson.confirmation, lesson.dispute_reason, lesson.disputed_at = "disputed", reason, utc_now()
    audit_trail.append(session, actor, "escrow.dispute_lesson", "contract", row.id, before, lesson_view(lesson),
                       row.division_code)
    data_ = {**ref(row), "lesson_no": lesson.lesson_no, "fee_fen": lesson.fee_fen, "reason": reason}
    commit(session, dispatch, [event("lesson_disputed", data_, row.division_code, actor)])
    after_change(session, dispatch, row.institution_id)
    return lesson_view(lesson)


def find_contract(session: Session, actor: Actor, contract_no: object) -> dict:
    """A contract by its number (the 机构端 search box): another institution's is refused, not hidden."""
    if actor.department_kind is DepartmentKind.parent:
        raise Forbidden("合同码只能查看它所属的那一份合同", field="contract_code")
    if not isinstance(contract_no, str) or not contract_no.strip():
        raise ValidationFailed("请输入合同编号", field="contract_no")
    row = session.scalar(select(Contract).where(Contract.contract_no == contract_no.strip()))
    if row is None:
        raise NotFound(f"没有编号为 {contract_no.strip()} 的合同", field="contract_no")
    return get_contract(session, actor, row.id)


def reissue_code(session: Session, dispatch: Dispatch, actor: Actor, contract_id: int) -> dict:
    """A new parent code for the contract (the old one leaked or was lost): the old code opens
    nothing from now on. Neither code goes into the audit trail or the event."""
    row = _contract(session, actor, contract_id, "escrow.reissue_code")
    row.access_code = contract_codes.new_code()
    audit_trail.append(session, actor, "escrow.reissue_contract_code", "contract", row.id, None,
                       {"contract_no": row.contract_no, "code": "reissued"}, row.division_code)
    commit(session, dispatch, [event("contract_code_reissued", ref(row), row.division_code, actor)])
    return get_contract(session, actor, row.id)
