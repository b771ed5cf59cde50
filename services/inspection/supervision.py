"""School supervision (督导) use cases: the school roster from the registry, 督学责任区 and their
督学, monthly visits and coverage, 作业公示 and the homework limits, 课后服务 一校一案.

Rules on plain data live in `supervision_rules.py`; tables in `supervision_models.py`.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import county_of, is_within, scope_prefix, validate_code
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.idempotency import apply_batch
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import today_shanghai

from . import supervision_rules as rules
from .models import ProcessedEvent, audit_trail
from .supervision_models import (
    AfterSchoolPlan,
    HomeworkPublication,
    SchoolVisit,
    SupervisedSchool,
    SupervisionSettings,
    SupervisionZone,
)

SOURCE = "inspection"
Dispatch = Callable[[str, dict], None]


def _who(actor: Actor) -> str:
    return f"{actor.department_label}/{actor.display_name}"


def _id(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationFailed("应为正整数", field=field)
    return value


def _text(value: object, field: str, max_len: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value.strip()) > max_len:
        raise ValidationFailed(f"应为1–{max_len}个字符" if required else f"最多{max_len}个字符", field=field)
    return value.strip()


def _body(data: object) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed("请求体应为 JSON 对象", field="body")
    return data


def _not_future(day: date, field: str) -> date:
    if day > today_shanghai():
        raise ValidationFailed("日期不能晚于今天", field=field)
    return day


def _scope_filter(column, actor: Actor, division_code: str | None = None):
    """Rows within the actor's division, optionally narrowed to a division inside it."""
    prefix = scope_prefix(actor.division_code)
    if division_code:
        validate_code(division_code)
        if not is_within(division_code, actor.division_code):
            from services.common.errors import Forbidden

            raise Forbidden("记录不在您所属行政区划范围内", field="division_code")
        prefix = scope_prefix(division_code)
    return column.startswith(prefix)


# -- the school roster (from the registry's school_registered) ---------------------------------------


def _add_school(session: Session, event: dict) -> None:
    data = event["data"]
    school_id = int(data["id"])
    division = validate_code(data["township_code"], field="data.township_code")
    grades = [int(g) for g in data["grades"]]
    row = session.get(SupervisedSchool, school_id) or SupervisedSchool(school_id=school_id, added_at=utc_now())
    row.code = str(data["code"])
    row.name = str(data["name"])
    row.school_type = str(data["type"])
    row.grades = grades
    row.division_code = division
    row.county_code = county_of(division)
    row.zone = str(data["zone"])
    session.add(row)


def apply_school_registered(session: Session, events: list) -> int:
    return apply_batch(session, ProcessedEvent, events, _add_school)


def school_view(s: SupervisedSchool) -> dict:
    return {"school_id": s.school_id, "code": s.code, "name": s.name, "type": s.school_type,
            "grades": list(s.grades), "township_code": s.division_code, "county_code": s.county_code,
            "zone": s.zone}


def _school(session: Session, school_id: object) -> SupervisedSchool:
    school = session.get(SupervisedSchool, _id(school_id, "school_id"))
    if school is None:
        raise NotFound(f"学校 {school_id} 不在督导名册中", field="school_id")
    return school


def _schools_in_scope(session: Session, actor: Actor, division_code: str | None = None,
                      zone: str | None = None) -> list[SupervisedSchool]:
    query = select(SupervisedSchool).where(_scope_filter(SupervisedSchool.division_code, actor, division_code))
    if zone:
        query = query.where(SupervisedSchool.zone == zone)
    return list(session.scalars(query.order_by(SupervisedSchool.school_id)).all())


def list_schools(session: Session, actor: Actor, zone: str | None = None) -> dict:
    authorize(actor, "supervision.read")
    return {"items": [school_view(s) for s in _schools_in_scope(session, actor, zone=zone)]}


# -- 督学责任区 and their 督学 ---------------------------------------------------------------------------


def _zone_view(zone: SupervisionZone | None, county: str, name: str, schools: int) -> dict:
    return {
        "county_code": county, "name": name, "schools": schools,
        "inspector_name": zone.inspector_name if zone else None,
        "inspector_user_id": zone.inspector_user_id if zone else None,
        "updated_at": iso_utc(zone.updated_at) if zone else None,
    }


