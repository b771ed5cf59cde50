"""Service tests: real nameko containers on the real RabbitMQ (this run's vhost) and the run's
databases (PostgreSQL under `make test`, SQLite when run alone)."""
from __future__ import annotations


import pytest
from sqlalchemy import MetaData, text

from services.common.config import SERVICE_NAMES, database_url, load_secrets
from services.common.db import make_engine
from services.common.identity import Actor, ActorSigner, DepartmentKind, system_actor
from shuangjian.infra import session_vhost


@pytest.fixture(scope="session")
def amqp():
    yield from session_vhost("sj_svc")


@pytest.fixture
def config(amqp):
    return {"AMQP_URI": amqp, "max_workers": 4}


@pytest.fixture(autouse=True)
def clean_databases():
    """Every test starts with empty tables (schemas stay: migrations ran once per container)."""
    yield
    for service in SERVICE_NAMES:
        engine = make_engine(database_url(service))
        meta = MetaData()
        meta.reflect(engine)
        with engine.begin() as conn:
            for table in reversed(meta.sorted_tables):
                if not table.name.startswith("alembic_version"):
                    conn.execute(table.delete())
            if conn.dialect.name == "postgresql":
                for table in meta.sorted_tables:
                    for col in table.columns:
                        if col.autoincrement is True and col.primary_key:
                            conn.execute(text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{col.name}'), 1, false)"
                            ))
        engine.dispose()


@pytest.fixture
def signer():
    return ActorSigner(load_secrets().actor_signing_key)


@pytest.fixture
def token(signer):
    def make(kind="education", roles=("clerk",), division="340722", user_id=11):
        return signer.sign(Actor(user_id, f"user{user_id}", "测试用户", 3, DepartmentKind(kind), "", division, tuple(roles)))

    return make


@pytest.fixture
def system_token(signer):
    return signer.sign(system_actor("340722"))


def purge_event_queues(amqp_uri: str, container) -> None:
    """Drop what earlier tests published to this service's durable event queues while it was not
    running (their events would otherwise reach this test's read models)."""
    from kombu import Connection
    from nameko.events import EventHandler

    with Connection(amqp_uri) as conn:
        for entrypoint in container.entrypoints:
            if isinstance(entrypoint, EventHandler):
                name = f"evt-{entrypoint.source_service}-{entrypoint.event_type}--{container.service_name}." \
                       f"{entrypoint.method_name}"
                channel = conn.channel()
                try:
                    channel.queue_purge(name)
                except Exception:  # not declared yet: nothing to drop
                    pass
                finally:
                    channel.close()


@pytest.fixture
def start_services(container_factory, config):
    """`start_services(RegistryService, …)` → {service name: started container}."""

    def start(*classes):
        containers = {}
        for cls in classes:
            container = container_factory(cls, config)
            purge_event_queues(config["AMQP_URI"], container)
            container.start()
            containers[cls.name] = container
        return containers

    return start
