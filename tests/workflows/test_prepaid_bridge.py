"""Escrow's lesson/refund events → PrepaidContract, through the real RabbitMQ and dev server."""
from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from kombu import Connection, Exchange, Producer
from temporalio.worker import Worker

from workflows.prepaid.activities import PrepaidActivities
from workflows.prepaid.bridge import PrepaidBridge
from workflows.prepaid.contracts import workflow_id
from workflows.prepaid.workflows import PrepaidContract

from .conftest import TOWNSHIP


def event(event_type: str, contract_id: int, event_id: str, **data) -> dict:
    return {
        "event_id": event_id, "type": event_type, "source": "escrow",
        "occurred_at": datetime.now(timezone.utc).isoformat(), "division_code": TOWNSHIP, "actor": None,
        "data": {"contract_id": contract_id, "contract_no": f"HT-{contract_id}", "institution_id": 7,
                 "township_code": TOWNSHIP, **data},
    }


def publish(amqp_uri: str, *envelopes) -> None:
    exchange = Exchange("escrow.events", type="topic", durable=True)
    with Connection(amqp_uri) as conn:
        producer = Producer(conn.channel())
        for body in envelopes:
            key = body["type"] if isinstance(body, dict) else "lesson_delivered"
            options = {"serializer": "json"} if isinstance(body, dict) else {"content_type": "application/json"}
            producer.publish(body, exchange=exchange, routing_key=key, declare=[exchange], **options)


@pytest.mark.timeout(60)
async def test_lesson_events_reach_one_contract_workflow_and_bad_ones_do_not_block(dev_env, amqp_uri, task_queue):
    client = dev_env.client
    loop = asyncio.get_running_loop()
    bridge = PrepaidBridge(client, task_queue, amqp_uri, loop)
    bridge.start()
    try:
        assert await asyncio.to_thread(bridge.ready.wait, 10)
        with ThreadPoolExecutor(max_workers=2) as executor:
            async with Worker(client, task_queue=task_queue, workflows=[PrepaidContract],
                              activities=[PrepaidActivities(None).compute_workday_deadline], activity_executor=executor):
                now = datetime.now(timezone.utc).isoformat()
                delivered = event("lesson_delivered", 501, "e1", lesson_no=1, fee_fen=20000, delivered_at=now,
                                  confirm_within_workdays=15)
                await asyncio.to_thread(publish, amqp_uri, delivered, delivered,  # redelivered
                                        event("lesson_delivered", 501, "e2", lesson_no=2, fee_fen=20000,
                                              delivered_at=now),
                                        b"{broken", event("lesson_delivered", 502, "e3", lesson_no=1))  # no time
                while bridge.stats.get("signalled", 0) + bridge.stats["rejected"] < 5:
                    await asyncio.sleep(0.05)
                assert (bridge.stats["signalled"], bridge.stats["rejected"]) == (3, 2)
                handle = client.get_workflow_handle(workflow_id(501))
                state = await handle.query(PrepaidContract.state)
                assert sorted(p.key for p in state.lessons) == [1, 2]
                await asyncio.to_thread(publish, amqp_uri, event("lesson_confirmed", 501, "e4", lesson_no=1, how="parent"))
                while len((await handle.query(PrepaidContract.state)).lessons) != 1:
                    await asyncio.sleep(0.05)
                await handle.terminate("test done")
    finally:
        await asyncio.to_thread(bridge.stop)
    with contextlib.suppress(Exception):
        await client.get_workflow_handle(workflow_id(502)).terminate("test done")
