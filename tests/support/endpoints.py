"""Finds the Postgres and Kafka the tests run against: env vars, else Docker (testcontainers), else local."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from events.broker import KafkaConnection
from pjs.services.credentials import (
    POSTGRES_APP,
    POSTGRES_BOOTSTRAP_USER,
    POSTGRES_MIGRATOR,
    POSTGRES_WORKER,
    LocalCredentials,
    local_postgres_url,
)
from pjs.services.postgres import binary
from pjs.services.postgres_access import provision_roles
from pjs.services.stack import LocalStack
from pjs.settings import Settings


@dataclass(frozen=True)
class Endpoints:
    admin_database_url: str  # a superuser: creates and drops each test's database
    migration_database_url: str  # the schema owner: migrations, rebuilds
    database_url: str  # the API's role, bound by row-level security to one tenant per transaction
    kafka: KafkaConnection
    worker_database_url: str  # the workers' role (every tenant): what most code under test uses

    @classmethod
    def of(cls, settings: Settings) -> Endpoints:
        return cls(
            settings.resolved_admin_database_url(),
            settings.resolved_migration_database_url(),
            settings.resolved_database_url(),
            settings.kafka_connection(),
            settings.resolved_worker_database_url(),
        )


def kafka_settings(kafka: KafkaConnection) -> dict[str, Any]:
    """The Settings fields that make the code under test reach the broker as `kafka` says."""
    return {
        "kafka_bootstrap": kafka.bootstrap,
        "kafka_security_protocol": kafka.security_protocol,
        "kafka_sasl_mechanism": kafka.sasl_mechanism,
        "kafka_username": kafka.username,
        "kafka_password": kafka.password,
        "kafka_ssl_cafile": kafka.ssl_cafile,
        "kafka_ssl_certfile": kafka.ssl_certfile,
        "kafka_ssl_keyfile": kafka.ssl_keyfile,
    }


@contextlib.contextmanager
def test_endpoints() -> Iterator[Endpoints]:
    if os.environ.get("PJS_DATABASE_URL") and os.environ.get("PJS_KAFKA_BOOTSTRAP"):
        yield Endpoints.of(Settings())
    elif _docker_answers():
        with _containers() as endpoints:
            yield endpoints
    else:
        LocalStack(Settings()).up()
        yield Endpoints.of(Settings())


def _docker_answers() -> bool:
    """Whether a Docker engine answers on DOCKER_HOST or the default socket (a ping, 2 s at most)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not os.path.exists(host.removeprefix("unix://")):
        return False
    try:
        import docker  # type: ignore[import-untyped]

        client: Any = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no client library, no engine behind the socket: both mean "no Docker"
        return False


@contextlib.contextmanager
def _containers() -> Iterator[Endpoints]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    fields = LocalCredentials.__dataclass_fields__
    credentials = LocalCredentials(*(secrets.token_urlsafe(24) for _ in fields))
    with (
        PostgresContainer(
            "postgres:18",
            username=POSTGRES_BOOTSTRAP_USER,
            password=credentials.postgres_bootstrap_password,
            driver=None,
        ) as postgres,
        KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka,
    ):
        host, port = postgres.get_container_host_ip(), int(postgres.get_exposed_port(5432))
        provision_roles(binary("psql"), host, port, credentials)
        admin, migrator, app, worker = (
            local_postgres_url(credentials, user, port).replace("127.0.0.1", host)
            for user in (POSTGRES_BOOTSTRAP_USER, POSTGRES_MIGRATOR, POSTGRES_APP, POSTGRES_WORKER)
        )
        yield Endpoints(admin, migrator, app, KafkaConnection(kafka.get_bootstrap_server()), worker)
