"""Who is acting: departments, roles and the signed actor every command carries.

The gateway authenticates a user and hands each service a *signed* actor. Services verify the
signature before trusting it, so a client that talks to RabbitMQ directly cannot claim to be
the civil-affairs bureau.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum

from itsdangerous import BadSignature, URLSafeSerializer

from .errors import NotAuthenticated, ValidationFailed


class DepartmentKind(str, Enum):
    education = "education"  # 教体局
    civil_affairs = "civil_affairs"  # 民政局
    market_regulation = "market_regulation"  # 市场监管局
    public_security = "public_security"  # 公安局
    urban_management = "urban_management"  # 城管执法局
    township = "township"  # 乡镇人民政府
    supervision_office = "supervision_office"  # 督导室
    ops = "ops"  # 运维
    system = "system"  # the platform itself (workflows acting on a decision already taken)
    # bound actors (issue 14): each acts only on its own subject, checked by the services (policy.authorize)
    institution = "institution"  # 校外培训机构 (机构端 account, bound to one institution)
    parent = "parent"  # 家长 (no account: the contract code, bound to one contract)


DEPARTMENT_NAMES = {
    DepartmentKind.education: "教体局",
    DepartmentKind.civil_affairs: "民政局",
    DepartmentKind.market_regulation: "市场监管局",
    DepartmentKind.public_security: "公安局",
    DepartmentKind.urban_management: "城管执法局",
    DepartmentKind.township: "乡镇人民政府",
    DepartmentKind.supervision_office: "督导室",
    DepartmentKind.ops: "运维",
    DepartmentKind.system: "系统",
    DepartmentKind.institution: "校外培训机构",
    DepartmentKind.parent: "家长",
}

BOUND_KINDS = frozenset({DepartmentKind.institution, DepartmentKind.parent})
# the departments an administrator may create (institution accounts are made on the institution's
# page, parents have no account)
HUMAN_DEPARTMENTS = tuple(k for k in DepartmentKind if k is not DepartmentKind.system and k not in BOUND_KINDS)


class Role(str, Enum):
    clerk = "clerk"  # 经办人
    leader = "leader"  # 负责人 (may decide workflow steps)
    admin = "admin"  # 管理员 (user administration)


ROLE_NAMES = {Role.clerk: "经办人", Role.leader: "负责人", Role.admin: "管理员"}


def parse_department_kind(value: object, field: str = "department_kind") -> DepartmentKind:
    try:
        kind = DepartmentKind(value)
    except ValueError:
        allowed = "、".join(f"{k.value}（{DEPARTMENT_NAMES[k]}）" for k in HUMAN_DEPARTMENTS)
        raise ValidationFailed(f"未知部门类型“{value}”，可选：{allowed}", field=field) from None
    if kind is DepartmentKind.system:
        raise ValidationFailed("系统身份不能分配给用户", field=field)
    if kind in BOUND_KINDS:
        raise ValidationFailed(f"“{DEPARTMENT_NAMES[kind]}”不是部门：机构账户在机构页面开通，家长凭合同码使用",
                               field=field)
    return kind


def parse_roles(values: object, field: str = "roles") -> tuple[str, ...]:
    if not isinstance(values, (list, tuple)) or not values:
        raise ValidationFailed("至少需要一个角色", field=field)
    out = []
    for value in values:
        try:
            out.append(Role(value).value)
        except ValueError:
            raise ValidationFailed(
                f"未知角色“{value}”，可选：clerk、leader、admin", field=field
            ) from None
    return tuple(out)


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    display_name: str
    department_id: int
    department_kind: DepartmentKind
    department_name: str
    division_code: str
    roles: tuple[str, ...]
    institution_id: int | None = None  # an institution account: the one institution it acts for
    contract_code: str | None = None  # a parent: the contract code presented (never in events or logs)

    @property
    def department_label(self) -> str:
        return self.department_name or DEPARTMENT_NAMES[self.department_kind]

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles

    def to_dict(self) -> dict:
        data = asdict(self)
        data["department_kind"] = self.department_kind.value
        data["roles"] = list(self.roles)
        for key in ("institution_id", "contract_code"):  # unbound actors keep their old shape
            if data[key] is None:
                del data[key]
        return data

    def public_dict(self) -> dict:
        """What events and audit entries record of the actor: never a parent's contract code."""
        data = self.to_dict()
        if "contract_code" in data:
            data["contract_code"] = "***"
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Actor":
        return cls(
            user_id=int(data["user_id"]),
            username=str(data["username"]),
            display_name=str(data.get("display_name", data["username"])),
            department_id=int(data["department_id"]),
            department_kind=DepartmentKind(data["department_kind"]),
            department_name=str(data.get("department_name", "")),
            division_code=str(data["division_code"]),
            roles=tuple(data.get("roles", ())),
            institution_id=int(data["institution_id"]) if data.get("institution_id") is not None else None,
            contract_code=str(data["contract_code"]) if data.get("contract_code") else None,
        )


def system_actor(division_code: str, name: str = "workflows") -> Actor:
    return Actor(
        user_id=0,
        username=f"system:{name}",
        display_name="平台流程",
        department_id=0,
        department_kind=DepartmentKind.system,
        department_name="系统",
        division_code=division_code,
        roles=(),
    )


def parent_actor(division_code: str, contract_code: str) -> Actor:
    """A parent presenting a contract code (家长端): the escrow service checks the code against the
    contract of every call, so the gateway signs what was presented without knowing whether it is right."""
    return Actor(user_id=0, username="parent", display_name="家长（凭合同码）", department_id=0,
                 department_kind=DepartmentKind.parent, department_name="家长", division_code=division_code,
                 roles=(), contract_code=contract_code)


class ActorSigner:
    """Signs and verifies actors with the deployment's shared key (var/secrets.json)."""

    def __init__(self, key: str):
        self._serializer = URLSafeSerializer(key, salt="shuangjian.actor")

    def sign(self, actor: Actor) -> str:
        return self._serializer.dumps(actor.to_dict())

    def verify(self, token: object) -> Actor:
        if not isinstance(token, str) or not token:
            raise NotAuthenticated("命令未携带操作人身份")
        try:
            return Actor.from_dict(self._serializer.loads(token))
        except (BadSignature, KeyError, ValueError, TypeError):
            raise NotAuthenticated("操作人身份签名无效") from None
