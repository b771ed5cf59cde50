"""The `workflows` RPC service, served over AMQP in nameko's wire protocol (nameko 2.14).

So `RpcProxy("workflows")` in the gateway and `ClusterRpcProxy` work unchanged, this speaks
exactly what nameko's `RpcConsumer`/`Responder` speak:

* requests: exchange `nameko-rpc` (topic, durable), queue `rpc-workflows` (durable) bound with
  `workflows.*`; routing key `workflows.<method>`; JSON body `{"args": [...], "kwargs": {...}}`;
  context in headers `nameko.<key>` (`nameko.correlation_id`).
* replies: `{"result": ..., "error": None | nameko.exceptions.serialize(exc)}`, published to the
  same `nameko-rpc` exchange with routing key = the request's `reply_to` property (nameko's
  reply queues are bound there by that key — not to the default exchange) and the request's
  `correlation_id` property; then the request is acked.

Errors are `services.common.errors` classes, which nameko deserialises back to the same class
on the caller's side: NotAuthenticated, Forbidden, ValidationFailed, NotFound, Conflict,
Unavailable.
"""
from __future__ import annotations

import asyncio
import contextvars
import json
import re
import time
from concurrent.futures import Future
from datetime import timedelta

from kombu import Exchange, Producer, Queue
from kombu.message import Message
from nameko.exceptions import IncorrectSignature, MalformedRequest, MethodNotFound, serialize
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.service import RPCError, RPCStatusCode

from services.common.context import CORRELATION_KEY, new_correlation_id
from services.common.errors import (
    Conflict,
    DomainError,
    NotFound,
    Unavailable,
    ValidationFailed,
)
from services.common.identity import ActorSigner
from services.common import metrics
from services.common.logging import get_logger, recent_errors
from services.common.policy import authorize
from services.common.rpc_wire import resolve_call
from workflows.amqp import LoopConsumer
from workflows.approvals.contracts import CaseState, case_decision, case_state_as_dict
from workflows.errors import domain_error
from workflows.verification.contracts import (
    QUERY_STATE,
    READ_ACTION,
    UPDATE_DECIDE,
    DecisionInput,
    VerificationState,
    state_as_dict,
    workflow_id,
)

CASE_ID = re.compile(r"^(conversion|deregistration)-\d{1,12}-\d{1,12}$")
SERVICE_NAME = "workflows"
RPC_EXCHANGE = "nameko-rpc"
RPC_QUEUE = f"rpc-{SERVICE_NAME}"
HEADER_PREFIX = "nameko."
QUERY_TIMEOUT = timedelta(seconds=10)
ACCEPT_TIMEOUT = timedelta(seconds=15)  # for a worker to validate and accept a decision
UPDATE_WAIT = 20.0  # seconds to wait for the registry write before answering with the state so far

# the correlation id of the RPC being handled (each call runs in its own task, so its own context)
current_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)


def rpc_queue() -> Queue:
    exchange = Exchange(RPC_EXCHANGE, type="topic", durable=True)
    return Queue(RPC_QUEUE, exchange=exchange, routing_key=f"{SERVICE_NAME}.*", durable=True)


def serialize_error(exc: BaseException) -> dict:
    """nameko's error dict. For DomainError the args go as they are: nameko's own `serialize`
    stringifies None, so a caller would get field "None" and row "None" back."""
    data = serialize(exc)
    if isinstance(exc, DomainError):
        data["exc_args"] = [exc.message, exc.field, exc.row]
    return data


def _case_id(value: object) -> str:
    if not isinstance(value, str) or not CASE_ID.match(value):
        raise ValidationFailed("办件编号格式不正确", field="workflow_id")
    return value


