"""Registry use cases: load → apply rules → save → emit. No nameko here; the service wires it."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Callable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from services.common.clock import iso_utc
from services.common.divisions import is_within, scope_prefix, validate_code
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import today_shanghai

from . import domain
from .models import Institution, StatusChange, audit_trail

Dispatch = Callable[[str, dict], None]
SOURCE = "registry"


def _who(actor: Actor) -> str:
    return f"{actor.department_label}/{actor.display_name}"


def institution_view(row: Institution) -> dict:
    category = domain.Category(row.category)
    status = domain.Status(row.status)
    verification = domain.Verification(row.verification)
    return {
        "id": row.id,
        "name": row.name,
        "uscc": row.uscc,
        "licence_no": row.licence_no,
        "licence_issued_on": row.licence_issued_on.isoformat() if row.licence_issued_on else None,
        "category": category.value,
        "category_name": domain.CATEGORY_NAMES[category],
        "legal_form": row.legal_form,
        "legal_form_name": domain.LEGAL_FORM_NAMES[domain.LegalForm(row.legal_form)],
        "township_code": row.division_code,
        "address": row.address,
        "status": status.value,
        "status_name": domain.STATUS_NAMES[status],
        "verification": verification.value,
        "verification_name": domain.VERIFICATION_NAMES[verification],
        "verification_reason": row.verification_reason,
        "verified_by": row.verified_by,
        "verified_at": iso_utc(row.verified_at),
        "created_at": iso_utc(row.created_at),
        "created_by": row.created_by,
        "subjects": list(row.subjects or []),
        "stages": list(row.stages or []),
        "stage_names": [domain.STAGE_NAMES[domain.Stage(s)] for s in row.stages or []],
        "registered_on": row.registered_on.isoformat(),
        "origin": row.origin,
        "platform": domain.platform_view(row.platform_basic_info, row.platform_staff, row.platform_fund_supervision),
        "version": row.version,
        "updated_at": iso_utc(row.updated_at),
        "updated_by": row.updated_by,
    }


def history_entry_view(entry: StatusChange) -> dict:
    status = domain.Status(entry.status)
    return {
        "seq": entry.id,
        "status": status.value,
        "status_name": domain.STATUS_NAMES[status],
        "effective_on": entry.effective_on.isoformat(),
        "reason": entry.reason,
        "changed_by": entry.changed_by,
        "recorded_at": iso_utc(entry.recorded_at),
    }


def _history(session: Session, institution_id: int) -> list[StatusChange]:
    return list(session.scalars(
        select(StatusChange).where(StatusChange.institution_id == institution_id).order_by(StatusChange.id)
    ))


def registered_event_data(row: Institution, history: list[StatusChange]) -> dict:
    """`institution_registered` data: the view plus the dated history, so a consumer can answer
    "status on day D" for a record that entered the registry with a past (a ledger row)."""
    return institution_view(row) | {
        "history": [{"status": h.status, "effective_on": h.effective_on.isoformat(), "seq": h.id} for h in history]
    }


def new_institution(draft: domain.InstitutionDraft, actor: Actor, now: datetime, registered_on: date,
                    origin: str, status: domain.Status = domain.Status.operating,
                    platform_basic_info: bool = False) -> Institution:
    return Institution(**institution_values(draft, actor, now, registered_on, origin, status, platform_basic_info))


def institution_values(draft: domain.InstitutionDraft, actor: Actor, now: datetime, registered_on: date,
                       origin: str, status: domain.Status = domain.Status.operating,
                       platform_basic_info: bool = False) -> dict:
    """Every column of a new record (bulk inserts take these dicts as they are)."""
    return dict(
        name=draft.name,
        uscc=draft.uscc,
        licence_no=draft.licence_no,
        licence_issued_on=draft.licence_issued_on,
        category=draft.category.value,
        legal_form=draft.legal_form.value,
        division_code=draft.division_code,
        address=draft.address,
        status=status.value,
        verification=domain.Verification.pending.value,
        created_at=now,
        created_by=_who(actor),
        subjects=list(draft.subjects),
        stages=[s.value for s in draft.stages],
        registered_on=registered_on,
        origin=origin,
        platform_basic_info=platform_basic_info,
        platform_staff=False,
        platform_fund_supervision=False,
        version=1,
        verification_reason=None,
        verified_by=None,
        verified_at=None,
        updated_at=None,
        updated_by=None,
    )


def register_institution(session: Session, dispatch: Dispatch, actor: Actor, data: dict) -> dict:
    now = datetime.now(timezone.utc)
    today = today_shanghai(now)
    draft = domain.parse_registration(data, today)
    authorize(actor, "registry.register_institution", draft.division_code)
    if session.scalar(select(Institution.id).where(Institution.uscc == draft.uscc)) is not None:
        raise Conflict(f"统一社会信用代码 {draft.uscc} 已登记", field="uscc")
    registered_on = draft.registered_on(today)
    row = new_institution(draft, actor, now, registered_on, origin="api")
    session.add(row)
    session.flush()
    entry = StatusChange(
        institution_id=row.id,
        status=row.status,
        effective_on=registered_on,
        reason="登记",
        changed_by=_who(actor),
        recorded_at=now,
    )
    session.add(entry)
    audit_trail.append(session, actor, "registry.register_institution", "institution", row.id, None,
                       institution_view(row), row.division_code, now)
    data = registered_event_data(row, [entry])
    dispatch(
        "institution_registered",
        make_event(SOURCE, "institution_registered", data, row.division_code, actor.to_dict(), now),
    )
    session.commit()  # the institution and its outbox event together
    return institution_view(row)


def _load(session: Session, institution_id: object, lock: bool = False) -> Institution:
    if not isinstance(institution_id, int) or isinstance(institution_id, bool):
        raise ValidationFailed("机构编号应为整数", field="institution_id")
    row = session.get(Institution, institution_id, with_for_update=True if lock else None)
    if row is None:
        raise NotFound(f"机构 {institution_id} 不存在", field="institution_id")
    return row


def institution_detail(session: Session, row: Institution) -> dict:
    return institution_view(row) | {"history": [history_entry_view(h) for h in _history(session, row.id)]}


def get_institution(session: Session, actor: Actor, institution_id: int) -> dict:
    """The record with its full dated status history."""
    row = _load(session, institution_id)
    authorize(actor, "registry.read", row.division_code, institution_id=row.id)
    return institution_detail(session, row)


LIST_FILTERS = ("township_code", "category", "status", "q")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_institutions(session: Session, actor: Actor, limit: int = 100, offset: int = 0,
                      filters: dict | None = None) -> dict:
    """Records within the actor's division, filtered by township, category, status or name."""
    authorize(actor, "registry.read")
    if filters is not None and not isinstance(filters, dict):
        raise ValidationFailed("筛选条件应为 JSON 对象", field="filters")
    query = select(Institution).where(Institution.division_code.startswith(scope_prefix(actor.division_code)))
    applied = {}
    for key, value in (filters or {}).items():
        if value in (None, ""):
            continue
        if key == "township_code":
            code = validate_code(value, field="township_code")
            if not is_within(code, actor.division_code):
                raise Forbidden("只能查询本辖区的机构", field="township_code")
            query = query.where(Institution.division_code.startswith(scope_prefix(code)))
        elif key == "category":
            value = domain.parse_category(value).value
            query = query.where(Institution.category == value)
        elif key == "status":
            value = domain.parse_status(value).value
            query = query.where(Institution.status == value)
        elif key == "q":
            if not isinstance(value, str) or len(value) > 50:
                raise ValidationFailed("查询词应为不超过50个字符的文本", field="q")
            query = query.where(or_(Institution.name.like(_like(value), escape="\\"),
                                    Institution.uscc == value.strip().upper()))
        else:
            raise ValidationFailed(f"不支持的筛选条件“{key}”，可用：{'、'.join(LIST_FILTERS)}", field=str(key)[:50])
        applied[key] = value
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Institution.id).limit(limit).offset(offset)).all()
    return {"items": [institution_view(r) for r in rows], "total": total, "limit": limit, "offset": offset,
            "filters": applied}


