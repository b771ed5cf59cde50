"""Registry service: nameko entrypoints only. Rules live in domain.py, use cases in handlers.py."""
from __future__ import annotations

from pathlib import Path

from nameko.events import EventDispatcher

from services.common.db import Database
from services.common import service_kit  # the module, so `nameko run` sees one service class here
from services.common.service_kit import paging, rpc

from . import handlers


class RegistryService(service_kit.ServiceBase):
    name = "registry"

    db = Database(Path(__file__).parent / "migrations")
    dispatch = EventDispatcher()

    @rpc
    def register_institution(self, actor, data):
        result = handlers.register_institution(self.db, self.dispatch, self.actors.verify(actor), data)
        self.ctx.log.info("institution_registered", institution_id=result["id"], uscc=result["uscc"])
        return result

    @rpc
    def get_institution(self, actor, institution_id):
        return handlers.get_institution(self.db, self.actors.verify(actor), institution_id)

    @rpc
    def list_institutions(self, actor, limit=100, offset=0):
        limit, offset = paging(limit, offset)
        return handlers.list_institutions(self.db, self.actors.verify(actor), limit, offset)

    @rpc
    def record_licence_verification(self, actor, institution_id, decision):
        result = handlers.record_licence_verification(
            self.db, self.dispatch, self.actors.verify(actor), institution_id, decision
        )
        self.ctx.log.info(
            "licence_verification_recorded", institution_id=institution_id, outcome=result["verification"]
        )
        return result
