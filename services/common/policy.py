"""Which department may take which action: one table, checked by every service.

The gateway consults it to hide buttons; the services consult it to refuse — the services'
check is the one that counts.
"""
from __future__ import annotations

import hmac

from .divisions import is_within
from .errors import Forbidden
from .identity import DEPARTMENT_NAMES, Actor, DepartmentKind, Role

K = DepartmentKind
# officials: institution accounts and parents are bound actors, granted action by action below
EVERY_DEPARTMENT = frozenset(K) - {K.system, K.institution, K.parent}

# action -> departments allowed to take it
PERMISSIONS: dict[str, frozenset[DepartmentKind]] = {
    "registry.register_institution": frozenset({K.education}),
    "registry.read": EVERY_DEPARTMENT | {K.system, K.institution},  # an institution: its own record only
    "registry.record_licence_verification": frozenset({K.system}),
    "registry.decide_licence_verification": frozenset({K.education}),
    # records (issue 3): education keeps them; workflows change status as the platform itself
    "registry.change_status": frozenset({K.education, K.system}),
    "registry.update_records": frozenset({K.education}),
    # an institution account publishes and withdraws its own courses (issue 14)
    "registry.courses": frozenset({K.education, K.institution}),
    # the ledger import is also how ops load a new county (the CLI's built-in admin is 运维)
    "registry.import_ledger": frozenset({K.education, K.ops}),
    "registry.register_school": frozenset({K.education, K.supervision_office}),
    # 营转非 / 注销 cases: education opens them; the platform records their progress
    "registry.apply_conversion": frozenset({K.education}),
    "registry.apply_deregistration": frozenset({K.education}),
    "registry.record_case_progress": frozenset({K.system}),
    # case attachments (issue 7): officials of the departments taking part in the case's process (the
    # service also checks the actor's department against the case's steps)
    "registry.attach_case_document": frozenset({K.education, K.civil_affairs, K.market_regulation}),
    "registry.lapse_academic_scope": frozenset({K.system}),
    "registry.manage_county_settings": frozenset({K.education, K.ops}),
    # the State Council's holiday schedule (issue 13): the bureau's admins and 运维
    "calendar.load_schedule": frozenset({K.education, K.ops}),
    # institution accounts and parents (issue 14) read only their own institution's / contract's records:
    # authorize() refuses a bound actor unless the service names the record's institution / code
    "escrow.read": frozenset({K.education, K.market_regulation, K.ops, K.system, K.institution, K.parent}),
    # bank statements (对账单) into the bank feed: the bureau supervising the money, and ops
    "escrow.import_statement": frozenset({K.education, K.ops}),
    # prepaid fees (issue 4): the education bureau keeps the desk (accounts, fee items, contracts,
    # lessons, refunds); market regulation reads; the platform applies deadlines and scans
    "escrow.desk": frozenset({K.education}),
    # 机构端 and 家长端 of 一课一消 (issue 14): the institution publishes fees, signs charges, records
    # lessons and answers refunds for itself; the parent confirms or disputes lessons and asks refunds;
    # the desk (education) may record either on their behalf. Neither side may take the other's step.
    "escrow.fee_items": frozenset({K.education, K.institution}),
    "escrow.sign_contract": frozenset({K.education, K.institution}),
    "escrow.deliver_lesson": frozenset({K.education, K.institution}),
    "escrow.answer_refund": frozenset({K.education, K.institution}),
    "escrow.confirm_lesson": frozenset({K.education, K.parent}),
    "escrow.request_refund": frozenset({K.education, K.parent}),
    # a contract code that leaked is replaced (the old one stops working at once)
    "escrow.reissue_code": frozenset({K.education, K.institution}),
    "escrow.manage_settings": frozenset({K.education, K.ops}),
    "escrow.close_alert": frozenset({K.education}),
    "escrow.apply_deadlines": frozenset({K.system}),
    "escrow.scan_alerts": frozenset({K.system, K.education}),
    "inspection.read": frozenset(
        {K.education, K.public_security, K.urban_management, K.market_regulation, K.township, K.ops}
    ),
    # complaints (举报, issue 5 part 5): the public form comes in through the gateway as the platform;
    # education leads (triage with 督导室, assigns); the assigned department answers — the service
    # also checks the actor's department against the complaint's (complaint_rules.check_handler)
    "inspection.complaint_intake": frozenset({K.system}),
    "inspection.complaint_import": frozenset({K.education, K.supervision_office, K.ops}),
    "inspection.complaint_read": frozenset(
        {K.education, K.supervision_office, K.market_regulation, K.public_security, K.urban_management,
         K.township, K.ops, K.system}
    ),
    "inspection.complaint_triage": frozenset({K.education, K.supervision_office}),
    "inspection.complaint_assign": frozenset({K.education}),
    "inspection.complaint_handle": frozenset(
        {K.education, K.market_regulation, K.public_security, K.urban_management, K.township}
    ),
    "inspection.flag_overdue_complaints": frozenset({K.system, K.education}),
    "inspection.manage_complaint_settings": frozenset({K.education, K.ops}),
    # campaigns, inspection records and orders (issue 5 parts 1–3): education plans campaigns; the
    # joint-team departments record visits within their division; the platform follows orders up
    "inspection.create_campaign": frozenset({K.education}),
    "inspection.record": frozenset(
        {K.education, K.public_security, K.urban_management, K.market_regulation, K.township}
    ),
    "inspection.follow_up": frozenset({K.system}),
    "reporting.read": frozenset({K.education, K.supervision_office, K.ops}),
    # reports (issue 6): the platform drafts them on schedule; the education bureau submits
    "reporting.draft": frozenset({K.system}),
    "reporting.submit": frozenset({K.education}),
    # school supervision (督导, issue 5 part 6): 督导室 and education record and read
    "supervision.record": frozenset({K.supervision_office, K.education}),
    "supervision.read": frozenset({K.supervision_office, K.education}),
    "supervision.manage_settings": frozenset({K.supervision_office, K.education}),
    "identity.manage_users": frozenset({K.ops, K.education}),
    # the bureau opens an institution's 机构端 account (issue 14)
    "identity.manage_institution_accounts": frozenset({K.education}),
    "ops.read_health": EVERY_DEPARTMENT,
    # the 运维 page's queue depths, workflow counts and recent error lines
    "ops.read_status": frozenset({K.ops}),
    # the audit trail (issue 7 part 4): checking every service's chain is for ops and the bureau's admins
    "audit.verify": frozenset({K.ops, K.education}),
}