def set_zone(session: Session, actor: Actor, data: object) -> dict:
    data = _body(data)
    county = data.get("county_code") or county_of(actor.division_code)
    if county is None:
        raise ValidationFailed("请指定县级行政区划代码", field="county_code")
    validate_code(county, field="county_code")
    if county_of(county) != county:
        raise ValidationFailed("督学责任区属于县（6位代码）", field="county_code")
    authorize(actor, "supervision.record", county)
    name = _text(data.get("name"), "name", 50)
    inspector = _text(data.get("inspector_name"), "inspector_name", 50)
    user_id = data.get("inspector_user_id")
    if user_id is not None:
        _id(user_id, "inspector_user_id")
    zone = session.scalar(select(SupervisionZone).where(SupervisionZone.county_code == county,
                                                        SupervisionZone.name == name))
    before = None if zone is None else {"name": name, "inspector_name": zone.inspector_name,
                                        "inspector_user_id": zone.inspector_user_id}
    if zone is None:
        zone = SupervisionZone(county_code=county, name=name)
        session.add(zone)
    zone.inspector_name, zone.inspector_user_id = inspector, user_id
    zone.updated_by, zone.updated_at = _who(actor), utc_now()
    audit_trail.append(session, actor, "supervision.set_zone", "supervision_zone", f"{county}/{name}", before,
                       {"name": name, "inspector_name": inspector, "inspector_user_id": user_id}, county)
    session.commit()
    count = len([s for s in _schools_in_scope(session, actor, county, name)])
    return _zone_view(zone, county, name, count)


def list_zones(session: Session, actor: Actor) -> dict:
    """Zones named by schools or given a 督学, with the number of schools each holds."""
    authorize(actor, "supervision.read")
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for s in _schools_in_scope(session, actor):
        counts[(s.county_code, s.zone)] += 1
    zones = {(z.county_code, z.name): z for z in session.scalars(
        select(SupervisionZone).where(_scope_filter(SupervisionZone.county_code, actor)))}
    if len(actor.division_code) == 9:  # a township sees the zones of its schools only
        zones = {k: v for k, v in zones.items() if k in counts}
    keys = sorted(set(counts) | set(zones))
    return {"items": [_zone_view(zones.get(k), k[0], k[1], counts.get(k, 0)) for k in keys]}


def _zone_inspector(session: Session, school: SupervisedSchool) -> str | None:
    zone = session.scalar(select(SupervisionZone).where(SupervisionZone.county_code == school.county_code,
                                                        SupervisionZone.name == school.zone))
    return zone.inspector_name if zone else None


# -- visits and monthly coverage ----------------------------------------------------------------------


def visit_view(v: SchoolVisit, school_name: str | None = None) -> dict:
    return {"id": v.id, "school_id": v.school_id, "school_name": school_name, "township_code": v.division_code,
            "zone": v.zone, "visited_on": v.visited_on.isoformat(), "inspector": v.inspector,
            "method": v.method, "method_name": rules.VISIT_METHODS[v.method], "findings": v.findings,
            "recorded_by": v.recorded_by, "recorded_at": iso_utc(v.recorded_at)}


