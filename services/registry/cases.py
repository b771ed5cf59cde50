"""Use cases of 营转非 and 注销 on the registry's side: open a case, record its progress as the
workflow reports it, answer inboxes, apply the county deadline, keep county settings."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import county_of, scope_prefix, validate_code
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import deadline_provisional
from services.common.processes import CONVERSION, DEREGISTRATION, PROCESS_NAMES, steps_for

from . import case_rules
from .case_models import Case, CaseEntry, CountySettings
from .handlers import Dispatch, _load, _who, institution_update, status_change
from .models import Institution, audit_trail

SOURCE = "registry"


# -- county settings -------------------------------------------------------------------------


def settings_for(session: Session, county_code: str) -> CountySettings | None:
    return session.get(CountySettings, county_code)


def settings_view(county_code: str, row: CountySettings | None) -> dict:
    baseline = row.reduction_baseline_date if row and row.reduction_baseline_date else None
    return {
        "county_code": county_code,
        "conversion_deadline": (row.conversion_deadline if row else case_rules.NATIONAL_CONVERSION_DEADLINE).isoformat(),
        "conversion_variant": row.conversion_variant if row else case_rules.DEFAULT_VARIANT,
        "school_vacations": list(row.school_vacations or []) if row else [],
        "reduction_baseline_date": (baseline or case_rules.REDUCTION_BASELINE_DATE).isoformat(),
        "updated_at": iso_utc(row.updated_at) if row else None,
        "updated_by": row.updated_by if row else None,
    }


def get_county_settings(session: Session, actor: Actor, county_code: str | None) -> dict:
    county = _county(county_code or actor.division_code)
    authorize(actor, "registry.read", county)
    return settings_view(county, settings_for(session, county))


def set_county_settings(session: Session, dispatch: Dispatch, actor: Actor, county_code: str | None,
                        data: object) -> dict:
    county = _county(county_code or actor.division_code)
    authorize(actor, "registry.manage_county_settings", county)
    row = settings_for(session, county)
    before = settings_view(county, row) if row is not None else None
    parsed = case_rules.parse_settings(data, settings_view(county, row))  # fields not given keep their value
    if row is None:
        row = CountySettings(county_code=county)
        session.add(row)
    row.conversion_deadline, row.conversion_variant = parsed["conversion_deadline"], parsed["conversion_variant"]
    row.school_vacations, row.reduction_baseline_date = parsed["school_vacations"], parsed["reduction_baseline_date"]
    row.updated_at, row.updated_by = utc_now(), _who(actor)
    audit_trail.append(session, actor, "registry.set_county_settings", "county_settings", county, before,
                       settings_view(county, row), county)
    view = settings_view(county, row)
    dispatch("county_settings_changed", make_event(SOURCE, "county_settings_changed", view, county, actor.to_dict()))
    session.commit()
    return view


def _county(code: str) -> str:
    county = county_of(validate_code(code, field="county_code"))
    if county is None:
        raise ValidationFailed("请指定县级行政区划（6位）或其下乡镇", field="county_code")
    return county


# -- opening cases ---------------------------------------------------------------------------


def apply_for_conversion(session: Session, dispatch: Dispatch, actor: Actor, institution_id: int) -> dict:
    row = _load(session, institution_id)
    authorize(actor, "registry.apply_conversion", row.division_code)
    case_rules.check_may_apply_for_conversion(row.category, row.legal_form, row.status)
    county = county_of(row.division_code)
    stored = settings_for(session, county)
    settings = settings_view(county, stored)
    if stored is None:  # the county's first case: announce its (default) settings so the deadline job starts
        dispatch("county_settings_changed", make_event(SOURCE, "county_settings_changed", settings, county))
    case = _open_case(session, actor, row, CONVERSION, settings["conversion_variant"])
    return _announce_opening(session, dispatch, actor, row, case, {"county_deadline": settings["conversion_deadline"]})


def apply_for_deregistration(session: Session, dispatch: Dispatch, actor: Actor, institution_id: int,
                             data: object) -> dict:
    row = _load(session, institution_id)
    authorize(actor, "registry.apply_deregistration", row.division_code)
    reason = (data or {}).get("reason") if isinstance(data, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("请填写注销原因", field="reason")
    case_rules.check_may_apply_for_deregistration(row.status)
    case = _open_case(session, actor, row, DEREGISTRATION, case_rules.DEFAULT_VARIANT)
    status_event = status_change(session, actor, row, "deregistering", reason.strip())
    return _announce_opening(session, dispatch, actor, row, case, {"reason": reason.strip()}, then=[status_event])


def _open_case(session: Session, actor: Actor, row: Institution, process: str, variant: str) -> Case:
    if _latest_case(session, process, row.id, open_only=True) is not None:
        raise Conflict(f"该机构的{PROCESS_NAMES[process]}正在办理中", field="institution_id")
    first = steps_for(process, variant)[0]
    case = Case(
        workflow_id=f"pending-{process}-{row.id}", process=process, variant=variant, institution_id=row.id,
        division_code=row.division_code, status="in_progress", current_step=first.key,
        current_department=first.department, reminded=False, escalated=False, last_seq=0,
        opened_at=utc_now(), opened_by=_who(actor),
    )
    session.add(case)
    session.flush()
    case.workflow_id = f"{process}-{row.id}-{case.id}"  # unique per case: a case reopened later is a new workflow
    return case


def _latest_case(session: Session, process: str, institution_id: int, open_only: bool = False) -> Case | None:
    query = select(Case).where(Case.process == process, Case.institution_id == institution_id)
    if open_only:
        query = query.where(Case.status.not_in(case_rules.CLOSED))
    return session.scalar(query.order_by(Case.id.desc()).limit(1))


def _case_state(case: Case, institution: Institution) -> dict:
    """What the audit trail keeps of a case: its state and the institution's."""
    return {"workflow_id": case.workflow_id, "process": case.process, "variant": case.variant,
            "status": case.status, "current_step": case.current_step, "current_department": case.current_department,
            "step_deadline": iso_utc(case.step_deadline), "last_seq": case.last_seq,
            "institution_id": institution.id, "institution_status": institution.status,
            "institution_category": institution.category, "institution_legal_form": institution.legal_form}


