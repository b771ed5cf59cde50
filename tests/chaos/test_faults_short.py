"""The short fault run inside `make test`: small load, one consumer service SIGKILLed and the
workflow worker SIGKILLed, each restarted as `make up` starts it; nothing may be lost or doubled.

Only faults the platform survives without the transactional outbox: a nameko consumer killed
mid-work leaves its unacknowledged events on the queue (redelivered, applied once thanks to the
processed-events table), and a killed Temporal worker's tasks are retried by the server. Killing
a *publisher* between its commit and its publish (registry, escrow, the feed) can lose the event
until the outbox lands; `make chaos` runs those too and reports what it loses.
"""
import pytest

from tests.chaos.harness import SHORT_FAULTS, clean, platform_env_defaults, run, table
from tests.e2e.support import run_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    platform_env_defaults()
    yield from run_platform(tmp_path_factory.mktemp("chaos"))


def test_nothing_lost_or_doubled_when_a_consumer_and_the_worker_are_killed(platform):
    injected, rows, ledger = run(platform, faults=SHORT_FAULTS, warmup=2, between=2, settle_seconds=60, rate=0.35)
    report = table(injected, rows, ledger)
    print(report)
    assert all(not note.startswith("FAILED") for _, note in injected), report
    assert sum(r.sent for r in rows if r.kind.startswith("registrations")) >= 5, report
    assert clean(rows), report