# actions that additionally need a role within the department
REQUIRED_ROLES: dict[str, Role] = {
    "registry.decide_licence_verification": Role.leader,
    "registry.apply_conversion": Role.leader,
    "registry.apply_deregistration": Role.leader,
    "registry.manage_county_settings": Role.leader,
    "escrow.manage_settings": Role.leader,
    "escrow.close_alert": Role.leader,
    "inspection.manage_complaint_settings": Role.leader,
    "identity.manage_users": Role.admin,
    "identity.manage_institution_accounts": Role.leader,
    "supervision.manage_settings": Role.leader,
    "reporting.submit": Role.leader,
    "audit.verify": Role.admin,
    "calendar.load_schedule": Role.admin,
}


def allowed_departments(action: str) -> frozenset[DepartmentKind]:
    try:
        return PERMISSIONS[action]
    except KeyError:
        raise Forbidden(f"未定义的操作：{action}") from None


def authorize(actor: Actor, action: str, division_code: str | None = None, *,
              institution_id: int | None = None, contract_code: str | None = None) -> None:
    """Raise Forbidden unless `actor` may take `action` on a record of `division_code`.

    A bound actor (an institution account, a parent's contract code) passes only when the service
    names the record's institution (or contract code) and it is the actor's own: a call that names
    none — a list over the county, a settings read — is refused (fail closed)."""
    allowed = allowed_departments(action)
    if actor.department_kind not in allowed:
        names = "、".join(DEPARTMENT_NAMES[k] for k in sorted(allowed, key=lambda k: k.value))
        raise Forbidden(f"{actor.department_label}无权执行此操作，仅限：{names}")
    role = REQUIRED_ROLES.get(action)
    if role is not None and not actor.has_role(role):
        raise Forbidden(f"此操作需要“{role.value}”角色")
    if division_code is not None and not is_within(division_code, actor.division_code):
        raise Forbidden("记录不在您所属行政区划范围内", field="division_code")
    check_bound(actor, institution_id, contract_code)


def check_bound(actor: Actor, institution_id: int | None = None, contract_code: str | None = None) -> None:
    if actor.department_kind is K.institution:
        if actor.institution_id is None or institution_id != actor.institution_id:
            raise Forbidden("机构账户只能查看和办理本机构的业务", field="institution_id")
    elif actor.department_kind is K.parent:
        if not actor.contract_code or not contract_code or not hmac.compare_digest(
                actor.contract_code.encode(), contract_code.encode()):
            raise Forbidden("合同码与该合同不符：合同码只能查看和办理它所属的那一份合同", field="contract_code")


def can(actor: Actor, action: str, division_code: str | None = None, **bound) -> bool:
    try:
        authorize(actor, action, division_code, **bound)
    except Forbidden:
        return False
    return True
