"""Finds the Postgres and Kafka the tests run against: env vars, else Docker (testcontainers), else local."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pjs.services.stack import LocalStack
from pjs.settings import Settings


@dataclass(frozen=True)
class Endpoints:
    database_url: str
    kafka_bootstrap: str


@contextlib.contextmanager
def test_endpoints() -> Iterator[Endpoints]:
    database_url = os.environ.get("PJS_DATABASE_URL")
    kafka_bootstrap = os.environ.get("PJS_KAFKA_BOOTSTRAP")
    if database_url and kafka_bootstrap:
        yield Endpoints(database_url, kafka_bootstrap)
    elif _docker_answers():
        with _containers() as endpoints:
            yield endpoints
    else:
        stack = LocalStack(Settings())
        stack.up()
        yield Endpoints(
            database_url or stack.postgres.url,
            kafka_bootstrap or stack.kafka.bootstrap,
        )


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

    with (
        PostgresContainer("postgres:18", driver=None) as postgres,
        KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka,
    ):
        yield Endpoints(postgres.get_connection_url(), kafka.get_bootstrap_server())
