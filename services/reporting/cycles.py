"""Report use cases: answer a report as of a day, draft the reports owed on schedule, submit
(freeze) one, flag the overdue ones, list them.

A submission stores the report as it was computed at submission, with a SHA-256 of its canonical
JSON and who submitted it; later events never touch it. Submitting again is a correction: the
next version of the same cycle.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Callable

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.common.clock import iso_utc, utc_now
from services.common.divisions import county_of, is_within, scope_prefix, validate_code
from services.common.errors import NotFound, ValidationFailed
from services.common.events import make_event
from services.common.identity import Actor
from services.common.policy import authorize
from services.common.workdays import today_shanghai

from . import report_rules as rules
from .handlers import parse_as_of, readable_division
from .report import build_report
from .report_models import ReportCycle, ReportSubmission
from .models import audit_trail

SOURCE = "reporting"
Dispatch = Callable[[str, dict], None]


def _kind(kind: object) -> str:
    try:
        return rules.check_kind(kind)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="kind") from None


def get_report(session: Session, actor: Actor, kind: object, division_code: object = None,
               as_of: object = None) -> dict:
    division = readable_division(actor, division_code)
    return build_report(session, _kind(kind), division, parse_as_of(as_of))


# -- cycles -----------------------------------------------------------------------------------


def cycle_view(session: Session, cycle: ReportCycle, now: datetime | None = None) -> dict:
    now = now or utc_now()
    latest = session.scalar(select(ReportSubmission).where(ReportSubmission.cycle_id == cycle.id)
                            .order_by(ReportSubmission.version.desc()).limit(1))
    status = "submitted" if latest else ("overdue" if now >= cycle.due_at else "drafted")
    return {
        "id": cycle.id, "kind": cycle.kind, "kind_name": rules.KINDS[cycle.kind],
        "division_code": cycle.division_code, "period_start": cycle.period_start.isoformat(),
        "period_end": cycle.period_end.isoformat(), "due_at": iso_utc(cycle.due_at),
        "seconds_left": None if latest else int((cycle.due_at - now).total_seconds()),
        "status": status, "status_name": {"submitted": "已报送", "overdue": "逾期未报", "drafted": "待报送"}[status],
        "drafted_at": iso_utc(cycle.drafted_at), "overdue_flagged_at": iso_utc(cycle.overdue_flagged_at),
        "latest_version": latest.version if latest else None,
        "latest_submission_id": latest.id if latest else None,
    }


def _cycle(session: Session, kind: str, division: str, start: date, end: date, due_at: datetime) -> ReportCycle:
    row = session.scalar(select(ReportCycle).where(ReportCycle.kind == kind, ReportCycle.division_code == division,
                                                   ReportCycle.period_end == end))
    if row is None:
        row = ReportCycle(kind=kind, division_code=division, period_start=start, period_end=end, due_at=due_at)
        session.add(row)
        session.flush()
    return row


COUNTIES_SQL = text("SELECT DISTINCT substr(division_code, 1, 6) FROM institution_facts WHERE division_code LIKE :p")


def _counties(session: Session, root: str) -> list[str]:
    """Reports are owed per county: the root itself when it is one, else every county with records."""
    county = county_of(root)
    if county is not None:
        return [county]
    return sorted(session.scalars(COUNTIES_SQL, {"p": scope_prefix(root) + "%"}))


def draft_due_reports(session: Session, dispatch: Dispatch, actor: Actor, kind: object, root: object,
                      today: object = None) -> dict:
    """Run by the schedule: open the cycle each county owes for the period just ended and tell
    the education bureau (`report_drafted`). Idempotent: a repeated run re-announces nothing."""
    authorize(actor, "reporting.draft")
    kind = _kind(kind)
    root = validate_code(root, field="division")
    cycle = rules.last_closed_cycle(kind, parse_as_of(today))
    now = utc_now()
    drafted, views = [], []
    for county in _counties(session, root):
        row = _cycle(session, kind, county, cycle.period_start, cycle.period_end, cycle.due_at)
        if row.drafted_at is None:
            row.drafted_at = now
            drafted.append(row)
        views.append(row)
    session.flush()
    for row in drafted:
        report = build_report(session, kind, row.division_code, row.period_end)
        data = cycle_view(session, row, now) | {"reduction_rate": report["reduction_rate"],
                                                "institutions_total": report["institutions_total"]}
        dispatch("report_drafted", make_event(SOURCE, "report_drafted", data, row.division_code, actor.to_dict()))
    session.commit()  # the cycles and their announcements together
    return {"kind": kind, "period_start": cycle.period_start.isoformat(), "period_end": cycle.period_end.isoformat(),
            "due_at": iso_utc(cycle.due_at), "cycles": [cycle_view(session, r, now) for r in views],
            "drafted": len(drafted)}


def flag_overdue_reports(session: Session, dispatch: Dispatch, actor: Actor, kind: object,
                         period_end: object, at: object = None) -> dict:
    """Run when the due moment has passed: each cycle of that period without a submission is
    flagged once and announced (`report_overdue`). `at` is the workflow's clock (the platform's
    own actor only), so a deadline measured in workflow time is judged in workflow time."""
    authorize(actor, "reporting.draft")
    kind = _kind(kind)
    end = parse_as_of(period_end)
    now = _moment(at) if at is not None else utc_now()
    rows = session.scalars(select(ReportCycle).where(ReportCycle.kind == kind, ReportCycle.period_end == end,
                                                     ReportCycle.overdue_flagged_at.is_(None),
                                                     ReportCycle.due_at <= now)).all()
    flagged = [r for r in rows if session.scalar(
        select(func.count()).select_from(ReportSubmission).where(ReportSubmission.cycle_id == r.id)) == 0]
    for row in flagged:
        row.overdue_flagged_at = now
    for row in flagged:
        dispatch("report_overdue", make_event(SOURCE, "report_overdue", cycle_view(session, row, now),
                                              row.division_code, actor.to_dict()))
    session.commit()
    return {"kind": kind, "period_end": end.isoformat(), "flagged": [r.division_code for r in flagged]}


def _moment(value: object) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed("时间格式应为 ISO 8601（含时区）", field="at") from None
    if moment.tzinfo is None:
        raise ValidationFailed("时间须带时区", field="at")
    return moment


def list_reports(session: Session, actor: Actor, division_code: object = None, kind: object = None,
                 limit: int = 50) -> dict:
    division = readable_division(actor, division_code)
    query = select(ReportCycle).where(ReportCycle.division_code.startswith(scope_prefix(division)))
    if kind is not None:
        query = query.where(ReportCycle.kind == _kind(kind))
    rows = session.scalars(query.order_by(ReportCycle.due_at.desc(), ReportCycle.id.desc()).limit(limit)).all()
    now = utc_now()
    items = sorted((cycle_view(session, r, now) for r in rows),
                   key=lambda v: (v["status"] != "overdue", v["status"] == "submitted", v["due_at"]))
    return {"items": items}


# -- submission -------------------------------------------------------------------------------


def _period_end(kind: str, as_of: date) -> date:
    if kind == "weekly" and as_of.weekday() != rules.THURSDAY:
        raise ValidationFailed("周报截至日应为星期四（周五至周四为一周）", field="as_of")
    if kind == "half_monthly" and as_of.day != 15 and as_of != rules.month_end(as_of):
        raise ValidationFailed("半月报截至日应为15日或月末", field="as_of")
    return as_of


def submission_view(row: ReportSubmission, cycle: ReportCycle, with_content: bool = True) -> dict:
    view = {
        "id": row.id, "cycle_id": cycle.id, "kind": cycle.kind, "kind_name": rules.KINDS[cycle.kind],
        "division_code": cycle.division_code, "period_start": cycle.period_start.isoformat(),
        "period_end": cycle.period_end.isoformat(), "version": row.version, "content_hash": row.content_hash,
        "hash_verified": rules.content_hash(row.content) == row.content_hash, "note": row.note,
        "submitted_by": row.submitted_by, "submitted_at": iso_utc(row.submitted_at),
        "on_time": row.submitted_at < cycle.due_at,
    }
    if with_content:
        view["content"] = row.content
    return view


def submit_report(session: Session, dispatch: Dispatch, actor: Actor, kind: object, division_code: object,
                  as_of: object, note: object = None) -> dict:
    """Freeze the report of a period as computed now. The first submission is version 1; a
    later one (a correction) the next version, with a note saying why."""
    kind = _kind(kind)
    division = readable_division(actor, division_code)
    if county_of(division) != division:
        raise ValidationFailed("报表按县报送：请指定县级行政区划", field="division")
    authorize(actor, "reporting.submit", division)
    end = _period_end(kind, parse_as_of(as_of))
    if end >= today_shanghai():
        raise ValidationFailed("统计期尚未结束，不能报送", field="as_of")
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise ValidationFailed("说明应为不超过500字的文字", field="note")
    cycle = rules.last_closed_cycle(kind, end + timedelta(days=1))
    row = _cycle(session, kind, division, cycle.period_start, cycle.period_end, cycle.due_at)
    version = (session.scalar(select(func.max(ReportSubmission.version))
                              .where(ReportSubmission.cycle_id == row.id)) or 0) + 1
    if version > 1 and not (note or "").strip():
        raise ValidationFailed("更正已报送的报表须说明原因", field="note")
    content = build_report(session, kind, division, end)
    submission = ReportSubmission(
        cycle_id=row.id, version=version, content=content, content_hash=rules.content_hash(content),
        note=(note or "").strip() or None, submitted_at=utc_now(),
        submitted_by={"username": actor.username, "name": actor.display_name,
                      "department": actor.department_kind.value, "division_code": actor.division_code})
    session.add(submission)
    session.flush()
    # the report itself stays in its submission (its SHA-256 is in the entry)
    audit_trail.append(session, actor, "reporting.submit_report", "report_submission", submission.id, None,
                       submission_view(submission, row, with_content=False), division, submission.submitted_at)
    view = submission_view(submission, row)
    dispatch("report_submitted", make_event(SOURCE, "report_submitted", {k: v for k, v in view.items() if k != "content"},
                                            division, actor.to_dict()))
    session.commit()
    return view


def get_submission(session: Session, actor: Actor, submission_id: object) -> dict:
    authorize(actor, "reporting.read")
    if not isinstance(submission_id, int) or isinstance(submission_id, bool):
        raise ValidationFailed("应为整数", field="submission_id")
    row = session.get(ReportSubmission, submission_id)
    cycle = session.get(ReportCycle, row.cycle_id) if row else None
    if cycle is None or not is_within(cycle.division_code, actor.division_code):
        raise NotFound("未找到此报送记录", field="submission_id")
    return submission_view(row, cycle)


def list_submissions(session: Session, actor: Actor, cycle_id: object) -> dict:
    authorize(actor, "reporting.read")
    cycle = session.get(ReportCycle, cycle_id) if isinstance(cycle_id, int) else None
    if cycle is None or not is_within(cycle.division_code, actor.division_code):
        raise NotFound("未找到此报表", field="cycle_id")
    rows = session.scalars(select(ReportSubmission).where(ReportSubmission.cycle_id == cycle.id)
                           .order_by(ReportSubmission.version)).all()
    return {"cycle": cycle_view(session, cycle), "items": [submission_view(r, cycle, False) for r in rows]}


def overdue_cycle_count(session: Session, now: datetime | None = None) -> int:
    """Cycles past their due moment with no submission: the `report_cycles_overdue` gauge."""
    submitted = select(ReportSubmission.id).where(ReportSubmission.cycle_id == ReportCycle.id).exists()
    return session.scalar(select(func.count()).select_from(ReportCycle)
                          .where(ReportCycle.due_at <= (now or utc_now()), ~submitted)) or 0