# -- status --------------------------------------------------------------------------------------


def _latest_entry(session: Session, institution_id: int) -> StatusChange | None:
    return session.scalar(
        select(StatusChange).where(StatusChange.institution_id == institution_id)
        .order_by(StatusChange.id.desc()).limit(1)
    )


def status_change(session: Session, actor: Actor, row: Institution, status: str | domain.Status, reason: str,
                  effective_on: date | None = None) -> dict:
    """Move `row` to `status` (the transition table decides) and record who, when and why.

    Adds the history entry and updates the row without committing; returns the
    `institution_status_changed` event for the caller to dispatch after its commit. Used by the
    status-change command, the ledger import and the cases (营转非, 注销) as the system actor.
    """
    new = domain.parse_status(status.value if isinstance(status, domain.Status) else status)
    now = datetime.now(timezone.utc)
    today = today_shanghai(now)
    effective_on = effective_on or today
    previous = domain.Status(row.status)
    domain.check_transition(previous, new)
    latest = _latest_entry(session, row.id)
    domain.check_effective_on(effective_on, latest.effective_on if latest else row.registered_on, today)
    who = _who(actor)
    entry = StatusChange(institution_id=row.id, status=new.value, effective_on=effective_on, reason=reason,
                         changed_by=who, recorded_at=now)
    session.add(entry)
    row.status = new.value
    row.version = (row.version or 1) + 1
    row.updated_at, row.updated_by = now, who
    session.flush()
    data = {
        "id": row.id,
        "name": row.name,
        "uscc": row.uscc,
        "township_code": row.division_code,
        "category": row.category,
        "status": new.value,
        "status_name": domain.STATUS_NAMES[new],
        "previous_status": previous.value,
        "effective_on": effective_on.isoformat(),
        "reason": reason,
        "changed_by": who,
        "seq": entry.id,
        "version": row.version,
    }
    return make_event(SOURCE, "institution_status_changed", data, row.division_code, actor.to_dict(), now)