def _institution_id(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValidationFailed("机构编号应为正整数", field="institution_id")
    return value


def _workflow_error(err: BaseException) -> DomainError:
    """A Temporal client error as the DomainError the caller should see."""
    known = domain_error(err)
    if known is not None:
        return known
    if isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND:
        return NotFound("未找到该机构的办学许可核验流程", field="institution_id")
    get_logger(component="workflows.rpc").warning(
        "temporal_call_failed", error=type(err).__name__, detail=str(err), cause=repr(err.__cause__)
    )
    return Unavailable("流程服务暂不可用，请稍后重试")


class WorkflowsService:
    """The methods callable as `workflows.<name>`; each returns JSON-ready data."""

    def __init__(self, client: Client, signer: ActorSigner, update_wait: float = UPDATE_WAIT,
                 workflow_types: tuple[str, ...] = ()):
        self.client = client
        self.signer = signer
        self.update_wait = update_wait
        self.workflow_types = workflow_types  # counted for the 运维 page

    async def ping(self) -> dict:
        return {"service": SERVICE_NAME, "ok": True}

    async def health(self) -> dict:
        try:
            await asyncio.wait_for(self.client.service_client.check_health(), timeout=5)
        except Exception as exc:
            return {"temporal": f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__}
        return {"temporal": "ok"}

    async def ops_status(self, actor_token) -> dict:
        """For the 运维 page: running and failed workflows per type, and this process's recent errors."""
        authorize(self.signer.verify(actor_token), "ops.read_status")

        async def count(query: str) -> int:
            return (await self.client.count_workflows(query)).count

        counts = {}
        try:
            for name in self.workflow_types:
                counts[name] = {
                    "running": await asyncio.wait_for(
                        count(f"WorkflowType='{name}' AND ExecutionStatus='Running'"), timeout=5),
                    "failed": await asyncio.wait_for(
                        count(f"WorkflowType='{name}' AND ExecutionStatus IN ('Failed','TimedOut','Terminated')"),
                        timeout=5),
                }
        except Exception as exc:  # visibility not answering: the page says so rather than failing
            return {"service": SERVICE_NAME, "workflows": counts, "workflows_error": type(exc).__name__,
                    "errors": recent_errors()}
        return {"service": SERVICE_NAME, "workflows": counts, "errors": recent_errors()}

    async def decide_licence_verification(self, actor_token, institution_id, decision) -> dict:
        """The education bureau's decision on a licence (办学许可核验): the workflow's `decide`
        update. The workflow's validator checks department, role, division and the payload."""
        actor = self.signer.verify(actor_token)
        institution_id = _institution_id(institution_id)
        if not isinstance(decision, dict):
            raise ValidationFailed("核验决定应为对象：{outcome, reason}", field="decision")
        # only the shapes here; the workflow's validator owns the rules (who, which outcome, reason)
        outcome, reason = decision.get("outcome"), decision.get("reason")
        if not isinstance(outcome, str):
            raise ValidationFailed(
                "核验结果只能是 verified（已核验）或 rejected（核验不通过）", field="outcome"
            )
        if reason is not None and not isinstance(reason, str):
            raise ValidationFailed("理由应为文字", field="reason")
        handle = self.client.get_workflow_handle(workflow_id(institution_id))
        payload = DecisionInput(
            actor=actor.to_dict(), outcome=outcome, reason=reason, correlation_id=current_correlation_id.get(),
            actor_token=actor_token,  # the workflow's validator verifies it again
        )
        try:
            update = await handle.start_update(
                UPDATE_DECIDE,
                payload,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=VerificationState,
                rpc_timeout=ACCEPT_TIMEOUT,
            )
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise await self._not_running(institution_id) from None
            raise _workflow_error(err) from None
        except WorkflowUpdateFailedError as err:
            raise _workflow_error(err) from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            # no worker took it in time (worker down?); it may still be applied when one does
            raise Unavailable("流程服务暂未响应，请稍后查看核验状态") from None
        try:
            state = await asyncio.wait_for(update.result(), timeout=self.update_wait)
        except asyncio.TimeoutError:
            # accepted and durable, the registry write is still being retried: say so
            state = await self._query(institution_id)
        except (WorkflowUpdateFailedError, RPCError) as err:
            raise _workflow_error(err) from None
        return state_as_dict(state)

    async def get_licence_verification(self, actor_token, institution_id) -> dict:
        actor = self.signer.verify(actor_token)
        institution_id = _institution_id(institution_id)
        authorize(actor, READ_ACTION)
        state = await self._query(institution_id)
        authorize(actor, READ_ACTION, state.division_code)
        return state_as_dict(state)

    async def _query(self, institution_id: int) -> VerificationState:
        handle = self.client.get_workflow_handle(workflow_id(institution_id))
        try:
            return await handle.query(QUERY_STATE, result_type=VerificationState, rpc_timeout=QUERY_TIMEOUT)
        except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError) as err:
            raise _workflow_error(err) from None

    # -- 营转非 / 注销 cases ------------------------------------------------------------------------

    async def decide_case(self, actor_token, workflow_id, decision) -> dict:
        """A department's decision on the current step of a case: the workflow's `decide` update,
        whose validator checks department, role, division, action and reason."""
        actor = self.signer.verify(actor_token)
        handle = self.client.get_workflow_handle(_case_id(workflow_id))
        payload = case_decision(actor, decision, current_correlation_id.get(), actor_token)
        try:
            update = await handle.start_update(
                UPDATE_DECIDE, payload, wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=CaseState, rpc_timeout=ACCEPT_TIMEOUT,
            )
            state = await asyncio.wait_for(update.result(), timeout=self.update_wait)
        except asyncio.TimeoutError:
            state = await self._case_state(handle)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise NotFound("未找到该办件的流程", field="workflow_id") from None
            raise _workflow_error(err) from None
        except WorkflowUpdateFailedError as err:
            known = domain_error(err)
            if known is None:  # the workflow has ended since: nothing left to decide
                raise Conflict("该办件已办结，不能再作决定", field="workflow_id") from None
            raise known from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            raise Unavailable("流程服务暂未响应，请稍后查看办件状态") from None
        return case_state_as_dict(state)

    async def get_case_state(self, actor_token, workflow_id) -> dict:
        actor = self.signer.verify(actor_token)
        authorize(actor, READ_ACTION)
        state = await self._case_state(self.client.get_workflow_handle(_case_id(workflow_id)))
        authorize(actor, READ_ACTION, state.division_code)
        return case_state_as_dict(state)

    async def _case_state(self, handle) -> CaseState:
        try:
            return await handle.query(QUERY_STATE, result_type=CaseState, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise NotFound("未找到该办件的流程", field="workflow_id") from None
            raise _workflow_error(err) from None
        except (WorkflowQueryFailedError, WorkflowQueryRejectedError) as err:
            raise _workflow_error(err) from None

    async def _not_running(self, institution_id: int) -> DomainError:
        try:
            description = await self.client.get_workflow_handle(workflow_id(institution_id)).describe()
        except RPCError as err:
            return _workflow_error(err)
        if description.status != WorkflowExecutionStatus.RUNNING:
            return Conflict("该机构的办学许可核验已结束，不能再作决定", field="institution_id")
        return Unavailable("办学许可核验流程暂不可用")


class RpcServer(LoopConsumer):
    """Serves a `WorkflowsService` on the `rpc-workflows` queue."""

    def __init__(self, service: WorkflowsService, amqp_uri: str, loop: asyncio.AbstractEventLoop, **options):
        super().__init__(name="workflows.rpc", amqp_uri=amqp_uri, loop=loop, **options)
        self.service = service
        self.methods = {
            name: getattr(service, name)
            for name in ("ping", "health", "decide_licence_verification", "get_licence_verification",
                         "decide_case", "get_case_state", "ops_status")
        }

    def queues(self) -> list[Queue]:
        return [rpc_queue()]

    def start_work(self, message: Message):
        headers = message.headers or {}
        context = {
            key[len(HEADER_PREFIX):]: value for key, value in headers.items() if key.startswith(HEADER_PREFIX)
        }
        method = str(message.delivery_info.get("routing_key", "")).split(".", 1)[-1]
        return self._call(method, message, context)

    async def _call(self, method: str, message: Message, context: dict):
        cid = context.get(CORRELATION_KEY)
        if not isinstance(cid, str) or not cid or len(cid) > 128:
            cid = new_correlation_id()
        current_correlation_id.set(cid)
        log = get_logger(rpc=f"{SERVICE_NAME}.{method}", correlation_id=cid)
        started = time.perf_counter()
        label = method if method in self.methods else "<unknown>"
        try:
            function, args, kwargs = resolve_call(self.methods, method, message.body)
            result = await function(*args, **kwargs)
        except DomainError as exc:
            log.info("rpc_refused", error=exc.code, message=exc.message, field=exc.field,
                     ms=round((time.perf_counter() - started) * 1000))
            metrics.observe_rpc(SERVICE_NAME, label, "rejected", time.perf_counter() - started)
            raise
        except (MalformedRequest, MethodNotFound, IncorrectSignature) as exc:
            log.warning("rpc_bad_request", error=type(exc).__name__, detail=str(exc))
            metrics.observe_rpc(SERVICE_NAME, label, "rejected", time.perf_counter() - started)
            raise
        except Exception:
            log.exception("rpc_failed")
            metrics.observe_rpc(SERVICE_NAME, label, "error", time.perf_counter() - started)
            raise
        log.info("rpc_done", ms=round((time.perf_counter() - started) * 1000))
        metrics.observe_rpc(SERVICE_NAME, label, "ok", time.perf_counter() - started)
        return result

    def finish_work(self, message: Message, future: Future, producer: Producer) -> None:
        error = future.exception()
        result = None if error is not None else future.result()
        if error is None:
            try:
                json.dumps(result)
            except (TypeError, ValueError) as exc:
                from nameko.exceptions import UnserializableValueError

                self.log.error("rpc_result_unserializable", detail=str(exc))
                error, result = UnserializableValueError(result), None
        payload = {"result": result, "error": serialize_error(error) if error is not None else None}
        reply_to = message.properties.get("reply_to")
        if reply_to:
            producer.publish(
                payload,
                exchange=RPC_EXCHANGE,
                routing_key=reply_to,
                correlation_id=message.properties.get("correlation_id"),
                serializer="json",
            )
        else:
            self.log.warning("rpc_without_reply_to", routing_key=message.delivery_info.get("routing_key"))
        message.ack()
