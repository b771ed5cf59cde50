"""Inspection use cases (the foundation part: the roster to sweep)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.bulk_insert import insert_rows
from services.common.clock import iso_utc
from services.common.divisions import county_of, scope_prefix, validate_code
from services.common.idempotency import apply_batch
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import SHANGHAI

from . import domain, schedule_rules
from .models import CountyCalendar, InspectionLead, InspectionTarget, ProcessedEvent


def _targets(session: Session, events: list[dict]) -> dict[int, InspectionTarget]:
    """The batch's institutions already on the roster, in one query."""
    ids = sorted({int(event["data"]["id"]) for event in events})
    return {t.institution_id: t for t in session.scalars(select(InspectionTarget)
                                                          .where(InspectionTarget.institution_id.in_(ids)))}


def _add_targets(session: Session, events: list[dict]) -> None:
    """New institutions join the roster with one bulk insert for the batch."""
    known = set(_targets(session, events))
    rows, now = [], datetime.now(timezone.utc)
    for event in events:
        data = event["data"]
        if int(data["id"]) in known:
            continue  # already on the roster: its status follows institution_status_changed
        known.add(int(data["id"]))
        category = str(data["category"])
        status = data.get("status")  # a ledger row may arrive already 已注销
        rows.append({"institution_id": int(data["id"]),
                     "division_code": validate_code(data["township_code"], field="data.township_code"),
                     "name": str(data["name"]), "category": category,
                     "risk_grade": domain.initial_risk_grade(category), "added_at": now,
                     "active": domain.on_roster(status), "registry_status": status,
                     "registry_version": int(data["version"]) if data.get("version") is not None else None})
    if rows:
        insert_rows(session, InspectionTarget, rows)


def apply_institution_registered(session: Session, events: list) -> int:
    """A batch in one transaction (services/common/batch_consumer.py); how many were new."""
    return apply_batch(session, ProcessedEvent, events, bulk=_add_targets)


def _follow_statuses(session: Session, events: list[dict]) -> None:
    """已注销 takes the institution off sweeps and draws; any other status (re-activated) puts it back.
    `version` orders the registry's changes, so a late older event changes nothing."""
    known = _targets(session, events)
    for event in events:
        _follow_status(event, known.get(int(event["data"]["id"])))


def _follow_status(event: dict, target: InspectionTarget | None) -> None:
    data = event["data"]
    if target is None:  # not on the roster yet: institution_registered will carry the status
        return
    version = data.get("version")
    if version is not None and target.registry_version is not None and int(version) <= target.registry_version:
        return
    target.registry_status = str(data["status"])
    target.active = domain.on_roster(target.registry_status)
    target.registry_version = int(version) if version is not None else target.registry_version


def apply_institution_status_changed(session: Session, events: list) -> int:
    return apply_batch(session, ProcessedEvent, events, bulk=_follow_statuses)


# -- the county's school vacations (registry's county settings) ----------------------------------


def _store_vacations(session: Session, event: dict) -> None:
    """Keep the newest settings per county: a default announcement (no updated_at) never overrides
    saved ones, and an older save arriving late changes nothing."""
    data = event["data"]
    county = validate_code(data["county_code"], field="data.county_code")
    vacations = domain.parse_vacations(data.get("school_vacations") or [])
    updated = datetime.fromisoformat(data["updated_at"]) if data.get("updated_at") else None
    row = session.get(CountyCalendar, county)
    if row is None:
        row = CountyCalendar(county_code=county)
        session.add(row)
    elif updated is None or (row.settings_updated_at is not None and updated < row.settings_updated_at):
        return
    row.school_vacations = [{"name": v["name"], "start": v["start"].isoformat(), "end": v["end"].isoformat()}
                            for v in vacations]
    row.settings_updated_at, row.received_at = updated, datetime.now(timezone.utc)


def apply_county_settings_changed(session: Session, events: list) -> int:
    return apply_batch(session, ProcessedEvent, events, _store_vacations)


def county_vacations(session: Session, township_code: str) -> list[tuple[date, date]]:
    """The county's vacations as schedule_rules wants them: [(start, end)], both days included."""
    county = county_of(township_code)
    row = session.get(CountyCalendar, county) if county else None
    if row is None:
        return []
    return [(v["start"], v["end"]) for v in domain.parse_vacations(row.school_vacations)]


def list_inspection_targets(session: Session, actor: Actor) -> dict:
    authorize(actor, "inspection.read")
    rows = session.scalars(
        select(InspectionTarget)
        .where(InspectionTarget.division_code.startswith(scope_prefix(actor.division_code)))
        .order_by(InspectionTarget.institution_id)
    ).all()
    return {
        "items": [
            {
                "institution_id": r.institution_id,
                "name": r.name,
                "township_code": r.division_code,
                "category": r.category,
                "risk_grade": r.risk_grade,
                "active": r.active,
                "registry_status": r.registry_status,
            }
            for r in rows
        ]
    }


