"""Each service's own database: engine, migrations on start, a session per worker."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from nameko.extensions import DependencyProvider
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from .config import database_url


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # few idle connections per process: a platform runs about eight processes against one server
    # (PostgreSQL's default max_connections is 100); bursts borrow overflow connections
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=16)


def migrate(service: str, migrations_dir: Path, url: str) -> None:
    """Apply the service's Alembic migrations up to head (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("version_table", f"alembic_version_{service}")
    cfg.attributes["url"] = url
    command.upgrade(cfg, "heads")  # independent branches (one per feature) may coexist


class Database(DependencyProvider):
    """`self.db` is a SQLAlchemy Session, closed (and rolled back if uncommitted) after the call."""

    def __init__(self, migrations_dir: Path, service: str | None = None, on_ready=None):
        self.migrations_dir = Path(migrations_dir)
        self.service = service
        self.on_ready = on_ready  # called with the sessionmaker once migrations are applied

    def setup(self):
        service = self.service or self.container.service_name
        url = self.container.config.get("DB_URIS", {}).get(service) or database_url(service)
        migrate(service, self.migrations_dir, url)
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.sessions = {}
        if self.on_ready is not None:
            self.on_ready(self.sessionmaker)

    def stop(self):
        self.engine.dispose()

    def get_dependency(self, worker_ctx):
        session = self.sessionmaker()
        self.sessions[worker_ctx] = session
        return session

    def worker_teardown(self, worker_ctx):
        session = self.sessions.pop(worker_ctx, None)
        if session is not None:
            session.close()



# PostgreSQL plans a read model's queries from table statistics that autovacuum refreshes a minute
# or more after a bulk load; until then a report over 2,000 freshly applied institutions took 4.2 s
# instead of 0.18 s. A batch that changed a table by more than half (plus 200 rows) since its last
# ANALYZE analyses it itself: the plans need the order of magnitude, not autovacuum's 10 %.
ANALYZE_SCALE = 0.5
ANALYZE_THRESHOLD = 200

_STALE_TABLES = text("""
SELECT c.relname FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind = 'r' AND c.relname = ANY(:names)
  AND COALESCE(s.n_mod_since_analyze, 0) + :changed > :threshold + :scale * GREATEST(c.reltuples, 0)
""")


def refresh_statistics(session, tables: tuple[str, ...], changed: int) -> list[str]:
    """In the batch's own transaction (PostgreSQL only): ANALYZE those of `tables` whose rows changed
    since their last ANALYZE, plus `changed` of this batch, exceed the threshold. Returns them."""
    if session.get_bind().dialect.name != "postgresql" or changed <= 0:
        return []
    stale = list(session.scalars(_STALE_TABLES, {"names": list(tables), "changed": changed,
                                                 "threshold": ANALYZE_THRESHOLD, "scale": ANALYZE_SCALE}))
    if stale:
        session.execute(text("ANALYZE " + ", ".join(stale)))  # names come from the caller's own constants
    return stale
