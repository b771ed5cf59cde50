"""What the campaign, inspection record and order use cases share: who acted, the request body,
ids, and who may read."""
from __future__ import annotations

from typing import Callable

from services.common.errors import ValidationFailed
from services.common.identity import Actor, DepartmentKind
from services.common.policy import authorize

Dispatch = Callable[[str, dict], None]
SOURCE = "inspection"


def who(actor: Actor) -> dict:
    return {"user_id": actor.user_id, "username": actor.username, "name": actor.display_name,
            "department_kind": actor.department_kind.value, "department": actor.department_label}


def body(data: object) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    return data


def id(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValidationFailed("应为正整数", field=field)
    return value


def authorize_read(actor: Actor, division_code: str | None = None) -> None:
    if actor.department_kind is DepartmentKind.system:
        authorize(actor, "inspection.follow_up", division_code)
    else:
        authorize(actor, "inspection.read", division_code)