# -- leads (线索): escrow alerts become cases to check (issue 4) ------------------------------------


def add_lead(session: Session, *, source: str, institution_id: int, institution_name: str | None,
             division_code: str, reason_kind: str, reason_name: str, evidence: dict, ref, seen: datetime) -> None:
    """One open lead per source, institution and reason: a repeated signal adds to it."""
    key = domain.lead_key(source, institution_id, reason_kind)
    lead = session.scalar(select(InspectionLead).where(InspectionLead.dedup_key == key))
    if lead is None:
        target = session.get(InspectionTarget, institution_id)
        session.add(InspectionLead(
            source=source, dedup_key=key, institution_id=institution_id,
            institution_name=institution_name or (target.name if target else None),
            division_code=division_code, reason_kind=reason_kind, reason_name=reason_name,
            evidence=evidence, source_refs=[ref], occurrences=1, status="open",
            first_seen_at=seen, last_seen_at=seen,
        ))
        session.flush()
        return
    lead.occurrences += 1
    lead.source_refs = [*lead.source_refs, ref]
    lead.evidence = evidence
    lead.last_seen_at = max(lead.last_seen_at, seen)


def _lead_from_escrow_alert(session: Session, event: dict) -> None:
    data = event["data"]
    kind = str(data["kind"])
    evidence = data.get("evidence") or {}
    if not isinstance(evidence, dict):
        raise ValueError("evidence 应为 JSON 对象")
    add_lead(
        session, source="escrow_alert", institution_id=int(data["institution_id"]),
        institution_name=data.get("institution_name"),
        division_code=validate_code(data["township_code"], field="data.township_code"),
        reason_kind=kind, reason_name=str(data.get("kind_name") or kind), evidence=evidence,
        ref=int(data["alert_id"]), seen=datetime.fromisoformat(data.get("raised_at") or event["occurred_at"]),
    )


def _leads_from_course(session: Session, event: dict) -> None:
    """A published course whose weekly schedule breaks the 双减 time rules becomes leads."""
    data = event["data"]
    published = datetime.fromisoformat(data.get("published_at") or event["occurred_at"])
    township = validate_code(data["township_code"], field="data.township_code")
    findings = schedule_rules.schedule_findings(
        str(data["category"]), str(data["mode"]), list(data["schedule"]), published.astimezone(SHANGHAI).date(),
        vacations=county_vacations(session, township),
    )
    for finding in findings:
        add_lead(
            session, source="course_schedule", institution_id=int(data["institution_id"]),
            institution_name=data.get("institution_name"),
            division_code=validate_code(data["township_code"], field="data.township_code"),
            reason_kind=finding.kind, reason_name=finding.name,
            evidence=finding.evidence | {"course_id": data["id"], "course_name": data.get("name"),
                                         "subject": data.get("subject")},
            ref=int(data["id"]), seen=published,
        )


def apply_course_published(session: Session, events: list) -> int:
    return apply_batch(session, ProcessedEvent, events, _leads_from_course)


def apply_escrow_alert_raised(session: Session, events: list) -> int:
    return apply_batch(session, ProcessedEvent, events, _lead_from_escrow_alert)


def lead_view(row: InspectionLead) -> dict:
    return {
        "id": row.id, "source": row.source, "source_name": domain.LEAD_SOURCE_NAMES.get(row.source, row.source),
        "institution_id": row.institution_id, "institution_name": row.institution_name,
        "township_code": row.division_code, "reason_kind": row.reason_kind, "reason_name": row.reason_name,
        "evidence": row.evidence, "source_refs": row.source_refs, "occurrences": row.occurrences,
        "status": row.status, "status_name": domain.LEAD_STATUS_NAMES.get(row.status, row.status),
        "first_seen_at": iso_utc(row.first_seen_at), "last_seen_at": iso_utc(row.last_seen_at),
        "resolution": row.resolution, "resolution_name": domain.LEAD_RESOLUTIONS.get(row.resolution),
        "resolution_note": row.resolution_note, "record_id": row.record_id, "closed_by": row.closed_by,
        "closed_at": iso_utc(row.closed_at),
    }


def list_leads(session: Session, actor: Actor, status: str | None = None) -> dict:
    authorize(actor, "inspection.read")
    query = select(InspectionLead).where(InspectionLead.division_code.startswith(scope_prefix(actor.division_code)))
    if status:
        query = query.where(InspectionLead.status == status)
    rows = session.scalars(query.order_by(InspectionLead.last_seen_at.desc(), InspectionLead.id.desc())
                           .limit(500)).all()
    return {"items": [lead_view(r) for r in rows]}
