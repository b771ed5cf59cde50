"""The bridge and the `workflows` RPC endpoint against the real RabbitMQ and Temporal dev server.

The callers are what production uses: the registry's nameko event wire format (published here
with kombu) and `nameko.standalone.rpc.ClusterRpcProxy`.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timezone

import pytest
from kombu import Connection, Exchange, Producer
from nameko.exceptions import MethodNotFound
from nameko.standalone.rpc import ClusterRpcProxy
from temporalio.converter import DataConverter

from services.common.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationFailed
from services.common.events import make_bundle
from workflows.bridge import QUEUE_NAME, InstitutionRegisteredBridge
from workflows.rpc_server import RpcServer, WorkflowsService
from workflows.verification.contracts import VerificationInput, workflow_id

from .conftest import TOWNSHIP


def envelope(institution_id: int, name: str = "枞阳县晨光美术培训学校", **data) -> dict:
    view = {
        "id": institution_id,
        "name": name,
        "uscc": "52340722MJB123456X",
        "township_code": TOWNSHIP,
        "category": "arts",
        "status": "operating",
        "verification": "pending",
    }
    view.update(data)
    return {
        "event_id": f"evt-{institution_id}",
        "type": "institution_registered",
        "source": "registry",
        "occurred_at": datetime.now(timezone.utc).isoformat(),
        "division_code": TOWNSHIP,
        "actor": None,
        "data": view,
    }


def publish(amqp_uri: str, *bodies, correlation_id: str = "cid-registration") -> None:
    """Publish as nameko's EventDispatcher does: topic exchange, event type as routing key."""
    exchange = Exchange("registry.events", type="topic", durable=True)
    with Connection(amqp_uri) as conn:
        producer = Producer(conn.channel())
        for body in bodies:
            options = {"serializer": "json"} if isinstance(body, dict) else {"content_type": "application/json", "content_encoding": "utf-8"}
            producer.publish(
                body,
                exchange=exchange,
                routing_key="institution_registered",
                headers={"nameko.correlation_id": correlation_id, "nameko.call_id_stack": ["registry.x.1"]},
                declare=[exchange],
                **options,
            )


def rpc_call(amqp_uri: str, method: str, *args, correlation_id: str = "cid-rpc"):
    """The gateway's way in: a nameko RPC proxy (sync, so tests run it in a thread)."""
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, context_data={"correlation_id": correlation_id}, timeout=20) as rpc:
        return getattr(rpc.workflows, method)(*args)


@contextlib.asynccontextmanager
async def workflows_process(client, queue, amqp_uri, signer):
    loop = asyncio.get_running_loop()
    bridge = InstitutionRegisteredBridge(client, queue, amqp_uri, loop)
    rpc = RpcServer(WorkflowsService(client, signer), amqp_uri, loop)
    bridge.start()
    rpc.start()
    try:
        for consumer in (bridge, rpc):
            assert await asyncio.to_thread(consumer.ready.wait, 10), f"{consumer.name} not consuming"
        yield bridge
    finally:
        await asyncio.gather(asyncio.to_thread(bridge.stop), asyncio.to_thread(rpc.stop))


async def until(predicate, interval=0.05):
    while not predicate():
        await asyncio.sleep(interval)


async def started_input(handle) -> VerificationInput:
    history = await handle.fetch_history()
    payloads = history.events[0].workflow_execution_started_event_attributes.input.payloads
    return DataConverter.default.payload_converter.from_payloads(payloads, [VerificationInput])[0]


@pytest.mark.timeout(60)
async def test_bridge_starts_one_workflow_per_institution(dev_env, amqp_uri, task_queue, running_worker, signer):
    client = dev_env.client
    async with running_worker(client, task_queue), workflows_process(client, task_queue, amqp_uri, signer) as bridge:
        event = envelope(301)
        await asyncio.to_thread(publish, amqp_uri, event, event)  # the same event redelivered
        await until(lambda: bridge.stats["started"] + bridge.stats["duplicates"] == 2)
        assert (bridge.stats["started"], bridge.stats["duplicates"]) == (1, 1)

        query = f'WorkflowId = "{workflow_id(301)}"'
        runs = []
        while not runs:  # visibility is eventually consistent
            runs = [wf async for wf in client.list_workflows(query)]
            await asyncio.sleep(0.05)
        assert len(runs) == 1
        handle = client.get_workflow_handle(workflow_id(301))
        params = await started_input(handle)
        assert (params.institution_id, params.institution_name, params.division_code) == (
            301, "枞阳县晨光美术培训学校", TOWNSHIP,
        )
        assert params.correlation_id == "cid-registration"
        assert (await handle.query("state")).get("status") == "pending"

        # malformed messages are dropped with a reason and do not block the ones behind them
        missing_id = envelope(302)
        del missing_id["data"]["id"]
        await asyncio.to_thread(publish, amqp_uri, b"{not json", missing_id, envelope(303))
        await until(lambda: bridge.stats["started"] == 2)
        assert bridge.stats["rejected"] == 2
        with Connection(amqp_uri) as conn:
            _, ready, _ = conn.default_channel.queue_declare(QUEUE_NAME, passive=True)
        assert ready == 0
        await client.get_workflow_handle(workflow_id(301)).terminate("test done")
        await client.get_workflow_handle(workflow_id(303)).terminate("test done")


