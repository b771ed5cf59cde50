"""The workflows process and the loaded holiday schedules (issue 13).

`calendar_for` lays what a workflow was told over the process calendar for a deadline activity.
`CalendarBridge` takes the registry's `calendar_schedule_loaded`: it updates this process's
calendar and signals every running workflow that keeps a working-day timer, so none keeps an
outdated one. `load_from_registry` fills the process calendar at start.
"""
from __future__ import annotations

import asyncio

from temporalio.service import RPCError, RPCStatusCode

from services.common import calendar_copy, workcalendar
from services.common.errors import ValidationFailed
from services.common.logging import get_logger
from workflows.event_bridge import EventBridge

from .calendar_contract import SIGNAL_CALENDAR_CHANGED, CalendarSchedule

# the workflow types that wait on a working-day deadline
TIMED_WORKFLOWS = ("Rectification", "PrepaidContract", "ConversionApproval", "Deregistration", "LicenceVerification")

log = get_logger(component="workflows.calendar")


def calendar_for(schedules: list[CalendarSchedule] | None) -> workcalendar.WorkCalendar:
    return workcalendar.current().overlay(
        {s.year: calendar_copy.schedule_days(s.days) for s in (schedules or [])})


def schedule_from_event(data: dict) -> CalendarSchedule:
    try:
        schedule = CalendarSchedule(int(data["year"]), int(data["version"]), list(data["days"]))
        calendar_copy.schedule_days(schedule.days)  # every day well formed
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed(f"放假安排事件内容不完整：{exc}", field="data") from None
    return schedule


async def signal_running(client, schedule: CalendarSchedule, types: tuple[str, ...] = TIMED_WORKFLOWS) -> int:
    """Signal every running workflow of `types`; returns how many were told."""
    query = "ExecutionStatus = 'Running' AND WorkflowType IN ({})".format(", ".join(f"'{t}'" for t in types))
    told = 0
    async for execution in client.list_workflows(query):
        try:
            await client.get_workflow_handle(execution.id, run_id=execution.run_id).signal(
                SIGNAL_CALENDAR_CHANGED, schedule)
            told += 1
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # finished in between: nothing to move
                raise
    return told


class CalendarBridge(EventBridge):
    exchange = "registry.events"
    queue_name = "workflows.bridge.calendar"
    event_types = (calendar_copy.EVENT,)

    async def handle(self, envelope: dict, correlation_id: str | None) -> str:
        schedule = schedule_from_event(envelope["data"])
        workcalendar.replace_year(schedule.year, calendar_copy.schedule_days(schedule.days))
        told = await signal_running(self.client, schedule)
        log.info("calendar_signalled", year=schedule.year, version=schedule.version, workflows=told,
                 correlation_id=correlation_id)
        return "signalled"


async def load_from_registry(caller, division_code: str, attempts: int = 30, pause: float = 2.0) -> None:
    """The loaded schedules into this process's calendar (the registry may start after us)."""
    for attempt in range(1, attempts + 1):
        try:
            answer = await asyncio.to_thread(caller.call, "registry", "get_calendar_schedules",
                                             division_code=division_code)
            workcalendar.install({row["year"]: calendar_copy.schedule_days(row["days"]) for row in answer["items"]})
            log.info("calendar_loaded", years=[row["year"] for row in answer["items"]])
            return
        except Exception as exc:  # registry not up yet
            log.warning("calendar_not_loaded", attempt=attempt, error=type(exc).__name__)
            await asyncio.sleep(pause)