def institution_update(session: Session, actor: Actor, row: Institution, changes: dict,
                       now: datetime | None = None) -> dict:
    """Apply field `changes` to `row` (bumping its version) without committing; returns the
    `institution_updated` event for the caller to dispatch after its commit."""
    now = now or datetime.now(timezone.utc)
    for key, value in changes.items():
        setattr(row, key, value)
    row.version += 1
    row.updated_at, row.updated_by = now, _who(actor)
    session.flush()
    data = institution_view(row) | {"changed": sorted(changes)}
    return make_event(SOURCE, "institution_updated", data, row.division_code, actor.to_dict(), now)


def change_institution_status(session: Session, dispatch: Dispatch, actor: Actor, institution_id: int,
                              change: dict) -> dict:
    """{status, effective_on (default today), reason}. A repeat of the last change is harmless."""
    row = _load(session, institution_id, lock=True)
    authorize(actor, "registry.change_status", row.division_code)
    draft = domain.parse_status_change(change, today_shanghai())
    latest = _latest_entry(session, row.id)
    if (latest is not None and row.status == draft.status.value and latest.status == draft.status.value
            and latest.effective_on == draft.effective_on and latest.reason == draft.reason):
        return institution_detail(session, row)  # a retried call: already recorded
    before = institution_view(row)
    event = status_change(session, actor, row, draft.status, draft.reason, draft.effective_on)
    audit_trail.append(session, actor, "registry.change_institution_status", "institution", row.id, before,
                       institution_view(row) | {"reason": draft.reason, "effective_on": draft.effective_on.isoformat()},
                       row.division_code)
    dispatch(event["type"], event)
    session.commit()
    return institution_detail(session, row)


