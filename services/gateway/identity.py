"""Identity use cases: divisions, departments, users, login. Held by the gateway."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.config import Deployment
from services.common.divisions import LEVEL_NAMES, is_within, level_of, parent_of, scope_prefix, validate_code
from services.common.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationFailed
from services.common.identity import (
    DEPARTMENT_NAMES,
    Actor,
    DepartmentKind,
    Role,
    parse_department_kind,
    parse_roles,
)
from services.common.policy import authorize
from services.common.textfiles import fold

from .models import Department, Division, User, audit_trail
from .passwords import check_password_rule, hash_password, verify_password

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,50}$")


def _text(data: dict, field: str, label: str, max_len: int) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{label}不能为空", field=field)
    if len(value.strip()) > max_len:
        raise ValidationFailed(f"{label}不能超过{max_len}个字符", field=field)
    return value.strip()


def _body(data: object) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    return data


# -- views -------------------------------------------------------------------------------------


def division_view(d: Division) -> dict:
    return {"code": d.code, "name": d.name, "level": d.level, "parent_code": d.parent_code}


def department_view(d: Department) -> dict:
    return {"id": d.id, "division_code": d.division_code, "kind": d.kind, "name": d.name}


def user_view(u: User, dept: Department) -> dict:
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "department": department_view(dept),
        "roles": u.roles.split(","),
        "active": u.active,
        "must_change_password": bool(u.must_change_password),
    }


def actor_for(user: User, dept: Department) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        department_id=dept.id,
        department_kind=DepartmentKind(dept.kind),
        department_name=user.institution_name or dept.name,  # an institution account: the institution's name
        division_code=dept.division_code,
        roles=tuple(user.roles.split(",")),
        institution_id=user.institution_id,  # set only on an institution's account (institution_accounts.py)
    )


# -- bootstrap ---------------------------------------------------------------------------------


def bootstrap(session: Session, deployment: Deployment, admin_username: str, admin_password: str) -> None:
    """Create the deployment's root division, its 运维 department and the built-in admin (once)."""
    if session.get(Division, deployment.root_code) is None:
        session.add(
            Division(
                code=deployment.root_code,
                name=deployment.root_name,
                level=level_of(deployment.root_code).value,
                parent_code=parent_of(deployment.root_code),
            )
        )
        session.flush()
    ops = session.scalar(
        select(Department).where(
            Department.division_code == deployment.root_code, Department.kind == DepartmentKind.ops.value
        )
    )
    if ops is None:
        ops = Department(division_code=deployment.root_code, kind="ops", name=f"{deployment.root_name}运维")
        session.add(ops)
        session.flush()
    if admin_password and session.scalar(select(User).where(User.username == admin_username)) is None:
        session.add(
            User(
                username=admin_username,
                display_name="平台管理员",
                password_hash=hash_password(admin_password),
                department_id=ops.id,
                roles="admin,leader,clerk",
                active=True,
                created_at=datetime.now(timezone.utc),
                must_change_password=True,  # generated: replaced at first login (issue 16)
            )
        )
    session.commit()


# -- login ---------------------------------------------------------------------------------------


def authenticate(session: Session, data: object) -> tuple[User, Department]:
    data = _body(data)
    username = data.get("username")
    password = data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise ValidationFailed("请输入用户名和密码", field="username")
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        raise NotAuthenticated("用户名或密码错误")
    return user, session.get(Department, user.department_id)


def load_user(session: Session, user_id: int) -> tuple[User, Department]:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotAuthenticated("登录已失效，请重新登录")
    return user, session.get(Department, user.department_id)


class PasswordChangeRequired(Forbidden):
    """The generated admin password is still in use: only the password change is allowed."""

    code = "password_change_required"


def require_password_changed(user: User) -> None:
    if user.must_change_password:
        raise PasswordChangeRequired("首次登录须先修改初始密码（页面：/ui/password；接口：POST /api/password）",
                                     field="password")


def audit_session_event(session: Session, user: User, dept: Department, action: str, detail: dict) -> None:
    """Login, logout and refusals in the gateway's audit chain (等保: who, when, what, outcome)."""
    audit_trail.append(session, actor_for(user, dept), action, "user", user.id, None,
                       {"username": user.username, **detail}, dept.division_code)
    session.commit()