def _announce_opening(session, dispatch, actor, row, case, extra: dict, then: list[dict] = ()) -> dict:
    """Audit, the `<process>_applied` event and `then` (events already made) — all in one commit."""
    audit_trail.append(session, actor, f"registry.apply_for_{case.process}", "case", case.workflow_id, None,
                       _case_state(case, row) | extra, row.division_code)
    data = {
        "workflow_id": case.workflow_id, "process": case.process, "variant": case.variant,
        "institution_id": row.id, "institution_name": row.name, "township_code": row.division_code,
        "steps": [s.as_dict() for s in steps_for(case.process, case.variant)],
        "opened_by": case.opened_by, "opened_at": iso_utc(case.opened_at), **extra,
    }
    event = f"{case.process}_applied"
    dispatch(event, make_event(SOURCE, event, data, row.division_code, actor.to_dict()))
    for follow in then:
        dispatch(follow["type"], follow)
    session.commit()
    return case_view(session, case)


# -- progress reported by the workflow ---------------------------------------------------------


def record_case_progress(session: Session, dispatch: Dispatch, actor: Actor, record: dict) -> dict:
    """Idempotent by (workflow id, seq): an activity retried after a lost reply changes nothing."""
    try:
        workflow_id, seq, entry = str(record["workflow_id"]), int(record["seq"]), record["entry"]
        at = datetime.fromisoformat(entry["at"])
    except (KeyError, TypeError, ValueError):
        raise ValidationFailed("流程进展记录不完整", field="record") from None
    case = session.scalar(select(Case).where(Case.workflow_id == workflow_id))
    if case is None:
        raise NotFound(f"没有流程 {workflow_id} 的办件", field="workflow_id")
    authorize(actor, "registry.record_case_progress", case.division_code)
    if seq <= case.last_seq:
        return case_view(session, case)
    institution = session.get(Institution, case.institution_id)
    before = _case_state(case, institution)
    session.add(CaseEntry(
        case_id=case.id, seq=seq, step=entry["step"], step_title=entry["step_title"], action=entry["action"],
        department=entry["department"], actor=entry["actor"], at=at, reason=entry.get("reason"),
        return_to=entry.get("return_to"), note=entry.get("note"),
    ))
    step_changed = record.get("current_step") != case.current_step
    case.last_seq = seq
    case.status = record["status"]
    case.current_step = record.get("current_step")
    case.current_department = record.get("current_department")
    case.step_deadline = datetime.fromisoformat(record["deadline"]) if record.get("deadline") else None
    if entry["action"] == "started" or step_changed:  # a step's alarms are its own, like its deadline
        case.reminded = case.escalated = False
    case.reminded = case.reminded or entry["action"] == "reminded"
    case.escalated = case.escalated or entry["action"] == "escalated"
    follow_up = _apply_outcome(session, actor, case, institution, entry["action"])
    if case.status in case_rules.CLOSED and case.closed_at is None:
        case.closed_at = at
    # the platform records it; `entry` names the official who decided
    audit_trail.append(session, actor, "registry.record_case_progress", "case", case.workflow_id, before,
                       _case_state(case, institution) | {"entry": entry}, case.division_code)
    data = {
        "workflow_id": case.workflow_id, "process": case.process, "institution_id": case.institution_id,
        "institution_name": institution.name, "township_code": case.division_code,
        **{k: entry.get(k) for k in ("seq", "step", "step_title", "action", "department", "actor", "at",
                                     "reason", "return_to", "note")},
        "status": case.status, "current_step": case.current_step, "current_department": case.current_department,
        "deadline": record.get("deadline"), "resumes_enrolment": bool(record.get("resumes_enrolment")),
    }
    name = case_rules.event_name(case.process, entry["action"])
    dispatch(name, make_event(SOURCE, name, data, case.division_code, actor.to_dict()))
    for event in follow_up:
        dispatch(event["type"], event)
    session.commit()  # the progress, its outcome and their events together
    return case_view(session, case)