def get_institution_history(session: Session, actor: Actor, institution_id: int) -> dict:
    row = _load(session, institution_id)
    authorize(actor, "registry.read", row.division_code)
    return {"institution_id": row.id, "registered_on": row.registered_on.isoformat(),
            "items": [history_entry_view(h) for h in _history(session, row.id)]}


def get_institution_status_on(session: Session, actor: Actor, institution_id: int, day: object) -> dict:
    """The status in force on `day` (YYYY-MM-DD); `status` is None before the record began."""
    row = _load(session, institution_id)
    authorize(actor, "registry.read", row.division_code)
    on = domain.parse_iso_date(day, "on", "查询日期")
    history = _history(session, row.id)
    entries = domain.history_entries([(h.status, h.effective_on) for h in history])
    current = domain.status_on(entries, on)
    if current is None:
        return {"institution_id": row.id, "on": on.isoformat(), "status": None, "status_name": "尚未登记",
                "since": None, "reason": None}
    entry = history[max(i for i, e in enumerate(entries) if e is current)]
    return {"institution_id": row.id, "on": on.isoformat(), "status": current.status.value,
            "status_name": domain.STATUS_NAMES[current.status], "since": current.effective_on.isoformat(),
            "reason": entry.reason, "changed_by": entry.changed_by}


# -- national platform registration -------------------------------------------------------------


def update_platform_registration(session: Session, dispatch: Dispatch, actor: Actor, institution_id: int,
                                 flags: dict) -> dict:
    """Set the 全国平台 completeness flags (基本情况, 培训人员, 资金监管); unchanged flags emit nothing."""
    row = _load(session, institution_id, lock=True)
    authorize(actor, "registry.update_records", row.division_code)
    wanted = domain.parse_platform_flags(flags)
    changed = {k: v for k, v in wanted.items() if getattr(row, f"platform_{k}") != v}
    if not changed:
        return institution_view(row)
    now = datetime.now(timezone.utc)
    before = institution_view(row)
    for key, value in changed.items():
        setattr(row, f"platform_{key}", value)
    row.version += 1
    row.updated_at, row.updated_by = now, _who(actor)
    audit_trail.append(session, actor, "registry.update_platform_registration", "institution", row.id, before,
                       institution_view(row), row.division_code, now)
    view = institution_view(row)
    data = {"id": row.id, "township_code": row.division_code, "platform": view["platform"],
            "changed": sorted(changed), "version": row.version}
    dispatch("institution_platform_registration_updated",
             make_event(SOURCE, "institution_platform_registration_updated", data, row.division_code,
                        actor.to_dict(), now))
    session.commit()
    return view


def record_licence_verification(
    session: Session, dispatch: Dispatch, actor: Actor, institution_id: int, decision: dict
) -> dict:
    """Called by the verification workflow once the education bureau has decided."""
    row = _load(session, institution_id)
    authorize(actor, "registry.record_licence_verification", row.division_code)
    outcome, decided_at = domain.parse_verification_decision(decision)
    if not domain.check_verification_outcome(domain.Verification(row.verification), outcome):
        return institution_view(row)  # a retried activity: already recorded
    before = institution_view(row)
    row.verification = outcome.value
    row.verification_reason = decision.get("reason") or None
    row.verified_by = str(decision.get("decided_by", ""))[:100]
    row.verified_at = decided_at
    audit_trail.append(session, actor, "registry.record_licence_verification", "institution", row.id, before,
                       institution_view(row) | {"decided_by": row.verified_by}, row.division_code)
    view = institution_view(row)
    dispatch(
        "licence_verification_recorded",
        make_event(SOURCE, "licence_verification_recorded", view, row.division_code, actor.to_dict()),
    )
    session.commit()
    return view
