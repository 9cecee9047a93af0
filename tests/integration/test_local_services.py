"""The local service supervisors refuse clearly when they cannot start, and start nothing half-way."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pjs.services.kafka import LocalKafka
from pjs.services.postgres import LocalPostgres
from pjs.services.processes import ServiceError
from pjs.services.stack import LocalStack
from pjs.settings import Settings
from support.ports import free_port_below_ephemeral_range


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port below the ephemeral range that something else (this test) is listening on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", free_port_below_ephemeral_range()))
        listener.listen()
        yield listener.getsockname()[1]


def test_postgres_on_a_taken_port_names_the_port_and_starts_nothing(tmp_path: Path, taken_port: int) -> None:
    postgres = LocalPostgres(tmp_path, taken_port)
    with pytest.raises(ServiceError, match=f"port {taken_port} .* already in use .by pid {os.getpid()}"):
        postgres.up()
    assert not postgres.is_running()
    assert not (tmp_path / "postgres").exists()


def test_kafka_on_a_taken_port_names_the_port_and_starts_nothing(tmp_path: Path, taken_port: int) -> None:
    kafka = LocalKafka(tmp_path, free_port_below_ephemeral_range(), taken_port)
    with pytest.raises(ServiceError, match=f"port {taken_port} .* already in use"):
        kafka.up()
    assert not kafka.is_running()
    assert not (tmp_path / "kafka").exists()


def test_kafka_without_java_says_what_to_install(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no java, no mvn on this PATH
    with pytest.raises(ServiceError, match=r"`java` was not found on PATH; .*Java 17"):
        LocalKafka(tmp_path, taken_port + 2, taken_port + 3).up()


def test_status_of_external_services_shows_them_without_their_password() -> None:
    stack = LocalStack(
        Settings(database_url="postgresql://app:secret@db.internal:5432/pjs", kafka_bootstrap="broker:9092")
    )
    postgres, kafka = stack.status()
    assert (postgres.state, kafka.state) == ("external", "external")
    assert "secret" not in postgres.address and "app:***@db.internal" in postgres.address
    assert stack.up() == []  # nothing of ours to start
