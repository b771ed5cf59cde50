"""School supervision (督导): 课后服务 一校一案 (a plan filed per school and school year, participation
and awareness figures, the county report) and its settings (the filing deadline).

Rules on plain data live in `supervision_rules.py`; tables in `supervision_models.py`.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import utc_now
from services.common.divisions import county_of, is_within, validate_code
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import today_shanghai

from . import supervision_common as common
from . import supervision_rules as rules
from .models import audit_trail
from .supervision_models import AfterSchoolPlan, SupervisedSchool, SupervisionSettings


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
    settings = common.body(settings)
    county = _county(actor, county_code)
    authorize(actor, "supervision.manage_settings", county)
    deadline = rules.parse_month_day(settings.get("plan_deadline"))
    row = session.get(SupervisionSettings, county)
    before = {"plan_deadline": row.plan_deadline} if row is not None else None
    row = row or SupervisionSettings(county_code=county)
    row.plan_deadline, row.updated_by, row.updated_at = deadline, common.who(actor), utc_now()
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


def file_after_school_plan(session: Session, dispatch: common.Dispatch, actor: Actor, data: object) -> dict:
    """A school's 一校一案 filed on a date (once per school year), with its figures if known."""
    data = common.body(data)
    school = common.school(session, data.get("school_id"))
    authorize(actor, "supervision.record", school.division_code)
    filed_on = common.not_future(rules.parse_date(data.get("filed_on"), "filed_on"), "filed_on")
    year = _plan_year(data, filed_on)
    figures = rules.parse_figures(data)
    if session.scalar(select(AfterSchoolPlan.id).where(AfterSchoolPlan.school_id == school.school_id,
                                                       AfterSchoolPlan.school_year == year)) is not None:
        raise Conflict(f"{school.name} {year}学年的一校一案已报备", field="school_id")
    plan = AfterSchoolPlan(school_id=school.school_id, division_code=school.division_code, school_year=year,
                           filed_on=filed_on, recorded_by=common.who(actor), recorded_at=utc_now(), **figures)
    session.add(plan)
    session.flush()
    audit_trail.append(session, actor, "supervision.file_after_school_plan", "after_school_plan", plan.id, None,
                       _plan_state(plan), school.division_code, plan.recorded_at)
    deadline = rules.plan_deadline(year, _deadline_setting(session, school.county_code))
    view = _plan_view(plan, school, year, deadline, today_shanghai())
    dispatch("after_school_plan_filed", make_event(common.SOURCE, "after_school_plan_filed", view, school.division_code,
                                                   actor.to_dict()))
    session.commit()
    return view


def record_after_school_figures(session: Session, dispatch: common.Dispatch, actor: Actor, data: object) -> dict:
    """Participation (参加/在校) and awareness (知晓/调查) of a filed plan; the latest figures hold."""
    data = common.body(data)
    school = common.school(session, data.get("school_id"))
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
    plan.recorded_by, plan.recorded_at = common.who(actor), utc_now()
    audit_trail.append(session, actor, "supervision.record_after_school_figures", "after_school_plan", plan.id,
                       before, _plan_state(plan), school.division_code, plan.recorded_at)
    deadline = rules.plan_deadline(year, _deadline_setting(session, school.county_code))
    view = _plan_view(plan, school, year, deadline, today_shanghai())
    dispatch("after_school_figures_recorded", make_event(common.SOURCE, "after_school_figures_recorded", view,
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
    schools = common.schools_in_scope(session, actor)
    plans = {p.school_id: p for p in session.scalars(select(AfterSchoolPlan).where(
        AfterSchoolPlan.school_year == year, common.scope_filter(AfterSchoolPlan.division_code, actor)))}
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
