"""Inspection service (检查执法): nameko entrypoints only."""
from __future__ import annotations

from pathlib import Path

from services.common.batch_consumer import batch_event_handler, batch_fields  # batches, one transaction each
from services.common.deadletter import event_handler  # one-off events (a loaded calendar): dead-lettering as usual
from services.common.outbox import OutboxDispatcher

from services.common.calendar_copy import EVENT as CALENDAR_LOADED, CalendarCopy
from services.common.db import Database
from services.common import service_kit  # the module, so `nameko run` sees one service class here
from services.common.service_kit import rpc

from . import campaign_evidence, campaign_orders, campaigns, complaint_handling, complaint_intake, handlers, leads
from . import supervision, supervision_homework, supervision_plans
from . import deadlines  # issue 13: a loaded holiday schedule moves running deadlines
from .models import CalendarYear, OutboxRow, audit_trail


class InspectionService(service_kit.ServiceBase):
    name = "inspection"
    audit_trail = audit_trail  # verify_audit / list_audit (services/common/service_kit.py)
    audit_read_actions = ("inspection.read", "inspection.complaint_read", "supervision.read")

    db = Database(Path(__file__).parent / "migrations")
    calendar = CalendarCopy(CalendarYear)  # the process's working days follow the loaded schedules (issue 13)

    @event_handler("registry", CALENDAR_LOADED)
    def on_calendar_schedule_loaded(self, event):
        applied = deadlines.apply_calendar_schedule_loaded(self.db, event)
        self.ctx.log.info("calendar_schedule_applied", event_id=event.get("event_id"), applied=applied)

    @batch_event_handler("registry", "institution_registered")
    def on_institution_registered(self, events):
        applied = handlers.apply_institution_registered(self.db, events)
        self.ctx.log.info("inspection_target_added", **batch_fields(events, applied))

    @batch_event_handler("registry", "institution_status_changed")
    def on_institution_status_changed(self, events):
        applied = handlers.apply_institution_status_changed(self.db, events)
        self.ctx.log.info("inspection_target_status", **batch_fields(events, applied))

    @batch_event_handler("registry", "county_settings_changed")
    def on_county_settings_changed(self, events):
        applied = handlers.apply_county_settings_changed(self.db, events)
        self.ctx.log.info("county_vacations_recorded", **batch_fields(events, applied))

    @rpc
    def list_inspection_targets(self, actor):
        return handlers.list_inspection_targets(self.db, self.actors.verify(actor))

    # -- leads from escrow's early warning (issue 4) --------------------------------------------

    @batch_event_handler("escrow", "escrow_alert_raised")
    def on_escrow_alert_raised(self, events):
        applied = handlers.apply_escrow_alert_raised(self.db, events)
        self.ctx.log.info("inspection_lead_recorded", **batch_fields(events, applied))

    @batch_event_handler("registry", "course_published")
    def on_course_published(self, events):
        applied = handlers.apply_course_published(self.db, events)
        self.ctx.log.info("course_schedule_checked", **batch_fields(events, applied))

    @rpc
    def list_leads(self, actor, status=None):
        return handlers.list_leads(self.db, self.actors.verify(actor), status)

    @rpc
    def close_lead(self, actor, lead_id, data):
        return leads.close_lead(self.db, self.actors.verify(actor), lead_id, data)

    # -- school supervision (督导: zones, visits, homework, 一校一案; issue 5 part 6) ------------------

    supervision_events = OutboxDispatcher(OutboxRow)  # the transactional outbox

    @batch_event_handler("registry", "school_registered")
    def on_school_registered(self, events):
        applied = supervision.apply_school_registered(self.db, events)
        self.ctx.log.info("supervised_school_added", **batch_fields(events, applied))

    @rpc
    def list_supervised_schools(self, actor, zone=None):
        return supervision.list_schools(self.db, self.actors.verify(actor), zone)

    @rpc
    def list_supervision_zones(self, actor):
        return supervision.list_zones(self.db, self.actors.verify(actor))

    @rpc
    def set_supervision_zone(self, actor, data):
        return supervision.set_zone(self.db, self.actors.verify(actor), data)

    @rpc
    def record_school_visit(self, actor, data):
        return supervision.record_visit(self.db, self.supervision_events, self.actors.verify(actor), data)

    @rpc
    def list_school_visits(self, actor, month=None, school_id=None):
        return supervision.list_visits(self.db, self.actors.verify(actor), month, school_id)

    @rpc
    def supervision_coverage(self, actor, month, division_code=None):
        return supervision.coverage(self.db, self.actors.verify(actor), month, division_code)

    @rpc
    def publish_homework(self, actor, data):
        return supervision_homework.publish_homework(self.db, self.actors.verify(actor), data)

    @rpc
    def list_homework(self, actor, school_id, date_from=None, date_to=None):
        return supervision_homework.list_homework(self.db, self.actors.verify(actor), school_id, date_from, date_to)

    @rpc
    def check_homework(self, actor, data):
        return supervision_homework.check_homework(self.db, self.supervision_events, self.actors.verify(actor), data)

    @rpc
    def file_after_school_plan(self, actor, data):
        return supervision_plans.file_after_school_plan(self.db, self.supervision_events, self.actors.verify(actor),
                                                        data)

    @rpc
    def record_after_school_figures(self, actor, data):
        return supervision_plans.record_after_school_figures(self.db, self.supervision_events,
                                                             self.actors.verify(actor), data)

    @rpc
    def after_school_report(self, actor, school_year=None, as_of=None):
        return supervision_plans.after_school_report(self.db, self.actors.verify(actor), school_year, as_of)

    @rpc
    def get_supervision_settings(self, actor, county_code=None):
        return supervision_plans.get_settings(self.db, self.actors.verify(actor), county_code)

    @rpc
    def set_supervision_settings(self, actor, county_code, settings):
        return supervision_plans.set_settings(self.db, self.actors.verify(actor), county_code, settings)

    # -- complaints (举报, issue 5 part 5): complaint_intake.py, complaint_handling.py --------------

    complaint_events = OutboxDispatcher(OutboxRow)  # the transactional outbox

    @rpc
    def submit_public_complaint(self, actor, data):
        return complaint_intake.submit_public(self.db, self.complaint_events, self.actors.verify(actor), data)

    @rpc
    def get_public_complaint_status(self, actor, receipt_no):
        return complaint_intake.public_status(self.db, self.actors.verify(actor), receipt_no)

    @rpc
    def import_complaints_csv(self, actor, content_b64, townships=None):
        return complaint_intake.import_csv(self.db, self.complaint_events, self.actors.verify(actor), content_b64,
                                           townships)

    @rpc
    def list_complaints(self, actor, filters=None, limit=100, offset=0):
        return complaint_handling.list_complaints(self.db, self.actors.verify(actor), filters, limit, offset)

    @rpc
    def get_complaint(self, actor, complaint_id):
        return complaint_handling.get_complaint(self.db, self.actors.verify(actor), complaint_id)

    @rpc
    def triage_complaint(self, actor, complaint_id, data):
        return complaint_handling.triage(self.db, self.complaint_events, self.actors.verify(actor), complaint_id, data)

    @rpc
    def assign_complaint(self, actor, complaint_id, data):
        return complaint_handling.assign(self.db, self.complaint_events, self.actors.verify(actor), complaint_id, data)

    @rpc
    def reply_complaint(self, actor, complaint_id, data):
        return complaint_handling.reply(self.db, self.complaint_events, self.actors.verify(actor), complaint_id, data)

    @rpc
    def reveal_complaint_contact(self, actor, complaint_id, data=None):
        # the answer holds the unmasked phone: never log it
        return complaint_handling.reveal_contact(self.db, self.actors.verify(actor), complaint_id, data)

    @rpc
    def close_complaint(self, actor, complaint_id, data=None):
        return complaint_handling.close(self.db, self.complaint_events, self.actors.verify(actor), complaint_id, data)

    @rpc
    def flag_overdue_complaints(self, actor, as_of=None):
        return complaint_handling.flag_overdue(self.db, self.complaint_events, self.actors.verify(actor), as_of)

    @rpc
    def get_complaint_settings(self, actor, county_code=None):
        return complaint_handling.get_settings(self.db, self.actors.verify(actor), county_code)

    @rpc
    def set_complaint_settings(self, actor, data):
        return complaint_handling.set_settings(self.db, self.actors.verify(actor), data)

    # -- campaigns, inspection records, orders (issue 5 parts 1–3): campaigns.py, campaign_*.py ------

    campaign_events = OutboxDispatcher(OutboxRow)  # the transactional outbox

    @rpc
    def create_campaign(self, actor, data):
        return campaigns.create_campaign(self.db, self.campaign_events, self.actors.verify(actor), data)

    @rpc
    def list_campaigns(self, actor):
        return campaigns.list_campaigns(self.db, self.actors.verify(actor))

    @rpc
    def get_campaign(self, actor, campaign_id):
        return campaigns.get_campaign(self.db, self.actors.verify(actor), campaign_id)

    @rpc
    def campaign_coverage(self, actor, campaign_id):
        return campaigns.coverage(self.db, self.actors.verify(actor), campaign_id)

    @rpc
    def reproduce_draw(self, actor, campaign_id):
        return campaigns.reproduce_draw(self.db, self.actors.verify(actor), campaign_id)

    @rpc
    def record_inspection(self, actor, data):
        return campaigns.record_inspection(self.db, self.campaign_events, self.actors.verify(actor), data)

    @rpc
    def get_inspection_record(self, actor, record_id):
        return campaigns.get_record(self.db, self.actors.verify(actor), record_id)

    @rpc
    def list_inspection_records(self, actor, campaign_id=None, institution_id=None, limit=100, offset=0):
        return campaigns.list_records(self.db, self.actors.verify(actor), campaign_id, institution_id, limit, offset)

    @rpc
    def add_evidence(self, actor, record_id, data):
        return campaign_evidence.add_evidence(self.db, self.actors.verify(actor), record_id, data)

    @rpc
    def list_orders(self, actor, status=None, limit=100, offset=0):
        return campaign_orders.list_orders(self.db, self.actors.verify(actor), status, limit, offset)

    @rpc
    def get_order(self, actor, order_id):
        return campaign_orders.get_order(self.db, self.actors.verify(actor), order_id)

    @rpc
    def record_reinspection(self, actor, order_id, data):
        return campaign_orders.record_reinspection(self.db, self.campaign_events, self.actors.verify(actor), order_id,
                                                   data)

    @rpc
    def create_reinspection_task(self, actor, order_id):
        return campaign_orders.create_reinspection_task(self.db, self.actors.verify(actor), order_id)

    @rpc
    def close_order(self, actor, order_id):
        return campaign_orders.close_order(self.db, self.campaign_events, self.actors.verify(actor), order_id)

    @rpc
    def escalate_order(self, actor, order_id):
        return campaign_orders.escalate_order(self.db, self.campaign_events, self.actors.verify(actor), order_id)