def change_password(session: Session, user: User, dept: Department, data: object, end_sessions) -> None:
    """{current_password, new_password}: the current one checked, the rule applied to the new one;
    every session of the user ends (`end_sessions(user_id)`, same transaction), audited."""
    data = _body(data)
    current, new = data.get("current_password"), data.get("new_password")
    if not isinstance(current, str) or not verify_password(user.password_hash, current):
        raise ValidationFailed("当前密码不正确", field="current_password")
    new = check_password_rule(new, field="new_password", username=user.username)
    if new == current:
        raise ValidationFailed("新密码不能与当前密码相同", field="new_password")
    user.password_hash = hash_password(new)
    was_forced = bool(user.must_change_password)
    user.must_change_password = False
    user.password_changed_at = datetime.now(timezone.utc)
    ended = end_sessions(user.id)
    audit_trail.append(session, actor_for(user, dept), "identity.change_password", "user", user.id, None,
                       {"username": user.username, "forced": was_forced, "sessions_ended": ended},
                       dept.division_code)  # never the password or its hash
    session.commit()


def set_user_active(session: Session, actor: Actor, user_id: int, active: bool, end_sessions) -> dict:
    """An admin disables (or enables again) a user of the admin's division; disabling ends every
    session of that user at once."""
    authorize(actor, "identity.manage_users")
    user = session.get(User, user_id)
    dept = session.get(Department, user.department_id) if user else None
    if user is None or not is_within(dept.division_code, actor.division_code):
        raise NotFound(f"用户 {user_id} 不存在", field="user_id")
    if user.id == actor.user_id and not active:
        raise Conflict("不能停用自己的账号", field="user_id")
    before = user_view(user, dept)
    user.active = bool(active)
    ended = end_sessions(user.id) if not active else 0
    audit_trail.append(session, actor, "identity.enable_user" if active else "identity.disable_user", "user",
                       user.id, before, user_view(user, dept) | {"sessions_ended": ended}, dept.division_code)
    session.commit()
    return user_view(user, dept)


# -- administration (admin role; only within the admin's own division) ---------------------------


def create_division(session: Session, actor: Actor, data: object) -> dict:
    data = _body(data)
    authorize(actor, "identity.manage_users")
    code = validate_code(data.get("code"), field="code")
    name = _text(data, "name", "区划名称", 50)
    if not is_within(code, actor.division_code) or code == actor.division_code:
        raise Forbidden("只能在本级区划之下新增区划", field="code")
    parent = parent_of(code)
    if session.get(Division, parent) is None:
        raise ValidationFailed(f"上级区划 {parent} 尚未登记", field="code")
    if session.get(Division, code) is not None:
        raise Conflict(f"区划 {code} 已存在", field="code")
    twin = _sibling_named(session, parent, name)
    if twin is not None:
        raise _name_taken(session, parent, twin)
    level = level_of(code)
    division = Division(code=code, name=name, level=level.value, parent_code=parent)
    _add_unique(session, division, Conflict(f"同一上级下已有名为“{name}”的区划", field="name"),
                lambda d: audit_trail.append(session, actor, "identity.create_division", "division", code, None,
                                             division_view(d), code))
    return division_view(division) | {"level_name": LEVEL_NAMES[level]}


def _sibling_named(session: Session, parent: str, name: str, other_than: str | None = None) -> Division | None:
    """A child of `parent` with this name as a ledger reads it (枞阳 镇 and 枞阳镇 are one name)."""
    wanted = fold(name)
    return next((d for d in session.scalars(select(Division).where(Division.parent_code == parent))
                 if fold(d.name) == wanted and d.code != other_than), None)


def _name_taken(session: Session, parent: str, twin: Division) -> Conflict:
    return Conflict(f"{division_name(session, parent) or parent}已有名为“{twin.name}”的下级区划（{twin.code}），"
                    "同一上级下的区划名称不能重复", field="name")


def rename_division(session: Session, actor: Actor, code: object, data: object) -> dict:
    """A division's name corrected (e.g. after migration i15 marked a duplicate `城关镇（340722101）`)."""
    data = _body(data)
    authorize(actor, "identity.manage_users")
    code = validate_code(code, field="code")
    if not is_within(code, actor.division_code) or code == actor.division_code:
        raise Forbidden("只能修改本级区划之下的区划", field="code")
    division = session.get(Division, code)
    if division is None:
        raise NotFound(f"区划 {code} 尚未登记", field="code")
    name = _text(data, "name", "区划名称", 50)
    twin = _sibling_named(session, division.parent_code, name, other_than=code)
    if twin is not None:
        raise _name_taken(session, division.parent_code, twin)
    before = division_view(division)
    division.name = name
    try:
        session.flush()
        audit_trail.append(session, actor, "identity.rename_division", "division", code, before,
                           division_view(division), code)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"同一上级下已有名为“{name}”的区划", field="name") from None
    return division_view(division)


