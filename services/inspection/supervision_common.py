"""What the school supervision (督导) use cases share: request checks, the actor's scope, and the
lookups in the school roster.

Rules on plain data live in `supervision_rules.py`; tables in `supervision_models.py`.
"""
from __future__ import annotations

from datetime import date
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.divisions import is_within, scope_prefix, validate_code
from services.common.errors import NotFound, ValidationFailed
from services.common.identity import Actor
from services.common.workdays import today_shanghai

from .supervision_models import SupervisedSchool

SOURCE = "inspection"
Dispatch = Callable[[str, dict], None]


def who(actor: Actor) -> str:
    return f"{actor.department_label}/{actor.display_name}"


def id(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationFailed("应为正整数", field=field)
    return value


def text(value: object, field: str, max_len: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value.strip()) > max_len:
        raise ValidationFailed(f"应为1–{max_len}个字符" if required else f"最多{max_len}个字符", field=field)
    return value.strip()


def body(data: object) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    return data


def not_future(day: date, field: str) -> date:
    if day > today_shanghai():
        raise ValidationFailed("日期不能晚于今天", field=field)
    return day


def scope_filter(column, actor: Actor, division_code: str | None = None):
    """Rows within the actor's division, optionally narrowed to a division inside it."""
    prefix = scope_prefix(actor.division_code)
    if division_code:
        validate_code(division_code)
        if not is_within(division_code, actor.division_code):
            from services.common.errors import Forbidden

            raise Forbidden("记录不在您所属行政区划范围内", field="division_code")
        prefix = scope_prefix(division_code)
    return column.startswith(prefix)


def school(session: Session, school_id: object) -> SupervisedSchool:
    school = session.get(SupervisedSchool, id(school_id, "school_id"))
    if school is None:
        raise NotFound(f"学校 {school_id} 不在督导名册中", field="school_id")
    return school


def schools_in_scope(session: Session, actor: Actor, division_code: str | None = None,
                     zone: str | None = None) -> list[SupervisedSchool]:
    query = select(SupervisedSchool).where(scope_filter(SupervisedSchool.division_code, actor, division_code))
    if zone:
        query = query.where(SupervisedSchool.zone == zone)
    return list(session.scalars(query.order_by(SupervisedSchool.school_id)).all())
