"""Registry service: nameko entrypoints only. Rules live in domain.py, use cases in handlers.py."""
from __future__ import annotations

from pathlib import Path

from services.common.deadletter import event_handler  # nameko's, plus dead-lettering (dlq.<service>)
from services.common.outbox import OutboxDispatcher

from services.common.calendar_copy import CalendarCopy
from services.common.db import Database
from services.common import service_kit  # the module, so `nameko run` sees one service class here
from services.common.service_kit import paging, rpc

from . import cases, enforcement, handlers
from . import case_attachments  # issue 7: documents attached to cases
from .models import CalendarYear, OutboxRow, audit_trail
from . import imports, records  # issue 3: records, ledger import
from . import import_files, ledger_template  # issue 15: preview, the template
from . import holiday_schedules  # issue 13: the loaded holiday schedules (owner)
from .dependencies import IdNumberDigest


class RegistryService(service_kit.ServiceBase):
    name = "registry"
    audit_trail = audit_trail  # verify_audit / list_audit (services/common/service_kit.py)
    audit_read_actions = ("registry.read",)
    metric_gauges = {"shuangjian_calendar_next_year_official": (
        "1 when next year's holiday schedule is official (loaded or packaged), 0 when deadlines are provisional",
        holiday_schedules.next_year_official)}  # /metrics; alert from November 1st (deploy/monitoring)

    db = Database(Path(__file__).parent / "migrations")
    dispatch = OutboxDispatcher(OutboxRow)  # events into the outbox, committed with the change; dispatch.many()
    id_digest = IdNumberDigest()
    calendar = CalendarCopy(CalendarYear)  # case deadlines say whether they are provisional (issue 13)

    @rpc
    def register_institution(self, actor, data):
        result = handlers.register_institution(self.db, self.dispatch, self.actors.verify(actor), data)
        self.ctx.log.info("institution_registered", institution_id=result["id"], uscc=result["uscc"])
        return result

    @rpc
    def get_institution(self, actor, institution_id):
        return handlers.get_institution(self.db, self.actors.verify(actor), institution_id)

    @rpc
    def list_institutions(self, actor, limit=100, offset=0, filters=None):
        limit, offset = paging(limit, offset)
        return handlers.list_institutions(self.db, self.actors.verify(actor), limit, offset, filters)

    @rpc
    def record_licence_verification(self, actor, institution_id, decision):
        result = handlers.record_licence_verification(
            self.db, self.dispatch, self.actors.verify(actor), institution_id, decision
        )
        self.ctx.log.info(
            "licence_verification_recorded", institution_id=institution_id, outcome=result["verification"]
        )
        return result

    # -- records: status and history, platform flags, staff, courses, schools (issue 3) ----------

    @rpc
    def change_institution_status(self, actor, institution_id, change):
        result = handlers.change_institution_status(
            self.db, self.dispatch, self.actors.verify(actor), institution_id, change
        )
        self.ctx.log.info("institution_status_changed", institution_id=institution_id, status=result["status"])
        return result

    @rpc
    def get_institution_history(self, actor, institution_id):
        return handlers.get_institution_history(self.db, self.actors.verify(actor), institution_id)

    @rpc
    def get_institution_status_on(self, actor, institution_id, day):
        return handlers.get_institution_status_on(self.db, self.actors.verify(actor), institution_id, day)

    @rpc
    def update_platform_registration(self, actor, institution_id, flags):
        return handlers.update_platform_registration(
            self.db, self.dispatch, self.actors.verify(actor), institution_id, flags
        )

    @rpc
    def add_staff_member(self, actor, institution_id, data):
        # the result carries the masked number only; never log `data` (it holds the full one)
        result = records.add_staff_member(
            self.db, self.dispatch, self.id_digest, self.actors.verify(actor), institution_id, data
        )
        self.ctx.log.info("staff_member_added", institution_id=institution_id, staff_id=result["id"],
                          id_number=result["id_number_masked"])
        return result

    @rpc
    def list_staff(self, actor, institution_id, include_left=False):
        return records.list_staff(self.db, self.actors.verify(actor), institution_id, bool(include_left))

    @rpc
    def record_staff_leaving(self, actor, staff_id, data):
        return records.record_staff_leaving(self.db, self.dispatch, self.actors.verify(actor), staff_id, data)

    @rpc
    def publish_course(self, actor, institution_id, data):
        result = records.publish_course(self.db, self.dispatch, self.actors.verify(actor), institution_id, data)
        self.ctx.log.info("course_published", institution_id=institution_id, course_id=result["id"])
        return result

    @rpc
    def withdraw_course(self, actor, course_id):
        return records.withdraw_course(self.db, self.dispatch, self.actors.verify(actor), course_id)

    @rpc
    def list_courses(self, actor, institution_id):
        return records.list_courses(self.db, self.actors.verify(actor), institution_id)

    @rpc
    def register_school(self, actor, data):
        result = records.register_school(self.db, self.dispatch, self.actors.verify(actor), data)
        self.ctx.log.info("school_registered", school_id=result["id"], code=result["code"])
        return result

    @rpc
    def get_school(self, actor, school_id):
        return records.get_school(self.db, self.actors.verify(actor), school_id)

    @rpc
    def list_schools(self, actor, limit=100, offset=0, filters=None):
        limit, offset = paging(limit, offset)
        return records.list_schools(self.db, self.actors.verify(actor), limit, offset, filters)

    # -- ledger (台账) import: create → add rows in chunks → commit (imports.py) ------------------

    @rpc
    def create_import(self, actor, data):
        return imports.create_import(self.db, self.actors.verify(actor), data)

    @rpc
    def add_import_rows(self, actor, batch_id, rows):
        return imports.add_import_rows(self.db, self.actors.verify(actor), batch_id, rows)

    @rpc
    def commit_import(self, actor, batch_id, townships):
        result = imports.commit_import(self.db, self.dispatch, self.actors.verify(actor), batch_id, townships)
        self._log_import(batch_id, result)
        return result

    def _log_import(self, batch_id, result):
        self.ctx.log.info("ledger_import_finished", batch_id=batch_id or result.get("id"), state=result["state"],
                          created=result["created"], updated=result["updated"], unchanged=result["unchanged"],
                          errors=result["error_total"], seconds=result.get("seconds"))

    @rpc
    def import_ledger_file(self, actor, file_name, content_b64, townships):
        """The whole import in one call: the .csv/.xlsx file (base64), parsed here, all or nothing."""
        result = import_files.import_file(self.db, self.dispatch, self.actors.verify(actor), file_name, content_b64,
                                          townships)
        self._log_import(None, result)
        return result

    @rpc
    def preview_ledger_file(self, actor, file_name, content_b64, townships):
        """Read and stage the file and say what committing it would do, row by row (import_files.py)."""
        return import_files.preview_file(self.db, self.actors.verify(actor), file_name, content_b64, townships)

    @rpc
    def preview_import(self, actor, batch_id, townships):
        return import_files.preview_import(self.db, self.actors.verify(actor), batch_id, townships)

    @rpc
    def get_ledger_template(self, actor, townships):
        """The ledger template (.xlsx, base64) with the county's townships as the 乡镇 list."""
        return ledger_template.template_file(self.actors.verify(actor), townships)

    @rpc
    def get_import(self, actor, batch_id):
        return imports.get_import(self.db, self.actors.verify(actor), batch_id)

    # -- 营转非 / 注销 cases (cases.py) ------------------------------------------------------------

    @rpc
    def apply_for_conversion(self, actor, institution_id):
        view = cases.apply_for_conversion(self.db, self.dispatch, self.actors.verify(actor), institution_id)
        self.ctx.log.info("conversion_applied", institution_id=institution_id, workflow_id=view["workflow_id"])
        return view

    @rpc
    def apply_for_deregistration(self, actor, institution_id, data):
        view = cases.apply_for_deregistration(self.db, self.dispatch, self.actors.verify(actor), institution_id, data)
        self.ctx.log.info("deregistration_applied", institution_id=institution_id, workflow_id=view["workflow_id"])
        return view

    @rpc
    def record_case_progress(self, actor, record):
        view = cases.record_case_progress(self.db, self.dispatch, self.actors.verify(actor), record)
        self.ctx.log.info("case_progress_recorded", workflow_id=view["workflow_id"], status=view["status"],
                          step=view["current_step"])
        return view

    @rpc
    def lapse_academic_scope(self, actor, county_code, deadline):
        result = cases.lapse_academic_scope(self.db, self.dispatch, self.actors.verify(actor), county_code, deadline)
        self.ctx.log.info("academic_scope_lapsed", county_code=county_code, removed=len(result["removed"]))
        return result

    @rpc
    def get_case(self, actor, process, institution_id):
        return cases.get_case(self.db, self.actors.verify(actor), process, institution_id)

    @rpc
    def list_inbox(self, actor):
        return cases.list_inbox(self.db, self.actors.verify(actor))

    @rpc
    def get_county_settings(self, actor, county_code=None):
        return cases.get_county_settings(self.db, self.actors.verify(actor), county_code)

    @rpc
    def set_county_settings(self, actor, county_code, data):
        return cases.set_county_settings(self.db, self.dispatch, self.actors.verify(actor), county_code, data)

    # -- case attachments (case_attachments.py, issue 7) -----------------------------------------------

    @rpc
    def add_case_attachment(self, actor, case_id, data):
        view = case_attachments.add_case_attachment(self.db, self.actors.verify(actor), case_id, data)
        self.ctx.log.info("case_attachment_added", case_id=case_id, attachment_id=view["id"], sha256=view["sha256"])
        return view

    @rpc
    def list_case_attachments(self, actor, case_id):
        return case_attachments.list_case_attachments(self.db, self.actors.verify(actor), case_id)

    @rpc
    def get_case_attachment(self, actor, attachment_id):
        return case_attachments.get_case_attachment(self.db, self.actors.verify(actor), attachment_id)

    # -- enforcement: inspection orders (enforcement.py) ---------------------------------------------

    @event_handler("inspection", "inspection_order_issued")
    def on_inspection_order_issued(self, event):
        applied = enforcement.on_order_issued(self.db, self.dispatch, event)
        self.ctx.log.info("inspection_order_applied", event_id=event.get("event_id"), applied=applied)

    @event_handler("inspection", "order_closed")
    def on_inspection_order_closed(self, event):
        applied = enforcement.on_order_closed(self.db, self.dispatch, event)
        self.ctx.log.info("inspection_order_closed_applied", event_id=event.get("event_id"), applied=applied)

    # -- holiday schedules (holiday_schedules.py, issue 13) ------------------------------------------

    @rpc
    def load_calendar_schedule(self, actor, data):
        result = holiday_schedules.load_calendar_schedule(self.db, self.dispatch, self.actors.verify(actor), data)
        self.ctx.log.info("calendar_schedule_loaded", years=[y["year"] for y in result["loaded"]])
        return result

    @rpc
    def get_calendar(self, actor, year):
        return holiday_schedules.get_calendar(self.db, self.actors.verify(actor), year)

    @rpc
    def list_calendar_years(self, actor):
        return holiday_schedules.list_calendar_years(self.db, self.actors.verify(actor))

    @rpc
    def get_calendar_status(self, actor):
        return holiday_schedules.next_year_status(self.db, self.actors.verify(actor))

    @rpc
    def get_calendar_schedules(self, actor):
        """Every loaded year's schedule, for the workflows worker's calendar at start."""
        return holiday_schedules.all_schedules(self.db, self.actors.verify(actor))
