"""Inspection service (检查执法): nameko entrypoints only."""
from __future__ import annotations

from pathlib import Path

from nameko.events import event_handler

from services.common.db import Database
from services.common import service_kit  # the module, so `nameko run` sees one service class here
from services.common.service_kit import rpc

from . import handlers


class InspectionService(service_kit.ServiceBase):
    name = "inspection"

    db = Database(Path(__file__).parent / "migrations")

    @event_handler("registry", "institution_registered")
    def on_institution_registered(self, event):
        applied = handlers.apply_institution_registered(self.db, event)
        self.ctx.log.info("inspection_target_added", event_id=event.get("event_id"), applied=applied)

    @rpc
    def list_inspection_targets(self, actor):
        return handlers.list_inspection_targets(self.db, self.actors.verify(actor))

    # -- leads from escrow's early warning (issue 4) --------------------------------------------

    @event_handler("escrow", "escrow_alert_raised")
    def on_escrow_alert_raised(self, event):
        applied = handlers.apply_escrow_alert_raised(self.db, event)
        self.ctx.log.info("inspection_lead_recorded", event_id=event.get("event_id"), applied=applied)

    @event_handler("registry", "course_published")
    def on_course_published(self, event):
        applied = handlers.apply_course_published(self.db, event)
        self.ctx.log.info("course_schedule_checked", event_id=event.get("event_id"), applied=applied)

    @rpc
    def list_leads(self, actor, status=None):
        return handlers.list_leads(self.db, self.actors.verify(actor), status)
