"""Helpers of the workflow tests."""
from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

from temporalio.worker import Worker

from workflows import actor_tokens


@contextlib.asynccontextmanager
async def serving(client, queue, workflows, activities, started: list):
    """Run a worker; on exit terminate the workflows the test left open (kept in `started`), so
    the session's one time-skipping server is not held up by workflows nobody serves."""
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(client, task_queue=queue, workflows=workflows, activities=activities,
                          activity_executor=executor, workflow_runner=actor_tokens.sandbox_runner()):
            try:
                yield
            finally:
                while started:
                    with contextlib.suppress(Exception):
                        await started.pop().terminate("test finished")
