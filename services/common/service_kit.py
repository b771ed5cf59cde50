"""Small nameko pieces every service uses."""
from __future__ import annotations

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc as nameko_rpc

from .config import load_secrets
from .context import Context
from .errors import DomainError, ValidationFailed
from .identity import ActorSigner
from .metrics import ServiceMetrics


class Actors(DependencyProvider):
    """`self.actors.verify(token)` → Actor, or NotAuthenticated. Also signs system actors."""

    def setup(self):
        self.signer = ActorSigner(load_secrets().actor_signing_key)

    def get_dependency(self, worker_ctx):
        return self.signer


def paging(limit: object, offset: object, max_limit: int = 500) -> tuple[int, int]:
    for name, value in (("limit", limit), ("offset", offset)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValidationFailed("应为非负整数", field=name)
    if limit == 0 or limit > max_limit:
        raise ValidationFailed(f"每页条数应在 1 到 {max_limit} 之间", field="limit")
    return limit, offset


def rpc(fn):
    """nameko @rpc for which DomainErrors are expected answers (logged briefly, not as crashes)."""
    return nameko_rpc(expected_exceptions=DomainError)(fn)


class ServiceBase:
    """What every service has: call context (correlation id, logger), actor checks, ping."""

    ctx = Context()
    actors = Actors()
    metrics = ServiceMetrics()  # /metrics on SHUANGJIAN_METRICS_PORT: RPCs, events in and out, queues
    # domain gauges read from the service's database on scrape: {name: (help, fn(session) -> number)}
    metric_gauges: dict = {}
    # the service's audit chain (services/common/audit.AuditTrail) and which read permissions let a
    # user see its records' trails; each service sets both
    audit_trail = None
    audit_read_actions: tuple[str, ...] = ()

    @rpc
    def ping(self):
        return {"service": self.name, "ok": True}

    @rpc
    def ops_status(self, actor):
        """For the 运维 page: this service's queue depths and its process's recent error lines."""
        from .logging import recent_errors
        from .policy import authorize

        authorize(self.actors.verify(actor), "ops.read_status")
        return {"service": self.name, "queues": self.metrics.queues(), "errors": recent_errors()}

    @rpc
    def get_event_tail(self, actor, types, mark=None, limit=None):
        """How far this service's outbox has got, for a reader's lag (services/common/read_model_lag.py)."""
        from . import read_model_lag as lag
        from .policy import authorize

        authorize(self.actors.verify(actor), "reporting.read")
        model = lag.outbox_model_of(type(self))
        if model is None:
            return {"source": self.name, "mark": 0, "unpublished": 0, "event_ids": {}}
        return lag.event_tail(self.db, model, self.name, lag.check_types(types), lag.check_mark(mark),
                              lag.check_limit(limit))

    @rpc
    def verify_audit(self, actor, at_seq=None):
        """Walk this service's hash chain: {service, entries, ok, first_bad_seq, reason, last_hash}
        (and `hash_at`: the hash of entry `at_seq`, to compare with the anchor)."""
        from . import audit

        return audit.verify_for(self.db, self.actors.verify(actor), self.audit_trail, at_seq)

    @rpc
    def audit_head(self, actor, at_seq=None):
        """The chain's last seq and hash (and the hash of entry `at_seq`: the one last anchored),
        for the anchor the gateway writes outside the databases (counts and hashes, nothing
        personal: any signed actor; the anchoring one is the platform)."""
        self.actors.verify(actor)
        if at_seq is not None and (not isinstance(at_seq, int) or isinstance(at_seq, bool) or at_seq < 0):
            raise ValidationFailed("锚点序号应为非负整数", field="at_seq")
        return self.audit_trail.head(self.db, at_seq)

    @rpc
    def list_audit(self, actor, entity=None, entity_id=None, limit=100, offset=0):
        from . import audit

        limit, offset = paging(limit, offset)
        return audit.list_for(self.db, self.actors.verify(actor), self.audit_trail, self.audit_read_actions,
                              entity, entity_id, limit, offset)