def _add_unique(session: Session, row, conflict: Conflict, audit=None) -> None:
    """Insert `row`; a unique-constraint clash becomes `conflict` and nothing is stored.
    `audit(row)` adds the audit entry in the same transaction."""
    session.add(row)
    try:
        session.flush()
        if audit is not None:
            audit(row)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise conflict from None


def list_divisions(session: Session, actor: Actor) -> list[dict]:
    scope = Division.code.startswith(scope_prefix(actor.division_code))
    return [division_view(d) for d in session.scalars(select(Division).where(scope).order_by(Division.code))]


def division_name(session: Session, code: str) -> str | None:
    row = session.get(Division, code)
    return row.name if row else None


def township_directory(session: Session, actor: Actor) -> list[dict]:
    """The townships (code, name) within the actor's division: what a ledger's 乡镇 column may name."""
    scope = Division.code.startswith(scope_prefix(actor.division_code))
    rows = session.execute(
        select(Division.code, Division.name).where(scope, Division.level == "township").order_by(Division.code)
    ).all()
    return [{"code": code, "name": name} for code, name in rows]


def create_department(session: Session, actor: Actor, data: object) -> dict:
    data = _body(data)
    authorize(actor, "identity.manage_users")
    code = validate_code(data.get("division_code"), field="division_code")
    if not is_within(code, actor.division_code):
        raise Forbidden("只能为本级及下级区划设置部门", field="division_code")
    if session.get(Division, code) is None:
        raise NotFound(f"区划 {code} 尚未登记", field="division_code")
    kind = parse_department_kind(data.get("kind"), field="kind")
    name = data.get("name") or DEPARTMENT_NAMES[kind]
    dept = Department(division_code=code, kind=kind.value, name=_text({"name": name}, "name", "部门名称", 50))
    _add_unique(session, dept, Conflict(f"区划 {code} 已有{DEPARTMENT_NAMES[kind]}", field="kind"),
                lambda d: audit_trail.append(session, actor, "identity.create_department", "department", d.id, None,
                                             department_view(d), d.division_code))
    return department_view(dept)


def list_departments(session: Session, actor: Actor) -> list[dict]:
    scope = Department.division_code.startswith(scope_prefix(actor.division_code))
    return [department_view(d) for d in session.scalars(select(Department).where(scope).order_by(Department.id))]


def create_user(session: Session, actor: Actor, data: object) -> dict:
    data = _body(data)
    authorize(actor, "identity.manage_users")
    username = data.get("username")
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise ValidationFailed("用户名为3–50位字母、数字、下划线、点或连字符", field="username")
    password = check_password_rule(data.get("password"), username=username)
    roles = parse_roles(data.get("roles", [Role.clerk.value]))
    dept_id = data.get("department_id")
    if not isinstance(dept_id, int) or isinstance(dept_id, bool):
        raise ValidationFailed("部门编号应为整数", field="department_id")
    dept = session.get(Department, dept_id)
    if dept is None:
        raise NotFound(f"部门 {dept_id} 不存在", field="department_id")
    if not is_within(dept.division_code, actor.division_code):
        raise Forbidden("只能为本级及下级区划的部门创建用户", field="department_id")
    display_name = _text({"display_name": data.get("display_name") or username}, "display_name", "姓名", 50)
    must_change = data.get("must_change_password", False)  # an initial password the admin handed over
    if not isinstance(must_change, bool):
        raise ValidationFailed("must_change_password 应为 true 或 false", field="must_change_password")
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        department_id=dept.id,
        roles=",".join(roles),
        active=True,
        created_at=datetime.now(timezone.utc),
        must_change_password=must_change,
    )
    _add_unique(session, user, Conflict(f"用户名 {username} 已存在", field="username"),
                lambda u: audit_trail.append(session, actor, "identity.create_user", "user", u.id, None,
                                             user_view(u, dept), dept.division_code))  # never the password
    return user_view(user, dept)


def list_users(session: Session, actor: Actor) -> list[dict]:
    authorize(actor, "identity.manage_users")
    rows = session.execute(
        select(User, Department)
        .join(Department, User.department_id == Department.id)
        .where(Department.division_code.startswith(scope_prefix(actor.division_code)))
        .order_by(User.id)
    ).all()
    return [user_view(u, d) for u, d in rows]
