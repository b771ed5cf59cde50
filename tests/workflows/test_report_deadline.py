"""Reports on time: the schedules (Asia/Shanghai) on the dev server; one cycle under time
skipping, driving the reporting use cases on a real (SQLite) reporting database."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from temporalio import activity

from services.common.db import make_engine, migrate
from services.common.identity import system_actor
from services.common.workdays import SHANGHAI
from services.reporting import cycles
from services.reporting.models import InstitutionFact, InstitutionStatusFact
from services.reporting.report_models import ReportCycle
from tests.workflows.support import serving
from workflows.reports.schedule import ensure_report_schedules
from workflows.reports.workflows import (
    ACTIVITY_DRAFT,
    ACTIVITY_FLAG_OVERDUE,
    DraftRequest,
    OverdueRequest,
    ReportCycleInput,
    ReportDeadline,
)
from sqlalchemy.orm import sessionmaker

MIGRATIONS = Path(cycles.__file__).parent / "migrations"


async def test_report_schedules_fire_on_the_1st_16th_and_fridays_at_8_in_shanghai(dev_env, task_queue):
    client = dev_env.client
    created = await ensure_report_schedules(client, task_queue, "340722")
    assert created == ["report-half-monthly", "report-weekly"]
    assert await ensure_report_schedules(client, task_queue, "340722") == []  # a restarted worker
    half = await client.get_schedule_handle("report-half-monthly").describe()
    assert half.schedule.spec.time_zone_name == "Asia/Shanghai"
    assert half.schedule.action.workflow == "ReportDeadline"
    for moment in half.info.next_action_times:
        local = moment.astimezone(SHANGHAI)
        assert (local.day in (1, 16), local.hour, local.minute) == (True, 8, 0)
    weekly = await client.get_schedule_handle("report-weekly").describe()
    assert {m.astimezone(SHANGHAI).weekday() for m in weekly.info.next_action_times} == {4}  # Friday
    for schedule_id in created:
        await client.get_schedule_handle(schedule_id).delete()


@pytest.fixture
def reporting_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'reporting.db'}"
    migrate("reporting", MIGRATIONS, url)
    engine = make_engine(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as session:  # one county with one institution: a county that owes reports
        session.add(InstitutionFact(institution_id=1, division_code="340722100", category="academic",
                                    registered_on=date(2021, 6, 1), version=1))
        session.add(InstitutionStatusFact(institution_id=1, status="operating", effective_on=date(2021, 6, 1), seq=1))
        session.commit()
    yield sessions
    engine.dispose()


def reporting_activities(sessions, announced: list):
    """The workflow's two activities doing what the reporting service does for them."""
    platform = system_actor("340722")

    def dispatch(event_type, event):
        announced.append((event_type, event["data"]))

    @activity.defn(name=ACTIVITY_DRAFT)
    def draft(request: DraftRequest) -> dict:
        with sessions() as session:
            return cycles.draft_due_reports(session, dispatch, platform, request.kind, request.division_code,
                                            request.today)

    @activity.defn(name=ACTIVITY_FLAG_OVERDUE)
    def flag(request: OverdueRequest) -> dict:
        with sessions() as session:
            return cycles.flag_overdue_reports(session, dispatch, platform, request.kind, request.period_end,
                                               request.at)

    return [draft, flag]


def next_first_of_month() -> date:
    today = datetime.now(SHANGHAI).date()
    return (today.replace(day=1) + timedelta(days=32)).replace(day=1)


@pytest.mark.timeout(60)
async def test_the_report_due_on_the_7th_is_drafted_then_flagged_overdue(time_env, task_queue, reporting_db):
    """As the schedule fires on the 1st: the report for the 16th–month end is drafted, the bureau
    is told, the workflow waits (time skipped) until the 7th begins, and the unsubmitted report
    is flagged overdue."""
    first = next_first_of_month()
    announced, started = [], []
    client = time_env.client
    async with serving(client, task_queue, [ReportDeadline], reporting_activities(reporting_db, announced), started):
        handle = await client.start_workflow(
            ReportDeadline.run, ReportCycleInput("half_monthly", "340722", first.isoformat()),
            id=f"report-{uuid.uuid4().hex[:6]}", task_queue=task_queue)
        started.append(handle)
        result = await handle.result()
        started.remove(handle)
    last_month_end = first - timedelta(days=1)
    assert (result["period_start"], result["period_end"]) == (last_month_end.replace(day=16).isoformat(),
                                                              last_month_end.isoformat())
    assert result["drafted"] == 1 and result["overdue"] == ["340722"]
    due = datetime.fromisoformat(result["due_at"]).astimezone(SHANGHAI)
    assert (due.date(), due.hour) == (first.replace(day=7), 0)
    assert [t for t, _ in announced] == ["report_drafted", "report_overdue"]
    with reporting_db() as session:
        cycle = session.query(ReportCycle).one()
        assert cycle.overdue_flagged_at is not None and cycle.overdue_flagged_at >= cycle.due_at
