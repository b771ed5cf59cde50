"""Reporting service: event handlers feed read models; RPC answers from them alone."""
from __future__ import annotations

from pathlib import Path

from nameko.events import event_handler

from services.common.db import Database
from services.common import service_kit  # the module, so `nameko run` sees one service class here
from services.common.service_kit import rpc

from . import handlers


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
