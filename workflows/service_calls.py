"""Activities call the nameko services through the standalone RPC proxy (no eventlet needed).

One place for: signing the platform's system actor, carrying the correlation id, and turning a
service's DomainError into a non-retryable ApplicationError (transport failures stay retryable).
"""
from __future__ import annotations

from nameko.standalone.rpc import ClusterRpcProxy

from services.common.context import CORRELATION_KEY
from services.common.errors import DomainError
from services.common.identity import ActorSigner, system_actor
from services.common.logging import get_logger

from .errors import application_error

DEFAULT_RPC_TIMEOUT = 30.0  # seconds; activities' start-to-close timeouts are 60 s


class ServiceCaller:
    def __init__(self, amqp_uri: str, signer: ActorSigner, rpc_timeout: float = DEFAULT_RPC_TIMEOUT):
        self.amqp_uri = amqp_uri
        self.signer = signer
        self.rpc_timeout = rpc_timeout

    def system_token(self, division_code: str) -> str:
        return self.signer.sign(system_actor(division_code))

    def call(self, service: str, method: str, *args, division_code: str, correlation_id: str | None = None):
        """`service.method(system_token, *args)` as the platform."""
        log = get_logger(rpc=f"{service}.{method}", correlation_id=correlation_id)
        context = {CORRELATION_KEY: correlation_id} if correlation_id else {}
        try:
            with ClusterRpcProxy({"AMQP_URI": self.amqp_uri}, context_data=context, timeout=self.rpc_timeout) as rpc:
                return getattr(getattr(rpc, service), method)(self.system_token(division_code), *args)
        except DomainError as exc:
            log.warning("service_refused", error=exc.code, message=exc.message, field=exc.field)
            raise application_error(exc) from None
        except Exception as exc:  # broker down, service not running, timeout: Temporal retries
            log.warning("service_call_failed", error=type(exc).__name__, detail=str(exc))
            raise
