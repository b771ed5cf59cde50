"""Apply the registry's, inspection's and supervision's events to the report read models.

Each applier is idempotent through `apply_batch` (the event id; a batch per transaction) and tolerant of order: an order
closed before its issue arrives leaves a row whose issue day is filled in later; rows still
missing a start day are not counted. Days are Asia/Shanghai days.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.divisions import county_of, validate_code
from services.common.idempotency import apply_batch
from services.common.workdays import SHANGHAI

from .models import ProcessedEvent
from .report_models import (
    AfterSchoolPlanFact,
    CampaignFact,
    ComplaintFact,
    CountyReportSettings,
    HomeworkCheckFact,
    InspectionFact,
    InstitutionAttributeFact,
    OrderFact,
    SchoolFact,
    SchoolVisitFact,
)

# checklist item whose failure is an illegal advertisement handled (违规广告)
ADVERTISING_ITEM = "advertising"
PLATFORM_FLAGS = ("basic_info", "staff", "fund_supervision")


def local_day(iso: str) -> date:
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).date()


def _day(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError("日期应为 YYYY-MM-DD")
    return date.fromisoformat(value)


def _division(data: dict, *keys: str) -> str:
    for key in keys:
        if data.get(key):
            return validate_code(data[key], field=f"data.{key}")
    raise KeyError(keys[0])


# -- institutions: dated category and national-platform flags --------------------------------


def attribute_values(data: dict) -> dict[str, str]:
    """The record's category and the platform flags it carries, as attribute rows hold them."""
    values = {"category": str(data["category"])}
    platform = data.get("platform") or {}
    for flag in PLATFORM_FLAGS:
        if flag in platform:
            values[f"platform_{flag}"] = "true" if platform[flag] else "false"
    return values


def record_attributes(session: Session, data: dict, effective_on: date) -> None:
    """The record's category and platform flags at its `version`, effective from `effective_on`."""
    institution_id, version = int(data["id"]), int(data.get("version", 0))
    values = attribute_values(data)
    known = set(session.scalars(select(InstitutionAttributeFact.attribute).where(
        InstitutionAttributeFact.institution_id == institution_id, InstitutionAttributeFact.version == version)))
    for attribute, value in values.items():
        if attribute not in known:
            session.add(InstitutionAttributeFact(institution_id=institution_id, attribute=attribute, value=value,
                                                 effective_on=effective_on, version=version))
    session.flush()


def _platform_updated(session: Session, event: dict) -> None:
    data = event["data"]
    record_attributes(session, {"id": data["id"], "version": data["version"], "platform": data["platform"],
                                "category": _current_category(session, int(data["id"]))},
                      local_day(event["occurred_at"]))


def _current_category(session: Session, institution_id: int) -> str:
    category = session.scalar(select(InstitutionAttributeFact.value).where(
        InstitutionAttributeFact.institution_id == institution_id, InstitutionAttributeFact.attribute == "category")
        .order_by(InstitutionAttributeFact.version.desc()).limit(1))
    if category is None:
        raise KeyError("category")  # the registration has not arrived: redelivered later
    return category


def _county_settings(session: Session, event: dict) -> None:
    data = event["data"]
    county = county_of(_division(data, "county_code"))
    if county is None:
        raise ValueError("county_code 应为县级区划")
    baseline = data.get("reduction_baseline_date")
    if baseline is None:
        return  # settings from before the baseline was a setting: the default holds
    row = session.get(CountyReportSettings, county)
    if row is None:
        session.add(CountyReportSettings(county_code=county, baseline_date=_day(baseline)))
    else:
        row.baseline_date = _day(baseline)


def _school_registered(session: Session, event: dict) -> None:
    data = event["data"]
    if session.get(SchoolFact, int(data["id"])) is None:
        session.add(SchoolFact(school_id=int(data["id"]), division_code=_division(data, "township_code"),
                               registered_on=local_day(data.get("created_at") or event["occurred_at"])))


# -- inspections, campaigns and orders --------------------------------------------------------


def _campaign_created(session: Session, event: dict) -> None:
    data = event["data"]
    if session.get(CampaignFact, int(data["campaign_id"])) is None:
        session.add(CampaignFact(
            campaign_id=int(data["campaign_id"]), division_code=_division(data, "division_code"),
            kind=str(data["kind"]), mode=str(data["mode"]), start_date=_day(data["start_date"]),
            end_date=_day(data["end_date"]), created_on=local_day(data.get("created_at") or event["occurred_at"]),
            in_scope=int(data["in_scope"])))


