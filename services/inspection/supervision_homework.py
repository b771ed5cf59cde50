"""School supervision (督导): 作业公示 (each class's homework of a day) and the checks against the
homework limits.

Rules on plain data live in `supervision_rules.py`; tables in `supervision_models.py`.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.errors import ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.policy import authorize

from . import supervision_common as common
from . import supervision_rules as rules
from .models import audit_trail
from .supervision_models import HomeworkPublication, SupervisedSchool


def homework_view(h: HomeworkPublication) -> dict:
    return {"id": h.id, "school_id": h.school_id, "township_code": h.division_code, "grade": h.grade,
            "class_name": h.class_name, "published_on": h.published_on.isoformat(), "items": h.items,
            "written_minutes": h.written_minutes, "recorded_by": h.recorded_by,
            "recorded_at": iso_utc(h.recorded_at)}


def publish_homework(session: Session, actor: Actor, data: object) -> dict:
    """One class's homework of one day; publishing the same class and day again replaces it."""
    data = common.body(data)
    school = common.school(session, data.get("school_id"))
    authorize(actor, "supervision.record", school.division_code)
    grade = data.get("grade")
    rules.grade_band(grade)
    if grade not in school.grades:
        raise ValidationFailed(f"{school.name}不设{grade}年级", field="grade")
    class_name = common.text(data.get("class_name"), "class_name", 30)
    published_on = common.not_future(rules.parse_date(data.get("published_on"), "published_on"), "published_on")
    items = rules.parse_items(data.get("items"))
    row = session.scalar(select(HomeworkPublication).where(
        HomeworkPublication.school_id == school.school_id, HomeworkPublication.grade == grade,
        HomeworkPublication.class_name == class_name, HomeworkPublication.published_on == published_on))
    before = homework_view(row) if row is not None else None
    if row is None:
        row = HomeworkPublication(school_id=school.school_id, division_code=school.division_code, grade=grade,
                                  class_name=class_name, published_on=published_on)
        session.add(row)
    row.items, row.written_minutes = items, rules.written_minutes(items)
    row.recorded_by, row.recorded_at = common.who(actor), utc_now()
    session.flush()
    audit_trail.append(session, actor, "supervision.publish_homework", "homework", row.id, before,
                       homework_view(row), school.division_code, row.recorded_at)
    session.commit()
    return homework_view(row)


def list_homework(session: Session, actor: Actor, school_id: int, date_from: str | None = None,
                  date_to: str | None = None) -> dict:
    school = common.school(session, school_id)
    authorize(actor, "supervision.read", school.division_code)
    query = select(HomeworkPublication).where(HomeworkPublication.school_id == school.school_id)
    if date_from:
        query = query.where(HomeworkPublication.published_on >= rules.parse_date(date_from, "from"))
    if date_to:
        query = query.where(HomeworkPublication.published_on <= rules.parse_date(date_to, "to"))
    rows = session.scalars(query.order_by(HomeworkPublication.published_on, HomeworkPublication.grade,
                                          HomeworkPublication.class_name)).all()
    return {"items": [homework_view(h) for h in rows]}


def check_homework(session: Session, dispatch: common.Dispatch, actor: Actor, data: object) -> dict:
    """Every class that published in [from, to] (one school, or the actor's division): its daily
    average of written minutes against its grade's limit. Each result is announced (homework_checked)."""
    data = common.body(data)
    authorize(actor, "supervision.record")
    start = rules.parse_date(data.get("from"), "from")
    end = rules.parse_date(data.get("to"), "to")
    if end < start:
        raise ValidationFailed("结束日期不能早于开始日期", field="to")
    query = select(HomeworkPublication).where(HomeworkPublication.published_on >= start,
                                              HomeworkPublication.published_on <= end)
    if data.get("school_id") is not None:
        school = common.school(session, data["school_id"])
        authorize(actor, "supervision.record", school.division_code)
        query = query.where(HomeworkPublication.school_id == school.school_id)
    else:
        query = query.where(common.scope_filter(HomeworkPublication.division_code, actor, data.get("division_code")))
    classes: dict[tuple[int, int, str], list[HomeworkPublication]] = defaultdict(list)
    for row in session.scalars(query.order_by(HomeworkPublication.published_on)).all():
        classes[(row.school_id, row.grade, row.class_name)].append(row)
    schools = {s.school_id: s for s in session.scalars(
        select(SupervisedSchool).where(SupervisedSchool.school_id.in_({k[0] for k in classes})))}
    results = []
    for (school_id, grade, class_name), rows in sorted(classes.items()):
        school = schools[school_id]
        result = {"school_id": school_id, "school_name": school.name, "township_code": school.division_code,
                  "class_name": class_name, "from": start.isoformat(), "to": end.isoformat(),
                  **rules.check_class(grade, [r.written_minutes for r in rows])}
        results.append(result)
        dispatch("homework_checked", make_event(common.SOURCE, "homework_checked", result, school.division_code,
                                                actor.to_dict()))
    session.commit()  # only the outbox rows of the checks: a check changes nothing else
    flagged_schools = {r["school_id"] for r in results if r["flagged"]}
    checked_schools = {r["school_id"] for r in results}
    return {"from": start.isoformat(), "to": end.isoformat(), "classes": results,
            "flagged": sum(1 for r in results if r["flagged"]),
            "schools_checked": len(checked_schools),
            "schools_compliant": len(checked_schools - flagged_schools)}
