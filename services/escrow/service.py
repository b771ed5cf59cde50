"""Escrow service (预收费资金监管): nameko entrypoints only."""
from __future__ import annotations

from pathlib import Path

from nameko.events import event_handler

from services.common import service_kit  # the module, so `nameko run` sees one service class here
from services.common.db import Database
from services.common.service_kit import rpc

from . import handlers


class EscrowService(service_kit.ServiceBase):
    name = "escrow"

    db = Database(Path(__file__).parent / "migrations")

    def _apply(self, event_type, event):
        applied = handlers.apply_event(self.db, event_type, event)
        self.ctx.log.info("enrolment_state_updated", event_type=event_type,
                          event_id=event.get("event_id"), applied=applied)

    @event_handler("registry", "institution_registered")
    def on_institution_registered(self, event):
        self._apply("institution_registered", event)

    @event_handler("registry", "institution_status_changed")
    def on_institution_status_changed(self, event):
        self._apply("institution_status_changed", event)

    @event_handler("registry", "conversion_applied")
    def on_conversion_applied(self, event):
        self._apply("conversion_applied", event)

    @event_handler("registry", "conversion_step_decided")
    def on_conversion_step_decided(self, event):
        self._apply("conversion_step_decided", event)

    @rpc
    def get_enrolment_eligibility(self, actor, institution_id):
        return handlers.get_enrolment_eligibility(self.db, self.actors.verify(actor), institution_id)

    @rpc
    def check_new_charge(self, actor, institution_id):
        return handlers.check_new_charge(self.db, self.actors.verify(actor), institution_id)

    @rpc
    def get_prepaid_position(self, actor, institution_id):
        return handlers.get_prepaid_position(self.db, self.actors.verify(actor), institution_id)