def _inspection_recorded(session: Session, event: dict) -> None:
    data = event["data"]
    if session.get(InspectionFact, int(data["record_id"])) is None:
        findings = data.get("findings") or []
        session.add(InspectionFact(
            record_id=int(data["record_id"]), institution_id=int(data["institution_id"]),
            division_code=_division(data, "township_code"),
            campaign_id=int(data["campaign_id"]) if data.get("campaign_id") is not None else None,
            inspected_on=local_day(data["inspected_at"]), outcome=str(data["outcome"]),
            illegal_ad=ADVERTISING_ITEM in findings))


def _order(session: Session, data: dict) -> OrderFact:
    row = session.get(OrderFact, int(data["order_id"]))
    if row is None:
        row = OrderFact(order_id=int(data["order_id"]), institution_id=int(data["institution_id"]))
        session.add(row)
    row.division_code = _division(data, "township_code")
    row.kind = str(data["kind"])
    return row


def _order_issued(session: Session, event: dict) -> None:
    _order(session, event["data"]).issued_on = local_day(event["data"].get("issued_at") or event["occurred_at"])


def _order_closed(session: Session, event: dict) -> None:
    _order(session, event["data"]).closed_on = local_day(event["occurred_at"])


def _order_escalated(session: Session, event: dict) -> None:
    _order(session, event["data"]).escalated_on = local_day(event["occurred_at"])


# -- complaints -------------------------------------------------------------------------------


def _complaint(session: Session, data: dict) -> ComplaintFact:
    row = session.get(ComplaintFact, int(data["complaint_id"]))
    if row is None:
        row = ComplaintFact(complaint_id=int(data["complaint_id"]), division_code=_division(data, "division_code"),
                            channel=str(data["channel"]), received_on=local_day(data["received_at"]))
        session.add(row)
    return row


def _complaint_received(session: Session, event: dict) -> None:
    _complaint(session, event["data"])


def _complaint_triaged(session: Session, event: dict) -> None:
    row = _complaint(session, event["data"])
    if event["data"].get("result") == "verified":
        row.verified_on = local_day(event["occurred_at"])


def _complaint_overdue(session: Session, event: dict) -> None:
    row = _complaint(session, event["data"])
    row.overdue_on = local_day(event["data"].get("as_of") or event["occurred_at"])


def _complaint_closed(session: Session, event: dict) -> None:
    _complaint(session, event["data"]).closed_on = local_day(event["occurred_at"])


# -- school supervision -----------------------------------------------------------------------


def _visit_recorded(session: Session, event: dict) -> None:
    data = event["data"]
    if session.get(SchoolVisitFact, int(data["id"])) is None:
        session.add(SchoolVisitFact(visit_id=int(data["id"]), school_id=int(data["school_id"]),
                                    division_code=_division(data, "township_code"),
                                    visited_on=_day(data["visited_on"])))


def _homework_checked(session: Session, event: dict) -> None:
    data = event["data"]
    session.add(HomeworkCheckFact(
        school_id=int(data["school_id"]), division_code=_division(data, "township_code"),
        class_name=str(data["class_name"]), checked_on=local_day(event["occurred_at"]),
        period_to=_day(data["to"]), flagged=bool(data["flagged"])))


def _plan_figures(session: Session, event: dict) -> None:
    data = event["data"]
    if not data.get("filed_on"):
        raise ValueError("filed_on 缺失")
    key = (int(data["school_id"]), int(data["school_year"]))
    row = session.get(AfterSchoolPlanFact, key)
    if row is None:
        row = AfterSchoolPlanFact(school_id=key[0], school_year=key[1])
        session.add(row)
    row.division_code = _division(data, "township_code")
    row.filed_on = _day(data["filed_on"])
    row.deadline = _day(data["deadline"]) if data.get("deadline") else None
    row.participating = data.get("participating")
    row.enrolled = data.get("enrolled")


APPLIERS = {
    "institution_platform_registration_updated": _platform_updated,
    "county_settings_changed": _county_settings,
    "school_registered": _school_registered,
    "campaign_created": _campaign_created,
    "inspection_recorded": _inspection_recorded,
    "inspection_order_issued": _order_issued,
    "order_closed": _order_closed,
    "order_escalated": _order_escalated,
    "complaint_received": _complaint_received,
    "complaint_triaged": _complaint_triaged,
    "complaint_overdue": _complaint_overdue,
    "complaint_closed": _complaint_closed,
    "school_visit_recorded": _visit_recorded,
    "homework_checked": _homework_checked,
    "after_school_plan_filed": _plan_figures,
    "after_school_figures_recorded": _plan_figures,
}
SOURCES = {
    "institution_platform_registration_updated": "registry", "county_settings_changed": "registry",
    "school_registered": "registry",
}  # the rest come from inspection


def apply_fact_events(session: Session, event_type: str, events: list) -> int:
    return apply_batch(session, ProcessedEvent, events, APPLIERS[event_type])
