"""Activities of the licence verification: plain sync methods run in the worker's thread pool.

They receive their dependencies through the class (the AMQP URI and the actor signer), so a
test can build them with fakes, and call the nameko services through the standalone
`ClusterRpcProxy`, which needs no eventlet monkey-patching.
"""
from __future__ import annotations

from datetime import datetime

from nameko.standalone.rpc import ClusterRpcProxy
from temporalio import activity

from services.common.context import CORRELATION_KEY
from services.common.errors import DomainError
from services.common.identity import ActorSigner, system_actor
from services.common.logging import get_logger
from services.common.workdays import SHANGHAI
from workflows.calendar_sync import calendar_for
from workflows.errors import application_error

from .contracts import ACTIVITY_COMPUTE_DEADLINE, ACTIVITY_RECORD, DeadlineRequest, RecordRequest

DEFAULT_RPC_TIMEOUT = 30.0  # seconds; the activity's start-to-close timeout is 60 s


class VerificationActivities:
    def __init__(self, amqp_uri: str, signer: ActorSigner, rpc_timeout: float = DEFAULT_RPC_TIMEOUT):
        self._amqp_uri = amqp_uri
        self._signer = signer
        self._rpc_timeout = rpc_timeout

    @activity.defn(name=ACTIVITY_COMPUTE_DEADLINE)
    def compute_deadline(self, request: DeadlineRequest) -> str:
        """End of the `workdays`-th working day after `start` (Asia/Shanghai), ISO 8601."""
        start = datetime.fromisoformat(request.start)
        if start.tzinfo is None:
            start = start.replace(tzinfo=SHANGHAI)
        return calendar_for(request.schedules).deadline(start, request.workdays).at.isoformat()

    @activity.defn(name=ACTIVITY_RECORD)
    def record_licence_verification(self, request: RecordRequest) -> dict:
        """Write the decision to the registry as the platform (a signed system actor)."""
        info = activity.info()
        log = get_logger(
            activity=ACTIVITY_RECORD,
            correlation_id=request.correlation_id,
            workflow_id=info.workflow_id,
            attempt=info.attempt,
            institution_id=request.institution_id,
        )
        token = self._signer.sign(system_actor(request.division_code))
        context = {CORRELATION_KEY: request.correlation_id} if request.correlation_id else {}
        config = {"AMQP_URI": self._amqp_uri}
        try:
            with ClusterRpcProxy(config, context_data=context, timeout=self._rpc_timeout) as rpc:
                view = rpc.registry.record_licence_verification(
                    token, request.institution_id, request.registry_decision()
                )
        except DomainError as exc:
            # the registry's answer will not change on retry (Unavailable excepted)
            log.warning("licence_verification_refused", error=exc.code, message=exc.message, field=exc.field)
            raise application_error(exc) from None
        except Exception as exc:
            # broker down, registry not running (UnknownService), RpcTimeout, …: retried
            log.warning("licence_verification_call_failed", error=type(exc).__name__, detail=str(exc))
            raise
        log.info("licence_verification_recorded", outcome=request.outcome, verification=view.get("verification"))
        return view
