"""Transactional outbox: events are rows written in the use case's own transaction; a relay publishes them.

    use case ── session.add(change) ── dispatch(type, event) ── session.commit()
                                           │ adds an `outbox` row: change and event commit together
    relay (one per process) ◀─ woken after that commit, and every second (rows a crash left behind)
      SELECT … WHERE published_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED LIMIT n
      → publish each as nameko would (exchange `<source>.events`, routing key = event type, JSON body,
        `nameko.*` context headers), persistent, on a channel in confirm mode; wait for every confirm
      → published_at = now, COMMIT

Delivery is at least once: a crash after the broker confirmed and before the COMMIT publishes the
rows again; consumers deduplicate by `event_id` (services/common/idempotency.py). Replicas of one
service lock disjoint rows (SKIP LOCKED), so they do not both publish the same pending row.
Published rows are deleted after `OUTBOX_RETENTION_DAYS` (default 7).

`Dispatch = Callable[[str, dict], None]` is unchanged: use cases call `dispatch(event_type, event)`
and then commit; a dispatch after the commit would stay uncommitted and be lost on close, so each
use case dispatches before its `session.commit()`.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable

import sqlalchemy as sa
from kombu.utils.json import dumps as kombu_dumps
from sqlalchemy import BigInteger, Integer, String, Text, delete, event as sa_event, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from .clock import UtcDateTime, utc_now
from .confirming_publisher import ConfirmingPublisher
from .events import BUNDLE_SIZE, BUNDLE_SIZE_HEADER, make_bundle
from .logging import get_logger
from .metrics import count_relayed

HEADER_PREFIX = "nameko"
# rows per relay pass; each pass ends waiting for the broker's confirms (issue 12: 500 → 2,000 took a
# 10,000-event import from 3.6 s to 2.1–2.8 s to publish into the four durable queues bound to it)
DEFAULT_BATCH = 2000
DEFAULT_SWEEP_SECONDS = 1.0
DEFAULT_RETENTION_DAYS = 7
RETENTION_EVERY_SECONDS = 3600.0
_BIGINT = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class OutboxMixin:
    """Mix into a service's own Base: `class OutboxRow(OutboxMixin, Base): pass`."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    exchange: Mapped[str] = mapped_column(String(120))  # "<source>.events"
    event_type: Mapped[str] = mapped_column(String(80))  # the routing key
    body: Mapped[dict] = mapped_column(sa.JSON)
    headers: Mapped[dict | None] = mapped_column(sa.JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


def create_outbox_table(op) -> None:
    """For a service's Alembic migration."""
    op.create_table(
        "outbox",
        sa.Column("id", _BIGINT, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("exchange", sa.String(120), nullable=False),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("headers", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    # the relay's scan: pending rows in id order (partial: stays small however many were published)
    op.create_index("ix_outbox_pending", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL"),
                    sqlite_where=sa.text("published_at IS NULL"))
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])


def drop_outbox_table(op) -> None:
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")


def exchange_name(source: str) -> str:
    return f"{source}.events"


def context_headers(context_data: dict) -> dict:
    """nameko's HeaderEncoder: every non-None context value as a `nameko.<key>` header."""
    return {f"{HEADER_PREFIX}.{key}": value for key, value in context_data.items() if value is not None}


def _as_json(value):
    """The body as the broker will carry it (kombu's JSON: dates, decimals, uuids as strings)."""
    return json.loads(kombu_dumps(value))


class Outbox:
    """The `dispatch` a use case is given: `dispatch(event_type, event)` adds an outbox row to the
    session; it is published only if, and once, the session commits. `dispatch.many(events)` too."""

    def __init__(self, session: Session | Callable[[], Session], model, source: str,
                 headers: dict | Callable[[], dict] | None = None, on_commit: Callable[[], None] | None = None):
        self._session = session
        self.model = model
        self.source = source
        self._headers = headers
        self.on_commit = on_commit
        self.added = 0

    @property
    def session(self) -> Session:
        return self._session() if callable(self._session) else self._session

    def _header_values(self) -> dict | None:
        headers = self._headers() if callable(self._headers) else self._headers
        return dict(headers) if headers else None

    def __call__(self, event_type: str, event: dict) -> None:
        session = self.session
        body = _as_json(event)
        event_id = body.get("event_id") if isinstance(body, dict) else None
        session.add(self.model(
            event_id=str(event_id or uuid.uuid4().hex), exchange=exchange_name(self.source), event_type=event_type,
            body=body, headers=self._header_values(), created_at=utc_now(), attempts=0,
        ))
        self.added += 1
        self._wake_after_commit(session)

    def many(self, events: list[tuple[str, dict]], bundle: frozenset[str] | set[str] = frozenset(),
             bundle_size: int = BUNDLE_SIZE) -> int:
        """Many rows in one bulk INSERT (a ledger import: 10,000 events). Runs of events whose type
        is in `bundle` go out as bundles of up to `bundle_size` (services/common/events.py): one row
        and one message each. Returns the events written."""
        if not events:
            return 0
        session = self.session
        session.flush()  # rows added before keep their place in id order
        now, headers, exchange = utc_now(), self._header_values(), exchange_name(self.source)
        rows = []
        for event_type, group in _runs(events, bundle, bundle_size):
            if len(group) == 1 and event_type not in bundle:
                body = _as_json(group[0])
                event_id = body.get("event_id") if isinstance(body, dict) else None
                row_headers = headers
            else:
                body = _as_json(make_bundle(self.source, event_type, group))
                event_id = body["events"][-1].get("event_id")  # lag is checked by the last one's id
                row_headers = {**(headers or {}), BUNDLE_SIZE_HEADER: len(group)}
            rows.append({"event_id": str(event_id or uuid.uuid4().hex), "exchange": exchange,
                         "event_type": event_type, "body": body, "headers": row_headers, "created_at": now,
                         "attempts": 0})
        session.execute(sa.insert(self.model), rows)
        self.added += len(events)
        self._wake_after_commit(session)
        return len(events)

    def _wake_after_commit(self, session: Session) -> None:
        if self.on_commit is not None and not session.info.get("outbox_wake"):
            session.info["outbox_wake"] = True
            sa_event.listen(session, "after_commit", lambda _session: self.on_commit())


def _runs(events: list[tuple[str, dict]], bundle, size: int):
    """(event type, [event]) in order: consecutive events of a bundled type grouped up to `size`,
    every other event alone."""
    group_type, group = None, []
    for event_type, event in events:
        if group and (event_type != group_type or event_type not in bundle or len(group) >= size):
            yield group_type, group
            group = []
        group_type = event_type
        group.append(event)
    if group:
        yield group_type, group


# -- the relay -----------------------------------------------------------------------------------------


class Relay:
    """Publishes pending outbox rows of one database in id order; marks them published."""

    def __init__(self, sessions: Callable[[], Session], model, publisher, batch: int = DEFAULT_BATCH,
                 retention_days: float = DEFAULT_RETENTION_DAYS, log=None):
        self.sessions = sessions
        self.model = model
        self.publisher = publisher
        self.batch = batch
        self.retention_days = retention_days
        self.log = log or get_logger(component="outbox_relay")
        self.published = 0
        self.failures = 0
        self.lock = threading.Lock()  # one pass at a time in this process

    def publish_once(self) -> int:
        """One batch: lock up to `batch` pending rows, publish, mark. Returns rows published."""
        model = self.model
        with self.sessions() as session:
            # the body as the JSON text stored: published as is, never parsed and serialized again
            # (a bundle of 500 events is ~800 kB: both passes took longer than the broker)
            rows = session.execute(
                select(model.id, model.exchange, model.event_type, sa.cast(model.body, Text).label("body"),
                       model.headers)
                .where(model.published_at.is_(None)).order_by(model.id).limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                session.rollback()
                return 0
            ids = [r.id for r in rows]
            try:
                self.publisher.publish([(r.exchange, r.event_type, r.body, r.headers) for r in rows])
            except Exception as exc:
                session.execute(sa.update(model).where(model.id.in_(ids))
                                .values(attempts=model.attempts + 1, last_error=str(exc)[:1000]))
                session.commit()
                self.failures += 1
                raise
            # one UPDATE for the batch (not one per row): the relay's cost is mostly this round trip
            session.execute(sa.update(model).where(model.id.in_(ids))
                            .values(published_at=utc_now(), attempts=model.attempts + 1, last_error=None)
                            .execution_options(synchronize_session=False))  # no row is loaded as an object
            session.commit()
            self.published += len(rows)
            count_relayed([(r.exchange, r.event_type) for r in rows])  # messages_published_total (metrics.py)
            return len(rows)

    def publish_pending(self) -> int:
        """Every pending row (several batches). Raises PublishFailed when the broker is away."""
        total = 0
        with self.lock:
            while True:
                count = self.publish_once()
                total += count
                if count < self.batch:
                    return total

    def pending(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(sa.func.count()).select_from(self.model)
                                  .where(self.model.published_at.is_(None))) or 0

    def delete_published(self, older_than_days: float | None = None, now: datetime | None = None) -> int:
        days = self.retention_days if older_than_days is None else older_than_days
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
        with self.sessions() as session:
            result = session.execute(delete(self.model).where(self.model.published_at.is_not(None),
                                                              self.model.published_at < cutoff))
            session.commit()
            return result.rowcount or 0


class RelayLoop:
    """Runs a Relay: after each wake() and every `sweep` seconds; prunes once an hour.

    `wait(timeout)` and `sleep` are injected so the same loop runs in a green thread (nameko)
    or a plain thread (the bank feed)."""

    def __init__(self, relay: Relay, sweep: float = DEFAULT_SWEEP_SECONDS, event_factory=threading.Event,
                 log=None):
        self.relay = relay
        self.sweep = sweep
        self.log = log or relay.log
        self._wake = event_factory()
        self._stopping = False
        self._last_prune = 0.0
        self._backoff = sweep

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def step(self) -> int:
        published = 0
        try:
            published = self.relay.publish_pending()
            self._backoff = self.sweep
        except Exception as exc:
            self.log.warning("outbox_publish_failed", error=type(exc).__name__, detail=str(exc)[:300],
                             retry_in=self._backoff)
            self._backoff = min(self._backoff * 2, 30.0)
        now = time.monotonic()
        if now - self._last_prune >= RETENTION_EVERY_SECONDS:
            self._last_prune = now
            try:
                pruned = self.relay.delete_published()
                if pruned:
                    self.log.info("outbox_pruned", rows=pruned, older_than_days=self.relay.retention_days)
            except Exception as exc:
                self.log.warning("outbox_prune_failed", error=type(exc).__name__, detail=str(exc)[:300])
        return published

    def run(self) -> None:
        while not self._stopping:
            self._wake.wait(self._backoff)
            self._wake.clear()
            if self._stopping:
                break
            self.step()
        self.relay.publisher.close()  # rows still pending go out with the next sweep (or the next process)


# -- nameko ---------------------------------------------------------------------------------------------

from nameko.extensions import DependencyProvider, SharedExtension  # noqa: E402


class OutboxRelay(SharedExtension):
    """One relay per service container (shared by all its OutboxDispatchers), in a managed green thread."""

    def __init__(self):
        self.loop: RelayLoop | None = None
        self._sources = None

    def use(self, engine_of, model) -> None:
        """`engine_of()` → the service database's engine (read at start, after every setup)."""
        if self._sources is None:
            self._sources = (engine_of, model)

    def setup(self):
        self.config = self.container.config

    def start(self):
        if self._sources is None:
            return
        engine_of, model = self._sources
        # its own small pool, disposed when the relay stops (the service's engine is disposed by the
        # Database dependency, which nameko stops before this sub-extension)
        self.engine = _relay_engine(engine_of())
        sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        sweep = float(self.config.get("OUTBOX_SWEEP_SECONDS", DEFAULT_SWEEP_SECONDS))
        days = float(self.config.get("OUTBOX_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
        log = get_logger(service=self.container.service_name, component="outbox_relay")
        relay = Relay(sessions, model, ConfirmingPublisher(self.config["AMQP_URI"]), retention_days=days, log=log)
        self.loop = RelayLoop(relay, sweep=sweep, event_factory=_GreenEvent, log=log)
        self._thread = self.container.spawn_managed_thread(self.loop.run, identifier="outbox_relay")

    def stop(self):
        if self.loop is not None:
            self.loop.stop()
            try:
                self._thread.wait()
            except Exception:
                pass
            self.engine.dispose()

    def kill(self):
        if self.loop is not None:
            self.loop.stop()
            self.engine.dispose()

    def wake(self) -> None:
        if self.loop is not None:
            self.loop.wake()


def _relay_engine(service_engine):
    url = service_engine.url
    if url.get_backend_name() == "sqlite":
        from .db import make_engine

        return make_engine(url.render_as_string(hide_password=False))
    return sa.create_engine(url, pool_pre_ping=True, pool_size=1, max_overflow=1)


class _GreenEvent:
    """threading.Event's wait/set/clear over eventlet (a green thread must not block the hub)."""

    def __init__(self):
        from eventlet.event import Event

        self._cls = Event
        self._event = Event()

    def set(self):
        if not self._event.ready():
            self._event.send(True)

    def clear(self):
        if self._event.ready():
            self._event = self._cls()

    def wait(self, timeout):
        import eventlet

        with eventlet.Timeout(timeout, False):
            self._event.wait()


class OutboxDispatcher(DependencyProvider):
    """Replaces nameko's EventDispatcher: `self.dispatch(event_type, event)` adds an outbox row to the
    session of the service's `Database` dependency (attribute `db_attr`) for this call."""

    relay = OutboxRelay()

    def __init__(self, model, db_attr: str = "db"):
        self.model = model
        self.db_attr = db_attr

    def _database(self):
        for dep in self.container.dependencies:
            if getattr(dep, "attr_name", None) == self.db_attr:
                return dep
        raise RuntimeError(f"OutboxDispatcher: no Database dependency named {self.db_attr!r}")

    def setup(self):
        # (the relay starts after every extension's setup, so the Database's sessionmaker exists then)
        self.relay.use(lambda: self._database().engine, self.model)

    def get_dependency(self, worker_ctx):
        db = self._database()

        def session():
            current = db.sessions.get(worker_ctx)
            if current is None:
                raise RuntimeError("outbox: this call has no database session")
            return current

        return Outbox(session, self.model, self.container.service_name,
                      headers=lambda: context_headers(worker_ctx.context_data), on_commit=self.relay.wake)
