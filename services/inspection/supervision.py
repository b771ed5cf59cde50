"""School supervision (督导) use cases: the school roster from the registry, 督学责任区 and their
督学, monthly visits and coverage. 作业公示 is in `supervision_homework.py`, 课后服务 一校一案 in
`supervision_plans.py`, what they share in `supervision_common.py`.

Rules on plain data live in `supervision_rules.py`; tables in `supervision_models.py`.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import county_of, validate_code
from services.common.errors import ValidationFailed
from services.common.events import make_event
from services.common.idempotency import apply_batch
from services.common.identity import Actor
from services.common.policy import authorize

from . import supervision_common as common
from . import supervision_rules as rules
from .models import ProcessedEvent, audit_trail
from .supervision_models import SchoolVisit, SupervisedSchool, SupervisionZone


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


def list_schools(session: Session, actor: Actor, zone: str | None = None) -> dict:
    authorize(actor, "supervision.read")
    return {"items": [school_view(s) for s in common.schools_in_scope(session, actor, zone=zone)]}


# -- 督学责任区 and their 督学 ---------------------------------------------------------------------------


def _zone_view(zone: SupervisionZone | None, county: str, name: str, schools: int) -> dict:
    return {
        "county_code": county, "name": name, "schools": schools,
        "inspector_name": zone.inspector_name if zone else None,
        "inspector_user_id": zone.inspector_user_id if zone else None,
        "updated_at": iso_utc(zone.updated_at) if zone else None,
    }


def set_zone(session: Session, actor: Actor, data: object) -> dict:
    data = common.body(data)
    county = data.get("county_code") or county_of(actor.division_code)
    if county is None:
        raise ValidationFailed("请指定县级行政区划代码", field="county_code")
    validate_code(county, field="county_code")
    if county_of(county) != county:
        raise ValidationFailed("督学责任区属于县（6位代码）", field="county_code")
    authorize(actor, "supervision.record", county)
    name = common.text(data.get("name"), "name", 50)
    inspector = common.text(data.get("inspector_name"), "inspector_name", 50)
    user_id = data.get("inspector_user_id")
    if user_id is not None:
        common.id(user_id, "inspector_user_id")
    zone = session.scalar(select(SupervisionZone).where(SupervisionZone.county_code == county,
                                                        SupervisionZone.name == name))
    before = None if zone is None else {"name": name, "inspector_name": zone.inspector_name,
                                        "inspector_user_id": zone.inspector_user_id}
    if zone is None:
        zone = SupervisionZone(county_code=county, name=name)
        session.add(zone)
    zone.inspector_name, zone.inspector_user_id = inspector, user_id
    zone.updated_by, zone.updated_at = common.who(actor), utc_now()
    audit_trail.append(session, actor, "supervision.set_zone", "supervision_zone", f"{county}/{name}", before,
                       {"name": name, "inspector_name": inspector, "inspector_user_id": user_id}, county)
    session.commit()
    count = len([s for s in common.schools_in_scope(session, actor, county, name)])
    return _zone_view(zone, county, name, count)


def list_zones(session: Session, actor: Actor) -> dict:
    """Zones named by schools or given a 督学, with the number of schools each holds."""
    authorize(actor, "supervision.read")
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for s in common.schools_in_scope(session, actor):
        counts[(s.county_code, s.zone)] += 1
    zones = {(z.county_code, z.name): z for z in session.scalars(
        select(SupervisionZone).where(common.scope_filter(SupervisionZone.county_code, actor)))}
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


def record_visit(session: Session, dispatch: common.Dispatch, actor: Actor, data: object) -> dict:
    data = common.body(data)
    school = common.school(session, data.get("school_id"))
    authorize(actor, "supervision.record", school.division_code)
    visited_on = common.not_future(rules.parse_date(data.get("visited_on"), "visited_on"), "visited_on")
    method = rules.parse_visit_method(data.get("method"))
    inspector = (common.text(data["inspector"], "inspector", 50) if data.get("inspector") is not None
                 else _zone_inspector(session, school) or actor.display_name)
    findings = common.text(data.get("findings"), "findings", 4000, required=False)
    visit = SchoolVisit(school_id=school.school_id, division_code=school.division_code, zone=school.zone,
                        visited_on=visited_on, inspector=inspector, method=method, findings=findings,
                        recorded_by=common.who(actor), recorded_at=utc_now())
    session.add(visit)
    session.flush()
    audit_trail.append(session, actor, "supervision.record_visit", "school_visit", visit.id, None,
                       visit_view(visit, school.name), school.division_code, visit.recorded_at)
    view = visit_view(visit, school.name)
    dispatch("school_visit_recorded", make_event(common.SOURCE, "school_visit_recorded", view, school.division_code,
                                                 actor.to_dict()))
    session.commit()
    return view


def list_visits(session: Session, actor: Actor, month: str | None = None, school_id: int | None = None) -> dict:
    authorize(actor, "supervision.read")
    query = select(SchoolVisit).where(common.scope_filter(SchoolVisit.division_code, actor))
    if month:
        start, end = rules.parse_month(month)
        query = query.where(SchoolVisit.visited_on >= start, SchoolVisit.visited_on < end)
    if school_id is not None:
        query = query.where(SchoolVisit.school_id == common.id(school_id, "school_id"))
    rows = session.scalars(query.order_by(SchoolVisit.visited_on.desc(), SchoolVisit.id.desc()).limit(500)).all()
    names = {s.school_id: s.name for s in common.schools_in_scope(session, actor)}
    return {"items": [visit_view(v, names.get(v.school_id)) for v in rows]}


def coverage(session: Session, actor: Actor, month: str, division_code: str | None = None) -> dict:
    """Per zone and overall: schools visited in the month / schools in scope (100% only if all were)."""
    authorize(actor, "supervision.read")
    start, end = rules.parse_month(month)
    schools = common.schools_in_scope(session, actor, division_code)
    visited = set(session.scalars(
        select(SchoolVisit.school_id).where(common.scope_filter(SchoolVisit.division_code, actor, division_code),
                                            SchoolVisit.visited_on >= start, SchoolVisit.visited_on < end)
    ).all())
    names = {s.school_id: s.name for s in schools}
    by_zone: dict[tuple[str, str], set[int]] = defaultdict(set)
    for s in schools:
        by_zone[(s.county_code, s.zone)].add(s.school_id)
    inspectors = {(z.county_code, z.name): z.inspector_name for z in session.scalars(
        select(SupervisionZone).where(common.scope_filter(SupervisionZone.county_code, actor)))}

    def figure(ids: set[int]) -> dict:
        out = rules.coverage(ids, visited)
        out["unvisited"] = [{"school_id": i, "name": names[i]} for i in out["unvisited"]]
        return out

    zones = [{"county_code": k[0], "zone": k[1], "inspector_name": inspectors.get(k), **figure(ids)}
             for k, ids in sorted(by_zone.items())]
    return {"month": month, "division_code": division_code or actor.division_code,
            "overall": figure({s.school_id for s in schools}), "zones": zones}