def _apply_outcome(session, actor, case: Case, institution: Institution, action: str) -> list[dict]:
    """What a finished case does to the institution itself; returns events to publish after commit."""
    if case.process == CONVERSION and action == "completed":
        return [institution_update(session, actor, institution, {"legal_form": "non_profit"})]
    if case.process == DEREGISTRATION and action == "completed":
        return [status_change(session, actor, institution, "deregistered", "注销办结")]
    if case.process == DEREGISTRATION and action == "rejected":
        return [status_change(session, actor, institution, "operating", "注销申请未通过")]
    return []


# -- the county deadline -----------------------------------------------------------------------


def lapse_academic_scope(session: Session, dispatch: Dispatch, actor: Actor, county_code: str,
                         deadline: str) -> dict:
    """Institutions not converted by the deadline lose their 学科类 scope (domain.md)."""
    county = _county(county_code)
    authorize(actor, "registry.lapse_academic_scope", county)
    rows = session.scalars(
        select(Institution).where(
            Institution.division_code.startswith(scope_prefix(county)),
            Institution.category == "academic",
            Institution.legal_form == "for_profit",
            Institution.status != "deregistered",
        )
    ).all()
    updates = [institution_update(session, actor, row, {"category": "non_academic"}) for row in rows]
    if rows:
        audit_trail.append(session, actor, "registry.lapse_academic_scope", "county", county,
                           {"category": "academic", "institution_ids": [r.id for r in rows]},
                           {"category": "non_academic", "institution_ids": [r.id for r in rows], "deadline": deadline},
                           county)
    for row, update in zip(rows, updates):
        dispatch(update["type"], update)
        data = {"institution_id": row.id, "institution_name": row.name, "township_code": row.division_code,
                "county_code": county, "deadline": deadline, "category": "non_academic"}
        dispatch("academic_scope_removed",
                 make_event(SOURCE, "academic_scope_removed", data, row.division_code, actor.to_dict()))
    session.commit()
    return {"county_code": county, "deadline": deadline, "removed": [r.id for r in rows]}


# -- reading -----------------------------------------------------------------------------------


def case_view(session: Session, case: Case) -> dict:
    entries = session.scalars(select(CaseEntry).where(CaseEntry.case_id == case.id).order_by(CaseEntry.seq)).all()
    return {
        "workflow_id": case.workflow_id, "case_id": case.id, "process": case.process,
        "process_name": PROCESS_NAMES[case.process],
        "variant": case.variant, "institution_id": case.institution_id, "township_code": case.division_code,
        "status": case.status, "current_step": case.current_step,
        "current_step_title": case_rules.step_title(case.process, case.variant, case.current_step),
        "current_department": case.current_department, "deadline": iso_utc(case.step_deadline),
        "deadline_provisional": deadline_provisional(case.opened_at, case.step_deadline),
        "reminded": case.reminded, "escalated": case.escalated,
        "opened_at": iso_utc(case.opened_at), "opened_by": case.opened_by, "closed_at": iso_utc(case.closed_at),
        "history": [
            {"seq": e.seq, "step": e.step, "step_title": e.step_title, "action": e.action, "department": e.department,
             "actor": e.actor, "at": iso_utc(e.at), "reason": e.reason, "return_to": e.return_to, "note": e.note}
            for e in entries
        ],
    }


def get_case(session: Session, actor: Actor, process: str, institution_id: int) -> dict:
    if process not in PROCESS_NAMES:
        raise ValidationFailed(f"未知流程“{process}”，可选：{'、'.join(PROCESS_NAMES)}", field="process")
    row = _load(session, institution_id)
    authorize(actor, "registry.read", row.division_code)
    case = _latest_case(session, process, row.id)
    if case is None:
        raise NotFound(f"该机构没有{PROCESS_NAMES.get(process, process)}办件", field="institution_id")
    return case_view(session, case)


def list_inbox(session: Session, actor: Actor) -> dict:
    """The steps waiting on the actor's department, within the actor's division."""
    authorize(actor, "registry.read")
    rows = session.execute(
        select(Case, Institution.name)
        .join(Institution, Institution.id == Case.institution_id)
        .where(Case.current_department == actor.department_kind.value)
        .where(Case.status.in_(("in_progress", "awaiting_documents")))
        .where(Case.division_code.startswith(scope_prefix(actor.division_code)))
    ).all()
    items = [
        {"workflow_id": c.workflow_id, "process": c.process, "process_name": PROCESS_NAMES[c.process],
         "institution_id": c.institution_id, "institution_name": name, "township_code": c.division_code,
         "step": c.current_step, "step_title": case_rules.step_title(c.process, c.variant, c.current_step),
         "status": c.status, "deadline": iso_utc(c.step_deadline),
         "deadline_provisional": deadline_provisional(c.opened_at, c.step_deadline), "reminded": c.reminded,
         "escalated": c.escalated, "opened_at": iso_utc(c.opened_at)}
        for c, name in rows
    ]
    return {"items": case_rules.inbox_order(items, utc_now())}

