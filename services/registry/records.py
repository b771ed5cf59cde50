"""Registry use cases for what hangs off an institution (staff, courses) and for schools.

Staff views and events carry only the masked 身份证号; the number itself lives in memory for
the length of one call (for its mask and its keyed digest) and is never stored or logged.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.clock import iso_utc
from services.common.divisions import is_within, scope_prefix, validate_code
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import today_shanghai

from . import courses, domain, schools, staff
from .handlers import SOURCE, Dispatch, _load, _who
from .models import Course, Institution, School, StaffMember, audit_trail

Digest = Callable[[str], str]  # 身份证号 -> keyed digest (the service holds the key)


def _id(value: object, field: str, label: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationFailed(f"{label}应为整数", field=field)
    return value


# -- staff (培训人员) -------------------------------------------------------------------------------


def staff_view(member: StaffMember) -> dict:
    role = staff.StaffRole(member.role)
    return {
        "id": member.id,
        "institution_id": member.institution_id,
        "name": member.name,
        "id_number_masked": member.id_number_masked,
        "role": role.value,
        "role_name": staff.STAFF_ROLE_NAMES[role],
        "qualification_cert_no": member.qualification_cert_no,
        "subjects": list(member.subjects or []),
        "hired_on": member.hired_on.isoformat() if member.hired_on else None,
        "left_on": member.left_on.isoformat() if member.left_on else None,
        "active": member.left_on is None,
        "created_at": iso_utc(member.created_at),
        "created_by": member.created_by,
    }


def _staff_event_data(row: Institution, member: StaffMember) -> dict:
    return staff_view(member) | {"township_code": row.division_code, "category": row.category}


def add_staff_member(session: Session, dispatch: Dispatch, digest: Digest, actor: Actor, institution_id: int,
                     data: object) -> dict:
    row = _load(session, institution_id)
    authorize(actor, "registry.update_records", row.division_code)
    if row.status == domain.Status.deregistered.value:
        raise Conflict("机构已注销，不能登记培训人员", field="institution_id")
    now = datetime.now(timezone.utc)
    draft = staff.parse_staff(data, domain.Category(row.category), today_shanghai(now))
    key = digest(draft.id_number)
    if session.scalar(select(StaffMember.id).where(StaffMember.institution_id == row.id,
                                                   StaffMember.id_number_digest == key)) is not None:
        raise Conflict(f"身份证号 {draft.id_number_masked} 的人员已在本机构登记", field="id_number")
    member = StaffMember(
        institution_id=row.id, name=draft.name, id_number_masked=draft.id_number_masked, id_number_digest=key,
        role=draft.role.value, qualification_cert_no=draft.qualification_cert_no, subjects=list(draft.subjects),
        hired_on=draft.hired_on, left_on=None, created_at=now, created_by=_who(actor),
    )
    session.add(member)
    try:
        session.flush()
        # the view holds the mask only: the ID number never reaches the audit trail
        audit_trail.append(session, actor, "registry.add_staff_member", "staff_member", member.id, None,
                           staff_view(member), row.division_code, now)
        dispatch("staff_member_added", make_event(SOURCE, "staff_member_added", _staff_event_data(row, member),
                                                  row.division_code, actor.to_dict(), now))
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"身份证号 {draft.id_number_masked} 的人员已在本机构登记", field="id_number") from None
    return staff_view(member)


def list_staff(session: Session, actor: Actor, institution_id: int, include_left: bool = False) -> dict:
    row = _load(session, institution_id)
    authorize(actor, "registry.read", row.division_code)
    query = select(StaffMember).where(StaffMember.institution_id == row.id)
    if not include_left:
        query = query.where(StaffMember.left_on.is_(None))
    members = session.scalars(query.order_by(StaffMember.id)).all()
    views = [staff_view(m) for m in members]
    teaching = [v for v in views if v["active"] and v["role"] == staff.StaffRole.teaching.value]
    return {
        "institution_id": row.id,
        "items": views,
        "teaching_total": len(teaching),
        "teaching_without_certificate": sum(1 for v in teaching if not v["qualification_cert_no"]),
    }


def record_staff_leaving(session: Session, dispatch: Dispatch, actor: Actor, staff_id: int, data: object) -> dict:
    member = session.get(StaffMember, _id(staff_id, "staff_id", "人员编号"))
    if member is None:
        raise NotFound(f"培训人员 {staff_id} 不存在", field="staff_id")
    row = _load(session, member.institution_id)
    authorize(actor, "registry.update_records", row.division_code)
    if member.left_on is not None:
        raise Conflict(f"该人员已于 {member.left_on.isoformat()} 离职", field="left_on")
    before = staff_view(member)
    member.left_on = staff.parse_leaving(data, member.hired_on, today_shanghai())
    audit_trail.append(session, actor, "registry.record_staff_leaving", "staff_member", member.id, before,
                       staff_view(member), row.division_code)
    dispatch("staff_member_left", make_event(SOURCE, "staff_member_left", _staff_event_data(row, member),
                                             row.division_code, actor.to_dict()))
    session.commit()
    return staff_view(member)


# -- courses ---------------------------------------------------------------------------------------


def course_view(course: Course) -> dict:
    mode = courses.CourseMode(course.mode)
    return {
        "id": course.id,
        "institution_id": course.institution_id,
        "name": course.name,
        "subject": course.subject,
        "price_fen": course.price_fen,
        "class_hours": course.class_hours,
        "mode": mode.value,
        "mode_name": courses.MODE_NAMES[mode],
        "schedule": list(course.schedule),
        "state": course.state,
        "published_at": iso_utc(course.published_at),
        "published_by": course.published_by,
        "withdrawn_at": iso_utc(course.withdrawn_at),
    }


def _course_event_data(row: Institution, course: Course) -> dict:
    return course_view(course) | {"township_code": row.division_code, "category": row.category,
                                  "institution_name": row.name}


def publish_course(session: Session, dispatch: Dispatch, actor: Actor, institution_id: int, data: object) -> dict:
    row = _load(session, institution_id)
    authorize(actor, "registry.courses", row.division_code, institution_id=row.id)
    status = domain.Status(row.status)
    if status is not domain.Status.operating:
        raise Conflict(f"机构当前为“{domain.STATUS_NAMES[status]}”，不能发布课程", field="institution_id")
    draft = courses.parse_course(data, domain.Category(row.category))
    now = datetime.now(timezone.utc)
    course = Course(
        institution_id=row.id, name=draft.name, subject=draft.subject, price_fen=draft.price_fen,
        class_hours=draft.class_hours, mode=draft.mode.value, schedule=[s.as_dict() for s in draft.schedule],
        state="published", published_at=now, published_by=_who(actor),
    )
    session.add(course)
    session.flush()
    audit_trail.append(session, actor, "registry.publish_course", "course", course.id, None, course_view(course),
                       row.division_code, now)
    dispatch("course_published", make_event(SOURCE, "course_published", _course_event_data(row, course),
                                            row.division_code, actor.to_dict(), now))
    session.commit()
    return course_view(course)


def withdraw_course(session: Session, dispatch: Dispatch, actor: Actor, course_id: int) -> dict:
    course = session.get(Course, _id(course_id, "course_id", "课程编号"))
    if course is None:
        raise NotFound(f"课程 {course_id} 不存在", field="course_id")
    row = _load(session, course.institution_id)
    authorize(actor, "registry.courses", row.division_code, institution_id=row.id)
    if course.state == "withdrawn":
        return course_view(course)
    before = course_view(course)
    course.state = "withdrawn"
    course.withdrawn_at = datetime.now(timezone.utc)
    audit_trail.append(session, actor, "registry.withdraw_course", "course", course.id, before, course_view(course),
                       row.division_code)
    dispatch("course_withdrawn", make_event(SOURCE, "course_withdrawn", _course_event_data(row, course),
                                            row.division_code, actor.to_dict()))
    session.commit()
    return course_view(course)


def list_courses(session: Session, actor: Actor, institution_id: int) -> dict:
    row = _load(session, institution_id)
    authorize(actor, "registry.read", row.division_code, institution_id=row.id)
    items = session.scalars(select(Course).where(Course.institution_id == row.id).order_by(Course.id)).all()
    return {"institution_id": row.id, "items": [course_view(c) for c in items]}


# -- schools -------------------------------------------------------------------------------------


def school_view(school: School) -> dict:
    kind = schools.SchoolType(school.school_type)
    return {
        "id": school.id,
        "code": school.code,
        "name": school.name,
        "type": kind.value,
        "type_name": schools.SCHOOL_TYPE_NAMES[kind],
        "grades": list(school.grades),
        "township_code": school.division_code,
        "zone": school.zone,
        "created_at": iso_utc(school.created_at),
        "created_by": school.created_by,
    }


def register_school(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    draft = schools.parse_school(data)
    authorize(actor, "registry.register_school", draft.division_code)
    now = datetime.now(timezone.utc)
    school = School(
        code=draft.code, name=draft.name, school_type=draft.school_type.value, grades=list(draft.grades),
        division_code=draft.division_code, zone=draft.zone, created_at=now, created_by=_who(actor),
    )
    conflict = Conflict(f"学校标识码 {draft.code} 已登记", field="code")
    if session.scalar(select(School.id).where(School.code == draft.code)) is not None:
        raise conflict
    session.add(school)
    try:
        session.flush()
        audit_trail.append(session, actor, "registry.register_school", "school", school.id, None,
                           school_view(school), school.division_code, now)
        view = school_view(school)
        dispatch("school_registered", make_event(SOURCE, "school_registered", view, school.division_code,
                                                 actor.to_dict(), now))
        session.commit()
    except IntegrityError:
        session.rollback()
        raise conflict from None
    return view


def get_school(session: Session, actor: Actor, school_id: int) -> dict:
    school = session.get(School, _id(school_id, "school_id", "学校编号"))
    if school is None:
        raise NotFound(f"学校 {school_id} 不存在", field="school_id")
    authorize(actor, "registry.read", school.division_code)
    return school_view(school)


def list_schools(session: Session, actor: Actor, limit: int = 100, offset: int = 0,
                 filters: dict | None = None) -> dict:
    authorize(actor, "registry.read")
    query = select(School).where(School.division_code.startswith(scope_prefix(actor.division_code)))
    filters = filters or {}
    if not isinstance(filters, dict):
        raise ValidationFailed("筛选条件应为 JSON 对象", field="filters")
    for key, value in filters.items():
        if value in (None, ""):
            continue
        if key == "township_code":
            code = validate_code(value, field="township_code")
            if not is_within(code, actor.division_code):
                raise Forbidden("只能查询本辖区的学校", field="township_code")
            query = query.where(School.division_code.startswith(scope_prefix(code)))
        elif key == "zone":
            query = query.where(School.zone == str(value))
        else:
            raise ValidationFailed(f"不支持的筛选条件“{key}”，可用：township_code、zone", field=str(key)[:50])
    items = session.scalars(query.order_by(School.id).limit(limit).offset(offset)).all()
    return {"items": [school_view(s) for s in items], "limit": limit, "offset": offset}
