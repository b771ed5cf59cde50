"""The escrow database's outbox relay in the bank feed process (feed_consumer.py starts it): it
sends the `bank_transactions_booked` events the bookings commit."""
from __future__ import annotations

from services.common.logging import get_logger


def feed_relay(amqp: str, store):
    """The outbox relay of the escrow database, in this process (a plain thread; the escrow service
    runs its own too — on PostgreSQL they lock disjoint rows)."""
    from sqlalchemy.orm import sessionmaker

    from services.common.confirming_publisher import ConfirmingPublisher
    from services.common.outbox import Relay, RelayLoop

    from .models import OutboxRow

    log = get_logger(component="escrow_feed.outbox_relay")
    relay = Relay(sessionmaker(bind=store.engine, expire_on_commit=False), OutboxRow, ConfirmingPublisher(amqp),
                  log=log)
    return RelayLoop(relay, log=log)
