"""Reporting service: event handlers feed read models; RPC answers from them alone."""
from __future__ import annotations

from pathlib import Path

from nameko.events import event_handler

from services.common.db import Database
from services.common import service_kit  # the module, so `nameko run` sees one service class here
from services.common.service_kit import rpc

from . import handlers
from . import escrow  # issue 4: escrow figures


class ReportingService(service_kit.ServiceBase):
    name = "reporting"

    db = Database(Path(__file__).parent / "migrations")

    @event_handler("registry", "institution_registered")
    def on_institution_registered(self, event):
        applied = handlers.apply_institution_registered(self.db, event)
        self.ctx.log.info("read_model_updated", event_id=event.get("event_id"), applied=applied)

    @event_handler("registry", "institution_status_changed")
    def on_institution_status_changed(self, event):
        applied = handlers.apply_institution_status_changed(self.db, event)
        self.ctx.log.info("read_model_updated", event_id=event.get("event_id"), applied=applied)

    @event_handler("registry", "institution_updated")
    def on_institution_updated(self, event):
        applied = handlers.apply_institution_updated(self.db, event)
        self.ctx.log.info("read_model_updated", event_id=event.get("event_id"), applied=applied)

    @rpc
    def get_institution_counts(self, actor, division_code=None, as_of=None):
        return handlers.institution_counts(self.db, self.actors.verify(actor), division_code, as_of)

    # -- escrow (issue 4): accounts, funds under supervision, open alerts --------------------------

    def _escrow(self, event_type, event):
        applied = escrow.apply_escrow_event(self.db, event_type, event)
        self.ctx.log.info("read_model_updated", event_type=event_type, event_id=event.get("event_id"),
                          applied=applied)

    @event_handler("escrow", "escrow_account_opened")
    def on_escrow_account_opened(self, event):
        self._escrow("escrow_account_opened", event)

    @event_handler("escrow", "escrow_account_closed")
    def on_escrow_account_closed(self, event):
        self._escrow("escrow_account_closed", event)

    @event_handler("escrow", "escrow_alert_raised")
    def on_escrow_alert_raised(self, event):
        self._escrow("escrow_alert_raised", event)

    @event_handler("escrow", "escrow_alert_closed")
    def on_escrow_alert_closed(self, event):
        self._escrow("escrow_alert_closed", event)

    @event_handler("escrow", "bank_transactions_booked")
    def on_bank_transactions_booked(self, event):
        self._escrow("bank_transactions_booked", event)

    @rpc
    def get_escrow_summary(self, actor, division_code=None, as_of=None):
        return escrow.escrow_summary(self.db, self.actors.verify(actor), division_code, as_of)
