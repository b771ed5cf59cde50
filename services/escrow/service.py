"""Escrow service (预收费资金监管): nameko entrypoints only."""
from __future__ import annotations

from pathlib import Path

from services.common.batch_consumer import batch_event_handler, batch_fields  # batches, one transaction each
from services.common.deadletter import event_handler  # nameko's, plus dead-lettering (dlq.<service>)
from services.common.outbox import OutboxDispatcher

from services.common import service_kit  # the module, so `nameko run` sees one service class here
from services.common.calendar_copy import EVENT as CALENDAR_LOADED, CalendarCopy
from services.common.db import Database
from services.common.service_kit import paging, rpc

from . import handlers
from . import calendar_schedule  # issue 13: a loaded holiday schedule (deadlines here are computed when shown)
from .models import CalendarYear, OutboxRow, audit_trail
from . import desk_accounts, desk_charges, desk_lessons, monitoring  # issue 4: the prepaid-fee desk, early warning
from . import portal  # issue 14: 机构端 and 家长端 of 一课一消


class EscrowService(service_kit.ServiceBase):
    name = "escrow"
    audit_trail = audit_trail  # verify_audit / list_audit (services/common/service_kit.py)
    audit_read_actions = ("escrow.read",)
    metric_gauges = {"escrow_alerts_open": ("Open escrow alerts", monitoring.open_alert_count)}  # /metrics

    db = Database(Path(__file__).parent / "migrations")
    calendar = CalendarCopy(CalendarYear)  # the process's working days follow the loaded schedules (issue 13)

    @event_handler("registry", CALENDAR_LOADED)
    def on_calendar_schedule_loaded(self, event):
        applied = calendar_schedule.apply_calendar_schedule_loaded(self.db, event)
        self.ctx.log.info("calendar_schedule_applied", event_id=event.get("event_id"), applied=applied)
    dispatch = OutboxDispatcher(OutboxRow)  # the transactional outbox

    def _apply(self, event_type, events):
        applied = handlers.apply_events(self.db, event_type, events)
        self.ctx.log.info("enrolment_state_updated", event_type=event_type, **batch_fields(events, applied))

    @batch_event_handler("registry", "institution_registered")
    def on_institution_registered(self, events):
        self._apply("institution_registered", events)

    @batch_event_handler("registry", "institution_status_changed")
    def on_institution_status_changed(self, events):
        self._apply("institution_status_changed", events)

    @batch_event_handler("registry", "conversion_applied")
    def on_conversion_applied(self, events):
        self._apply("conversion_applied", events)

    @batch_event_handler("registry", "conversion_step_decided")
    def on_conversion_step_decided(self, events):
        self._apply("conversion_step_decided", events)

    @rpc
    def get_enrolment_eligibility(self, actor, institution_id):
        return handlers.get_enrolment_eligibility(self.db, self.actors.verify(actor), institution_id)

    @rpc
    def check_new_charge(self, actor, institution_id):
        return handlers.check_new_charge(self.db, self.actors.verify(actor), institution_id)

    @rpc
    def get_prepaid_position(self, actor, institution_id):
        return handlers.get_prepaid_position(self.db, self.actors.verify(actor), institution_id)

    # -- 预收费资金监管 (issue 4): desk, deadlines, early warning ------------------------------------

    @event_handler("escrow", "bank_transactions_booked")
    def on_bank_transactions_booked(self, event):
        result = monitoring.on_bank_transactions_booked(self.db, self.dispatch, event)
        self.ctx.log.info("bank_batch_evaluated", event_id=event.get("event_id"), **result)

    @rpc
    def get_escrow_settings(self, actor, county_code=None):
        return desk_accounts.get_settings(self.db, self.actors.verify(actor), county_code)

    @rpc
    def set_escrow_settings(self, actor, county_code, settings):
        return desk_accounts.set_settings(self.db, self.dispatch, self.actors.verify(actor), county_code, settings)

    @rpc
    def open_account(self, actor, data):
        result = desk_accounts.open_account(self.db, self.dispatch, self.actors.verify(actor), data)
        self.ctx.log.info("escrow_account_opened", account_id=result["id"], institution_id=result["institution_id"])
        return result

    @rpc
    def change_account(self, actor, account_id, changes):
        return desk_accounts.change_account(self.db, self.dispatch, self.actors.verify(actor), account_id, changes)

    @rpc
    def close_account(self, actor, account_id, data):
        return desk_accounts.close_account(self.db, self.dispatch, self.actors.verify(actor), account_id, data)

    @rpc
    def get_account(self, actor, account_id):
        return desk_accounts.get_account(self.db, self.actors.verify(actor), account_id)

    @rpc
    def list_accounts(self, actor, institution_id=None, status=None):
        return desk_accounts.list_accounts(self.db, self.actors.verify(actor), institution_id, status)

    @rpc
    def create_fee_item(self, actor, data):
        return desk_charges.create_fee_item(self.db, self.dispatch, self.actors.verify(actor), data)

    @rpc
    def publish_fee_item(self, actor, fee_item_id):
        return desk_charges.publish_fee_item(self.db, self.dispatch, self.actors.verify(actor), fee_item_id)

    @rpc
    def withdraw_fee_item(self, actor, fee_item_id):
        return desk_charges.withdraw_fee_item(self.db, self.dispatch, self.actors.verify(actor), fee_item_id)

    @rpc
    def list_fee_items(self, actor, institution_id):
        return desk_charges.list_fee_items(self.db, self.actors.verify(actor), institution_id)

    @rpc
    def sign_contract(self, actor, data):
        """The charge: refused with its reason (nothing stored) or recorded and announced."""
        result = desk_charges.sign_contract(self.db, self.dispatch, self.actors.verify(actor), data)
        self.ctx.log.info("contract_signed", contract_id=result["id"], institution_id=result["institution_id"],
                          amount_fen=result["amount_fen"])
        return result

    @rpc
    def get_contract(self, actor, contract_id):
        return desk_lessons.get_contract(self.db, self.actors.verify(actor), contract_id)

    @rpc
    def list_contracts(self, actor, limit=100, offset=0, institution_id=None, status=None):
        limit, offset = paging(limit, offset)
        return desk_charges.list_contracts(self.db, self.actors.verify(actor), limit, offset, institution_id, status)

    @rpc
    def deliver_lesson(self, actor, contract_id, data):
        return desk_lessons.deliver_lesson(self.db, self.dispatch, self.actors.verify(actor), contract_id, data)

    @rpc
    def confirm_lesson(self, actor, contract_id, lesson_no):
        return desk_lessons.confirm_lesson(self.db, self.dispatch, self.actors.verify(actor), contract_id, lesson_no)

    @rpc
    def deem_lesson_confirmed(self, actor, contract_id, lesson_no):
        """The platform, when the confirmation period ran out; a no-op if already confirmed."""
        return desk_lessons.deem_lesson_confirmed(self.db, self.dispatch, self.actors.verify(actor), contract_id,
                                                  lesson_no)

    # -- 机构端 and 家长端 (issue 14): the bound actors' own records ----------------------------------

    @rpc
    def open_contract_by_code(self, actor):
        """The parent's view of the contract whose code the (parent) actor carries."""
        return portal.open_by_code(self.db, self.actors.verify(actor))

    @rpc
    def dispute_lesson(self, actor, contract_id, lesson_no, data):
        return portal.dispute_lesson(self.db, self.dispatch, self.actors.verify(actor), contract_id, lesson_no, data)

    @rpc
    def find_contract(self, actor, contract_no):
        return portal.find_contract(self.db, self.actors.verify(actor), contract_no)

    @rpc
    def reissue_contract_code(self, actor, contract_id):
        return portal.reissue_code(self.db, self.dispatch, self.actors.verify(actor), contract_id)

    @rpc
    def request_refund(self, actor, contract_id, data):
        return desk_lessons.request_refund(self.db, self.dispatch, self.actors.verify(actor), contract_id, data)

    @rpc
    def answer_refund(self, actor, refund_id, answer):
        return desk_lessons.answer_refund(self.db, self.dispatch, self.actors.verify(actor), refund_id, answer)

    @rpc
    def deem_refund_accepted(self, actor, refund_id):
        """The platform, when the answer period ran out; a no-op unless still unanswered."""
        return desk_lessons.deem_refund_accepted(self.db, self.dispatch, self.actors.verify(actor), refund_id)

    @rpc
    def record_refund_paid(self, actor, refund_id):
        return desk_lessons.record_refund_paid(self.db, self.dispatch, self.actors.verify(actor), refund_id)

    @rpc
    def list_refunds(self, actor, institution_id=None, status=None):
        return desk_lessons.list_refunds(self.db, self.actors.verify(actor), institution_id, status)

    @rpc
    def get_position(self, actor, institution_id):
        return monitoring.get_position(self.db, self.actors.verify(actor), institution_id)

    @rpc
    def list_alerts(self, actor, limit=100, offset=0, filters=None):
        limit, offset = paging(limit, offset)
        return monitoring.list_alerts(self.db, self.actors.verify(actor), limit, offset, filters)

    @rpc
    def get_alert(self, actor, alert_id):
        return monitoring.get_alert(self.db, self.actors.verify(actor), alert_id)

    @rpc
    def close_alert(self, actor, alert_id, data):
        return monitoring.close_alert(self.db, self.dispatch, self.actors.verify(actor), alert_id, data)

    @rpc
    def scan_alerts(self, actor, county_code):
        """The time-based rules for every supervised institution in a division (daily schedule)."""
        result = monitoring.scan_alerts(self.db, self.dispatch, self.actors.verify(actor), county_code)
        self.ctx.log.info("escrow_scan", division_code=result["division_code"],
                          institutions=result["institutions_checked"], raised=len(result["raised"]),
                          closed=len(result["closed"]))
        return result
