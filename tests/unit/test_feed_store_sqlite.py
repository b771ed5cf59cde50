"""The feed's SQLite store (what `make up` uses by default): idempotent booking and balances."""
from __future__ import annotations

import pytest

from services.common.db import migrate
from services.escrow.feed import MIGRATIONS, schema_ready
from services.escrow.feed_store import SqliteStore, open_store
from tests import feed_store_cases as cases


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('feed') / 'escrow.db'}"
    assert not schema_ready(url)
    migrate("escrow", MIGRATIONS, url)
    assert schema_ready(url)
    return url


@pytest.fixture
def store(url):
    store = open_store(url)
    assert isinstance(store, SqliteStore)
    cases.add_accounts(store.engine)
    yield store
    cases.clear(store.engine)
    store.close()


def test_booking_twice_books_once(store):
    cases.case_booking_twice_books_once(store)


def test_one_group_many_batches_and_rejections(store):
    cases.case_one_group_many_batches_and_rejections(store)


def test_a_booking_and_its_event_commit_together(store):
    cases.case_a_booking_and_its_event_commit_together(store)
