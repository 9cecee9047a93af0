"""`pjs services up` succeeds only when the process it started is alive and is the one on the port.

Every service here runs in its own temporary state dir on its own ports below the ephemeral range,
never on the shared local services. A broker killed hard and brought back by `up` is the fault suite's
kill-broker fault (`python -m faults --quick`), which fails unless a new broker process alone listens.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pjs.readiness import database_problem, wait_until_ready
from pjs.services.ports import ephemeral_ports, listener_pids, wait_for_own_listener
from pjs.services.postgres import LocalPostgres
from pjs.services.processes import ServiceError, spawn_detached, terminate
from pjs.settings import Settings
from support.endpoints import Endpoints, kafka_settings
from support.ports import free_port_below_ephemeral_range


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[LocalPostgres]:
    server = LocalPostgres(tmp_path, free_port_below_ephemeral_range())
    yield server
    server.down()


async def test_postgres_is_up_only_once_its_own_process_listens_and_answers_a_query(
    postgres: LocalPostgres,
) -> None:
    assert postgres.up() is True
    assert listener_pids(postgres.port) == {postgres.pid()}
    local = Settings(state_dir=postgres.state_dir, local_postgres_port=postgres.port)
    assert await database_problem(local.resolved_database_url()) is None
    assert postgres.up() is False  # already running: checked, not started twice


def test_a_started_process_that_exits_is_reported_with_the_end_of_its_log(tmp_path: Path) -> None:
    log_file = tmp_path / "service.log"
    log_file.write_text("from an earlier start\n")
    failing = [sys.executable, "-c", "print('Address already in use', flush=True); raise SystemExit(1)"]
    pid = spawn_detached(failing, log_file)
    with pytest.raises(ServiceError) as refused:
        wait_for_own_listener("Kafka", pid, free_port_below_ephemeral_range(), "python", log_file, 22, 10)
    assert f"(pid {pid}) exited before listening" in str(refused.value)
    assert "Address already in use" in str(refused.value)
    assert "from an earlier start" not in str(refused.value)


def test_a_port_held_by_another_process_is_not_taken_for_the_started_one(tmp_path: Path) -> None:
    started = spawn_detached([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log")
    try:
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", free_port_below_ephemeral_range()))
            squatter.listen()
            port = squatter.getsockname()[1]
            with pytest.raises(ServiceError, match=f"port {port} is held by pid {os.getpid()}"):
                wait_for_own_listener("Kafka", started, port, "python", tmp_path / "s.log", 0, 1)
    finally:
        terminate(started)


def test_a_port_inside_the_ephemeral_range_is_refused_before_anything_starts(tmp_path: Path) -> None:
    ephemeral = ephemeral_ports()
    assert ephemeral is not None, "this machine publishes its ephemeral port range"
    postgres = LocalPostgres(tmp_path, ephemeral.start)
    with pytest.raises(ServiceError, match=f"ephemeral port range {ephemeral.start}-{ephemeral.stop - 1}"):
        postgres.up()
    assert not (tmp_path / "postgres").exists()


async def test_readiness_waits_for_real_answers_and_reports_each_reason_once(endpoints: Endpoints) -> None:
    nobody = free_port_below_ephemeral_range()
    down = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{nobody}/postgres",
        kafka_bootstrap=f"127.0.0.1:{nobody}",
        services_ready_timeout_seconds=3,
    )
    heard: list[str] = []
    with pytest.raises(ServiceError, match=r"not ready after 3s: Postgres: .*; Kafka: "):
        await wait_until_ready(down, heard.append)
    assert [line.split(":")[0] for line in heard] == ["waiting for Postgres", "waiting for Kafka"]

    up = Settings(database_url=endpoints.database_url, **kafka_settings(endpoints.kafka))
    heard.clear()
    await wait_until_ready(up, heard.append)
    assert heard == []