@pytest.mark.timeout(60)
async def test_bridge_unbundles_an_import_without_workflows_and_splits_a_mixed_bundle(
        dev_env, amqp_uri, task_queue, running_worker, signer):
    client = dev_env.client
    imported = [envelope(500 + n, origin="ledger_import") for n in range(40)]
    malformed = envelope(599)
    del malformed["data"]["name"]
    mixed = [envelope(501, origin="ledger_import"), envelope(601), malformed]
    async with running_worker(client, task_queue), workflows_process(client, task_queue, amqp_uri, signer) as bridge:
        await asyncio.to_thread(publish, amqp_uri, make_bundle("registry", "institution_registered", imported))
        await until(lambda: bridge.stats["skipped"] == 40)  # the county's ledger is its licensing record
        await asyncio.to_thread(publish, amqp_uri, make_bundle("registry", "institution_registered", mixed))
        await until(lambda: bridge.stats["started"] == 1 and bridge.stats["rejected"] == 1)
        assert (bridge.stats["skipped"], bridge.stats["duplicates"], bridge.stats["failed"]) == (41, 0, 0)
        params = await started_input(client.get_workflow_handle(workflow_id(601)))
        assert params.institution_id == 601 and params.correlation_id == "cid-registration"
        with Connection(amqp_uri) as conn:
            _, ready, _ = conn.default_channel.queue_declare(QUEUE_NAME, passive=True)
        assert ready == 0
        await client.get_workflow_handle(workflow_id(601)).terminate("test done")


@pytest.mark.timeout(60)
async def test_decisions_over_nameko_rpc(
    dev_env, amqp_uri, task_queue, running_worker, registry, signer,
    civil_affairs_leader, education_leader, other_county_leader,
):
    client = dev_env.client
    async with running_worker(client, task_queue), workflows_process(client, task_queue, amqp_uri, signer) as bridge:
        await asyncio.to_thread(publish, amqp_uri, envelope(401))
        await until(lambda: bridge.stats["started"] == 1)

        assert (await asyncio.to_thread(rpc_call, amqp_uri, "ping"))["ok"] is True
        assert await asyncio.to_thread(rpc_call, amqp_uri, "health") == {"temporal": "ok"}
        with pytest.raises(MethodNotFound):
            await asyncio.to_thread(rpc_call, amqp_uri, "cancel_everything")

        civil = signer.sign(civil_affairs_leader)
        with pytest.raises(Forbidden) as forbidden:
            await asyncio.to_thread(rpc_call, amqp_uri, "decide_licence_verification", civil, 401, {"outcome": "verified"})
        assert forbidden.value.message == "民政局无权执行此操作，仅限：教体局"
        assert (forbidden.value.field, forbidden.value.row) == (None, None)
        assert str(forbidden.value) == "民政局无权执行此操作，仅限：教体局"

        with pytest.raises(NotAuthenticated) as unauthenticated:
            await asyncio.to_thread(
                rpc_call, amqp_uri, "decide_licence_verification", "forged.token", 401, {"outcome": "verified"}
            )
        assert unauthenticated.value.message == "操作人身份签名无效"

        leader = signer.sign(education_leader)
        with pytest.raises(ValidationFailed) as invalid:
            await asyncio.to_thread(
                rpc_call, amqp_uri, "decide_licence_verification", leader, 401, {"outcome": "rejected", "reason": ""}
            )
        assert (invalid.value.message, invalid.value.field) == ("核验不通过须填写理由", "reason")

        with pytest.raises(NotFound):
            await asyncio.to_thread(rpc_call, amqp_uri, "decide_licence_verification", leader, 999, {"outcome": "verified"})

        pending = await asyncio.to_thread(rpc_call, amqp_uri, "get_licence_verification", civil, 401)
        assert (pending["status"], pending["decision"]) == ("pending", None)
        with pytest.raises(Forbidden):
            await asyncio.to_thread(
                rpc_call, amqp_uri, "get_licence_verification", signer.sign(other_county_leader), 401
            )

        state = await asyncio.to_thread(
            rpc_call, amqp_uri, "decide_licence_verification", leader, 401, {"outcome": "verified", "reason": None},
            correlation_id="cid-decision-401",
        )
        assert (state["status"], state["recorded"], state["decided_by"]) == ("decided", True, "教体局/张科长")
        json.dumps(state)  # plain JSON for the gateway
        assert [(c.institution_id, c.outcome, c.correlation_id) for c in registry.calls] == [
            (401, "verified", "cid-decision-401")
        ]

        await client.get_workflow_handle(workflow_id(401)).result()
        with pytest.raises(Conflict):
            await asyncio.to_thread(rpc_call, amqp_uri, "decide_licence_verification", leader, 401, {"outcome": "verified"})
        assert len(registry.calls) == 1
