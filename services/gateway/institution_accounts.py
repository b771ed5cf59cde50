"""机构端 accounts (issue 14): the education bureau opens an account for one institution.

The account's user sits in the bureau's division under one 校外培训机构 department (created on first
use) and carries the institution's id; the services refuse it everything outside that institution
(services/common/policy.py). The institution's name is copied at opening for the page header.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.errors import Conflict, ValidationFailed
from services.common.identity import DEPARTMENT_NAMES, Actor, DepartmentKind, Role
from services.common.policy import authorize

from .identity import _USERNAME, _add_unique, _body, _text, user_view
from .models import Department, User, audit_trail
from .passwords import check_password_rule, hash_password

ACTION = "identity.manage_institution_accounts"


def _department(session: Session, division_code: str) -> Department:
    kind = DepartmentKind.institution.value
    dept = session.scalar(select(Department).where(Department.division_code == division_code,
                                                   Department.kind == kind))
    if dept is None:
        dept = Department(division_code=division_code, kind=kind, name=DEPARTMENT_NAMES[DepartmentKind.institution])
        session.add(dept)
        session.flush()
    return dept


def account_view(user: User, dept: Department) -> dict:
    return user_view(user, dept) | {"institution_id": user.institution_id, "institution_name": user.institution_name}


def create_account(session: Session, actor: Actor, institution: dict, data: object) -> dict:
    """`institution` is the registry's record as the actor may read it (its division already checked)."""
    data = _body(data)
    authorize(actor, ACTION, institution["township_code"])
    username = data.get("username")
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise ValidationFailed("用户名为3–50位字母、数字、下划线、点或连字符", field="username")
    password = check_password_rule(data.get("password"))
    display_name = _text({"display_name": data.get("display_name") or username}, "display_name", "联系人姓名", 50)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户名 {username} 已存在", field="username")
    dept = _department(session, actor.division_code)
    user = User(username=username, display_name=display_name, password_hash=hash_password(password),
                department_id=dept.id, roles=Role.clerk.value, active=True, created_at=datetime.now(timezone.utc),
                institution_id=int(institution["id"]), institution_name=str(institution["name"])[:100])
    _add_unique(session, user, Conflict(f"用户名 {username} 已存在", field="username"),
                lambda u: audit_trail.append(session, actor, "identity.create_institution_account", "user", u.id,
                                             None, account_view(u, dept), institution["township_code"]))
    return account_view(user, dept)


def list_accounts(session: Session, actor: Actor, institution: dict) -> list[dict]:
    authorize(actor, ACTION, institution["township_code"])
    rows = session.execute(select(User, Department).join(Department, User.department_id == Department.id)
                           .where(User.institution_id == int(institution["id"])).order_by(User.id)).all()
    return [account_view(u, d) for u, d in rows]
