"""A Kafka broker not reachable when a role starts (one that comes up late after a host's reboot) is waited
for, with throttled log lines naming its address, and the wait stops on SIGTERM like any other; past
PJS_STARTUP_KAFKA_WAIT_SECONDS the role exits 1 in one line naming the address and the setting."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from events.broker import delete_topics
from pjs.settings import Settings
from support.endpoints import Endpoints
from support.forwarding import forwarding
from support.ports import free_port_below_ephemeral_range
from support.roles import RoleProcess, eventually, only_failure_line


async def _logged(log_file: Path, text: str, seconds: float = 30) -> str:
    async def check() -> str | None:
        log = await asyncio.to_thread(log_file.read_text)
        return log if text in log else None

    return await eventually(check, seconds=seconds, every=0.1)


async def _topic_exists(settings: Settings, topic: str) -> bool:
    admin = AIOKafkaAdminClient(**settings.kafka_connection().client_options())
    await admin.start()
    try:
        return topic in await admin.list_topics()
    finally:
        await admin.close()


async def test_a_kafka_not_up_at_start_is_waited_for_then_used_and_sigterm_stops_the_wait(
    settings: Settings, endpoints: Endpoints, tmp_path: Path
) -> None:
    port = free_port_below_ephemeral_range()
    topic = f"{settings.run_events_topic}-late"
    late = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{port}", "run_events_topic": topic})
    log_file = tmp_path / "engine.log"
    role = RoleProcess("engine", late, log_file=log_file)
    try:
        log = await _logged(log_file, "not done (KafkaConnectionError), attempt 1; retrying")
        assert f"creating topic {topic} on Kafka at 127.0.0.1:{port}" in log
        await asyncio.sleep(2)
        assert role.is_running and "role engine failed" not in log_file.read_text()

        async with forwarding(port, settings.kafka_connection().bootstrap):
            assert await eventually(lambda: _topic_exists(settings, topic), seconds=30, every=0.5)
            assert role.is_running
    finally:
        started = time.monotonic()
        exit_code = role.stop()
        await delete_topics(endpoints.kafka, [topic])
    assert exit_code == 0 and time.monotonic() - started < 15


def test_sigterm_stops_a_role_still_waiting_for_kafka(settings: Settings, tmp_path: Path) -> None:
    port = free_port_below_ephemeral_range()
    log_file = tmp_path / "relay.log"
    role = RoleProcess(
        "relay", settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{port}"}), log_file=log_file
    )
    deadline = time.monotonic() + 30
    while "not done (KafkaConnectionError)" not in log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert role.is_running

    exit_code, seconds = role.terminate_and_time(timeout=30)

    assert exit_code == 0 and seconds < 10
    assert "role relay failed" not in log_file.read_text()


def test_a_kafka_still_down_when_the_wait_ends_exits_1_with_one_line_naming_the_address_and_setting(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port_below_ephemeral_range()  # nobody listens on it
    log_file = tmp_path / "relay.log"
    update = {"kafka_bootstrap": f"127.0.0.1:{port}", "startup_kafka_wait_seconds": 2.0}
    started = time.monotonic()

    role = RoleProcess("relay", settings.model_copy(update=update), log_file=log_file)

    assert role.wait(timeout=60) == 1 and time.monotonic() - started < 40
    assert (
        f"Kafka at 127.0.0.1:{port} did not answer within 2 s (PJS_STARTUP_KAFKA_WAIT_SECONDS; last: "
        "KafkaConnectionError); check PJS_KAFKA_BOOTSTRAP and that the broker runs"
    ) in only_failure_line(log_file, "relay")
    assert f"on Kafka at 127.0.0.1:{port} (waiting up to 2 s) not done" in log_file.read_text()