def record_visit(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    data = _body(data)
    school = _school(session, data.get("school_id"))
    authorize(actor, "supervision.record", school.division_code)
    visited_on = _not_future(rules.parse_date(data.get("visited_on"), "visited_on"), "visited_on")
    method = rules.parse_visit_method(data.get("method"))
    inspector = (_text(data["inspector"], "inspector", 50) if data.get("inspector") is not None
                 else _zone_inspector(session, school) or actor.display_name)
    findings = _text(data.get("findings"), "findings", 4000, required=False)
    visit = SchoolVisit(school_id=school.school_id, division_code=school.division_code, zone=school.zone,
                        visited_on=visited_on, inspector=inspector, method=method, findings=findings,
                        recorded_by=_who(actor), recorded_at=utc_now())
    session.add(visit)
    session.flush()
    audit_trail.append(session, actor, "supervision.record_visit", "school_visit", visit.id, None,
                       visit_view(visit, school.name), school.division_code, visit.recorded_at)
    view = visit_view(visit, school.name)
    dispatch("school_visit_recorded", make_event(SOURCE, "school_visit_recorded", view, school.division_code,
                                                 actor.to_dict()))
    session.commit()
    return view


def list_visits(session: Session, actor: Actor, month: str | None = None, school_id: int | None = None) -> dict:
    authorize(actor, "supervision.read")
    query = select(SchoolVisit).where(_scope_filter(SchoolVisit.division_code, actor))
    if month:
        start, end = rules.parse_month(month)
        query = query.where(SchoolVisit.visited_on >= start, SchoolVisit.visited_on < end)
    if school_id is not None:
        query = query.where(SchoolVisit.school_id == _id(school_id, "school_id"))
    rows = session.scalars(query.order_by(SchoolVisit.visited_on.desc(), SchoolVisit.id.desc()).limit(500)).all()
    names = {s.school_id: s.name for s in _schools_in_scope(session, actor)}
    return {"items": [visit_view(v, names.get(v.school_id)) for v in rows]}


def coverage(session: Session, actor: Actor, month: str, division_code: str | None = None) -> dict:
    """Per zone and overall: schools visited in the month / schools in scope (100% only if all were)."""
    authorize(actor, "supervision.read")
    start, end = rules.parse_month(month)
    schools = _schools_in_scope(session, actor, division_code)
    visited = set(session.scalars(
        select(SchoolVisit.school_id).where(_scope_filter(SchoolVisit.division_code, actor, division_code),
                                            SchoolVisit.visited_on >= start, SchoolVisit.visited_on < end)
    ).all())
    names = {s.school_id: s.name for s in schools}
    by_zone: dict[tuple[str, str], set[int]] = defaultdict(set)
    for s in schools:
        by_zone[(s.county_code, s.zone)].add(s.school_id)
    inspectors = {(z.county_code, z.name): z.inspector_name for z in session.scalars(
        select(SupervisionZone).where(_scope_filter(SupervisionZone.county_code, actor)))}

    def figure(ids: set[int]) -> dict:
        out = rules.coverage(ids, visited)
        out["unvisited"] = [{"school_id": i, "name": names[i]} for i in out["unvisited"]]
        return out

    zones = [{"county_code": k[0], "zone": k[1], "inspector_name": inspectors.get(k), **figure(ids)}
             for k, ids in sorted(by_zone.items())]
    return {"month": month, "division_code": division_code or actor.division_code,
            "overall": figure({s.school_id for s in schools}), "zones": zones}


# -- homework (作业公示) and the limits ------------------------------------------------------------------


def homework_view(h: HomeworkPublication) -> dict:
    return {"id": h.id, "school_id": h.school_id, "township_code": h.division_code, "grade": h.grade,
            "class_name": h.class_name, "published_on": h.published_on.isoformat(), "items": h.items,
            "written_minutes": h.written_minutes, "recorded_by": h.recorded_by,
            "recorded_at": iso_utc(h.recorded_at)}


def publish_homework(session: Session, actor: Actor, data: object) -> dict:
    """One class's homework of one day; publishing the same class and day again replaces it."""
    data = _body(data)
    school = _school(session, data.get("school_id"))
    authorize(actor, "supervision.record", school.division_code)
    grade = data.get("grade")
    rules.grade_band(grade)
    if grade not in school.grades:
        raise ValidationFailed(f"{school.name}不设{grade}年级", field="grade")
    class_name = _text(data.get("class_name"), "class_name", 30)
    published_on = _not_future(rules.parse_date(data.get("published_on"), "published_on"), "published_on")
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
    row.recorded_by, row.recorded_at = _who(actor), utc_now()
    session.flush()
    audit_trail.append(session, actor, "supervision.publish_homework", "homework", row.id, before,
                       homework_view(row), school.division_code, row.recorded_at)
    session.commit()
    return homework_view(row)


def list_homework(session: Session, actor: Actor, school_id: int, date_from: str | None = None,
                  date_to: str | None = None) -> dict:
    school = _school(session, school_id)
    authorize(actor, "supervision.read", school.division_code)
    query = select(HomeworkPublication).where(HomeworkPublication.school_id == school.school_id)
    if date_from:
        query = query.where(HomeworkPublication.published_on >= rules.parse_date(date_from, "from"))
    if date_to:
        query = query.where(HomeworkPublication.published_on <= rules.parse_date(date_to, "to"))
    rows = session.scalars(query.order_by(HomeworkPublication.published_on, HomeworkPublication.grade,
                                          HomeworkPublication.class_name)).all()
    return {"items": [homework_view(h) for h in rows]}


def check_homework(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    """Every class that published in [from, to] (one school, or the actor's division): its daily
    average of written minutes against its grade's limit. Each result is announced (homework_checked)."""
    data = _body(data)
    authorize(actor, "supervision.record")
    start = rules.parse_date(data.get("from"), "from")
    end = rules.parse_date(data.get("to"), "to")
    if end < start:
        raise ValidationFailed("结束日期不能早于开始日期", field="to")
    query = select(HomeworkPublication).where(HomeworkPublication.published_on >= start,
                                              HomeworkPublication.published_on <= end)
    if data.get("school_id") is not None:
        school = _school(session, data["school_id"])
        authorize(actor, "supervision.record", school.division_code)
        query = query.where(HomeworkPublication.school_id == school.school_id)
    else:
        query = query.where(_scope_filter(HomeworkPublication.division_code, actor, data.get("division_code")))
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
        dispatch("homework_checked", make_event(SOURCE, "homework_checked", result, school.division_code,
                                                actor.to_dict()))
    session.commit()  # only the outbox rows of the checks: a check changes nothing else
    flagged_schools = {r["school_id"] for r in results if r["flagged"]}
    checked_schools = {r["school_id"] for r in results}
    return {"from": start.isoformat(), "to": end.isoformat(), "classes": results,
            "flagged": sum(1 for r in results if r["flagged"]),
            "schools_checked": len(checked_schools),
            "schools_compliant": len(checked_schools - flagged_schools)}


# -- settings (the 一校一案 deadline) -----------------------------------------------------------------


def _county(actor: Actor, county_code: str | None) -> str:
    county = county_code or county_of(actor.division_code)
    if county is None:
        raise ValidationFailed("请指定县级行政区划代码", field="county_code")
    validate_code(county, field="county_code")
    if county_of(county) != county:
        raise ValidationFailed("应为县级（6位）行政区划代码", field="county_code")
    return county


def _deadline_setting(session: Session, county: str) -> str:
    row = session.get(SupervisionSettings, county)
    return row.plan_deadline if row else rules.DEFAULT_PLAN_DEADLINE


def get_settings(session: Session, actor: Actor, county_code: str | None = None) -> dict:
    authorize(actor, "supervision.read")
    county = _county(actor, county_code)
    if not (is_within(county, actor.division_code) or is_within(actor.division_code, county)):
        authorize(actor, "supervision.read", county)
    return {"county_code": county, "plan_deadline": _deadline_setting(session, county)}


def set_settings(session: Session, actor: Actor, county_code: str | None, settings: object) -> dict:
    settings = _body(settings)
    county = _county(actor, county_code)
    authorize(actor, "supervision.manage_settings", county)
    deadline = rules.parse_month_day(settings.get("plan_deadline"))
    row = session.get(SupervisionSettings, county)
    before = {"plan_deadline": row.plan_deadline} if row is not None else None
    row = row or SupervisionSettings(county_code=county)
    row.plan_deadline, row.updated_by, row.updated_at = deadline, _who(actor), utc_now()
    session.add(row)
    audit_trail.append(session, actor, "supervision.set_settings", "supervision_settings", county, before,
                       {"plan_deadline": deadline}, county)
    session.commit()
    return {"county_code": county, "plan_deadline": deadline}


# -- after-school service (课后服务 一校一案) ---------------------------------------------------------------


def _plan_view(plan: AfterSchoolPlan | None, school: SupervisedSchool, school_year: int, deadline: date,
               today: date) -> dict:
    status = rules.plan_status(plan.filed_on if plan else None, deadline, today)
    p = plan
    return {
        "school_id": school.school_id, "school_name": school.name, "township_code": school.division_code,
        "school_year": school_year, "deadline": deadline.isoformat(),
        "filed_on": p.filed_on.isoformat() if p else None,
        "status": status, "status_name": rules.PLAN_STATUS_NAMES[status],
        "flagged": status in ("late", "missing"),
        "participating": p.participating if p else None, "enrolled": p.enrolled if p else None,
        "participation_rate": rules.percent(p.participating, p.enrolled) if p and p.enrolled is not None else None,
        "aware": p.aware if p else None, "surveyed": p.surveyed if p else None,
        "awareness_rate": rules.percent(p.aware, p.surveyed) if p and p.surveyed is not None else None,
    }


def _plan_year(data: dict, filed_on: date | None) -> int:
    year = data.get("school_year")
    if year is None:
        if filed_on is None:
            raise ValidationFailed("请指定学年（起始年份，如 2021）", field="school_year")
        return rules.school_year_of(filed_on)
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ValidationFailed("学年应为起始年份，如 2021", field="school_year")
    return year


def _plan_state(plan: AfterSchoolPlan) -> dict:
    """What the audit trail keeps of a 一校一案 filing."""
    return {"id": plan.id, "school_id": plan.school_id, "school_year": plan.school_year,
            "filed_on": plan.filed_on.isoformat() if plan.filed_on else None,
            "participating": plan.participating, "enrolled": plan.enrolled, "aware": plan.aware,
            "surveyed": plan.surveyed}


def file_after_school_plan(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    """A school's 一校一案 filed on a date (once per school year), with its figures if known."""
    data = _body(data)
    school = _school(session, data.get("school_id"))
    authorize(actor, "supervision.record", school.division_code)
    filed_on = _not_future(rules.parse_date(data.get("filed_on"), "filed_on"), "filed_on")
    year = _plan_year(data, filed_on)
    figures = rules.parse_figures(data)
    if session.scalar(select(AfterSchoolPlan.id).where(AfterSchoolPlan.school_id == school.school_id,
                                                       AfterSchoolPlan.school_year == year)) is not None:
        raise Conflict(f"{school.name} {year}学年的一校一案已报备", field="school_id")
    plan = AfterSchoolPlan(school_id=school.school_id, division_code=school.division_code, school_year=year,
                           filed_on=filed_on, recorded_by=_who(actor), recorded_at=utc_now(), **figures)
    session.add(plan)
    session.flush()
    audit_trail.append(session, actor, "supervision.file_after_school_plan", "after_school_plan", plan.id, None,
                       _plan_state(plan), school.division_code, plan.recorded_at)
    deadline = rules.plan_deadline(year, _deadline_setting(session, school.county_code))
    view = _plan_view(plan, school, year, deadline, today_shanghai())
    dispatch("after_school_plan_filed", make_event(SOURCE, "after_school_plan_filed", view, school.division_code,
                                                   actor.to_dict()))
    session.commit()
    return view


def record_after_school_figures(session: Session, dispatch: Dispatch, actor: Actor, data: object) -> dict:
    """Participation (参加/在校) and awareness (知晓/调查) of a filed plan; the latest figures hold."""
    data = _body(data)
    school = _school(session, data.get("school_id"))
    authorize(actor, "supervision.record", school.division_code)
    year = _plan_year(data, None)
    figures = rules.parse_figures(data)
    if not figures:
        raise ValidationFailed("请填写参加人数/在校人数或知晓人数/调查人数", field="participating")
    plan = session.scalar(select(AfterSchoolPlan).where(AfterSchoolPlan.school_id == school.school_id,
                                                        AfterSchoolPlan.school_year == year))
    if plan is None:
        raise NotFound(f"{school.name} {year}学年尚未报备一校一案", field="school_id")
    before = _plan_state(plan)
    for key, value in figures.items():
        setattr(plan, key, value)
    plan.recorded_by, plan.recorded_at = _who(actor), utc_now()
    audit_trail.append(session, actor, "supervision.record_after_school_figures", "after_school_plan", plan.id,
                       before, _plan_state(plan), school.division_code, plan.recorded_at)
    deadline = rules.plan_deadline(year, _deadline_setting(session, school.county_code))
    view = _plan_view(plan, school, year, deadline, today_shanghai())
    dispatch("after_school_figures_recorded", make_event(SOURCE, "after_school_figures_recorded", view,
                                                         school.division_code, actor.to_dict()))
    session.commit()
    return view


def after_school_report(session: Session, actor: Actor, school_year: int | None = None,
                        as_of: str | None = None) -> dict:
    """Every school in scope: plan on time / late / missing / not yet due, participation, awareness."""
    authorize(actor, "supervision.read")
    today = rules.parse_date(as_of, "as_of") if as_of else today_shanghai()
    year = school_year if school_year is not None else rules.school_year_of(today)
    _plan_year({"school_year": year}, None)
    schools = _schools_in_scope(session, actor)
    plans = {p.school_id: p for p in session.scalars(select(AfterSchoolPlan).where(
        AfterSchoolPlan.school_year == year, _scope_filter(AfterSchoolPlan.division_code, actor)))}
    deadlines: dict[str, date] = {}
    items = []
    for s in schools:
        if s.county_code not in deadlines:
            deadlines[s.county_code] = rules.plan_deadline(year, _deadline_setting(session, s.county_code))
        items.append(_plan_view(plans.get(s.school_id), s, year, deadlines[s.county_code], today))
    counted = [i for i in items if i["enrolled"] is not None]
    surveyed = [i for i in items if i["surveyed"] is not None]
    participating, enrolled = sum(i["participating"] for i in counted), sum(i["enrolled"] for i in counted)
    aware, asked = sum(i["aware"] for i in surveyed), sum(i["surveyed"] for i in surveyed)
    status_counts = {k: sum(1 for i in items if i["status"] == k) for k in rules.PLAN_STATUS_NAMES}
    return {
        "school_year": year, "as_of": today.isoformat(), "schools": len(items), "items": items,
        "plans": status_counts, "flagged": sum(1 for i in items if i["flagged"]),
        "participating": participating, "enrolled": enrolled,
        "participation_rate": rules.percent(participating, enrolled),
        "aware": aware, "surveyed": asked, "awareness_rate": rules.percent(aware, asked),
    }
