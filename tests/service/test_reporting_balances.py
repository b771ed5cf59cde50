"""Reporting's daily balances from `bank_transactions_booked` (services/reporting/escrow.py), applied
a batch at a time on the run's database: the same rows as applying the events one by one."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import services.reporting as reporting
from services.common.config import database_url
from services.common.db import make_engine, migrate
from services.common.events import make_event
from services.reporting.escrow import apply_escrow_events
from services.reporting.models import EscrowAccountFact, EscrowBalanceFact, InstitutionFact

TOWNSHIP, OTHER = "340722100", "340722101"
BEIJING = timezone(timedelta(hours=8))


def booked(at: datetime, *balances: tuple) -> dict:
    """One feed batch booked at `at`: (institution_id, balance_fen[, township_code])."""
    return make_event("escrow", "bank_transactions_booked", {"institutions": [
        {"institution_id": b[0], "balance_fen": b[1], **({"township_code": b[2]} if len(b) > 2 else {})}
        for b in balances]}, TOWNSHIP, occurred_at=at)


@pytest.fixture
def engine():
    url = database_url("reporting")
    migrate("reporting", Path(reporting.__file__).parent / "migrations", url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def balances(engine) -> dict:
    with Session(engine) as session:
        return {(r.institution_id, r.day): (r.balance_fen, r.division_code, r.booked_at)
                for r in session.scalars(select(EscrowBalanceFact))}


def apply(engine, events: list, one_by_one: bool = False) -> None:
    with Session(engine) as session:
        for batch in ([e] for e in events) if one_by_one else [events]:
            apply_escrow_events(session, "bank_transactions_booked", batch)


def history() -> list[dict]:
    morning = datetime(2026, 12, 3, 9, 0, tzinfo=BEIJING)
    return [
        booked(morning + timedelta(hours=2), (1, 50_000, TOWNSHIP), (2, 7_000, OTHER)),
        booked(morning, (1, 40_000, TOWNSHIP)),  # late: an earlier booking must not win
        booked(morning + timedelta(hours=2), (1, 55_000, TOWNSHIP)),  # same moment, later event: wins
        booked(morning + timedelta(hours=3), (3, 9_900), (4, 1_000)),  # no township: placed from the facts
        booked(morning + timedelta(days=1), (1, 60_000, TOWNSHIP), (2, 8_000, OTHER)),  # the next day
    ]


def seed_facts(engine) -> None:
    with Session(engine) as session:
        session.add(InstitutionFact(institution_id=3, division_code=OTHER, category="academic",
                                    registered_on=date(2021, 9, 1), version=1))
        session.add(EscrowAccountFact(account_id=30, institution_id=3, division_code=TOWNSHIP))  # facts first
        session.commit()


def test_a_batch_books_what_one_at_a_time_would(engine):
    seed_facts(engine)
    events = history()
    apply(engine, events, one_by_one=True)
    expected = balances(engine)
    assert expected[(1, date(2026, 12, 3))][0] == 55_000
    assert expected[(3, date(2026, 12, 3))][:2] == (9_900, OTHER)
    assert all(iid != 4 for iid, _ in expected)  # nowhere to place it: not counted
    assert len(expected) == 5

    with Session(engine) as session:
        session.query(EscrowBalanceFact).delete()
        session.commit()
    with Session(engine) as session:  # new event ids: the same bookings, as one batch
        apply_escrow_events(session, "bank_transactions_booked",
                            [dict(e, event_id=e["event_id"][::-1]) for e in events])
    assert balances(engine) == expected


def test_a_later_batch_updates_only_with_a_newer_booking(engine):
    seed_facts(engine)
    apply(engine, history())
    noon = datetime(2026, 12, 3, 12, 0, tzinfo=BEIJING)
    apply(engine, [booked(noon - timedelta(hours=2), (1, 1, TOWNSHIP), (2, 2, OTHER)),  # older than stored
                   booked(noon + timedelta(hours=1), (2, 7_500, OTHER), (5, 300, TOWNSHIP))])
    rows = balances(engine)
    assert rows[(1, date(2026, 12, 3))][0] == 55_000
    assert rows[(2, date(2026, 12, 3))][:2] == (7_500, OTHER)
    assert rows[(5, date(2026, 12, 3))][:2] == (300, TOWNSHIP)


def test_a_bad_township_refuses_the_whole_batch(engine):
    good = booked(datetime(2026, 12, 3, 9, 0, tzinfo=BEIJING), (1, 100, TOWNSHIP))
    bad = booked(datetime(2026, 12, 3, 10, 0, tzinfo=BEIJING), (2, 100, "34x"))
    with pytest.raises(Exception), Session(engine) as session:
        apply_escrow_events(session, "bank_transactions_booked", [good, bad])
    assert balances(engine) == {}  # rolled back: the consumer then applies them one by one
