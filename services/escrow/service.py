"""Escrow service (预收费资金监管): nameko entrypoints only."""
from __future__ import annotations

from pathlib import Path

from nameko.events import event_handler

from services.common.db import Database
from services.common import service_kit  # the module, so `nameko run` sees one service class here
from services.common.service_kit import rpc

from . import handlers


class EscrowService(service_kit.ServiceBase):
    name = "escrow"

    db = Database(Path(__file__).parent / "migrations")

    @event_handler("registry", "institution_registered")
    def on_institution_registered(self, event):
        applied = handlers.apply_institution_registered(self.db, event)
        self.ctx.log.info("eligibility_recorded", event_id=event.get("event_id"), applied=applied)

    @rpc
    def get_enrolment_eligibility(self, actor, institution_id):
        return handlers.get_enrolment_eligibility(self.db, self.actors.verify(actor), institution_id)
